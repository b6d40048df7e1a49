"""pysim's GPU presets against published whole-workload figures, side by side with ratios.

    python benchmarks/validate_gpu.py

Figures are fixtures with their sources (tests/data/gpu/published.yaml):

- MLPerf Inference ResNet-50 Offline on one A100 (int8): images/s. pysim runs zoo:resnet50 at
  batch 256, int8, with epilogue fusion (the preset's default, as TensorRT fuses conv + bias +
  residual add + ReLU) and without it.
- LLaMA-2-7B fp16 decode at batch 1 on an A100-80GB: the fraction of the HBM-bandwidth bound
  (bytes moved / 2039 GB/s over the modelled time).
- FlashAttention-2 forward on an A100 (fp16, head dim 128, 16k tokens, 16 heads): TFLOPS.
- FlashAttention-2 and FlashAttention-3 forward on an H100 (fp16, head dim 128, 16k tokens):
  TFLOPS against the FlashAttention-3 paper's 35 % and 740 TFLOPS.
- SageAttention2 (Q K^T int4, P V fp8) over FlashAttention-2 on an RTX 4090: the speed-up.

GEMM kernels against measured cuBLAS timings are benchmarks/measure_gpu_gemm.py's. Runs in a
few seconds; nothing here asserts (tests/test_gpu_published.py does).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

import pysim

ROOT = Path(__file__).resolve().parent.parent
FIXTURE = ROOT / "tests" / "data" / "gpu" / "published.yaml"
RESNET_BATCH = 256


def load_fixture() -> dict[str, Any]:
    with open(FIXTURE, encoding="utf-8") as fh:
        return yaml.safe_load(fh)


def resnet50_images_per_s(fusion: str = "epilogue") -> float:
    gpu = pysim.gpu.preset("a100").replace(fusion=fusion)
    res = pysim.simulate(gpu, pysim.zoo.load("resnet50", batch=RESNET_BATCH))
    return RESNET_BATCH / res.latency_s


def llama_decode_fraction() -> tuple[float, float, float]:
    """(fraction of the HBM bound, modelled ms per token, bound ms)."""
    gpu = pysim.gpu.preset("a100")
    res = pysim.simulate(gpu, pysim.zoo.load("llama2_7b", phase="decode", batch=1,
                                             context_len=512, precision="fp16"))
    bound = res.dram_bytes / (gpu.hbm_bandwidth_gb_per_s * 1e9)
    return bound / res.latency_s, res.latency_s * 1e3, bound * 1e3


SAGE2 = {"qk_format": {"dtype": "int", "bits": 4}, "pv_format": {"dtype": "float", "bits": 8}}


def flash_attention_tflops(seq: int = 16384, head_dim: int = 128, causal: bool = False,
                           gpu: str = "a100", hidden: int = 2048,
                           formats: dict[str, Any] | None = None,
                           attention: str = "flash2") -> float:
    """FlashAttention-2's benchmark shape: 16k tokens in all (batch = 16k / seq), ``hidden``
    / head_dim heads; ``formats`` the GEMMs' (SageAttention2's, SAGE2); ``attention`` the
    kernel ("flash3": FlashAttention-3, Hopper only)."""
    from pysim.workload import workload_from_dict

    batch, heads = 16384 // seq, hidden // head_dim
    f16 = {"dtype": "float", "act_bits": 16, "weight_bits": 16}
    wl = workload_from_dict({
        "name": "fa2", "inputs": [{"name": x, "shape": [batch, seq, heads * head_dim],
                                   "bits": 16, "dtype": "float"} for x in "qkv"],
        "ops": [{"name": "attention", "type": "attention", "inputs": ["q", "k", "v"],
                 "batch": batch, "heads": heads, "q_len": seq, "kv_len": seq,
                 "head_dim": head_dim, "causal": causal, **f16, **(formats or {})}]})
    res = pysim.simulate(pysim.gpu.preset(gpu).replace(attention=attention), wl)
    flops = 4 * batch * heads * seq * seq * head_dim / (2 if causal else 1)
    return flops / res.latency_s / 1e12


def sage2_speedup(seq: int = 16384) -> float:
    """SageAttention2 (int4 Q K^T, fp8 P V, its quantizing pre-pass included) over
    FlashAttention-2 on an RTX 4090, head dim 128, 32 heads."""
    base = flash_attention_tflops(seq, gpu="rtx4090", hidden=4096)
    return flash_attention_tflops(seq, gpu="rtx4090", hidden=4096, formats=SAGE2) / base


def report(fx: dict[str, Any]) -> str:
    lines = ["pysim GPU presets against published figures", "=" * 43,
             f"{'case':<44} {'published':>14} {'pysim':>9} {'ratio':>6}"]
    lo, hi = fx["mlperf_resnet50_a100"]["images_per_s"]
    mid = (lo + hi) / 2
    for fusion in ("epilogue", "none"):
        ips = resnet50_images_per_s(fusion)
        lines.append(f"{'ResNet-50 int8 A100 images/s, fusion ' + fusion:<44} "
                     f"{f'{lo:,}-{hi:,}':>14} {ips:>9,.0f} {ips / mid:>6.2f}")
    frac, ms, bound = llama_decode_fraction()
    lo, hi = fx["llama2_7b_decode_a100"]["fraction_of_hbm_bound"]
    verdict = "in" if lo <= frac <= hi else "out"
    lines.append(f"{'LLaMA-2-7B fp16 decode b1 A100, of HBM bound':<44} "
                 f"{f'{lo:.2f}-{hi:.2f}':>14} {frac:>9.2f} {verdict:>6}")
    lines.append(f"  decode: {ms:.2f} ms per token modelled, {bound:.2f} ms at the HBM bound")
    fa = fx["flash_attention2_a100"]["tflops"]
    tflops = flash_attention_tflops()
    lines.append(f"{'FlashAttention-2 fwd A100 d128 16k, TFLOPS':<44} {fa:>14} {tflops:>9.0f} "
                 f"{tflops / fa:>6.2f}")
    sweep = ", ".join(f"{n} {flash_attention_tflops(n):.0f}"
                      for n in (512, 1024, 2048, 4096, 8192))
    causal = ", ".join(f"{n} {flash_attention_tflops(n, causal=True):.0f}"
                       for n in (512, 2048, 8192, 16384))
    lines.append(f"  pysim TFLOPS by tokens, A100 d128: {sweep} (no mask); causal {causal}")
    h100 = pysim.gpu.preset("h100")
    fa2 = fx["flash_attention2_h100"]["utilization"] * h100.peak_tflops("fp16")
    tflops = flash_attention_tflops(gpu="h100")
    lines.append(f"{'FlashAttention-2 fwd H100 d128 16k, TFLOPS':<44} {fa2:>14.0f} "
                 f"{tflops:>9.0f} {tflops / fa2:>6.2f}")
    fa3 = fx["flash_attention3_h100"]["tflops"]
    tflops = flash_attention_tflops(gpu="h100", attention="flash3")
    lines.append(f"{'FlashAttention-3 fwd H100 d128 16k, TFLOPS':<44} {fa3:>14} {tflops:>9.0f} "
                 f"{tflops / fa3:>6.2f}")
    lo, hi = fx["sageattention2_rtx4090"]["band"]
    speedup = sage2_speedup()
    lines.append(f"{'SageAttention2 over FA2, RTX 4090 d128 16k':<44} "
                 f"{f'{lo:.1f}-{hi:.1f}x':>14} {speedup:>8.2f}x {speedup / 3.0:>6.2f}")
    lines.append("  pysim speed-up by tokens: " + ", ".join(
        f"{n} {sage2_speedup(n):.2f}x" for n in (1024, 4096, 16384))
        + f"; FA2 {flash_attention_tflops(gpu='rtx4090', hidden=4096):.0f} TFLOPS (fp16, fp32 "
          "accumulation at half rate on GeForce)")
    for key in ("mlperf_resnet50_a100", "llama2_7b_decode_a100", "flash_attention2_a100",
                "flash_attention2_h100", "flash_attention3_h100", "sageattention2_rtx4090"):
        lines.append(f"  source ({key}): {' '.join(fx[key]['source'].split())}")
    return "\n".join(lines)


def main() -> int:
    print(report(load_fixture()))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
