"""pysim's ``h200`` preset beside the kernels measured on a real NVIDIA H200
(benchmarks/data/h200_kernels, taken by benchmarks/measure_gpu_kernels.py; see
benchmarks/data/README.md), one row per measurement, with ratios and per-group summaries.

    python benchmarks/validate_h200_kernels.py [--section sdpa|decode|llama|cnn|eltwise ...]

Every ratio is model time / measured time (> 1: the model is slower than the GPU). The measured
rows are CUDA-graph replays (no host launch) unless marked eager, so the model runs on the
preset with ``launch_overhead_us`` = 0 for them (its device-side ``kernel_latency_us`` and
``pipeline_latency_us`` stay): for one kernel that is its cost less its host launches, for a
whole model the stream without launches, as a graph runs it.

- ``sdpa``: PyTorch SDPA prefill on FlashAttention-2's benchmark shape (16k tokens, hidden
  2048, fp16). The ``flash`` back end's forward rows are set against the fused-attention model
  (pysim/gpu/attention.py, FlashAttention-2's dataflow). cuDNN and memory-efficient forward
  rows, and flash forward + backward (timed eagerly: the model's forward plus its
  ``AttentionBackward``, launches included), are printed as context, outside the summary.
- ``decode``: one query token over a KV cache (q_len 1, GQA through kv_heads): the same model
  against the ``flash`` back end and, separately, SDPA's default back end (cuDNN on this
  machine: its kernels are ``cudnn_generated_fort_native_sdpa_*``). Rows whose KV cache is
  under ~50 MB are marked ``L2?``: the H200's L2 is 60 MiB and the graph replays the same
  inputs back to back, so such caches may be served from the L2, not HBM.
- ``llama``: a LLaMA-2-7B-shaped fp16 decode step (KV cache 1024 rows) against
  ``zoo:llama2_7b`` (decode, context 1023 + the new token, fused attention, no epilogue fusion:
  PyTorch eager kernels in a graph), with each side's fraction of the 4.8 TB/s HBM bound.
- ``cnn``: torchvision CNN inference (fp16, channels-last, eager kernels in a graph) against
  the zoo's CNNs in fp16, BatchNorm as separate kernels and no epilogue fusion (as eager
  PyTorch runs them; ``resnet50_bnfolded`` against the zoo's folded form).
- ``eltwise``: memory-bound kernels (rows of 4096) against one-op workloads; ``silu_mul`` is two
  kernels (SiLU, then the product) on both sides, ``rmsnorm`` as a layernorm op with
  ``rms: true``, ``copy`` as a copy op.

Systematic gaps (2026-12, mma clock 1430 MHz, the main loop at 0.87 of the MMA peak):
FlashAttention-2 issues Ampere's mma.sync on Hopper, which the model prices at 2/3 of the wgmma
rate (pysim/gpu/attention.py): its forward rows come out 0.91-1.10x the measured time (290-343
TFLOP/s measured; 0.68-1.06x before each CTA's causal masking blocks were priced, 0.61-0.97x
before ``mma_efficiency``), forward + backward 0.96-1.03x (three figures fitted on these rows:
pysim/gpu/attention.py); cuDNN's sm90 wgmma kernel runs faster than the FA2 model (1.10-1.68x),
the memory-efficient one slower (0.40-0.45x). Decode through cuDNN streams at 4.4-4.6 TB/s,
above the model's sustained 4.13 TB/s (MHA 1.03-1.12x, GQA, a KV head's query group packed into
one block as FlashAttention-2 packs it, 0.77-1.12x); SDPA's FA2 decode runs its forward kernel
(a 128-row query block for one row) where it does not split: priced so, 0.88-1.01x (0.58-0.67x
as the split-KV kernel). CNNs at batch >= 32 run 0.68-0.85x (cuDNN's convolutions below the
model's GEMMs; depthwise ones on the CUDA cores on both sides). LayerNorm and the block softmax
(rows over 2048 values) run a CTA per row: their time is the first row's latency, then each SM's
rows at a per-SM bandwidth (PyTorch's run at 1.2-2.7 TB/s, not the HBM's 4.1), both fitted to
the eltwise rows and printed at the end beside the preset's (``RowKernel``, within 2.5 % of
every timing; the RMS norm, one reduction where the layer norm has two, its own pair). Streaming
kernels of 0.1-4 MiB take 2-3 us, the model's kernel and stream latencies (1.2 + 1.0 us, both
measured on this machine) plus the bytes.

Nothing here asserts (tests/test_h200_kernels_validation.py pins the bands). Every case is
simulated (none is skipped or subsampled); the whole run takes a few seconds.
"""

from __future__ import annotations

import argparse
import csv
import math
import statistics
import sys
from collections.abc import Callable
from dataclasses import dataclass
from functools import cache, partial
from pathlib import Path
from typing import Any

import pysim
from pysim.config.units import RowKernel
from pysim.gpu.attention import ShortQueryKernel, fused_attention_cost
from pysim.workload import Workload, workload_from_dict
from pysim.workload.attention import Attention

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "benchmarks" / "data" / "h200_kernels"
PRESET = "h200"
HBM_DATASHEET_BYTES_PER_S = 4.8e12  # the H200 datasheet's HBM3e bandwidth
L2_RESIDENT_BYTES = 50e6  # under this a replayed KV cache may stay in the 60 MiB L2
LLAMA_CONTEXT = 1023  # the zoo's decode step reads context + 1 rows: the measured 1024
SECTIONS = ("sdpa", "decode", "llama", "cnn", "eltwise")
F16 = {"dtype": "float", "act_bits": 16, "weight_bits": 16}


@dataclass(frozen=True)
class Row:
    """One measurement beside the model. Times in seconds; ``model_s`` is None where the case
    is not modelled (``note`` says why). ``compared`` rows enter the summary of ``group``;
    the others are context."""

    section: str
    group: str
    case: str
    measured_s: float
    model_s: float | None
    compared: bool = True
    note: str = ""

    @property
    def ratio(self) -> float | None:
        """Model time / measured time (> 1: the model is slower)."""
        return None if self.model_s is None else self.model_s / self.measured_s


@dataclass(frozen=True)
class Summary:
    """The compared, modelled rows of one (section, group): the median and spread of their
    ratios and of |ratio - 1|."""

    section: str
    group: str
    rows: int
    median_ratio: float
    min_ratio: float
    max_ratio: float
    median_abs_err: float
    max_abs_err: float


def read_csv(name: str) -> list[dict[str, str]]:
    with (DATA / name).open(newline="") as f:
        return list(csv.DictReader(f))


def graph_gpu() -> Any:
    """The preset as a CUDA graph runs kernels: no host launches, device latencies kept."""
    return pysim.gpu.preset(PRESET).replace(launch_overhead_us=0.0)


def attention_op(batch: int, heads: int, kv_heads: int, q_len: int, kv_len: int,
                 head_dim: int, causal: bool) -> Attention:
    return Attention.model_validate({
        "name": "attention", "inputs": ["q", "k", "v"], "batch": batch, "heads": heads,
        "kv_heads": kv_heads, "q_len": q_len, "kv_len": kv_len, "head_dim": head_dim,
        "causal": causal, **F16})


def _try(fn: Callable[[], float]) -> tuple[float | None, str]:
    """(the model's figure, "") or (None, why it is not modelled)."""
    try:
        value = fn()
    except ValueError as err:  # WorkloadError, ConfigError
        return None, f"not modelled: {type(err).__name__}: {str(err).splitlines()[0][:120]}"
    if not math.isfinite(value) or value <= 0:
        return None, f"not modelled: the model gave {value!r}"
    return value, ""


def _fwd_s(gpu: Any, op: Attention, short_query_kernel: ShortQueryKernel = "splitkv") -> float:
    """The fused-attention forward kernel's seconds."""
    return fused_attention_cost(gpu, op, "fp16", short_query_kernel).time_s


def _llama_s(batch: int) -> float:
    return _llama_result(batch).latency_s


def _eltwise_s(gpu: Any, op: str, n: int) -> float:
    return pysim.simulate(gpu, eltwise_workload(op, n)).latency_s


# -- SDPA prefill -------------------------------------------------------------------------------

def _stream_s(gpu: Any, nbytes: float) -> float:
    """One streaming CUDA-core kernel moving ``nbytes``, launch included (pysim/gpu/kernels.py's
    time for a kernel the host issues eagerly after the previous one)."""
    return ((gpu.launch_overhead_us + gpu.kernel_latency_us + gpu.stream_latency_us) * 1e-6
            + nbytes / (gpu.hbm_sustained_gb_per_s * 1e9))


def _attention_fwd_bwd_s(op: Attention) -> float:
    """One eager ``o.backward(do)`` after SDPA's forward, as the measured rows' kernels run:
    the forward, two copies (q/k/v-sized), FlashAttention-2's D = rowsum(dO * O) pre-pass, its
    backward (with the fp32 dQ conversion, pysim/gpu/attention.py) and the three adds that
    accumulate q.grad, k.grad and v.grad (the timing loop never zeroes them), launches
    included."""
    from pysim.training.ops import AttentionBackward

    gpu = pysim.gpu.preset(PRESET)
    bwd = AttentionBackward.of(op, "attention.bwd", ("q", "k", "v"), 16, "float", 16)
    t = op.batch * op.heads * op.q_len * op.head_dim * 2  # one q/k/v/o-sized fp16 tensor
    d_pass = 2 * t + op.batch * op.heads * op.q_len * 4  # dO and O read, D written (fp32)
    return (fused_attention_cost(gpu, op, "fp16").time_s
            + fused_attention_cost(gpu, bwd, "fp16").time_s
            + 2 * _stream_s(gpu, 2 * t) + _stream_s(gpu, d_pass) + 3 * _stream_s(gpu, 3 * t))


def sdpa_rows() -> list[Row]:
    gpu = graph_gpu()
    rows = []
    for r in read_csv("sdpa.csv"):
        b, h, s, d = (int(r[k]) for k in ("batch", "heads", "seq", "head_dim"))
        causal = r["causal"] == "True"
        op = attention_op(b, h, h, s, s, d, causal)
        backend, direction = r["backend"], r["direction"]
        case = f"b{b} h{h} s{s} d{d}{' causal' if causal else ''}"
        if direction == "fwd":
            model, note = _try(partial(_fwd_s, gpu, op))
            flops = 4 * b * h * s * s * d * (0.5 if causal else 1.0)
            if model is not None:
                note = (f"{float(r['tflops']):.0f} vs {flops / model / 1e12:.0f} TFLOP/s "
                        f"(measured vs model)")
            compared = backend == "flash"
            group = "flash fwd" if compared else f"{backend} fwd (context)"
        else:
            model, note = _try(partial(_attention_fwd_bwd_s, op))
            note = note or ("eager; the model's forward, backward and the call's copies, D "
                            "pass and grad adds, launches included")
            compared = backend == "flash"
            group = "flash fwd+bwd" if compared else f"{backend} {direction} (context)"
        rows.append(Row("sdpa", group, f"{backend} {direction} {case}", float(r["time_s"]),
                        model, compared, note))
    return rows


# -- decode attention ---------------------------------------------------------------------------

def decode_rows() -> list[Row]:
    gpu = graph_gpu()
    rows = []
    for r in read_csv("decode_attn.csv"):
        b, hq, hkv, kv, d = (int(r[k]) for k in
                             ("batch", "q_heads", "kv_heads", "kv_len", "head_dim"))
        op = attention_op(b, hq, hkv, 1, kv, d, False)
        backend = "cudnn" if r["backend"] == "default" else r["backend"]
        # SDPA's flash back end calls FA2's mha_fwd: one split runs its forward kernel, the
        # query's 128-row block computed whole; the model's decode is the serving stacks'
        # split-KV kernel, which cuDNN's times follow
        kernel: ShortQueryKernel = "forward" if backend == "flash" else "splitkv"
        model, note = _try(partial(_fwd_s, gpu, op, kernel))
        kv_bytes = int(r["kv_bytes"])
        if model is not None:
            c = fused_attention_cost(gpu, op, "fp16", kernel)
            note = (f"{float(r['tb_s']):.2f} vs {kv_bytes / model / 1e12:.2f} TB/s of KV; "
                    f"model {c.bound}-bound, {c.splits} split(s) of {c.blocks[0]}x{c.blocks[1]}")
        if kv_bytes < L2_RESIDENT_BYTES:
            note = f"L2? ({kv_bytes / 2**20:.0f} MiB KV) " + note
        attn = "MHA" if hkv == hq else "GQA"
        label = "cudnn (default)" if backend == "cudnn" else backend
        rows.append(Row("decode", f"{backend} {attn}",
                        f"{label} b{b} hq{hq} hkv{hkv} kv{kv} d{d}", float(r["time_s"]),
                        model, True, note))
    return rows


# -- LLaMA-2-7B decode step ---------------------------------------------------------------------

@cache
def _llama_result(batch: int) -> Any:
    wl = pysim.zoo.load("llama2_7b", phase="decode", context_len=LLAMA_CONTEXT,
                        precision="fp16", batch=batch, attention="flash")
    return pysim.simulate(graph_gpu().replace(fusion="none"), wl)


def llama_rows() -> list[Row]:
    rows = []
    for r in read_csv("llama_decode.csv"):
        b, kv = int(r["batch"]), int(r["kv_len"])
        measured = float(r["time_s"])
        model, note = _try(partial(_llama_s, b))
        if model is not None:
            res = _llama_result(b)
            moved = int(r["weight_bytes"]) + int(r["kv_bytes"])
            note = (f"HBM bound fraction {moved / HBM_DATASHEET_BYTES_PER_S / measured:.2f} "
                    f"vs {res.dram_bytes / HBM_DATASHEET_BYTES_PER_S / model:.2f}; "
                    f"{r['kernels']} kernels measured, {len(res.layers)} ops modelled")
        rows.append(Row("llama", "decode step", f"llama2-7b fp16 b{b} kv{kv}", measured,
                        model, True, note))
    return rows


# -- CNNs ---------------------------------------------------------------------------------------

def fp16_workload(wl: Workload) -> Workload:
    """``wl`` with every op and graph input in 16-bit float (the zoo's CNNs are int8)."""
    ops = []
    for op in wl.ops:
        d = op.model_dump()
        d.update(F16)
        if d.get("out_bits") is not None:
            d["out_bits"] = 16
        ops.append(d)
    inputs = []
    for t in wl.inputs:
        d = t.model_dump()
        d.update(dtype="float", bits=16)
        inputs.append(d)
    return workload_from_dict({"name": f"{wl.name}_fp16", "ops": ops, "inputs": inputs})


# measured rows set beside the model as context only, with the reason
CNN_CONTEXT = {
    "resnet50_bnfolded": "measured slower than the unfolded net with fewer kernels: its "
                         "residual adds run PyTorch's non-vectorized strided add "
                         "(gpu_kernel_impl_nocast), a layout mismatch the model has no notion of",
}


def cnn_model_s(model: str, batch: int) -> float:
    folded = model.endswith("_bnfolded")
    wl = fp16_workload(pysim.zoo.load(model.removesuffix("_bnfolded"), batch=batch,
                                      batchnorm=not folded))
    return pysim.simulate(graph_gpu().replace(fusion="none"), wl).latency_s


def cnn_rows() -> list[Row]:
    rows = []
    for r in read_csv("cnn.csv"):
        name, b = r["model"], int(r["batch"])
        measured = float(r["time_s"])
        model, note = _try(partial(cnn_model_s, name, b))
        if model is not None:
            note = (f"{float(r['images_per_s']):,.0f} vs {b / model:,.0f} images/s; "
                    f"{r['kernels']} kernels measured")
        group = "mobilenet_v2" if name.startswith("mobilenet") else "resnet"
        compared = name not in CNN_CONTEXT
        if not compared:
            group = f"{name} (context)"
            note += f"; {CNN_CONTEXT[name]}"
        rows.append(Row("cnn", group, f"{name} {r['dtype']} b{b}", measured, model, compared,
                        note))
    return rows


# -- elementwise / memory-bound kernels ---------------------------------------------------------

STREAMING = ("copy", "add", "relu", "gelu", "silu_mul")
COLS = 4096  # measure_gpu_kernels.py's rows


def eltwise_workload(op: str, elements: int) -> Workload:
    """One measured eltwise call as a workload on (elements / 4096, 4096) fp16 tensors."""
    ops: list[dict[str, Any]]
    rows = elements // COLS
    shape = [rows, COLS]

    def tensor(name: str) -> dict[str, Any]:
        return {"name": name, "shape": shape, "bits": 16, "dtype": "float"}

    def elementwise(name: str, fn: str, inputs: list[str]) -> dict[str, Any]:
        return {"name": name, "type": "elementwise", "op": fn, "inputs": inputs,
                "shape": shape, **F16}

    if op == "copy":
        ops = [{"name": "out", "type": "copy", "mode": "permute", "inputs": ["x"],
                "shapes": [shape], "out_shape": shape, **F16}]
    elif op == "add":
        ops = [elementwise("out", "add", ["x", "y"])]
    elif op in ("relu", "gelu"):
        ops = [elementwise("out", op, ["x"])]
    elif op == "silu_mul":
        ops = [elementwise("silu", "silu", ["x"]), elementwise("out", "mul", ["silu", "y"])]
    elif op in ("layernorm", "rmsnorm"):
        ops = [{"name": "out", "type": "layernorm", "inputs": ["x"], "rows": rows,
                "cols": COLS, "rms": op == "rmsnorm", **F16}]
    elif op == "softmax":
        ops = [{"name": "out", "type": "softmax", "inputs": ["x"], "rows": rows, "cols": COLS,
                **F16}]
    else:
        raise ValueError(f"no pysim op for eltwise {op!r}")
    reads = {t for o in ops for t in o["inputs"]} - {o["name"] for o in ops}
    return workload_from_dict({"name": op, "inputs": [tensor(t) for t in sorted(reads)],
                               "ops": ops})


def eltwise_rows() -> list[Row]:
    gpu = graph_gpu().replace(fusion="none")
    rows = []
    for r in read_csv("eltwise.csv"):
        op, n = r["op"], int(r["elements"])
        measured = float(r["time_s"])
        model, note = _try(
            partial(_eltwise_s, gpu, op, n))
        if model is not None:
            moved = int(r["bytes"])
            note = f"{float(r['tb_s']):.2f} vs {moved / model / 1e12:.2f} TB/s"
            if moved < L2_RESIDENT_BYTES:
                note = f"L2? ({moved / 2**20:.1f} MiB) " + note
        group = "streaming" if op in STREAMING else "norm/softmax"
        rows.append(Row("eltwise", group, f"{op} {r['dtype']} {n:,}", measured, model, True,
                        note))
    return rows


# measured kernels whose rows run one CTA each (pysim/gpu/kernels.py, ``row_kernel``)
ROW_KERNELS = {"softmax": "softmax_rows", "layernorm": "norm_rows", "rmsnorm": "rms_norm_rows"}


def fit_row_kernel(op: str) -> tuple[RowKernel, float]:
    """The ``RowKernel`` that fits ``op``'s rows of eltwise.csv best (least squares of the
    relative error of kernel latency + first row + (ceil(rows / SMs) - 1) x row bytes /
    per-SM bandwidth), and its worst relative error over the measured times. The h200
    preset's figures are this fit, rounded."""
    import numpy as np

    gpu = pysim.gpu.preset(PRESET)
    points = [(int(r["elements"]) // COLS, int(r["bytes"]), float(r["time_s"]))
              for r in read_csv("eltwise.csv") if r["op"] == op]
    after = np.array([t - gpu.kernel_latency_us * 1e-6 for _, _, t in points])
    design = np.array([[1.0, (math.ceil(rows / gpu.sms) - 1) * moved / rows]
                       for rows, moved, _ in points])
    weight = 1 / np.array([t for _, _, t in points])
    (first, per_byte), *_ = np.linalg.lstsq(design * weight[:, None], after * weight,
                                           rcond=None)
    fitted = RowKernel(latency_us=first * 1e6, sm_gb_per_s=1e-9 / per_byte)
    measured = np.array([t for _, _, t in points])
    model = design @ np.array([first, per_byte]) + gpu.kernel_latency_us * 1e-6
    return fitted, float(np.max(np.abs(model / measured - 1)))


def row_kernel_report() -> str:
    gpu = pysim.gpu.preset(PRESET)
    lines = ["", "one-CTA-per-row kernels: the fit to eltwise.csv beside the preset",
             f"{'op':<10} {'fit first us':>12} {'fit GB/s/SM':>12} {'worst':>6}   preset"]
    for op, field in ROW_KERNELS.items():
        fit, worst = fit_row_kernel(op)
        have = getattr(gpu, field)
        lines.append(f"{op:<10} {fit.latency_us:>12.2f} {fit.sm_gb_per_s:>12.1f} "
                     f"{worst:>6.1%}   {field}: {have.latency_us} us, {have.sm_gb_per_s} GB/s")
    return "\n".join(lines)


SECTION_ROWS: dict[str, Callable[[], list[Row]]] = {
    "sdpa": sdpa_rows, "decode": decode_rows, "llama": llama_rows, "cnn": cnn_rows,
    "eltwise": eltwise_rows}


def all_rows(sections: tuple[str, ...] | list[str] = SECTIONS) -> list[Row]:
    return [row for s in sections for row in SECTION_ROWS[s]()]


def _summary(section: str, group: str, ratios: list[float]) -> Summary:
    errs = [abs(x - 1) for x in ratios]
    return Summary(section, group, len(ratios), statistics.median(ratios), min(ratios),
                   max(ratios), statistics.median(errs), max(errs))


def summarize(rows: list[Row]) -> list[Summary]:
    """One Summary per (section, group) of compared, modelled rows, then one per section
    (group "all") where a section has more than one group."""
    groups: dict[tuple[str, str], list[float]] = {}
    for row in rows:
        if row.compared and row.ratio is not None:
            groups.setdefault((row.section, row.group), []).append(row.ratio)
    out = []
    for section in dict.fromkeys(s for s, _ in groups):
        keys = [k for k in groups if k[0] == section]
        out += [_summary(section, k[1], groups[k]) for k in keys]
        if len(keys) > 1:
            out.append(_summary(section, "all", [x for k in keys for x in groups[k]]))
    return out


def _time(seconds: float) -> str:
    return f"{seconds * 1e3:.3f} ms" if seconds >= 1e-3 else f"{seconds * 1e6:.2f} us"


def report(rows: list[Row]) -> str:
    lines = [f"pysim '{PRESET}' preset against kernels measured on an NVIDIA H200 "
             f"({DATA.relative_to(ROOT)})",
             "ratio = model time / measured time (> 1: model slower); CUDA-graph rows against "
             "the model without host launches", ""]
    section = None
    for row in rows:
        if row.section != section:
            section = row.section
            lines += [f"== {section}",
                      f"{'case':<46} {'measured':>11} {'model':>11} {'ratio':>6}  note"]
        ratio = "-" if row.ratio is None else f"{row.ratio:.2f}"
        model = "n/m" if row.model_s is None else _time(row.model_s)
        tag = "" if row.compared else "[context] "
        lines.append(f"{row.case:<46} {_time(row.measured_s):>11} {model:>11} {ratio:>6}  "
                     f"{tag}{row.note}")
    missing = [r for r in rows if r.model_s is None]
    lines += ["", f"not modelled: {len(missing)} row(s)"
              + "".join(f"\n  {r.section}: {r.case}: {r.note}" for r in missing)]
    lines += ["", "summary (compared rows only; context rows excluded)",
              f"{'section':<8} {'group':<16} {'rows':>4} {'median':>7} {'min':>6} {'max':>6} "
              f"{'med|r-1|':>9} {'max|r-1|':>9}"]
    for s in summarize(rows):
        lines.append(f"{s.section:<8} {s.group:<16} {s.rows:>4} {s.median_ratio:>7.2f} "
                     f"{s.min_ratio:>6.2f} {s.max_ratio:>6.2f} {s.median_abs_err:>8.1%} "
                     f"{s.max_abs_err:>8.1%}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--section", action="append", choices=SECTIONS,
                        help="only this section (repeatable; default: all)")
    args = parser.parse_args(argv)
    sections = tuple(dict.fromkeys(args.section)) if args.section else SECTIONS
    print(report(all_rows(sections)))
    if "eltwise" in sections:
        print(row_kernel_report())
    return 0


if __name__ == "__main__":
    sys.exit(main())
