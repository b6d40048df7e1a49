"""CAKE anchor: per-token decode latency at a 128K-token context, CAKE's cache against the
full cache.

Published: Qin et al., "CAKE: Cascading and Adaptive KV Cache Eviction with Layer
Preferences", ICLR 2025 (arXiv:2503.12491), abstract: CAKE "maintains model performance with
only 3.2% of the KV cache" and "achieves over 10x speedup in decoding latency compared to full
cache when processing contexts of 128K tokens with FlashAttention-2". The quantity is the
decoding latency, the time of one decode step (one new token of one sequence) once the 128K
prompt is cached; the figure is a lower bound (">10x").

Here: pysim's ``Cake`` policy keeping 3.2 % of the prompt against ``FullCache``, one request
of a 128K-token context (131,008-token prompt + 64 output tokens = 131,072, the model's
context) served alone; the speed-up is the full cache's TPOT over CAKE's (TPOT: the mean time
per output token after the first, pysim/serving/metrics.py). Beside it, what brackets the
figure: the HBM bound of a decode step (weights + the cached K/V read once per token, at the
datasheet bandwidth), and the attention kernels alone. A 1,024-token budget (the cache_size of
CAKE's released scripts, github.com/antgroup/cakekv README) is printed as a second row.

ASSUMPTIONS (the paper's latency set-up is not restated in the sources this was built from;
docs/serving.md says which):
- Model: Llama-3.1-8B (``llama3_1_8b``), the only 128K-context model in CAKE's released
  configs (experiments/LongBench/config/model2maxlen.json: llama3.1-8b-128k, 127,500; the
  Mistral-7B-v0.3 and Qwen2.5-7B entries are 32K). fp16, batch 1.
- GPU: one A100-80GB (``a100``); H100 printed beside it.
- Budget: 3.2 % of the prompt per layer on average (4,193 tokens), CAKE's headline ratio
  applied at 128K; every layer's share stays under the context, so the layer preference
  profile (an input in pysim: it has no attention scores) changes nothing here and the
  uniform default is used.
- CAKE's own scoring and eviction work during decode is not priced (docs/serving.md, gaps).

    python examples/serving/cake_decode.py
"""

from __future__ import annotations

from dataclasses import dataclass

import pysim
import pysim.serving as sv

PAPER_SPEEDUP = 10.0  # Qin et al., ICLR 2025, abstract: "over 10x" (a lower bound)
MODEL = "llama3_1_8b"
CONTEXT = 131_072  # Llama 3.1's 128K context (config.json max_position_embeddings)
OUTPUT = 64
BUDGETS: tuple[int | float, ...] = (0.032, 1024)  # CAKE's 3.2 %; its scripts' cache_size
GPUS = ("a100", "h100")


@dataclass(frozen=True)
class CakeRow:
    """One GPU and budget: per-token decode latency (s) with the full cache and with CAKE,
    pysim's speed-up, the HBM-bound speed-up and the attention-only speed-up."""

    gpu: str
    budget: int | float
    kept_tokens: float
    full_tpot_s: float
    cake_tpot_s: float
    hbm_bound_speedup: float
    attention_speedup: float

    @property
    def speedup(self) -> float:
        return self.full_tpot_s / self.cake_tpot_s

    @property
    def ratio(self) -> float:
        """pysim's speed-up over the paper's (>) 10x."""
        return self.speedup / PAPER_SPEEDUP


def compute(gpus: tuple[str, ...] = GPUS,
            budgets: tuple[int | float, ...] = BUDGETS) -> list[CakeRow]:
    spec = sv.model(MODEL)
    prompt = CONTEXT - OUTPUT
    req = [sv.Request(0, 0.0, prompt, OUTPUT)]
    mid = prompt + OUTPUT / 2  # mean context over the decode steps
    rows = []
    for name in gpus:
        gpu = pysim.gpu.preset(name)
        cost = sv.CostModel(gpu, spec)

        def tpot(policy: sv.FullCache | sv.Cake, cost: sv.CostModel = cost) -> float:
            res = sv.serve(cost.hw, spec, req, cost_model=cost, kv_policy=policy, seed=0)
            return float(res.requests["tpot_s"].iloc[0])

        full = tpot(sv.FullCache())
        for budget in budgets:
            policy = sv.Cake(budget)
            kept = policy.kept(int(mid), prompt, spec.layers)
            bw = gpu.hbm_bandwidth_gb_per_s * 1e9
            w = spec.weight_bytes
            hbm = ((w + spec.kv_bytes_per_token * mid) / bw) / (
                (w + spec.kv_bytes_per_token * kept) / bw)
            attn = cost.attention(1, 1, mid).seconds / cost.attention(1, 1, kept).seconds
            rows.append(CakeRow(name, budget, kept, full, tpot(policy), hbm, attn))
    return rows


def main() -> None:
    spec = sv.model(MODEL)
    print(f"CAKE decode anchor: {spec.name} fp16, one request of {CONTEXT - OUTPUT} + {OUTPUT} "
          f"tokens (K/V {spec.kv_bytes_per_token * CONTEXT / 1e9:.1f} GB at 128K, weights "
          f"{spec.weight_bytes / 1e9:.1f} GB)")
    print(f"{'gpu':<5} {'budget':>7} {'kept':>6} {'full ms':>8} {'CAKE ms':>8} {'HBM bound':>9} "
          f"{'attn only':>9} {'pysim':>7} {'paper':>6} {'ratio':>6}")
    for r in compute():
        budget = f"{r.budget:.1%}" if isinstance(r.budget, float) else str(r.budget)
        print(f"{r.gpu:<5} {budget:>7} {r.kept_tokens:>6.0f} {r.full_tpot_s * 1e3:>8.2f} "
              f"{r.cake_tpot_s * 1e3:>8.2f} {r.hbm_bound_speedup:>8.2f}x "
              f"{r.attention_speedup:>8.1f}x {r.speedup:>6.2f}x {'>10x':>6} {r.ratio:>6.2f}")
    print("(paper: Qin et al., ICLR 2025, abstract, >10x decoding latency at 128K with "
          "FlashAttention-2; pysim: full-cache TPOT / CAKE TPOT; HBM bound: (weights + full "
          "K/V) / (weights + kept K/V) bytes; attn only: the attention kernels alone. "
          "Assumptions: module docstring)")


if __name__ == "__main__":
    main()
