"""Operator orders: the peak memory of an order and a minimum-peak order.

`min_peak_order` is SERENITY's dynamic programming over the sets of executed ops (Ahn et al.,
"Ordering Chaos: Memory-Aware Scheduling of Irregularly Wired Neural Networks for Edge Devices",
MLSys 2020): the bytes resident after running a set S of ops depend on S alone, so the best peak
to reach S is min over its last op v of max(best(S - v), peak of running v after S - v). It is
exact while the number of reachable sets stays within `max_states`; past that each layer keeps
the `beam` best sets (a beam search, reported as not exact).
"""

from __future__ import annotations

from dataclasses import dataclass

from pysim.memplan.graph import LifetimeGraph, Timeline


def peak_bytes(graph: LifetimeGraph, order: tuple[int, ...]) -> int:
    """Largest bytes resident at one step of `order` when no tensor is ever dropped."""
    return max(Timeline.of(graph, order).live_bytes())


@dataclass(frozen=True)
class MinPeak:
    """A minimum-peak order (op indices), its peak in bytes and whether it is proven minimal."""

    order: tuple[int, ...]
    peak_bytes: int
    exact: bool


def min_peak_order(graph: LifetimeGraph, max_states: int = 4_000,
                   beam: int | None = None) -> MinPeak:
    """The order of least peak (module docstring). Deterministic."""
    n = len(graph.ops)
    beam = beam or max(8, 300_000 // max(1, n * 4))
    pred = [sum(1 << p for p in ps) for ps in graph.predecessors()]  # as bit masks
    users: dict[str, int] = {}  # tensor -> mask of the ops that need it
    for i, op in enumerate(graph.ops):
        for t in op.tensors:
            users[t] = users.get(t, 0) | (1 << i)
    size = {t: graph.tensors[t].bytes for t in users}
    tensors = [graph.ops[i].tensors for i in range(n)]
    succ: list[list[int]] = [[] for _ in range(n)]
    for v in range(n):
        for u in range(n):
            if pred[u] >> v & 1:
                succ[v].append(u)
    # state -> (peak so far, resident bytes, parent state, last op); ready ops per state
    layer: dict[int, tuple[int, int, int, int]] = {0: (0, 0, -1, -1)}
    ready: dict[int, tuple[int, ...]] = {0: tuple(v for v in range(n) if not pred[v])}
    history: list[dict[int, tuple[int, int, int, int]]] = [layer]
    exact = True
    for _ in range(n):
        nxt: dict[int, tuple[int, int, int, int]] = {}
        nready: dict[int, tuple[int, ...]] = {}
        for s, (pk, mem, _, _) in layer.items():
            for v in ready[s]:
                s2 = s | 1 << v
                new = sum(size[t] for t in tensors[v] if not users[t] & s)
                done = sum(size[t] for t in tensors[v] if users[t] & ~s2 == 0)
                cand = (max(pk, mem + new), mem + new - done, s, v)
                old = nxt.get(s2)
                if old is None or cand[:2] < old[:2]:
                    nxt[s2] = cand
                if s2 not in nready:
                    nready[s2] = tuple(sorted(
                        [u for u in ready[s] if u != v]
                        + [u for u in succ[v] if pred[u] & ~s2 == 0]))
        if len(nxt) > max_states or (not exact and len(nxt) > beam):
            exact = False
        if not exact and len(nxt) > beam:
            keep = sorted(nxt.items(), key=lambda kv: (kv[1][0], kv[1][1], kv[0]))[:beam]
            nxt = dict(keep)
        layer = nxt
        ready = {k: nready[k] for k in nxt}
        history.append(layer)
    (state, (pk, _, _, _)), = layer.items()
    order: list[int] = []
    for h in range(n, 0, -1):
        _, _, parent, v = history[h][state]
        order.append(v)
        state = parent
    order.reverse()
    return MinPeak(tuple(order), pk, exact)
