"""Pipeline parallelism for training: a workload's ops split into ``stages`` consecutive stages,
one device each, running ``micro_batches`` micro batches per step under the one-forward-one-
backward schedule (PipeDream-Flush: Narayanan et al., "Memory-Efficient Pipeline-Parallel DNN
Training", ICML 2021; Megatron-LM's non-interleaved schedule, Narayanan et al., SC 2021,
section 2.2.1) and updating once, after each stage's last backward.

- Stages: the ops in their order, cut so the largest stage's forward MACs are as few as can
  be (the linear partition problem, solved exactly; each stage at least one op); a tensor a
  later stage reads is sent to it, and its gradient sent back (pysim/training/graph.py
  ``sends`` / ``receives``: the later stage's gradient arrives as a graph input, the earlier
  stage computes the gradient of what it received). Each stage's training graph is
  simulated once per kind of micro batch (pysim/training/step.py: the first writes its
  weight gradients, a middle one stands for the others and adds its own, the last adds and
  updates), which gives each stage's forward time (its forward and loss ops) and backward
  time (the rest, the update apart).
- Schedule: stage s runs min(stages - s - 1, m) forwards, then alternately one forward and one
  backward, then the remaining backwards. A forward of micro batch i waits for stage s - 1's
  forward of i and the transfer of what it sends (``Link.p2p_s`` over the hardware's
  ``interconnect``); a backward for stage s + 1's backward of i and the transfer of the
  gradients; each stage runs one thing at a time, transfers beside its compute. The step ends
  when the last stage to finish has run its update. With equal stages and free transfers this
  is (m + stages - 1) (t_f + t_b) + t_update: the bubble (stages - 1) / (m + stages - 1).
- Memory per device: its stage's parameters, gradients, optimizer states and working set, and
  the saved activations of the micro batches in flight: stage s holds min(stages - s, m)
  (1F1B's bound; GPipe's all-forwards-first schedule would hold m); with checkpointing each
  holds its blocks' boundaries and one block is recomputed at a time. The step's peak is the
  largest stage's, checked against the hardware's memory.

With ``data_parallel`` each stage is replicated on that many devices and its gradients reduced
among them (DDP, or a ZeRO stage) as a whole model's are, on its last micro batch's backward
(or each micro batch's under ZeRO 2-3), before its update.

With ``tensor_parallel`` the model is split first (pysim/training/tensor_parallel.py) and the
split model cut into stages, each stage's all-reduces on its devices' link.

Not modelled: the interleaved (virtual-stage) schedule, the pipeline's, the data-parallel
and the tensor-parallel transfers sharing a link (each pair of devices has its own here), the
transfers' HBM traffic and energy, and the devices' energy while idle in the
bubble (``energy_j`` sums what each stage's ops spend).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any, Literal

from pysim.errors import ConfigError, WorkloadError
from pysim.interconnect import Link
from pysim.result import Result
from pysim.training import data_parallel as dp
from pysim.training.formats import get_recipe
from pysim.training.graph import CopyAt, TrainingGraph
from pysim.workload import Tensor, Workload

if TYPE_CHECKING:
    from pysim.training.step import Memory, TrainingStep

MAX_STAGES = 4096


@dataclass(frozen=True)
class Stage:
    """Stage ``index`` of a pipeline: its ops as a workload, the tensors it receives from
    earlier stages (its inputs besides the model's) and those it sends to later ones."""

    index: int
    workload: Workload
    receives: tuple[str, ...]
    sends: tuple[str, ...]


def check_stages(value: object, wl: Workload) -> int:
    """``stages`` as an int in 1..min(MAX_STAGES, ops). Raises ConfigError otherwise."""
    top = min(MAX_STAGES, len(wl.ops))
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= top:
        raise ConfigError(f"pipeline stages must be an int in 1..{top} (at most one per op of "
                          f"{wl.name!r}), got {value!r}")
    return value


def split(wl: Workload, stages: int) -> tuple[Stage, ...]:
    """``wl``'s ops cut into ``stages`` consecutive stages, the largest stage's forward MACs
    as few as can be (``_cuts``)."""
    ops = list(wl.ops)
    cuts = _cuts([op.macs for op in ops], stages)
    spans = list(zip(cuts[:-1], cuts[1:], strict=True))
    stage_of = {op.name: k for k, (lo, hi) in enumerate(spans) for op in ops[lo:hi]}
    given = {t.name: t for t in wl.inputs}
    out = []
    for k, (lo, hi) in enumerate(spans):
        mine = ops[lo:hi]
        made = {op.output for op in mine}
        read = dict.fromkeys(t for op in mine for t in op.inputs)
        receives = tuple(t for t in read if t not in made and t not in given)
        inputs = [given[t] for t in read if t in given] + [
            Tensor(name=t, shape=wl.tensors[t].shape, bits=wl.tensors[t].bits,
                   dtype=wl.tensors[t].dtype, role="input") for t in receives]
        sends = tuple(op.output for op in mine
                      if any(stage_of[r] > k for r in wl.consumers.get(op.output, ())))
        out.append(Stage(k, Workload(name=f"{wl.name}.stage{k}", ops=tuple(mine),
                                     inputs=tuple(inputs)), receives, sends))
    return tuple(out)


def _cuts(costs: list[int], stages: int) -> list[int]:
    """Where to cut ``costs`` (``stages`` <= len) into ``stages`` consecutive non-empty parts
    so the largest part's sum is the least (the linear partition problem: a binary search on
    that sum, packed greedily, then the costliest parts of several ops halved until there are
    ``stages``); the parts' bounds, 0 and len(costs) included."""
    n = len(costs)

    def pack(limit: int) -> list[int]:
        """The fewest parts of sums <= ``limit`` (>= every cost), greedily."""
        cuts, run = [0], 0
        for i, c in enumerate(costs):
            if run + c > limit and i > cuts[-1]:
                cuts.append(i)
                run = 0
            run += c
        return cuts + [n]

    lo, hi = max(costs), sum(costs)
    while lo < hi:
        mid = (lo + hi) // 2
        if len(pack(mid)) - 1 <= stages:
            hi = mid
        else:
            lo = mid + 1
    cuts = pack(lo)
    while len(cuts) - 1 < stages:  # halve the costliest part that has two ops or more
        k = max((k for k in range(len(cuts) - 1) if cuts[k + 1] - cuts[k] > 1),
                key=lambda k: (sum(costs[cuts[k]:cuts[k + 1]]), -k))
        a, b = cuts[k], cuts[k + 1]
        half, run, j = sum(costs[a:b]) / 2, 0, a
        while j < b - 2 and run + costs[j] < half:
            run += costs[j]
            j += 1
        cuts.insert(k + 1, j + 1)
    return cuts


Kind = Literal["F", "B"]


@dataclass(frozen=True)
class Slot:
    """One forward (``F``) or backward (``B``) of micro batch ``micro`` on stage ``stage``,
    from ``start_s`` to ``end_s``."""

    stage: int
    kind: Kind
    micro: int
    start_s: float
    end_s: float


def order(stages: int, stage: int, micro_batches: int) -> list[tuple[Kind, int]]:
    """Stage ``stage``'s 1F1B sequence: warm-up forwards, one forward one backward, the rest
    of the backwards."""
    warm = min(stages - stage - 1, micro_batches)
    seq: list[tuple[Kind, int]] = [("F", i) for i in range(warm)]
    for j in range(micro_batches - warm):
        seq += [("F", warm + j), ("B", j)]
    seq += [("B", i) for i in range(micro_batches - warm, micro_batches)]
    return seq


def schedule(forward_s: list[list[float]], backward_s: list[list[float]],
             send_s: list[float], send_back_s: list[float],
             update_s: list[float]) -> tuple[list[Slot], float]:
    """The 1F1B schedule's slots and the step's time: ``forward_s[s][i]`` / ``backward_s[s][i]``
    stage s's time for micro batch i, ``send_s[s]`` the transfer of stage s's activations to
    s + 1, ``send_back_s[s]`` of the gradients from s + 1 back to s, ``update_s[s]`` its
    update after its last backward."""
    p, m = len(forward_s), len(forward_s[0])
    seqs = [order(p, s, m) for s in range(p)]
    pos = [0] * p
    free = [0.0] * p
    done: dict[tuple[Kind, int, int], float] = {}
    slots: list[Slot] = []
    remaining = p * 2 * m
    while remaining:
        progressed = False
        for s in range(p):
            while pos[s] < len(seqs[s]):
                kind, i = seqs[s][pos[s]]
                if kind == "F":
                    dep = 0.0 if s == 0 else done.get(("F", s - 1, i))
                    ready = None if dep is None else dep + (send_s[s - 1] if s else 0.0)
                else:
                    own = done.get(("F", s, i))
                    later = own if s == p - 1 else done.get(("B", s + 1, i))
                    ready = None if own is None or later is None else (
                        later + (send_back_s[s] if s < p - 1 else 0.0))
                if ready is None:
                    break
                start = max(free[s], ready)
                end = start + (forward_s if kind == "F" else backward_s)[s][i]
                done[(kind, s, i)] = end
                slots.append(Slot(s, kind, i, start, end))
                free[s] = end
                pos[s] += 1
                remaining -= 1
                progressed = True
        if not progressed:  # 1F1B never deadlocks; a guard, not a path
            raise RuntimeError("pipeline schedule made no progress")
    return slots, max(free[s] + update_s[s] for s in range(p))


@dataclass(frozen=True)
class StageStep:
    """A stage's simulation: its training step (its micro batches, summed) and the split of
    each micro batch's time into forward and backward (seconds), and its update's."""

    stage: Stage
    step: TrainingStep
    forward_s: tuple[float, ...]
    backward_s: tuple[float, ...]
    update_s: float
    in_flight: int


@dataclass(frozen=True)
class PipelineStep:
    """A training step over ``len(stages)`` devices in a pipeline (each stage on
    ``data_parallel`` devices): each stage's simulation, the schedule's slots, the step's
    time, the energy of every stage's ops (on one of its devices) and the memory of the device
    that needs the most."""

    stages: tuple[StageStep, ...]
    micro_batches: int
    slots: tuple[Slot, ...]
    latency_s: float
    link: Link | None
    memory: Memory
    data_parallel: int = 1  # replicas of each stage
    zero_stage: int = 0
    tensor_parallel: int = 1  # devices each stage's layers are split over

    @property
    def energy_j(self) -> float:
        return sum(s.step.energy_j for s in self.stages)

    @property
    def macs(self) -> int:
        return sum(s.step.macs for s in self.stages)

    @property
    def bubble(self) -> float:
        """The share of the devices' time over the step they spend waiting."""
        busy = sum(sl.end_s - sl.start_s for sl in self.slots) + sum(
            s.update_s for s in self.stages)
        return 1 - busy / (len(self.stages) * self.latency_s)

    def summary(self) -> dict[str, Any]:
        first = self.stages[0].step
        return {"workload": first.graph.workload.name.rsplit(".stage", 1)[0],
                "hardware": first.result.hardware, "recipe": first.recipe.name,
                "optimizer": first.optimizer.name, "pipeline_stages": len(self.stages),
                "micro_batches": self.micro_batches, "data_parallel": self.data_parallel,
                "zero_stage": self.zero_stage, "tensor_parallel": self.tensor_parallel,
                "devices": len(self.stages) * self.data_parallel * self.tensor_parallel,
                "latency_s": self.latency_s,
                "energy_j": self.energy_j, "macs": self.macs, "bubble": self.bubble,
                "peak_memory_bytes": self.memory.peak, "capacity_bytes": self.memory.capacity}


def _split_time(graph: TrainingGraph, result: Result) -> tuple[float, float, float]:
    """A micro batch's forward (forward and loss ops: to the end of the last of them),
    backward (from there to the start of the update, or the end) and update seconds."""
    phase = {o.name: o.phase for o in graph.ops}
    layers = result.layers
    ph = layers["op"].map(phase)
    hz = result.clock_hz
    fwd_end = float(layers.loc[ph.isin(("forward", "loss")), "end_cycle"].max()) / hz
    upd = layers.loc[ph == "optimizer"]
    end = result.latency_s
    if len(upd):
        upd_start = float(upd["start_cycle"].min()) / hz
        return fwd_end, upd_start - fwd_end, end - upd_start
    return fwd_end, end - fwd_end, 0.0


def pipeline_step(hw: Any, wl: Workload | str, stages: int, micro_batches: int,
                  optimizer: str = "adam", recipe: str = "mixed_bf16", *,
                  layer_formats: Mapping[str, Any] | None = None,
                  formats: Mapping[str, Any] | None = None, checkpoint: bool = False,
                  input_grads: bool = False, fused_optimizer: bool = True,
                  weight_copy: CopyAt | None = None,
                  memory_gib: float | None = None, data_parallel: int = 1,
                  zero_stage: int = 0, bucket_mib: float = dp.DEFAULT_BUCKET_MIB,
                  tensor_parallel: int = 1) -> PipelineStep:
    """One training step of ``wl`` split into ``stages`` pipeline stages over as many
    devices of ``hw`` (its ``interconnect`` carrying the activations and gradients between
    them), ``micro_batches`` micro batches of ``wl``'s batch each (see the module docstring);
    with ``data_parallel`` = d each stage runs on d devices, its gradients reduced among them
    as `pysim.training.step` reduces a whole model's (``zero_stage``, ``bucket_mib``: the
    stage's micro batches simulated as ``step``'s with ``grad_accum``), and with
    ``tensor_parallel`` = t its layers split over t devices (the model split first, then cut
    into stages), stages x d x t devices in all. The other options are ``step``'s. Raises
    ConfigError for bad ``stages`` / ``micro_batches`` or a missing link; WorkloadError as
    ``step`` (a stage that does not fit names itself and its micro batches in flight)."""
    from pysim.training import tensor_parallel as tpar
    from pysim.training.step import (
        GIB,
        _hardware,
        _layer_recipes,
        _prepare,
        _Same,
        _sharded,
        capacity_bytes,
        check_grad_accum,
        micro_plan,
        simulate_micro_batches,
        training_form,
    )

    wl = training_form(wl)
    tp = tpar.check_tp(tensor_parallel)
    sharding = _sharded(_Same(wl), tp) if tp > 1 else None  # memoised, as step's
    if sharding is not None:
        wl = sharding.workload
    p = check_stages(stages, wl)
    m = check_grad_accum(micro_batches)
    d = dp.check_devices(data_parallel)
    bucket_bytes = dp.check_bucket_mib(bucket_mib) * dp.MIB
    zs = dp.check_zero_stage(zero_stage)
    if d == 1:
        zs = 0  # one device per stage: nothing to partition
    hw = _hardware(hw)
    devices = p * d * tp
    link = dp.require_link(hw, devices, f"pipeline stages {p} x data_parallel {d} x "
                           f"tensor_parallel {tp} =") if devices > 1 else None
    shards = (d if zs else 1, d if zs >= 2 else 1)
    _layer_recipes(wl, get_recipe(recipe), layer_formats)  # every layer named exists
    capacity = capacity_bytes(hw, memory_gib)
    plan = micro_plan(m)
    runs: list[StageStep] = []
    for st in split(wl, p):
        names = {op.name for op in st.workload.ops}
        mine = {k: v for k, v in (layer_formats or {}).items() if k in names} or None
        built = [_prepare(st.workload, optimizer, recipe, mine, formats, checkpoint, input_grads,
                          fused_optimizer, weight_copy, *shards, micro, frozenset(st.sends),
                          frozenset(st.receives)) for micro, _ in plan]
        _, opt, base, recipes = built[-1]
        s = simulate_micro_batches(hw, st.workload.name, [b[0] for b in built], plan, opt,
                                   base, recipes, capacity, link if d > 1 else None, d, zs,
                                   bucket_bytes, check_memory=False, sharding=sharding,
                                   tp_link=link if sharding is not None else None)
        times = [_split_time(mb.graph, mb.result) for mb in s.micro_batches()]
        per = [times[0]] if m == 1 else [times[0], *[times[1]] * (m - 2), times[-1]]
        runs.append(StageStep(st, s, tuple(t[0] for t in per), tuple(t[1] for t in per),
                              times[-1][2], min(p - st.index, m)))
    tensors = wl.tensors
    moved = [sum(tensors[t].bytes for t in r.stage.sends) for r in runs[:-1]]
    send = [link.p2p_s(b) if link else 0.0 for b in moved]
    slots, latency = schedule([list(r.forward_s) for r in runs],
                              [list(r.backward_s) for r in runs], send, send,
                              [r.update_s for r in runs])
    mems = [replace(r.step.memory, saved_activations=_in_flight_bytes(r)) for r in runs]
    k = max(range(p), key=lambda i: mems[i].peak)
    worst = mems[k]
    if worst.capacity is not None and worst.peak > worst.capacity:
        name = str(getattr(hw, "full_name", None) or getattr(hw, "name", hw))
        raise WorkloadError(f"pipeline stage {k} of {wl.name!r} needs {worst.describe()} "
                            f"({runs[k].in_flight} micro batches in flight) but {name} has "
                            f"{worst.capacity / GIB:.2f} GiB; try more stages, a smaller "
                            "micro batch or checkpoint=True")
    return PipelineStep(tuple(runs), m, tuple(slots), latency, link, worst, d, zs, tp)


def _in_flight_bytes(r: StageStep) -> int:
    """The saved activations of a stage's micro batches in flight: each one's, or with
    checkpointing each one's block boundaries and the one block being recomputed."""
    g = r.step.graph
    if g.segment_saved:
        return g.boundary_bytes * r.in_flight + max(g.segment_saved.values())
    return r.step.memory.saved_activations * r.in_flight


__all__ = ["PipelineStep", "Slot", "Stage", "StageStep", "check_stages", "order",
           "pipeline_step", "schedule", "split"]

