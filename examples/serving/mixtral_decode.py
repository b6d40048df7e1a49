"""MoE decode anchor: Mixtral-8x7B's single-stream decode rate against a published figure and
against the HBM bound of its active parameters.

Model: Jiang et al., "Mixtral of Experts", 2024 (arXiv:2401.04088), section 2: 8 experts,
top-2 routing, 46.7B parameters, 12.9B active per token (``sv.model("mixtral_8x7b")``:
``params`` 46.70B, ``active_params`` 12.88B).

(a) Published: Baseten, "Faster Mixtral inference with TensorRT-LLM and quantization"
(baseten.co blog, December 2023): Mixtral 8x7B quantized to int8 on TensorRT-LLM on a single
A100, "a 512-token input sequence, 128-token output sequence, and single concurrent request":
"127ms time to first token and 81 perceived tokens per second". pysim: the same request alone
on ``a100`` (80 GB: the int8 weights, 46.7 GB, do not fit the 40 GB part) with
``precision="int8"``; decode tokens/s = 1 / TPOT.
ASSUMPTIONS: "perceived tokens per second" is read as the decode rate (1 / TPOT); the other
reading, output tokens over the whole request (128 / end-to-end), is printed beside it.
TensorRT-LLM's int8 is weight-only (fp16 activations and KV); pysim's int8 also narrows the
activations and the KV cache, which at batch 1 and 640 tokens are under 0.5 % of the bytes a
decode step reads. The blog's TTFT includes its serving stack (HTTP, tokenizer), pysim's does
not: printed, not anchored.

(b) Physics (fp16 on two A100-80GB with tensor parallelism 2, and the other configurations
that hold the weights): a decode step at batch 1 reads every active weight once and the
cached K/V once, so tokens/s <= devices x HBM bandwidth / (active weight bytes + KV bytes),
with the datasheet bandwidth (configs/gpu/*.yaml) and the active weights less the embedding
table but one row (a token reads one row of it). pysim's rate over that bound is its
efficiency; pysim's kernels sustain ``hbm_efficiency`` (0.86) of the datasheet, so the ratio
cannot pass 0.86.

    python examples/serving/mixtral_decode.py
"""

from __future__ import annotations

from dataclasses import dataclass

import pysim
import pysim.serving as sv

# Baseten blog, Dec 2023 (module docstring): int8 TensorRT-LLM, one A100, 512 in / 128 out.
PUBLISHED_TOKENS_PER_S = 81.0
PUBLISHED_TTFT_S = 0.127
PROMPT, OUTPUT = 512, 128
# (gpu preset, precision, tensor-parallel devices): the published case, then fp16 set-ups
# that hold the 93.4 GB of fp16 weights (one H100's 80 GB does not)
CONFIGS: tuple[tuple[str, str, int], ...] = (
    ("a100", "int8", 1), ("a100", "fp16", 2), ("h100", "fp16", 2), ("h200", "fp16", 1))


@dataclass(frozen=True)
class MoERow:
    """One configuration: pysim's TTFT, TPOT and end-to-end seconds of the lone request, and
    the HBM bound on its decode rate."""

    gpu: str
    precision: str
    tp: int
    ttft_s: float
    tpot_s: float
    e2e_s: float
    bound_tokens_per_s: float

    @property
    def tokens_per_s(self) -> float:
        """Decode rate: 1 / TPOT."""
        return 1.0 / self.tpot_s

    @property
    def overall_tokens_per_s(self) -> float:
        """Output tokens over the whole request (TTFT included)."""
        return OUTPUT / self.e2e_s

    @property
    def efficiency(self) -> float:
        return self.tokens_per_s / self.bound_tokens_per_s


def bytes_per_token(spec: sv.LLMSpec, context: float) -> float:
    """HBM bytes one batch-1 decode step reads: the active weights (one embedding row, not
    the table) and the K/V of ``context`` cached tokens."""
    weights = spec.active_params - (spec.vocab - 1) * spec.hidden
    return weights * spec.bytes_per_element + spec.kv_bytes_per_token * context


def compute(configs: tuple[tuple[str, str, int], ...] = CONFIGS) -> list[MoERow]:
    req = [sv.Request(0, 0.0, PROMPT, OUTPUT)]
    rows = []
    for name, precision, tp in configs:
        gpu = pysim.gpu.preset(name)
        spec = sv.model("mixtral_8x7b", precision=precision)
        res = sv.serve(gpu, spec, req, parallel=sv.ParallelConfig(tp=tp), seed=0)
        r = res.requests.iloc[0]
        bound = tp * gpu.hbm_bandwidth_gb_per_s * 1e9 / bytes_per_token(
            spec, PROMPT + OUTPUT / 2)
        rows.append(MoERow(name, precision, tp, float(r["ttft_s"]), float(r["tpot_s"]),
                           float(r["e2e_s"]), bound))
    return rows


def main() -> None:
    spec = sv.model("mixtral_8x7b")
    rows = compute()
    print(f"Mixtral-8x7B: {spec.params / 1e9:.1f}B parameters, {spec.active_params / 1e9:.1f}B "
          f"active (top-{spec.top_k:g} of {spec.experts}); one request of {PROMPT} + {OUTPUT} "
          "tokens")
    pub = rows[0]
    print("\n(a) published: int8 TensorRT-LLM, one A100 (Baseten, Dec 2023)")
    print(f"{'figure':<34} {'published':>9} {'pysim':>8} {'ratio':>6}")
    print(f"{'decode tokens/s (1 / TPOT)':<34} {PUBLISHED_TOKENS_PER_S:>9.0f} "
          f"{pub.tokens_per_s:>8.1f} {pub.tokens_per_s / PUBLISHED_TOKENS_PER_S:>6.2f}")
    print(f"{'  or 128 / end-to-end':<34} {PUBLISHED_TOKENS_PER_S:>9.0f} "
          f"{pub.overall_tokens_per_s:>8.1f} "
          f"{pub.overall_tokens_per_s / PUBLISHED_TOKENS_PER_S:>6.2f}")
    print(f"{'TTFT ms (not anchored)':<34} {PUBLISHED_TTFT_S * 1e3:>9.0f} "
          f"{pub.ttft_s * 1e3:>8.1f} {pub.ttft_s / PUBLISHED_TTFT_S:>6.2f}")
    print(f"{'published / HBM bound':<34} {PUBLISHED_TOKENS_PER_S / pub.bound_tokens_per_s:>9.2f}"
          f" {pub.efficiency:>8.2f}")
    print("\n(b) HBM bound: tokens/s <= devices x datasheet bandwidth / (active weight + KV "
          "bytes per token)")
    print(f"{'gpu':<5} {'prec':<5} {'tp':>2} {'GB/token':>8} {'bound':>7} {'pysim':>7} "
          f"{'ratio':>6}")
    for r in rows:
        s = sv.model("mixtral_8x7b", precision=r.precision)
        gb = bytes_per_token(s, PROMPT + OUTPUT / 2) / 1e9
        print(f"{r.gpu:<5} {r.precision:<5} {r.tp:>2} {gb:>8.2f} {r.bound_tokens_per_s:>7.1f} "
              f"{r.tokens_per_s:>7.1f} {r.efficiency:>6.2f}")
    print("(pysim: 1 / TPOT of the lone request, uniform top-2 routing, seed 0; bound at the "
          "mean decode context of 576 tokens)")


if __name__ == "__main__":
    main()
