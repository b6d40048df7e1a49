"""The tensor-lifetime graph a scratchpad planner works on, and the timeline of one op order.

A `LifetimeGraph` keeps what the planners need from a workload: each op's tensors (the
activations it reads, its weights when they are planned too, and its output) and each tensor's
size in bytes at its real width (``ceil(elements * bits / 8)``, rounded up to `alignment`), its
kind (clean: a graph input or weight, which DRAM already holds; dirty: an activation, which DRAM
holds only once it is written back) and whether it is a graph output (stored once, compulsory).

A `Timeline` fixes an order of the ops: step k runs op ``order[k]`` and needs every tensor of
that op resident. A tensor's *required steps* are its producer's step (activations) and the
steps of the ops that read it; between two consecutive required steps lies a *gap* the planner
either keeps the tensor resident across or drops it in (COSMA, Li et al., arXiv 2311.18246, sec.
4: a drop costs a reload, and a dirty tensor one write-back the first time).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Literal

from pysim.errors import WorkloadError

Kind = Literal["input", "weight", "activation"]


class MemPlanError(ValueError):
    """Bad input to the memory planner: names the field, the value and what is allowed."""


@dataclass(frozen=True)
class TensorNode:
    """A tensor of a lifetime graph: `bytes` (aligned; `raw_bytes` before alignment), `kind`,
    `producer` (op name, None for graph inputs and weights), `consumers` (op names) and
    `is_output` (a graph result, stored to DRAM once)."""

    name: str
    bytes: int
    raw_bytes: int
    kind: Kind
    producer: str | None
    consumers: tuple[str, ...]
    is_output: bool

    @property
    def dirty(self) -> bool:
        """True for activations: DRAM has no copy until one is written back."""
        return self.kind == "activation"


@dataclass(frozen=True)
class OpNode:
    """An op of a lifetime graph: the tensors it reads (`inputs`, weights included when they
    are planned) and the one it writes (`output`)."""

    name: str
    inputs: tuple[str, ...]
    output: str

    @property
    def tensors(self) -> tuple[str, ...]:
        """Every tensor the op needs resident while it runs: inputs, then output."""
        return (*self.inputs, self.output)


def _align(size: int, alignment: int) -> int:
    return -(-size // alignment) * alignment


@dataclass(frozen=True)
class LifetimeGraph:
    """Ops (in a topological order) over tensors. Build with `from_workload` or `from_edges`.
    `include_weights` says whether weights occupy the scratchpad; `alignment` is in bytes."""

    name: str
    ops: tuple[OpNode, ...]
    tensors: Mapping[str, TensorNode]
    include_weights: bool = False
    alignment: int = 1
    _index: Mapping[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_index", MappingProxyType(
            {op.name: i for i, op in enumerate(self.ops)}))

    # -- construction ----------------------------------------------------------------------
    @classmethod
    def from_workload(cls, wl: object, include_weights: bool = False,
                      alignment: int = 1) -> LifetimeGraph:
        """The lifetime graph of a pysim Workload. Weights (the op's own and declared ones)
        are planned only when `include_weights`; otherwise they stream from DRAM and take no
        scratchpad space. Raises MemPlanError for a bad alignment."""
        from pysim.workload import Workload

        if not isinstance(wl, Workload):
            raise MemPlanError(f"workload must be a pysim Workload, got {type(wl).__name__}")
        ops: list[tuple[str, tuple[str, ...], str]] = []
        sizes: dict[str, int] = {}
        kinds: dict[str, Kind] = {}
        for name, t in wl.tensors.items():
            sizes[name], kinds[name] = t.bytes, t.role
        for op in wl.ops:
            reads = [n for n in dict.fromkeys(op.inputs)
                     if include_weights or kinds[n] != "weight"]
            if include_weights:
                reads += [t.name for t in op.weight_tensors()]
            ops.append((op.name, tuple(reads), op.output))
        return cls.from_edges(wl.name, ops, sizes, kinds, include_weights, alignment)

    @classmethod
    def from_edges(cls, name: str, ops: Sequence[tuple[str, Iterable[str], str]],
                   sizes: Mapping[str, int], kinds: Mapping[str, Kind] | None = None,
                   include_weights: bool = True, alignment: int = 1) -> LifetimeGraph:
        """A lifetime graph from (op name, tensors read, tensor written) triples and tensor
        sizes in bytes. Tensors no op writes are graph inputs unless `kinds` says "weight".
        Raises MemPlanError for a negative size, a bad alignment, a tensor written twice or
        read but never defined, or a cycle."""
        if not isinstance(alignment, int) or isinstance(alignment, bool) or alignment < 1:
            raise MemPlanError(f"alignment must be an int >= 1 (bytes), got {alignment!r}")
        kinds = kinds or {}
        for t, s in sizes.items():
            if not isinstance(s, int) or isinstance(s, bool) or s < 0:
                raise MemPlanError(f"size of tensor {t!r} must be an int >= 0 (bytes), "
                                   f"got {s!r}")
        nodes = [OpNode(n, tuple(dict.fromkeys(ins)), out) for n, ins, out in ops]
        producer: dict[str, str] = {}
        seen_ops: set[str] = set()
        for op in nodes:
            if op.name in seen_ops:
                raise MemPlanError(f"op name {op.name!r} is used twice")
            seen_ops.add(op.name)
            if op.output in producer:
                raise MemPlanError(f"tensor {op.output!r} is written by ops "
                                   f"{producer[op.output]!r} and {op.name!r}; each tensor is "
                                   f"written once")
            producer[op.output] = op.name
        consumers: dict[str, list[str]] = {}
        for op in nodes:
            for t in op.tensors:
                if t not in sizes:
                    raise MemPlanError(f"op {op.name!r}: tensor {t!r} has no size")
            for t in op.inputs:
                consumers.setdefault(t, []).append(op.name)
        order = _topological(nodes, producer)
        nodes = [nodes[i] for i in order]
        rank = {op.name: k for k, op in enumerate(nodes)}
        tensors: dict[str, TensorNode] = {}
        for op in nodes:
            for t in op.tensors:
                if t in tensors:
                    continue
                kind: Kind = "activation" if t in producer else kinds.get(t, "input")
                if kind == "activation" and kinds.get(t, "activation") != "activation":
                    raise MemPlanError(f"tensor {t!r} is written by op {producer[t]!r}, so "
                                       f"its kind must be 'activation', got {kinds[t]!r}")
                cons = tuple(sorted(consumers.get(t, ()), key=rank.__getitem__))
                tensors[t] = TensorNode(
                    name=t, bytes=_align(sizes[t], alignment), raw_bytes=sizes[t], kind=kind,
                    producer=producer.get(t), consumers=cons,
                    is_output=kind == "activation" and not cons)
        return cls(name, tuple(nodes), MappingProxyType(tensors), include_weights, alignment)

    # -- queries ---------------------------------------------------------------------------
    def op_index(self, name: str) -> int:
        """Position of op `name` in `ops`. Raises MemPlanError naming a close op if unknown."""
        try:
            return self._index[name]
        except KeyError:
            raise MemPlanError(f"unknown op {name!r}; the graph has {len(self.ops)} ops, "
                               f"e.g. {[o.name for o in self.ops[:3]]}") from None

    def predecessors(self) -> list[list[int]]:
        """Direct predecessors of each op (the producers of its inputs), as sorted indices."""
        return [sorted({self._index[p] for t in op.inputs
                        if (p := self.tensors[t].producer) is not None}) for op in self.ops]

    def op_bytes(self, op: OpNode) -> int:
        """Bytes op `op` needs resident while it runs (inputs and output, aligned)."""
        return sum(self.tensors[t].bytes for t in op.tensors)

    def m_r(self) -> tuple[int, str]:
        """(bytes, op name): the largest amount one op needs, the smallest feasible budget."""
        op = max(self.ops, key=lambda o: (self.op_bytes(o), -self._index[o.name]))
        return self.op_bytes(op), op.name

    def check_budget(self, budget_bytes: int) -> None:
        """Raise MemPlanError if `budget_bytes` is not an int or is below M_R, naming the op
        that cannot fit."""
        if not isinstance(budget_bytes, int) or isinstance(budget_bytes, bool):
            raise MemPlanError(f"budget_bytes must be an int (bytes), got {budget_bytes!r}")
        need, op = self.m_r()
        if budget_bytes < need:
            raise MemPlanError(f"budget_bytes {budget_bytes} is below M_R = {need}: op {op!r} "
                               f"alone needs {need} bytes resident")

    def check_order(self, order: Sequence[str] | None) -> tuple[int, ...]:
        """Op indices of `order` (op names; None = the graph's own order). Raises MemPlanError
        if it is not a permutation of the ops or not topological."""
        if order is None:
            return tuple(range(len(self.ops)))
        idx = [self.op_index(n) for n in order]
        if sorted(idx) != list(range(len(self.ops))):
            raise MemPlanError(f"order must list each of the {len(self.ops)} ops once, got "
                               f"{len(idx)} names ({len(set(idx))} distinct)")
        done: set[str] = set()
        for name in order:
            op = self.ops[self._index[name]]
            for t in op.inputs:
                p = self.tensors[t].producer
                if p is not None and p not in done:
                    raise MemPlanError(f"order is not topological: op {name!r} comes before "
                                       f"op {p!r}, which writes its input {t!r}")
            done.add(name)
        return tuple(idx)


def _topological(nodes: list[OpNode], producer: Mapping[str, str]) -> list[int]:
    """Kahn's algorithm, smallest index first. Raises MemPlanError naming ops on a cycle."""
    index = {op.name: i for i, op in enumerate(nodes)}
    deps = [{index[producer[t]] for t in op.inputs if t in producer} for op in nodes]
    users: list[list[int]] = [[] for _ in nodes]
    for i, d in enumerate(deps):
        for j in d:
            users[j].append(i)
    waiting = [len(d) for d in deps]
    ready = sorted(i for i, n in enumerate(waiting) if n == 0)
    order: list[int] = []
    while ready:
        i = ready.pop(0)
        order.append(i)
        for u in users[i]:
            waiting[u] -= 1
            if waiting[u] == 0:
                ready.append(u)
                ready.sort()
    if len(order) < len(nodes):
        stuck = sorted(nodes[i].name for i in set(range(len(nodes))) - set(order))
        raise MemPlanError(f"the ops form a cycle; ops on or after it: {stuck[:6]}")
    return order


@dataclass(frozen=True)
class Gap:
    """Steps strictly between two consecutive required steps `start` < `end` of `tensor`.
    `interior` is False when end == start + 1 (nothing else runs in between)."""

    tensor: str
    index: int
    start: int
    end: int

    @property
    def interior(self) -> bool:
        return self.end > self.start + 1


@dataclass(frozen=True)
class Timeline:
    """A graph under a fixed order: `required[t]` is the sorted steps tensor t must be
    resident at; `gaps` lists every (tensor, gap) in a deterministic order."""

    graph: LifetimeGraph
    order: tuple[int, ...]
    required: Mapping[str, tuple[int, ...]]
    gaps: tuple[Gap, ...]

    @classmethod
    def of(cls, graph: LifetimeGraph, order: tuple[int, ...]) -> Timeline:
        steps: dict[str, list[int]] = {}
        for k, i in enumerate(order):
            for t in graph.ops[i].tensors:
                steps.setdefault(t, []).append(k)
        required = {t: tuple(sorted(set(s))) for t, s in steps.items()}
        gaps = tuple(Gap(t, j, r[j], r[j + 1]) for t, r in required.items()
                     for j in range(len(r) - 1))
        return cls(graph, order, MappingProxyType(required), gaps)

    @property
    def steps(self) -> int:
        return len(self.order)

    def live_bytes(self) -> list[int]:
        """Bytes resident at each step when nothing is ever dropped (first to last use)."""
        live = [0] * self.steps
        for t, r in self.required.items():
            for k in range(r[0], r[-1] + 1):
                live[k] += self.graph.tensors[t].bytes
        return live


def graph_of(workload: object, include_weights: bool, alignment: int) -> LifetimeGraph:
    """`workload` itself if it is a LifetimeGraph, else its lifetime graph (a Workload)."""
    if isinstance(workload, LifetimeGraph):
        return workload
    try:
        return LifetimeGraph.from_workload(workload, include_weights, alignment)
    except WorkloadError as e:  # pragma: no cover - a Workload validates itself on creation
        raise MemPlanError(str(e)) from e
