"""Iteration cost: seconds and joules of one serving iteration from ``pysim.simulate``.

An iteration is described by its shapes (``IterationShape``): the tokens it runs, the
sequences that emit a token, the decode sequences and their mean cache length, each prefill
chunk's (new tokens, keys), and for a mixture of experts the tokens each expert receives.
Its cost is the sum of one-layer workloads x layers plus the LM head (pysim/serving/model.py);
the pieces run one after another, as a GPU's kernels do.

Caching by shape: each piece is simulated only at grid points and linearly interpolated
between the two grid points around the requested size (multilinearly over attention's
(batch, q_len, kv_len)). The grid is every integer up to ``exact_up_to`` (default 16), then
``points_per_octave`` (default 8) points per doubling, about 9 % apart. Cost is close to
piecewise linear in token count between such points (GEMM waves and tiles step by smaller
amounts once M is large); GEMM wave quantisation still leaves up to about 6 % between grid
points (tests/test_serving_cost.py bounds it at 8 % against direct simulation). Decode
attention is priced at the batch's mean cache length: its MACs and KV bytes are linear in
each sequence's length, so the sum over sequences equals batch x mean.

Several devices (``parallel``, pysim/serving/parallel.py): the pieces are those one
tensor-parallel device runs (its shard of heads, FFN units and vocabulary), plus two ring
all-reduces of the activations per layer and a gather of the logits over the hardware's
interconnect; under pipeline parallelism one micro-batch's pieces are priced (tokens, decode
sequences and prefill attention divided by the micro-batches) and the stages composed as
GPipe's schedule. With tp = pp = 1 the cost is the single-device one, bit for bit.
"""

from __future__ import annotations

import bisect
import itertools
import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from pysim.serving.model import LLMSpec
from pysim.serving.parallel import Link, ParallelConfig, require_link, shard, stage_layers
from pysim.workload import Workload

if TYPE_CHECKING:
    from pysim.serving.offload import ServingOffload


@dataclass(frozen=True)
class Cost:
    """Seconds and joules."""

    seconds: float = 0.0
    joules: float = 0.0

    def __add__(self, other: Cost) -> Cost:
        return Cost(self.seconds + other.seconds, self.joules + other.joules)

    def scale(self, factor: float) -> Cost:
        return Cost(self.seconds * factor, self.joules * factor)


@dataclass(frozen=True)
class IterationShape:
    """What one iteration runs. ``tokens``: token rows through every layer (prefill chunk
    tokens + one per decode sequence); ``emitting``: sequences producing a token (LM head
    rows); ``decode_batch`` sequences decoding over ``decode_kv_mean`` keys on average;
    ``prefills``: (new tokens, keys) per prefill chunk; ``expert_tokens``: tokens per expert
    (MoE only); ``layers``: layers run (early exit: fewer than the model's);
    ``decode_q_len``: new tokens per decode sequence (speculative verification: gamma + 1)."""

    tokens: int
    emitting: int
    decode_batch: int = 0
    decode_kv_mean: float = 0.0
    prefills: tuple[tuple[int, int], ...] = ()
    expert_tokens: tuple[int, ...] = ()
    layers: float | None = None
    decode_q_len: int = 1

    @property
    def sequences(self) -> int:
        return self.decode_batch + len(self.prefills)


def grid(exact_up_to: int = 16, points_per_octave: int = 8, limit: int = 1 << 22) -> list[int]:
    """Grid points: 1..exact_up_to, then points_per_octave per doubling up to limit."""
    pts = list(range(1, exact_up_to + 1))
    i = 1
    while pts[-1] < limit:
        pts.append(max(pts[-1] + 1, round(exact_up_to * 2 ** (i / points_per_octave))))
        i += 1
    return pts


@dataclass
class CostModel:
    """Prices iterations of ``spec`` on ``hw`` (anything ``pysim.simulate`` accepts), over
    ``parallel`` devices linked by the hardware's interconnect. ``simulate`` may be replaced
    (tests use a closed-form stand-in). ``calls`` counts simulations run, ``hits`` lookups
    answered from the cache. The pieces (``block``, ``ffn``, ...) are one device's."""

    hw: Any
    spec: LLMSpec
    parallel: ParallelConfig = field(default_factory=ParallelConfig)
    exact_up_to: int = 16
    points_per_octave: int = 8
    simulate: Callable[[Any, Workload], Any] | None = None
    calls: int = 0
    hits: int = 0
    _cache: dict[tuple, Cost] = field(default_factory=dict, repr=False)
    _grid: list[int] = field(default_factory=list, repr=False)
    _launch: float = field(default=0.0, repr=False)
    _piece: LLMSpec = field(init=False, repr=False)
    link: Link | None = field(default=None, repr=False)
    # weights in host memory, copied in every iteration (pysim/serving/offload.py; ``serve``
    # sets it from the hardware's host.offload); None: all on the device
    offload: ServingOffload | None = field(default=None, repr=False)

    def __repr__(self) -> str:
        return (f"CostModel({getattr(self.hw, 'name', self.hw)!r}, {self.spec.name!r}, "
                f"calls={self.calls}, hits={self.hits})")

    def __post_init__(self) -> None:
        self.parallel.check(self.spec)
        self.link = require_link(self.hw, self.parallel)
        self._piece = shard(self.spec, self.parallel.tp)
        self._grid = grid(self.exact_up_to, self.points_per_octave)
        from pysim.gpu.kernels import first_launch_s

        self._launch = first_launch_s(self.hw) if self.simulate is None else 0.0
        if self.simulate is None:
            from pysim.simulate import simulate

            self.simulate = simulate

    # --- grid and cache -------------------------------------------------------------------

    def _around(self, x: float) -> list[tuple[int, float]]:
        """Grid points around x with their interpolation weights."""
        x = max(1.0, float(x))
        i = bisect.bisect_left(self._grid, x)
        hi = self._grid[i]
        if hi == x or i == 0:
            return [(hi, 1.0)]
        lo = self._grid[i - 1]
        w = (x - lo) / (hi - lo)
        return [(lo, 1.0 - w), (hi, w)]

    def _point(self, key: tuple, build: Callable[[], Workload]) -> Cost:
        cost = self._cache.get(key)
        if cost is None:
            res = self.simulate(self.hw, build())  # type: ignore[misc]
            self.calls += 1
            # a piece inside an iteration starts behind the previous one's kernels, not
            # after a launch of its own (the iteration pays one: ``iteration``)
            cost = self._cache[key] = Cost(float(res.latency_s) - self._launch,
                                           float(res.energy_j))
        else:
            self.hits += 1
        return cost

    def _interp(self, kind: str, dims: Sequence[float],
                build: Callable[..., Workload]) -> Cost:
        total = Cost()
        for corner in itertools.product(*(self._around(d) for d in dims)):
            pts = tuple(p for p, _ in corner)
            w = math.prod(wt for _, wt in corner)
            if w:
                total = total + self._point((kind, *pts), lambda pts=pts: build(*pts)).scale(w)
        return total

    # --- pieces ---------------------------------------------------------------------------

    def block(self, tokens: float) -> Cost:
        """One layer's token-parallel ops over ``tokens`` rows."""
        return self._interp("block", (tokens,), self._piece.block_workload)

    def ffn(self, tokens: float) -> Cost:
        """One layer's (one expert's) feed-forward over ``tokens`` rows; 0 tokens, no cost."""
        return self._interp("ffn", (tokens,), self._piece.ffn_workload) if tokens > 0 else Cost()

    def router(self, tokens: float, assignments: float) -> Cost:
        return self._interp("router", (tokens, assignments), self._piece.router_workload)

    def attention(self, batch: float, q_len: float, kv_len: float) -> Cost:
        """One layer's attention; kv_len is clamped to >= q_len at the grid points."""
        def build(b: int, q: int, kv: int) -> Workload:
            return self._piece.attention_workload(b, q, max(q, kv))
        return self._interp("attn", (batch, q_len, kv_len), build)

    def head(self, rows: float) -> Cost:
        return self._interp("head", (rows,), self._piece.head_workload) if rows > 0 else Cost()

    # --- an iteration ---------------------------------------------------------------------

    def iteration(self, shape: IterationShape) -> Cost:
        """Seconds and joules of one iteration of ``shape`` (joules: all devices)."""
        spec, par = self.spec, self.parallel
        m = par.micro_batches_for(shape.sequences)
        f = 1.0 / m  # one micro-batch's share (1 without pipeline parallelism)
        tokens = shape.tokens * f
        layer = self.block(tokens)
        if spec.experts > 1:
            counts = shape.expert_tokens
            layer = layer + self.router(tokens, max(1.0, sum(counts) * f))
            for t in counts:
                layer = layer + self.ffn(t * f)
        else:
            layer = layer + self.ffn(tokens)
        if shape.decode_batch:
            layer = layer + self.attention(shape.decode_batch * f, shape.decode_q_len,
                                           shape.decode_kv_mean)
        for q_len, kv_len in shape.prefills:
            layer = layer + self.attention(1, q_len, kv_len).scale(f)
        head = self.head(shape.emitting * f)
        layers = spec.layers if shape.layers is None else shape.layers
        if self.link is None:  # one device
            total = layer.scale(layers) + head + Cost(self._launch, 0.0)
            if self.offload is not None:
                total = total + self.offload.cost(layer, head, layers, spec.layers)
            return total
        act = tokens * spec.hidden * spec.bytes_per_element  # one micro-batch's activations
        # Megatron: an all-reduce after attention and one after the FFN, in every layer
        layer = layer + Cost(2 * self.link.allreduce_s(act, par.tp), 0.0)
        logits = shape.emitting * f * spec.vocab * spec.bytes_per_element
        head = head + Cost(self.link.allgather_s(logits, par.tp), 0.0)
        stage = layer.scale(stage_layers(layers, par.pp))
        p2p = self.link.p2p_s(act) if par.pp > 1 else 0.0
        seconds = ((par.pp - 1) * (stage.seconds + p2p) + m * (stage.seconds + head.seconds)
                   + self._launch)
        # every device of every stage runs each micro-batch through its layers
        joules = par.tp * m * (layer.joules * layers + head.joules)
        return Cost(seconds, joules)


__all__ = ["Cost", "CostModel", "IterationShape", "grid"]
