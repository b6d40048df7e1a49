"""Speculative-decoding anchor: the walltime improvement of a single stream against Leviathan
et al.'s closed form.

Published: Leviathan, Kalman & Matias, "Fast Inference from Transformers via Speculative
Decoding", ICML 2023, section 3.3, Definition 3.7 and Theorem 3.8: with acceptance rate alpha
(i.i.d. per token), gamma draft tokens per step and c = (time of one draft step) / (time of
one target step), the expected improvement factor in total walltime is
(1 - alpha^(gamma+1)) / ((1 - alpha)(gamma c + 1)); "in our experiments ... c was always less
than 0.05". (Their measured T5-XXL speed-ups, 2.3-3.4X with T5-small, and Chen et al.'s
2-2.5X on Chinchilla 70B are for other models and hardware: not compared here.)

Here: LLaMA-2-7B on one A100 with two drafts (LLaMA-68M, TinyLlama-1.1B). c is pysim's own
ratio of a draft decode step to a target decode step (one sequence, at the run's mean
context); Theorem 3.8 with that c is set against pysim's simulated speed-up, the plain
single-request TPOT over the speculative one. pysim prices the verification as a pass over
gamma + 1 tokens (attention and LM head over every position), which the theorem takes to cost
one target step; that, and the draft prefill, are the expected gaps (printed as verify / step).

    python benchmarks/validate_speculative.py
"""

from __future__ import annotations

import pysim
import pysim.serving as sv
from pysim.serving.cost import IterationShape
from pysim.serving.speculative import speedup

PROMPT, OUTPUT = 128, 1024
CASES = ((1, 0.6), (3, 0.6), (4, 0.8), (5, 0.65), (7, 0.75), (7, 0.9))


def step_s(cost: sv.CostModel, context: float, q: int = 1) -> float:
    """One decode step of a lone sequence over ``context`` cached tokens, ``q`` new ones."""
    return cost.iteration(IterationShape(q, q, decode_batch=1, decode_kv_mean=context + q,
                                         decode_q_len=q)).seconds


def main() -> None:
    gpu = pysim.gpu.preset("a100")
    target = sv.CostModel(gpu, sv.model("llama2_7b"))
    req = [sv.Request(0, 0.0, PROMPT, OUTPUT)]
    plain = sv.serve(gpu, target.spec, req, cost_model=target).requests["tpot_s"].iloc[0]
    ctx = PROMPT + OUTPUT / 2
    print(f"LLaMA-2-7B on {gpu.full_name}, one request of {PROMPT} + {OUTPUT} tokens: "
          f"plain TPOT {plain * 1e3:.3f} ms")
    print(f"{'draft':<14} {'gamma':>5} {'alpha':>5} {'c':>7} {'verify/step':>11} "
          f"{'E[tokens]':>9} {'Thm 3.8':>8} {'pysim':>7} {'ratio':>6}")
    for name in ("llama_68m", "tinyllama_1b"):
        draft = sv.CostModel(gpu, sv.model(name))
        c = step_s(draft, ctx) / step_s(target, ctx)
        for gamma, alpha in CASES:
            cfg = sv.SpeculativeConfig(name, gamma, alpha)
            res = sv.serve(gpu, target.spec, req, cost_model=target, draft_cost_model=draft,
                           speculative=cfg, seed=0)
            ours = plain / res.requests["tpot_s"].iloc[0]
            paper = speedup(gamma, alpha, c)
            verify = step_s(target, ctx, gamma + 1) / step_s(target, ctx)
            print(f"{name:<14} {gamma:>5} {alpha:>5.2f} {c:>7.4f} {verify:>11.3f} "
                  f"{cfg.expected_tokens:>9.3f} {paper:>7.2f}x {ours:>6.2f}x "
                  f"{ours / paper:>6.3f}")
    print("(Thm 3.8: Leviathan et al., ICML 2023, section 3.3, with pysim's c; pysim: "
          "plain TPOT / speculative TPOT, i.i.d. acceptance, seed 0)")


if __name__ == "__main__":
    main()
