"""Dynamic computation inside a request: mixture-of-experts routing and early exit.

MoE: each token picks ``top_k`` experts; a fractional top_k (MC-MoE's dynamic per-token
experts average, e.g. 1.7) is an average: a token takes ceil(top_k) experts with probability
top_k - floor(top_k), else floor(top_k). Experts are drawn without replacement with
probabilities proportional to the routing shares (Gumbel top-k, as pysim.zoo's moe_ffn does).
Each expert then runs its FFN on the tokens it received, one after another, so a skewed
routing puts more tokens on the busiest expert while every activated expert still reads its
weights (the load-imbalance cost).

A recorded routing (``Routing.from_trace(counts)`` or ``Routing.from_csv(path)``): one row per
iteration of the tokens each expert received in a real run (e.g. logged from a serving
engine's router); iteration i of the simulation replays row i (cycling when the run is
longer), scaled to the iteration's own tokens x top_k: the assignments are split across the
experts in proportion to the row, rounded by largest remainder (ties to the lower expert), so a
row whose total equals the iteration's assignments is replayed exactly.

Early exit: ``ExitProfile.exit_after[l]`` is the probability that a decode
token leaves after layer l (the rest run every layer). A batch runs as deep as its deepest
token (the straggler effect: CALM, Schuster et al., NeurIPS 2022, and SEC discuss it) unless
``rebatch`` is set, when exited tokens leave the batch at each layer and the cost follows the
mean depth instead (an idealised re-batching policy). Prefill tokens run every layer.

Layer skipping in the middle of the network (``LayerSkip``; SEC and TLC-style skipping of
layers a token does not need, where the token then carries on to the next layer): each decode
token skips layer l with probability ``skip[l]``, independently. A batched layer runs when any
of its tokens needs it (the straggler effect again), so an iteration of B decode tokens runs
the layers some token kept: sum over l of 1 - skip[l]^B in expectation; with ``rebatch`` the
cost follows the mean layers per token, sum over l of 1 - skip[l]. Prefill tokens run every
layer. Skipped layers still hold their K/V slots (pysim does not model the K/V a skipped layer
leaves unwritten).
"""

from __future__ import annotations

import csv
import math
from collections.abc import Sequence
from dataclasses import dataclass
from os import PathLike
from pathlib import Path

import numpy as np

from pysim.errors import ConfigError


@dataclass(frozen=True)
class Routing:
    """Expert shares: "uniform", ("zipf", s) with share of expert i proportional to
    1 / (i+1)^s, or a list of non-negative shares, one per expert; or a recorded trace of
    per-iteration expert token counts (``from_trace``, ``from_csv``) replayed in order."""

    shares: str | tuple[str, float] | Sequence[float] = "uniform"
    trace: tuple[tuple[int, ...], ...] | None = None

    @classmethod
    def from_trace(cls, counts: Sequence[Sequence[float]] | np.ndarray) -> Routing:
        """Replay ``counts``: one row per iteration, one non-negative token count per expert
        (module docstring). Raises ConfigError naming the bad row."""
        rows = [list(r) for r in counts] if not isinstance(counts, np.ndarray) \
            else counts.tolist()
        if not rows:
            raise ConfigError("routing trace: no rows (one row of expert token counts per "
                              "iteration)")
        width = len(rows[0])
        out = []
        for i, row in enumerate(rows):
            if len(row) != width or width < 1:
                raise ConfigError(f"routing trace row {i}: {len(row)} counts, row 0 has "
                                  f"{width}")
            for v in row:
                if isinstance(v, bool) or not float(v).is_integer() or v < 0:
                    raise ConfigError(f"routing trace row {i}: counts must be integers >= 0, "
                                      f"got {v!r}")
            if sum(row) <= 0:
                raise ConfigError(f"routing trace row {i}: every count is 0 (a row records "
                                  f"the tokens routed in one iteration)")
            out.append(tuple(int(v) for v in row))
        return cls(shares="trace", trace=tuple(out))

    @classmethod
    def from_csv(cls, path: str | PathLike) -> Routing:
        """``from_trace`` of a CSV file: an optional header row (e.g. ``e0,e1,...``), then one
        row of expert token counts per iteration. Errors name the file and line."""
        path = Path(path)
        if not path.is_file():
            raise ConfigError(f"routing trace {path}: no such file")
        rows = []
        for line_no, row in enumerate(csv.reader(path.read_text().splitlines()), start=1):
            if not row or not "".join(row).strip():
                continue
            try:
                rows.append([float(v) for v in row])
            except ValueError:
                if line_no == 1:
                    continue  # a header
                raise ConfigError(f"{path}:{line_no}: expert token counts must be numbers, "
                                  f"got {row!r}") from None
            try:
                cls.from_trace([rows[-1]])
            except ConfigError as exc:
                raise ConfigError(f"{path}:{line_no}: {str(exc).split(': ', 1)[1]}") from None
            if len(rows[-1]) != len(rows[0]):
                raise ConfigError(f"{path}:{line_no}: {len(rows[-1])} counts, the first row "
                                  f"has {len(rows[0])}")
        return cls.from_trace(rows)

    def probabilities(self, experts: int) -> np.ndarray:
        s = self.shares
        if self.trace is not None:
            counts = np.asarray(self.trace, dtype=float).sum(axis=0)
            if counts.shape != (experts,):
                raise ConfigError(f"routing trace has {counts.shape[0]} experts per row, the "
                                  f"model has {experts}")
            return counts / counts.sum()
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

    def replay(self, iteration: int, assignments: int, tokens: int) -> tuple[int, ...]:
        """Row ``iteration`` (cyclically) of the trace scaled to ``assignments`` expert slots
        by largest remainder, no expert above ``tokens`` (a token picks an expert once)."""
        assert self.trace is not None
        row = np.asarray(self.trace[iteration % len(self.trace)], dtype=float)
        if assignments > tokens * int((row > 0).sum()):
            raise ConfigError(f"routing trace row {iteration % len(self.trace)}: "
                              f"{assignments} assignments of {tokens} tokens do not fit its "
                              f"{int((row > 0).sum())} experts with tokens")
        ideal = row / row.sum() * assignments
        out = np.floor(ideal).astype(np.int64)
        order = np.argsort(-(ideal - out), kind="stable")
        out[order[:assignments - int(out.sum())]] += 1
        excess = int(np.maximum(out - tokens, 0).sum())
        out = np.minimum(out, tokens)
        for e in np.argsort(-row, kind="stable"):  # the excess to the busiest with room
            if excess == 0:
                break
            if row[e] > 0:
                take = min(excess, tokens - int(out[e]))
                out[e] += take
                excess -= take
        return tuple(int(c) for c in out)

    def expert_tokens(self, tokens: int, experts: int, top_k: float,
                      rng: np.random.Generator, iteration: int = 0) -> tuple[int, ...]:
        """Tokens each expert receives when ``tokens`` tokens are routed in the run's
        ``iteration``-th iteration (used by a recorded trace)."""
        p = self.probabilities(experts)
        if top_k > int((p > 0).sum()):
            raise ConfigError(f"top_k {top_k} exceeds the {int((p > 0).sum())} experts with "
                              f"a positive share")
        lo = math.floor(top_k)
        k = np.full(tokens, lo)
        if top_k > lo:
            k += rng.random(tokens) < (top_k - lo)
        if self.trace is not None:
            return self.replay(iteration, int(k.sum()), tokens)
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


@dataclass(frozen=True)
class LayerSkip:
    """Per-layer skip probabilities of a decode token: one probability in [0, 1] per layer,
    or one number for every layer. ``rebatch``: cost follows the mean layers per token rather
    than the layers any token of the batch runs."""

    skip: float | Sequence[float]
    rebatch: bool = False

    def check(self, layers: int) -> np.ndarray:
        if isinstance(self.skip, (int, float)) and not isinstance(self.skip, bool):
            p = np.full(layers, float(self.skip))
        else:
            p = np.asarray(list(self.skip), dtype=float)  # type: ignore[arg-type]
        if p.shape != (layers,) or not np.isfinite(p).all() or (p < 0).any() or (p > 1).any():
            raise ConfigError(f"skip must be a probability in [0, 1] or list {layers} of them "
                              f"(one per layer), got {self.skip!r}")
        return p

    def expected_layers(self, decode_tokens: int, layers: int) -> float:
        """Expected layers an iteration of ``decode_tokens`` decode tokens runs."""
        p = self.check(layers)
        if self.rebatch:
            return float(np.sum(1 - p))
        return float(np.sum(1 - p ** decode_tokens))

    def depth(self, decode_tokens: int, prefill: bool, layers: int,
              rng: np.random.Generator) -> float:
        """Layers an iteration runs: those any decode token keeps (or the mean kept)."""
        if prefill or decode_tokens == 0:
            return float(layers)
        p = self.check(layers)
        runs = rng.random((decode_tokens, layers)) >= p
        return float(runs.sum(axis=1).mean() if self.rebatch else runs.any(axis=0).sum())


__all__ = ["ExitProfile", "LayerSkip", "Routing"]
