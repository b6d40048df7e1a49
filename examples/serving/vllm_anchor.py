"""Serving anchor: vLLM's request rate at equal latency against Orca and static batching.

Published: vLLM (Kwon et al., "Efficient Memory Management for Large Language Model Serving
with PagedAttention", SOSP 2023). Set-up (Sec. 6.1, Table 1, Fig. 11, Fig. 12a): OPT-13B in
fp16 on one A100-40GB (26 GB of weights, 12 GB of KV cache, 15.7K token slots); requests with
ShareGPT's lengths (mean input 161.31, mean output 337.99 tokens) arriving as a Poisson process,
1-hour traces at each rate; the metric is the normalized latency, "the mean of every
request's end-to-end latency divided by its output length", against the request rate, and a
system's throughput is the rate where that latency "suddenly explodes". Baselines: Orca
(Max) reserves the model's 2,048 tokens per request, Orca (Pow2) the prompt plus the output
length rounded up to a power of two, Orca (Oracle) the prompt plus the true output length,
each placed by a buddy allocator; FasterTransformer batches up to B requests, "B as large as
possible ... according to the GPU memory capacity", and "inefficiently manages the memory
like Orca (Max)".

Published figures (Sec. 6.2): on ShareGPT, over OPT-13B, 66B and 175B, "vLLM can sustain
1.7x-2.7x higher request rates compared to Orca (Oracle) and 2.7x-8x compared to Orca (Max)
... Compared to FasterTransformer, vLLM can sustain up to 22x higher request rates"; the
abstract's "2-4x" is the summary against "FasterTransformer and Orca". Fig. 13a, OPT-13B,
ShareGPT at 2 requests/s: the average number of batched requests is 7.00 (Orca Max), 9.81
(Pow2), 13.62 (Oracle) and 30.42 (vLLM).

Here: ``opt_13b`` on ``a100_40gb`` (15,824 token slots); the schedulers ``continuous`` (vLLM),
``orca`` with ``reservation`` max / pow2 / oracle and its buddy allocator, and ``static`` with
``max_batch`` = the slots over 2,048 (FasterTransformer's B). Lengths: log-normal, sigma 1
(ShareGPT's spread is wide: Fig. 11), prompts and outputs clipped to [4, 1024] (so prompt +
output stays within the 2,048 context), with the log-mean chosen so the clipped means are the
paper's 161.31 and 337.99. Arrivals: one unit-rate Poisson stream scaled to each rate, the same
lengths at every rate, over ``DURATION_S`` of arrivals (the same trace length at every rate, as
the paper's 1-hour traces; a fixed request count would give a fast system less time to queue
up, and overstate its rate). A system's throughput is the highest rate whose normalized
latency stays within ``TARGET_S_PER_TOKEN``, found by bisection on the log of the rate to a
relative bracket of ``TOLERANCE``. Deterministic. ``--duration S`` and ``--tolerance T``
run a shorter protocol (tests/test_serving_anchors.py runs the 900 s one, the paper's trace
length for OPT-175B).

    python examples/serving/vllm_anchor.py          (or python benchmarks/validate_serving.py)
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

import pysim
import pysim.serving as sv

MODEL, GPU = "opt_13b", "a100_40gb"
TARGET_S_PER_TOKEN = 0.2  # normalized latency: a choice inside Fig. 12's latency axis
DURATION_S = 3600.0  # seconds of arrivals at every rate: the paper's 1-hour traces
TOLERANCE = 0.01  # bisection stops when the failing rate is within 1 % of the passing one
SHAREGPT_MEANS = (161.31, 337.99)  # Fig. 11: mean input and output tokens
CLIP = (4, 1024)
SIGMA = 1.0
# Sec. 6.2 (ShareGPT, OPT-13B / 66B / 175B): vLLM's rate over each baseline's
PUBLISHED_BANDS = {"orca max": (2.7, 8.0), "orca oracle": (1.7, 2.7)}
PUBLISHED_FT_MAX = 22.0  # "up to 22x" over FasterTransformer
ABSTRACT_BAND = (2.0, 4.0)
# Fig. 13a: average batched requests, OPT-13B, ShareGPT at 2 requests/s
PUBLISHED_BATCHED = {"orca max": 7.00, "orca pow2": 9.81, "orca oracle": 13.62, "vllm": 30.42}
OVERLOAD_RATE = 8.0  # requests/s: every system's queue stays full (batch set by memory)

SYSTEMS: dict[str, dict[str, Any]] = {
    "vllm": {"scheduler": "continuous"},
    "orca oracle": {"scheduler": "orca", "reservation": "oracle"},
    "orca pow2": {"scheduler": "orca", "reservation": "pow2"},
    "orca max": {"scheduler": "orca", "reservation": "max"},
    "static": {"scheduler": "static"},  # max_batch: FasterTransformer's B, set in ``compute``
}


def _clipped_lognormal_mean(mu: float, sigma: float, lo: float, hi: float) -> float:
    """E[clip(X, lo, hi)] for X ~ LogNormal(mu, sigma)."""
    def cdf(x: float) -> float:
        return 0.5 * (1 + math.erf((math.log(x) - mu) / (sigma * math.sqrt(2))))

    def partial(x: float) -> float:  # E[X; X <= x]
        z = (math.log(x) - mu - sigma**2) / (sigma * math.sqrt(2))
        return math.exp(mu + sigma**2 / 2) * 0.5 * (1 + math.erf(z))

    return lo * cdf(lo) + (partial(hi) - partial(lo)) + hi * (1 - cdf(hi))


def log_mean_for(mean: float, sigma: float = SIGMA, clip: tuple[int, int] = CLIP) -> float:
    """The log-mean mu whose clipped log-normal has ``mean`` (bisection, to 1e-12)."""
    lo, hi = math.log(clip[0]), math.log(clip[1])
    for _ in range(200):
        mid = (lo + hi) / 2
        if _clipped_lognormal_mean(mid, sigma, *clip) < mean:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def sharegpt_like(rate: float, duration_s: float = DURATION_S, seed: int = 0) -> list[sv.Request]:
    """Requests arriving at ``rate`` per second for ``duration_s``: a unit-rate Poisson stream
    scaled by 1 / rate, so request i has the same lengths at every rate."""
    rng = np.random.default_rng(seed)
    n = int(duration_s * rate * 1.2 + 10 * math.sqrt(duration_s * rate) + 20)
    times = np.cumsum(rng.standard_exponential(n)) / rate
    if times[-1] < duration_s:
        raise RuntimeError("trace draw too short")  # 10 sigma above the mean count
    lengths = []
    for mean in SHAREGPT_MEANS:
        x = rng.lognormal(log_mean_for(mean), SIGMA, n)
        lengths.append(np.clip(np.rint(x), *CLIP).astype(int))
    k = int(np.searchsorted(times, duration_s))
    return [sv.Request(i, float(times[i]), int(lengths[0][i]), int(lengths[1][i]))
            for i in range(k)]


def normalized_latency(result: sv.ServingResult) -> float:
    """Mean over requests of end-to-end latency / output tokens (the paper's metric)."""
    r = result.requests
    return float((r["e2e_s"] / r["output_tokens"]).mean())


@dataclass
class Crossing:
    """The bracket [passing, failing] around the rate where the normalized latency crosses the
    target, and every (rate, normalized latency) probed."""

    passing: float
    failing: float
    probes: list[tuple[float, float]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        """The highest rate probed that meets the target."""
        return self.passing


def bisect_crossing(measure: Callable[[float], float], target: float, *, start: float = 1.0,
                    tolerance: float = TOLERANCE) -> Crossing:
    """Bracket the rate where ``measure(rate)`` crosses ``target`` by doubling / halving from
    ``start``, then bisect log(rate) until failing / passing <= 1 + tolerance. The probes
    are recorded in order; the same ``measure`` gives the same bracket."""
    probes: list[tuple[float, float]] = []

    def ok(rate: float) -> bool:
        value = measure(rate)
        probes.append((rate, value))
        return value <= target

    lo = hi = start
    if ok(start):
        hi = start * 2
        while ok(hi):
            lo, hi = hi, hi * 2
    else:
        lo = start / 2
        while not ok(lo):
            hi, lo = lo, lo / 2
    while hi / lo > 1 + tolerance:
        mid = math.sqrt(lo * hi)
        if ok(mid):
            lo = mid
        else:
            hi = mid
    return Crossing(lo, hi, probes)


def max_rate(settings: dict[str, Any], cost: sv.CostModel, *, duration_s: float = DURATION_S,
             tolerance: float = TOLERANCE, start: float = 1.0) -> Crossing:
    """The crossing of ``TARGET_S_PER_TOKEN`` for one system (``bisect_crossing``)."""
    def measure(rate: float) -> float:
        return normalized_latency(sv.serve(cost.hw, cost.spec, sharegpt_like(rate, duration_s),
                                           cost_model=cost, **settings))

    return bisect_crossing(measure, TARGET_S_PER_TOKEN, start=start, tolerance=tolerance)


def mean_batched(settings: dict[str, Any], cost: sv.CostModel, rate: float = OVERLOAD_RATE,
                 duration_s: float = 150.0) -> float:
    """Average running sequences per iteration (Fig. 13a's '# batched requests')."""
    res = sv.serve(cost.hw, cost.spec, sharegpt_like(rate, duration_s), cost_model=cost,
                   **settings)
    return float(res.iterations["running"].mean())


def ft_max_batch(cost: sv.CostModel) -> int:
    """FasterTransformer's B: as many requests as fit when each holds the whole context."""
    res = sv.serve(cost.hw, cost.spec, [sv.Request(0, 0.0, 4, 4)], cost_model=cost)
    return res.kv_blocks * res.block_size // cost.spec.max_context


def compute(systems: tuple[str, ...] = tuple(SYSTEMS), *, duration_s: float = DURATION_S,
            tolerance: float = TOLERANCE, batched: bool = True) -> dict[str, Any]:
    """Crossings (and, with ``batched``, the overload batch sizes) of ``systems``."""
    cost = sv.CostModel(pysim.gpu.preset(GPU), sv.model(MODEL))
    b = ft_max_batch(cost)
    settings = {k: dict(v) for k, v in SYSTEMS.items()}
    settings["static"]["max_batch"] = b
    out: dict[str, Any] = {"ft_batch": b, "crossings": {}, "batched": {}, "cost": cost}
    for label in systems:
        start = 4.0 if label == "vllm" else 1.0
        out["crossings"][label] = max_rate(settings[label], cost, duration_s=duration_s,
                                           tolerance=tolerance, start=start)
        if batched and label in PUBLISHED_BATCHED:
            out["batched"][label] = mean_batched(settings[label], cost)
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--duration", type=float, default=DURATION_S, help="seconds of arrivals")
    ap.add_argument("--tolerance", type=float, default=TOLERANCE, help="bisection bracket")
    args = ap.parse_args(argv)
    out = compute(duration_s=args.duration, tolerance=args.tolerance)
    cross = out["crossings"]
    sample = sharegpt_like(1.0, 10_000.0)
    print(f"{MODEL} on {GPU}; lengths: mean prompt "
          f"{np.mean([r.prompt_tokens for r in sample]):.1f}, mean output "
          f"{np.mean([r.output_tokens for r in sample]):.1f} tokens (10,000 s sample); "
          f"{args.duration:g} s traces; bisection to {args.tolerance:.0%}; "
          f"FasterTransformer B = {out['ft_batch']}")
    for label, c in cross.items():
        print(f"{label:<12} crossing of {TARGET_S_PER_TOKEN} s/token in [{c.passing:.3f}, "
              f"{c.failing:.3f}] req/s; probes " + ", ".join(
                  f"{r:.3f}: {v:.3f}" for r, v in sorted(c.probes)))
    print()
    v = cross["vllm"]
    print(f"{'vLLM rate over (OPT-13B, A100-40GB, ShareGPT-like)':<52} {'published':>12} "
          f"{'pysim':>7} {'bracket':>13}")
    for label in ("orca max", "orca pow2", "orca oracle", "static"):
        if label not in cross:
            continue
        c = cross[label]
        ratio = v.rate / c.rate
        lo, hi = v.passing / c.failing, v.failing / c.passing
        pub = (f"{PUBLISHED_BANDS[label][0]:g}-{PUBLISHED_BANDS[label][1]:g}x"
               if label in PUBLISHED_BANDS else
               f"<= {PUBLISHED_FT_MAX:g}x" if label == "static" else "-")
        name = "FasterTransformer (static)" if label == "static" else label
        print(f"{'  ' + name:<52} {pub:>12} {ratio:>6.2f}x {f'{lo:.2f}-{hi:.2f}x':>13}")
    print(f"(abstract: {ABSTRACT_BAND[0]:g}-{ABSTRACT_BAND[1]:g}x over FasterTransformer and "
          f"Orca; Sec. 6.2's bands are per baseline over three OPT sizes)")
    if out["batched"]:
        print()
        print(f"average batched requests at {OVERLOAD_RATE:g} req/s (every queue full) vs "
              f"Fig. 13a (2 req/s):")
        for label, n in out["batched"].items():
            pub = PUBLISHED_BATCHED[label]
            print(f"  {label:<12} pysim {n:6.2f}   published {pub:6.2f}   ratio {n / pub:.2f}")
    print(f"({out['cost'].calls} simulations)")


if __name__ == "__main__":
    main()
