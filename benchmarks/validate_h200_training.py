"""pysim's ``h200`` preset beside training steps measured on a real NVIDIA H200
(benchmarks/data/h200_kernels/train.csv, taken by the ``train`` section of
benchmarks/measure_gpu_kernels.py; benchmarks/data/README.md says how), one row per measured step.

    python benchmarks/validate_h200_training.py

Per row: the measured and the modelled step time, their ratio (model / measured: > 1, the model
is slower than the GPU), throughput (tokens/s for the decoders, images/s for ResNet-50), TFLOP/s
and MFU, then the model's time split into GEMM / convolution kernels, attention (forward,
backward and its vector passes), other vector kernels (norms, activations, residual adds, casts,
bias and gradient sums), loss and optimizer. Nothing here asserts
(tests/test_h200_training_validation.py pins a band around each ratio); the run takes seconds.

What was measured (measure_gpu_kernels.py, ``measure_train``): one eager PyTorch 2.11 step
(no torch.compile, no CUDA graph), forward + loss + backward + optimizer step +
``zero_grad(set_to_none=True)``, timed between CUDA events, median of 10 after 3 warm-up steps.

- ``gpt2_medium`` / ``gpt_1.3b``: a GPT-2-style pre-norm decoder built in the script
  (``_gpt``): token embedding only (no position embedding, no dropout), per block LayerNorm,
  one fused QKV ``nn.Linear(d, 3d)``, ``scaled_dot_product_attention(is_causal=True)`` (back
  end not recorded), output projection, residual add, LayerNorm, ``Linear(d, 4d)``, exact GELU,
  ``Linear(4d, d)``, residual add; final LayerNorm and an LM head tied to the embedding;
  vocabulary 50257. GPT-2 medium: 24 layers, d 1024, 16 heads (head dim 64), seq 1024, batch 8;
  the "1.3B": 24 layers, d 2048, 16 heads (head dim 128), seq 2048, batch 4 (the measurement
  script calls it GPT-3 XL-shaped). Both 8192 tokens per step. fp32 weights, bf16 autocast,
  ``cross_entropy(logits.float(), ...)``, ``torch.optim.AdamW(fused=True)``.
- ``resnet50``: torchvision ResNet-50 (v1.5), train mode (batch norms computing batch
  statistics), channels-last, ``cudnn.benchmark``, batch 256 of 224 x 224, SGD with momentum
  0.9 (no weight decay), ``cross_entropy``. ``fp32``: ``allow_tf32`` off for cuBLAS and cuDNN
  (true fp32 on the CUDA cores); ``tf32``: on; ``amp_fp16``: fp16 autocast with GradScaler.

How each row is simulated (assumptions):

- Hardware: ``pysim.gpu.preset("h200")`` with ``fusion="none"``: eager PyTorch runs every
  elementwise op as its own kernel (no epilogue fusion; a Linear's bias is part of the GEMM op
  on both sides). The preset's host launch cost (4 us) stays: the measured eager per-op floor
  (env.csv, 10.4 us) changes no row by more than 0.1 %, the launches hiding behind kernels of
  tens of microseconds. The preset's tensor-core clock is the measured power-limited 1430 MHz
  (datasheet 1830, max 1980), the HBM its sustained 0.86 x 4.8 TB/s.
- Every row: the optimizer is one multi-tensor update (``fused_optimizer``, the default:
  ``AdamW(fused=True)``, and SGD's ``foreach`` default on CUDA), and autocast's weight casts
  run before each forward GEMM (``weight_copy="forward"``, the ``amp_*`` recipes' default).
- Decoders: ``training.step(hw, wl, "adamw", "amp_bf16", input_grads=True)``; ``wl`` is built
  here with pysim.zoo's GPT-2 block (``pysim.zoo.prenorm.prenorm_block``, as ``zoo.load("gpt2")``
  builds GPT-2 small; the zoo has no GPT-2 medium or 1.3B) from the measurement script's own
  ``GPT_TRAIN`` / ``GPT_VOCAB`` (layers, d, heads, seq, batch), FFN 4d, fused causal attention
  (``attention="flash"``), the final LayerNorm and a bias-free 50257-way LM head. Its parameter
  count equals the measured one exactly (24 (12 d^2 + 13 d) + 50257 d + 2 d: 353,774,592 and
  1,311,528,960; the LM head's weight stands for the tied embedding). ``input_grads=True``:
  the first block's input gradient is computed, as the embedding needs it. Differences the
  graph keeps: Q, K and V are three d x d GEMMs, not one d x 3d; the embedding lookup and its
  backward scatter-add are not modelled (pysim has no gather op). The ``amp_bf16`` recipe
  runs autocast's formats (pysim/training/graph.py): the embedding output, the residual stream
  and LayerNorm stay fp32, each Linear casts its input to bf16 first, gradients are cast back to
  their tensor's format, and the loss casts the bf16 logits to fp32 for its cross-entropy (as
  measured: a fp32 copy of the 8192 x 50257 logits, log-softmax and its backward in fp32).
  Under ``mixed_bf16`` (every activation bf16, Megatron-LM's form) the rows were 0.57 / 0.71.
- ResNet-50: ``zoo.load("resnet50", batch=256, batchnorm=True)`` (the training form: batch norms
  as ops), optimizer ``momentum``, ``input_grads=False`` (the image needs no gradient).
  ``tf32`` -> recipe ``fp32`` (pysim runs fp32 GEMMs as tf32 MMAs: pysim.gpu.dtypes);
  ``amp_fp16`` -> ``amp_fp16`` (autocast: fp16 GEMMs and convolutions, fp32 master weights,
  loss scaling; batch norm, not on autocast's fp32 list, runs in fp16 as cuDNN's does).
  ``fp32`` (TF32 off) has no pysim equivalent: every fp32 GEMM and convolution is a tf32
  tensor-core kernel in pysim, and only depthwise convolutions have a CUDA-core path. The row
  is a PROXY, marked so: the ``fp32`` recipe on the preset with ``mma_clock_mhz`` scaled by
  the CUDA cores' FFMA rate over the tf32 MMA rate (128 FP32 lanes x 2 FLOP against 2048 tf32
  FLOP per SM per clock: 1/8, 1430 -> 178.75 MHz), so the convolutions' compute term runs at
  the FFMA peak while their memory terms and every vector kernel stay as they are. The tiles
  and traffic are still those of a tensor-core kernel; the note gives the plain ``fp32``
  recipe's figure (= the tf32 row) too.
- TFLOP/s and MFU: decoders use the measurement's own count, 6 N T + 6 L B S^2 d (Kaplan et
  al. 2020 plus PaLM's causal attention term), for both sides, over the preset's dense bf16
  peak at 1830 MHz (989 TFLOP/s); ResNet-50 uses pysim's step MACs x 2 (forward, dX and dW
  GEMMs; no dX for the first convolution) over the dense peak of the precision's units: tf32
  495, fp16 989, fp32 the CUDA cores' 62 TFLOP/s (132 SMs x 128 lanes x 2 x 1830 MHz).
- The ``attention`` note of a decoder row sets the model's attention time (forward, backward
  and the backward's vector passes, all layers) beside FlashAttention-2's measured fwd + bwd
  (sdpa.csv, flash back end, eager, causal, same seq and head dim, fp16) scaled by batch x
  heads: context for the gap, not part of the ratio.
"""

from __future__ import annotations

import argparse
import csv
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path
from typing import Any

import pysim
from pysim import training
from pysim.gpu.attention import FP32_LANES_PER_SM
from pysim.workload import Workload
from pysim.zoo._builder import GraphBuilder
from pysim.zoo.prenorm import prenorm_block

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DATA = ROOT / "benchmarks" / "data" / "h200_kernels"
TRAIN_CSV = DATA / "train.csv"
PRESET = "h200"
CATEGORIES = ("gemm", "attention", "vector", "loss", "optimizer")


def _measurement_config() -> tuple[list[tuple[str, int, int, int, int, int]], int]:
    """``GPT_TRAIN`` and ``GPT_VOCAB`` of benchmarks/measure_gpu_kernels.py (no torch needed:
    that script imports it inside its functions)."""
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))  # it imports its sibling measure_gpu_gemm
    import measure_gpu_kernels as m

    return list(m.GPT_TRAIN), int(m.GPT_VOCAB)


GPT_TRAIN, GPT_VOCAB = _measurement_config()
# name -> (layers, d, heads, seq, batch), as the measurement built and ran each decoder
GPT_SHAPES: dict[str, tuple[int, int, int, int, int]] = {
    name: (layers, d, heads, seq, batch) for name, layers, d, heads, seq, batch in GPT_TRAIN}
# ResNet-50's measured precision -> (pysim recipe, proxy: FFMA emulated by the MMA clock)
RESNET_RECIPES: dict[str, tuple[str, bool]] = {
    "fp32": ("fp32", True), "tf32": ("fp32", False), "amp_fp16": ("amp_fp16", False)}


@dataclass(frozen=True)
class Row:
    """One measured training step beside the model. Times in seconds; ``model_s`` is None
    where the row is not modelled (``note`` says why). ``flops`` is the step's FLOPs used for
    both TFLOP/s figures, ``peak_tflops`` the dense peak MFU divides by; ``breakdown`` the
    model's seconds per category (CATEGORIES). ``proxy``: modelled by a stand-in set-up."""

    model: str
    precision: str
    batch: int
    seq: int | None
    measured_s: float
    model_s: float | None
    setup: str
    measured_params: int
    model_params: int | None = None
    flops: float | None = None
    peak_tflops: float | None = None
    breakdown: Mapping[str, float] = field(default_factory=dict)
    proxy: bool = False
    note: str = ""

    @property
    def case(self) -> str:
        seq = f"x{self.seq}" if self.seq else ""
        return f"{self.model} {self.precision} b{self.batch}{seq}"

    @property
    def ratio(self) -> float | None:
        """Model time / measured time (> 1: the model is slower)."""
        return None if self.model_s is None else self.model_s / self.measured_s

    @property
    def unit(self) -> str:
        return "tokens/s" if self.seq else "images/s"

    @property
    def items(self) -> int:
        """Tokens (decoders) or images per step."""
        return self.batch * (self.seq or 1)

    @property
    def measured_throughput(self) -> float:
        return self.items / self.measured_s

    @property
    def model_throughput(self) -> float | None:
        return None if self.model_s is None else self.items / self.model_s

    @property
    def measured_tflops(self) -> float | None:
        return None if self.flops is None else self.flops / self.measured_s / 1e12

    @property
    def model_tflops(self) -> float | None:
        if self.flops is None or self.model_s is None:
            return None
        return self.flops / self.model_s / 1e12

    @property
    def measured_mfu(self) -> float | None:
        t = self.measured_tflops
        return None if t is None or not self.peak_tflops else t / self.peak_tflops

    @property
    def model_mfu(self) -> float | None:
        t = self.model_tflops
        return None if t is None or not self.peak_tflops else t / self.peak_tflops


def read_csv(path: Path = TRAIN_CSV) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def gpu() -> Any:
    """The preset as eager PyTorch runs kernels: each elementwise op its own kernel."""
    return pysim.gpu.preset(PRESET).replace(fusion="none")


def ffma_proxy_gpu() -> Any:
    """``gpu()`` with the tensor-core clock scaled so the tf32 MMA rate equals the CUDA cores'
    FFMA rate (the ``fp32`` proxy; see the module docstring)."""
    g = gpu()
    return g.replace(mma_clock_mhz=g.mma_clock_mhz * ffma_over_tf32(g))


def ffma_over_tf32(g: Any) -> float:
    """FP32 FMA FLOPs per SM per clock on the CUDA cores over tf32 MMA FLOPs (1/8 on Hopper)."""
    tf32_per_sm_clk = g.peak_tflops("tf32") * 1e12 / (g.sms * g.boost_clock_mhz * 1e6)
    return 2 * FP32_LANES_PER_SM[g.arch] / tf32_per_sm_clk


def fp32_cuda_core_peak_tflops(g: Any) -> float:
    """Dense FP32 FMA peak of the CUDA cores at the preset's boost clock."""
    return g.sms * FP32_LANES_PER_SM[g.arch] * 2 * g.boost_clock_mhz * 1e6 / 1e12


def gpt_workload(name: str, layers: int, d: int, heads: int, seq: int, batch: int,
                 vocab: int = GPT_VOCAB) -> Workload:
    """The measured decoder as a pysim workload (see the module docstring): ``layers`` GPT-2
    pre-norm blocks of width ``d``, FFN 4d, causal fused attention, final LayerNorm and a
    bias-free ``vocab``-way LM head (the tied embedding's parameters)."""
    g = GraphBuilder(name, weight_bits=16, act_bits=16, dtype="float")
    x = g.input("embeddings", (batch * seq, d))
    for i in range(layers):
        x = prenorm_block(g, x, f"h{i}", batch, seq, d, heads, 4 * d, "flash", causal=True)
    x = g.layernorm(x, "ln_f", batch * seq, d)
    g.gemm(x, "lm_head", vocab, bias=False)
    return g.build()


def gpt_params(layers: int, d: int, vocab: int = GPT_VOCAB) -> int:
    """Parameters of the measured decoder: per block two LayerNorms (4d), QKV (3d^2 + 3d),
    projection (d^2 + d), FFN (8d^2 + 5d); the tied embedding; the final LayerNorm."""
    return layers * (12 * d * d + 13 * d) + vocab * d + 2 * d


def gpt_flops(layers: int, d: int, seq: int, batch: int, params: int) -> float:
    """The measurement's training FLOPs: 6 N T + 6 L B S^2 d (measure_gpu_kernels.py)."""
    return 6 * params * batch * seq + 6 * layers * batch * seq * seq * d


def breakdown(s: training.TrainingStep) -> dict[str, float]:
    """The step's op seconds per category: ``gemm`` (forward, dX and dW of gemm / conv layers),
    ``attention`` (every op of an attention layer), ``vector``, ``loss``, ``optimizer``."""
    fwd_type = {op.name: op.type for op in s.graph.workload.ops}
    info = {o.name: o for o in s.graph.ops}
    layers = s.result.layers
    out = dict.fromkeys(CATEGORIES, 0.0)
    for name, cycles in zip(layers["op"], layers["cycles"], strict=True):
        o = info[name]
        key: str
        if o.phase in ("loss", "optimizer"):
            key = o.phase
        elif fwd_type.get(o.layer) == "attention":
            key = "attention"
        elif o.role in ("forward", "dX", "dW"):
            key = "gemm"
        else:
            key = "vector"
        out[key] += float(cycles) / s.result.clock_hz
    return out


def sdpa_reference_s(seq: int, head_dim: int, batch_heads: int) -> float | None:
    """FlashAttention-2 forward + backward (sdpa.csv: flash, fwd_bwd, causal, eager) at
    ``seq`` and ``head_dim``, scaled to ``batch_heads`` (batch x heads) from the measured
    row's; None if no such row."""
    for r in read_csv(DATA / "sdpa.csv"):
        if (r["backend"], r["direction"], r["causal"]) == ("flash", "fwd_bwd", "True") \
                and int(r["seq"]) == seq and int(r["head_dim"]) == head_dim:
            return float(r["time_s"]) * batch_heads / (int(r["batch"]) * int(r["heads"]))
    return None


@cache
def _gpt_step(name: str) -> training.TrainingStep:
    layers, d, heads, seq, batch = GPT_SHAPES[name]
    wl = gpt_workload(name, layers, d, heads, seq, batch)
    return training.step(gpu(), wl, "adamw", "amp_bf16", input_grads=True,
                         weight_copy="forward")


@cache
def _resnet_step(recipe: str, proxy: bool) -> training.TrainingStep:
    wl = pysim.zoo.load("resnet50", batch=256, batchnorm=True)
    hw = ffma_proxy_gpu() if proxy else gpu()
    return training.step(hw, wl, "momentum", recipe, weight_copy="forward")


def _not_modelled(base: dict[str, Any], why: str) -> Row:
    return Row(**base, model_s=None, setup="-", note=f"not modelled: {why}")


def gpt_row(r: dict[str, str]) -> Row:
    name = r["model"]
    batch, seq, params = int(r["batch"]), int(r["seq"]), int(r["params"])
    base: dict[str, Any] = {"model": name, "precision": r["precision"], "batch": batch,
                            "seq": seq, "measured_s": float(r["time_s"]),
                            "measured_params": params}
    if name not in GPT_SHAPES:
        return _not_modelled(base, "not in measure_gpu_kernels.GPT_TRAIN")
    if r["precision"] != "amp_bf16":
        return _not_modelled(base, f"precision {r['precision']!r}: only amp_bf16 is mapped")
    layers, d, heads, mseq, mbatch = GPT_SHAPES[name]
    if (mseq, mbatch) != (seq, batch):
        return _not_modelled(base, f"seq x batch {seq}x{batch} is not GPT_TRAIN's "
                                   f"{mseq}x{mbatch}")
    try:
        s = _gpt_step(name)
    except ValueError as err:  # WorkloadError, ConfigError
        return _not_modelled(base, f"{type(err).__name__}: {str(err).splitlines()[0]}")
    parts = breakdown(s)
    ref = sdpa_reference_s(seq, d // heads, batch * heads)
    note = f"{layers} layers, d {d}, {heads} heads of {d // heads}"
    if ref is not None:
        note += (f"; attention fwd+bwd: model {parts['attention'] * 1e3:.1f} ms vs FA2 "
                 f"measured {layers * ref * 1e3:.1f} ms (sdpa.csv, scaled)")
    return Row(**base, model_s=s.latency_s,
               setup="zoo GPT-2 blocks, amp_bf16, adamw, flash causal, input_grads",
               model_params=sum(s.graph.params.values()),
               flops=gpt_flops(layers, d, seq, batch, params),
               peak_tflops=gpu().peak_tflops("bf16"), breakdown=parts, note=note)


def resnet_row(r: dict[str, str]) -> Row:
    precision = r["precision"]
    base: dict[str, Any] = {"model": r["model"], "precision": precision,
                            "batch": int(r["batch"]), "seq": None,
                            "measured_s": float(r["time_s"]),
                            "measured_params": int(r["params"])}
    if r["model"] != "resnet50" or int(r["batch"]) != 256:
        return _not_modelled(base, "only ResNet-50 at batch 256 is mapped")
    if precision not in RESNET_RECIPES:
        return _not_modelled(base, f"precision {precision!r} has no pysim recipe here")
    recipe, proxy = RESNET_RECIPES[precision]
    try:
        s = _resnet_step(recipe, proxy)
    except ValueError as err:  # WorkloadError, ConfigError
        return _not_modelled(base, f"{type(err).__name__}: {str(err).splitlines()[0]}")
    g = gpu()
    peak = {"fp32": fp32_cuda_core_peak_tflops(g), "tf32": g.peak_tflops("tf32"),
            "amp_fp16": g.peak_tflops("fp16")}[precision]
    setup = f"zoo resnet50 batchnorm, {recipe}, momentum"
    note = ""
    if proxy:
        plain = _resnet_step(recipe, False).latency_s
        setup += f", PROXY mma clock x{ffma_over_tf32(g):.3g}"
        note = (f"PROXY: TF32 off has no pysim path (fp32 GEMMs run as tf32 MMAs); MMA clock "
                f"{g.mma_clock_mhz:.0f} -> {ffma_proxy_gpu().mma_clock_mhz:.2f} MHz = FFMA rate; "
                f"plain fp32 recipe {plain * 1e3:.1f} ms (ratio {plain / base['measured_s']:.2f})")
    return Row(**base, model_s=s.latency_s, setup=setup,
               model_params=sum(s.graph.params.values()),
               flops=2.0 * (s.macs - s.macs_by_role()["recompute"]), peak_tflops=peak,
               breakdown=breakdown(s), proxy=proxy, note=note)


def row_for(r: dict[str, str]) -> Row:
    if r["model"].startswith("gpt"):
        return gpt_row(r)
    if r["model"].startswith("resnet"):
        return resnet_row(r)
    base: dict[str, Any] = {"model": r["model"], "precision": r["precision"],
                            "batch": int(r["batch"]), "seq": int(r["seq"]) if r["seq"] else None,
                            "measured_s": float(r["time_s"]),
                            "measured_params": int(r["params"])}
    return _not_modelled(base, f"no pysim workload mapped for model {r['model']!r}")


def all_rows(path: Path = TRAIN_CSV) -> list[Row]:
    """One Row per measured step of ``path``, in its order."""
    return [row_for(r) for r in read_csv(path)]


def _fmt(value: float | None, spec: str, scale: float = 1.0) -> str:
    return "-" if value is None or not math.isfinite(value) else format(value * scale, spec)


def report(rows: list[Row]) -> str:
    g = gpu()
    lines = [
        f"pysim '{PRESET}' preset (fusion none, mma clock {g.mma_clock_mhz:.0f} MHz) against "
        f"training steps measured on an NVIDIA H200 ({TRAIN_CSV.relative_to(ROOT)}, eager "
        "PyTorch)",
        "ratio = model time / measured time (> 1: model slower); throughput in tokens/s "
        "(decoders) or images/s; MFU over the dense peak of the precision's units", "",
        f"{'case':<30} {'measured':>9} {'model':>9} {'ratio':>6} {'meas thru':>10} "
        f"{'model thru':>10} {'unit':<8} {'meas TF/s':>9} {'model TF/s':>10} {'peak':>5} "
        f"{'meas MFU':>8} {'model MFU':>9}"]
    for r in rows:
        tag = " [proxy]" if r.proxy else ""
        lines.append(
            f"{r.case + tag:<30} {_fmt(r.measured_s, '.2f', 1e3):>6} ms "
            f"{_fmt(r.model_s, '.2f', 1e3):>6} ms {_fmt(r.ratio, '.2f'):>6} "
            f"{_fmt(r.measured_throughput, ',.0f'):>10} {_fmt(r.model_throughput, ',.0f'):>10} "
            f"{r.unit:<8} {_fmt(r.measured_tflops, '.0f'):>9} {_fmt(r.model_tflops, '.0f'):>10} "
            f"{_fmt(r.peak_tflops, '.0f'):>5} {_fmt(r.measured_mfu, '.1%'):>8} "
            f"{_fmt(r.model_mfu, '.1%'):>9}")
    lines += ["", "model time by category, ms (op time; the step is their sum plus launch gaps)",
              f"{'case':<30} " + " ".join(f"{c:>9}" for c in CATEGORIES) + "  set-up"]
    for r in rows:
        if r.model_s is None:
            continue
        lines.append(f"{r.case:<30} " + " ".join(f"{r.breakdown.get(c, 0.0) * 1e3:>9.2f}"
                                                  for c in CATEGORIES) + f"  {r.setup}")
    lines += ["", "notes"]
    for r in rows:
        params = ("" if r.model_params is None else
                  f"params {r.model_params:,} modelled / {r.measured_params:,} measured; ")
        lines.append(f"  {r.case}: {params}{r.note}")
    missing = [r for r in rows if r.model_s is None]
    lines += ["", f"not modelled: {len(missing)} row(s)"
              + "".join(f"\n  {r.case}: {r.note}" for r in missing)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--csv", type=Path, default=TRAIN_CSV, help="train.csv to compare")
    args = parser.parse_args(argv)
    print(report(all_rows(args.csv)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
