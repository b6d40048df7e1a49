"""Dynamic computation inside a request: mixture-of-experts routing and early exit.

MoE: each token picks ``top_k`` experts; a fractional top_k (MC-MoE's dynamic per-token
experts average, e.g. 1.7) is an average: a token takes ceil(top_k) experts with probability
top_k - floor(top_k), else floor(top_k). Experts are drawn without replacement with
probabilities proportional to the routing shares (Gumbel top-k, as pysim.zoo's moe_ffn does).
Each expert then runs its FFN on the tokens it received, one after another, so a skewed
routing puts more tokens on the busiest expert while every activated expert still reads its
weights (the load-imbalance cost).

Early exit / layer skipping: ``ExitProfile.exit_after[l]`` is the probability that a decode
token leaves after layer l (the rest run every layer). A batch runs as deep as its deepest
token (the straggler effect: CALM, Schuster et al., NeurIPS 2022, and SEC discuss it) unless
``rebatch`` is set, when exited tokens leave the batch at each layer and the cost follows the
mean depth instead (an idealised re-batching policy). Prefill tokens run every layer.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from pysim.errors import ConfigError


@dataclass(frozen=True)
class Routing:
    """Expert shares: "uniform", ("zipf", s) with share of expert i proportional to
    1 / (i+1)^s, or a list of non-negative shares, one per expert."""

    shares: str | tuple[str, float] | Sequence[float] = "uniform"

    def probabilities(self, experts: int) -> np.ndarray:
        s = self.shares
        if s == "uniform":
            p = np.ones(experts)
        elif isinstance(s, tuple) and len(s) == 2 and s[0] == "zipf":
            p = 1.0 / np.arange(1, experts + 1) ** float(s[1])
        elif not isinstance(s, str):
            p = np.asarray(list(s), dtype=float)  # type: ignore[arg-type]
            if p.shape != (experts,) or (p < 0).any() or not np.isfinite(p).all() \
                    or p.sum() <= 0:
                raise ConfigError(f"routing shares must list {experts} non-negative numbers "
                                  f"with a positive sum, got {s!r}")
        else:
            raise ConfigError(f"routing must be 'uniform', ('zipf', s) or a list of shares, "
                              f"got {s!r}")
        return p / p.sum()

    def expert_tokens(self, tokens: int, experts: int, top_k: float,
                      rng: np.random.Generator) -> tuple[int, ...]:
        """Tokens each expert receives when ``tokens`` tokens are routed."""
        p = self.probabilities(experts)
        if top_k > int((p > 0).sum()):
            raise ConfigError(f"top_k {top_k} exceeds the {int((p > 0).sum())} experts with "
                              f"a positive share")
        lo = math.floor(top_k)
        k = np.full(tokens, lo)
        if top_k > lo:
            k += rng.random(tokens) < (top_k - lo)
        with np.errstate(divide="ignore"):
            keys = np.log(p) + rng.gumbel(size=(tokens, experts))
        ranks = np.argsort(-keys, axis=1)
        chosen = ranks[np.arange(experts)[None, :] < k[:, None]]
        return tuple(int(c) for c in np.bincount(chosen, minlength=experts))


@dataclass(frozen=True)
class ExitProfile:
    """Probability of a decode token leaving after each layer (sum <= 1; the rest run all
    layers). ``rebatch``: cost follows the mean depth rather than the deepest token."""

    exit_after: Sequence[float]
    rebatch: bool = False

    def check(self, layers: int) -> np.ndarray:
        p = np.asarray(list(self.exit_after), dtype=float)
        if p.shape != (layers,) or (p < 0).any() or not np.isfinite(p).all() \
                or p.sum() > 1 + 1e-9:
            raise ConfigError(f"exit_after must list {layers} probabilities (one per layer) "
                              f"with sum <= 1, got {list(self.exit_after)!r}")
        return p

    def depth(self, decode_tokens: int, prefill: bool, layers: int,
              rng: np.random.Generator) -> float:
        """Layers an iteration runs: the deepest (or mean) of its decode tokens' depths."""
        if prefill or decode_tokens == 0:
            return float(layers)
        p = self.check(layers)
        probs = np.append(p, max(0.0, 1.0 - p.sum()))
        depths = rng.choice(np.append(np.arange(1, layers + 1), layers), size=decode_tokens,
                            p=probs / probs.sum())
        return float(depths.mean() if self.rebatch else depths.max())


__all__ = ["ExitProfile", "Routing"]
