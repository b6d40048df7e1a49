"""``pysim.training.step``: one training step of a workload on a hardware, simulated.

The step's graph (pysim/training/graph.py) is an ordinary Workload run through the public
``pysim.simulate``, so it runs on every hardware that does: accelerator configs and GPU presets
alike. Its memory is accounted here, from the graph's bookkeeping:

    persistent = master weights + low-precision weight copies + weight gradients
                 + optimizer states
    saved      = activations kept for the backward pass (each tensor once, in its stored
                 format; with checkpointing: the blocks' boundary tensors + the largest block's
                 saved activations, recomputed one block at a time, Chen et al., "Training Deep
                 Nets with Sublinear Memory Cost", 2016)
    working    = the largest op's inputs + output beyond the persistent ones (the live
                 tensors while it runs; the optimizer update writes in place)
    peak       = persistent + saved + working

and checked against the hardware's memory: a GPU preset's HBM, else ``memory_gib``. With
``data_parallel`` > 1 the step runs on that many devices, its gradients all-reduced over the
hardware's interconnect while the backward pass computes (pysim/training/data_parallel.py);
persistent memory then also holds the all-reduce buckets (``comm_buffers``). A ZeRO stage
(``zero_stage``) partitions parts of the persistent memory over the devices (each part / n,
rounded up):

    stage 1: optimizer states, and master weights the forward does not read (it reads a
             low-precision copy the update writes)
    stage 2: ... and weight gradients
    stage 3: ... and the parameters (the copies, or the master weights the forward reads)

and ``comm_buffers`` holds the buckets in flight instead of DDP's second copy of the
gradients: one reduce-scatter bucket, and under stage 3 two units' gathered parameters.

With ``grad_accum`` = k > 1 a step runs k micro batches of the workload's batch (its global
batch is k times it, times the devices) and updates once: the first micro batch writes its
weight gradients, each later one adds its own to them (PyTorch's AccumulateGrad, an add
kernel per gradient), the last updates. The micro batches are simulated one after another
(first, one middle one standing for the k - 2 alike, last) and their figures summed; the
saved activations are one micro batch's. Gradients cross the link on the last micro batch
only under DDP and ZeRO stage 1 (``no_sync`` before it; DeepSpeed reduces at the boundary),
on every micro batch under stages 2 and 3 (each micro batch's gradients reduce-scattered
into the partition; stage 3 gathers the parameters for each micro batch's passes).
"""

from __future__ import annotations

import inspect
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from typing import Any

from pysim.errors import ConfigError, WorkloadError
from pysim.gcpause import gc_paused
from pysim.mapping.capacity import accounted
from pysim.result import Result
from pysim.training import data_parallel as dp
from pysim.training import tensor_parallel as tpar
from pysim.training.formats import Format, Recipe, get_format, get_recipe
from pysim.training.graph import CopyAt, Micro, TrainingGraph, build_training_graph
from pysim.training.optim import Optimizer, get_optimizer
from pysim.workload import Workload

GIB = 2**30
MAX_MICRO_BATCHES = 65536


def check_grad_accum(value: object) -> int:
    """``grad_accum`` as an int in 1..MAX_MICRO_BATCHES. Raises ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) \
            or not 1 <= value <= MAX_MICRO_BATCHES:
        raise ConfigError(f"grad_accum must be an int in 1..{MAX_MICRO_BATCHES} (micro batches "
                          f"per step, the update after the last), got {value!r}")
    return value


def micro_plan(k: int) -> tuple[tuple[Micro, int], ...]:
    """The micro batches a step of ``k`` simulates and how many of the k each stands for."""
    if k == 1:
        return (("only", 1),)
    return (("first", 1),) + ((("middle", k - 2),) if k > 2 else ()) + (("last", 1),)


@dataclass(frozen=True)
class Memory:
    """Bytes of each part of a training step's memory (see the module docstring)."""

    master_weights: int
    weight_copies: int
    weight_grads: int
    optimizer_states: int
    saved_activations: int
    working: int
    capacity: int | None
    comm_buffers: int = 0  # data parallelism's all-reduce buckets (0 on one device)

    @property
    def persistent(self) -> int:
        return self.master_weights + self.weight_copies + self.weight_grads + \
            self.optimizer_states + self.comm_buffers

    @property
    def peak(self) -> int:
        return self.persistent + self.saved_activations + self.working

    def describe(self) -> str:
        keys = ("master_weights", "weight_copies", "weight_grads", "optimizer_states",
                "saved_activations", "working") + (("comm_buffers",) if self.comm_buffers
                                                   else ())
        parts = ", ".join(f"{k.replace('_', ' ')} {getattr(self, k) / GIB:.2f} GiB"
                          for k in keys)
        return f"{self.peak / GIB:.2f} GiB ({parts})"


@dataclass(frozen=True)
class MicroBatch:
    """A micro batch of a step with gradient accumulation: its graph, its simulation and how
    many of the step's micro batches it stands for."""

    graph: TrainingGraph
    result: Result
    count: int


@dataclass(frozen=True)
class TrainingStep:
    """One simulated training step: the ``graph`` (with each op's phase, role and format),
    the simulator's ``result`` over it, and the ``memory`` it needs. With gradient
    accumulation ``graph`` and ``result`` are the last micro batch's (the one that updates)
    and ``earlier`` the micro batches before it; the step's figures sum them all."""

    graph: TrainingGraph
    result: Result
    memory: Memory
    recipe: Recipe
    optimizer: Optimizer
    data_parallel: dp.DataParallel | None = None  # None: one device
    earlier: tuple[MicroBatch, ...] = ()
    tensor_parallel: tpar.TensorParallel | None = None  # None: layers whole on each device

    def micro_batches(self) -> tuple[MicroBatch, ...]:
        """Every micro batch simulated, the last (``graph``, ``result``) included."""
        return (*self.earlier, MicroBatch(self.graph, self.result, 1))

    def runs(self) -> tuple[tuple[Result, int], ...]:
        """Each simulation and how many of the step's micro batches it stands for."""
        return tuple((m.result, m.count) for m in self.micro_batches())

    @property
    def grad_accum(self) -> int:
        return sum(m.count for m in self.micro_batches())

    @property
    def latency_s(self) -> float:
        return sum(m.count * m.result.latency_s for m in self.micro_batches())

    @property
    def energy_j(self) -> float:
        return sum(m.count * m.result.energy_j for m in self.micro_batches())

    @property
    def macs(self) -> int:
        return sum(m.count * m.graph.workload.macs for m in self.micro_batches())

    def macs_by_role(self) -> dict[str, int]:
        """MACs of the forward, dX, dW GEMMs and of recomputation."""
        out = dict.fromkeys(("forward", "dX", "dW", "recompute"), 0)
        for m in self.micro_batches():
            g = m.graph
            for role, n in (("forward", g.macs("forward", "forward")), ("dX", g.macs("dX")),
                            ("dW", g.macs("dW")), ("recompute", g.macs(phase="recompute"))):
                out[role] += m.count * n
        return out

    def time_by_phase_s(self) -> dict[str, float]:
        """Seconds of op time in each phase (ops may overlap, so these can exceed latency)."""
        out: dict[str, float] = {}
        for m in self.micro_batches():
            phase = {o.name: o.phase for o in m.graph.ops}
            layers = m.result.layers
            sums = layers.groupby(layers["op"].map(phase))["cycles"].sum()
            for k, v in sums.items():
                out[str(k)] = out.get(str(k), 0.0) + m.count * float(v) / m.result.clock_hz
        return out

    def summary(self) -> dict[str, Any]:
        runs = self.runs()
        return {"workload": self.graph.workload.name, "hardware": self.result.hardware,
                "recipe": self.recipe.name, "optimizer": self.optimizer.name,
                **({"grad_accum": self.grad_accum} if self.earlier else {}),
                "latency_s": self.latency_s, "energy_j": self.energy_j,
                "dram_read_bytes": sum(c * r.dram_read_bytes for r, c in runs),
                "dram_write_bytes": sum(c * r.dram_write_bytes for r, c in runs),
                "macs": self.macs,
                **{f"macs_{k}": v for k, v in self.macs_by_role().items()},
                "peak_memory_bytes": self.memory.peak,
                "capacity_bytes": self.memory.capacity,
                **(self.data_parallel.summary() if self.data_parallel else {}),
                **(self.tensor_parallel.summary() if self.tensor_parallel else {})}


def clear_caches() -> None:
    """Forget the memoised training graphs (benchmarks time a cold step with this)."""
    _training_graph.cache_clear()
    _working_bytes.cache_clear()
    _sharded.cache_clear()


def capacity_bytes(hw: Any, memory_gib: float | None) -> int | None:
    """The hardware's memory: ``memory_gib`` if given, else a GPU preset's HBM (GiB as
    pysim.gpu's capacity check counts it), else the hardware's ``dram.capacity_gib`` (a GPU's
    YAML, configs/gpu/*.yaml, or an accelerator config that states it, as ``simulate``'s
    capacity check reads it); None when none is known."""
    if memory_gib is not None:
        if isinstance(memory_gib, bool) or not isinstance(memory_gib, (int, float)) \
                or not 0 < memory_gib < math.inf:
            raise ConfigError(f"memory_gib must be a finite number > 0, got {memory_gib!r}")
        return int(memory_gib * GIB)
    hbm = getattr(hw, "hbm_gb", None)
    if hbm:
        return int(hbm * GIB)
    dram = getattr(getattr(hw, "dram", None), "capacity_gib", None)
    return int(dram * GIB) if dram else None


def _nbytes(count: int, fmt: Format) -> int:
    return (count * fmt.bits + 7) // 8


def grad_bytes(graph: TrainingGraph, base: Recipe,
               recipes: Mapping[str, Recipe]) -> dict[str, int]:
    """Bytes of each layer's weight gradient, in its recipe's gradient format."""
    return {layer: _nbytes(count, recipes.get(layer, base).weight_grad)
            for layer, count in graph.params.items()}


def param_bytes(graph: TrainingGraph, base: Recipe,
                recipes: Mapping[str, Recipe]) -> dict[str, int]:
    """Bytes of each layer's parameters as the forward reads them: the low-precision copy
    the optimizer update writes, else the master weights (what ZeRO stage 1-2 all-gathers
    after the update and stage 3 before each use)."""
    out = {}
    for layer, count in graph.params.items():
        r = recipes.get(layer, base)
        out[layer] = _nbytes(count, r.forward if layer in graph.copied else r.master)
    return out


def account_memory(graph: TrainingGraph, optimizer: Optimizer, base: Recipe,
                   recipes: Mapping[str, Recipe], capacity: int | None,
                   comm_buffers: int = 0, zero_stage: int = 0, devices: int = 1) -> Memory:
    """The step's memory from its graph, on one of ``devices`` under ``zero_stage`` (see
    the module docstring)."""

    def part(nbytes: int, stage: int) -> int:
        """``nbytes`` on one device: partitioned from ZeRO ``stage`` on."""
        return -(-nbytes // devices) if zero_stage >= stage else nbytes

    master = states = 0
    for layer, count in graph.params.items():
        r = recipes.get(layer, base)
        # the optimizer's own master weights go with its states; the forward's, with the
        # parameters
        master += part(_nbytes(count, r.master), 1 if layer in graph.copied else 3)
        states += part(optimizer.states * _nbytes(count, r.state), 1)
    grads = part(sum(grad_bytes(graph, base, recipes).values()), 2)
    if graph.segment_saved:
        saved = graph.boundary_bytes + max(graph.segment_saved.values())
    else:
        saved = sum(graph.saved.values())
    working = _working_bytes(_Same(graph))
    return Memory(master, part(graph.weight_copy_bytes, 3), grads, states, saved, working,
                  capacity, comm_buffers)


def comm_buffer_bytes(buckets: list[dp.Bucket], params: Mapping[str, int],
                      zero_stage: int) -> int:
    """The memory the collectives hold (see the module docstring): DDP's bucket copy of
    every gradient; under ZeRO the largest reduce-scatter bucket, and under stage 3 two
    units' gathered parameters."""
    if not buckets:
        return 0
    if zero_stage == 0:
        return sum(b.nbytes for b in buckets)
    gathered = sorted(sum(params[layer] for layer in b.layers) for b in buckets)[-2:]
    return max(b.nbytes for b in buckets) + (sum(gathered) if zero_stage == 3 else 0)


@lru_cache(maxsize=16)
def _sharded(wl: _Same, tp: int) -> tpar.Sharding:
    """``tpar.shard``, memoised as the training graph is."""
    return tpar.shard(wl.obj, tp)


class _Same:
    """A key that matches only the very same object (a workload's own hash walks every op)."""

    __slots__ = ("obj",)

    def __init__(self, obj: Any) -> None:
        self.obj = obj

    def __hash__(self) -> int:
        return id(self.obj)

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Same) and other.obj is self.obj


@lru_cache(maxsize=48)  # a pipeline's stages x its three kinds of micro batch
def _training_graph(wl: _Same, base: Recipe, recipes: tuple[tuple[str, Recipe], ...],
                    opt: Optimizer, input_grads: bool, checkpoint: bool,
                    fused_optimizer: bool, weight_copy: CopyAt, shards: int,
                    micro: Micro = "only", grad_shards: int = 1,
                    sends: frozenset[str] = frozenset(),
                    receives: frozenset[str] = frozenset()) -> TrainingGraph:
    """``build_training_graph``, memoised: a sweep over hardware steps the same workload in
    the same recipe again and again, and the graph (immutable) depends on neither."""
    return build_training_graph(wl.obj, base, dict(recipes), opt, input_grads=input_grads,
                                checkpoint=checkpoint, fused_optimizer=fused_optimizer,
                                weight_copy=weight_copy, shards=shards, micro=micro,
                                grad_shards=grad_shards, sends=sends, receives=receives)


@lru_cache(maxsize=48)
def _working_bytes(graph: _Same) -> int:
    """The largest op's live tensors beyond the persistent memory: its inputs and output other
    than the weights, their low-precision copies, optimizer states and weight gradients (each
    counted once in
    ``persistent``); an output written over its inputs (the optimizer update) needs none."""
    g = graph.obj
    wl = g.workload
    tensors = wl.tensors
    held = {t for t, x in tensors.items() if x.role == "weight" and t not in wl.producers}
    held.update(t for grads in g.update_grads.values() for t in grads)
    held.update(wl.op(o.name).output for o in g.ops if o.role == "weight_cast")  # the copies
    return max(sum(tensors[t].bytes for t in set(op.inputs) if t not in held)
               + (0 if op.output in held else op.output_memory_bytes) for op in wl.ops)


def _layer_recipes(wl: Workload, base: Recipe,
                   layer_formats: Mapping[str, str | int | Format] | None) -> dict[str, Recipe]:
    """Per-layer recipes from ``{layer: format}``; layers are the workload's MAC ops."""
    if not layer_formats:
        return {}
    if not isinstance(layer_formats, Mapping):
        raise WorkloadError(f"layer_formats must be a mapping {{layer: format}}, got "
                            f"{layer_formats!r}")
    layers = [op.name for op in wl.ops if op.runs_on == "mac"]
    out = {}
    for layer, fmt in layer_formats.items():
        if layer not in layers:
            shown = ", ".join(layers[:8]) + (", ..." if len(layers) > 8 else "")
            raise WorkloadError(f"layer_formats: {layer!r} is not a MAC layer of workload "
                                f"{wl.name!r}; its layers: {shown}")
        out[layer] = base.with_layer_format(get_format(fmt, f"layer_formats[{layer!r}]"))
    return out


@gc_paused()  # the graph and the run make almost no reference cycles (pysim/gcpause.py)
def step(hw: Any, wl: Workload | str, optimizer: str | Optimizer = "adam",
         recipe: str | Recipe = "mixed_bf16", *,
         layer_formats: Mapping[str, str | int | Format] | None = None,
         formats: Mapping[str, str | int | Format] | None = None,
         checkpoint: bool = False, input_grads: bool = False,
         fused_optimizer: bool = True, weight_copy: CopyAt | None = None,
         memory_gib: float | None = None, data_parallel: int = 1,
         bucket_mib: float = dp.DEFAULT_BUCKET_MIB, zero_stage: int = 0,
         grad_accum: int = 1, tensor_parallel: int = 1) -> TrainingStep:
    """Simulate one training step of ``wl`` (a Workload, a path, or a zoo name) on ``hw``
    (anything ``pysim.simulate`` takes): forward, loss, backward, ``optimizer`` update
    ("sgd", "momentum", "adam", "adamw"; default Adam, the common choice for transformers),
    in the formats of ``recipe`` (pysim.training.formats.RECIPES; default bf16 mixed
    precision) with ``layer_formats`` overriding the GEMM format of single MAC layers
    ({layer: format name or fixed-point bits}) and ``formats`` changing the recipe's roles
    ({role: format}, `Recipe.with_formats`: e.g. ``{"dW": "bf16", "state": "bf16"}``; ``dX`` /
    ``dW`` set the gradient operand of one GEMM alone). ``checkpoint`` keeps only each block's
    inputs and recomputes its forward in the backward pass; ``input_grads`` also computes the
    gradient of the graph's inputs (off: no dX for the first layer, as frameworks skip it).
    ``fused_optimizer`` (default) updates the parameters in one multi-tensor op per format
    group, as PyTorch's foreach / fused optimizers do; False: one update per parameter tensor.
    ``weight_copy``: where mixed precision makes its low-precision weight copy, "optimizer"
    (the update writes it, as Apex O2 and Megatron-LM do; the default) or "forward" (a cast
    before each forward GEMM, as PyTorch autocast does; the default of the ``amp_*``
    recipes).
    ``memory_gib`` sets the memory the peak is checked against (default: a GPU's HBM).
    ``data_parallel`` devices (1..65536) each run the step on their own batch (``wl``'s batch
    is the per-device batch), the gradients all-reduced in ``bucket_mib``-MiB buckets over the
    hardware's ``interconnect`` while the backward pass computes (PyTorch DDP's default 25
    MiB); ``TrainingStep.data_parallel`` reports the communication. One device is exactly the
    single-device step. ``zero_stage`` (0-3) partitions the optimizer states (1), the
    gradients (2) and the parameters (3) over the devices as ZeRO / FSDP do: each device
    updates its partition, gradients are reduce-scattered and parameters all-gathered
    (pysim/training/data_parallel.py); 0, the default, is DDP. ``grad_accum`` (1..65536)
    micro batches of ``wl``'s batch make the step, their gradients accumulated and the
    update after the last (see the module docstring). ``tensor_parallel`` (1..1024) splits
    each attention and MLP block over that many devices as Megatron-LM does
    (pysim/training/tensor_parallel.py: one device's share simulated, its all-reduces on the
    link); with ``data_parallel`` the devices number their product.

    Raises WorkloadError (one line) for an op with no backward rule, an unknown optimizer,
    recipe, format or layer, a format the hardware lacks for a role, or a step that does not
    fit the memory; ConfigError for a bad ``data_parallel``, ``bucket_mib``, ``zero_stage``
    or ``grad_accum`` or ``tensor_parallel``, or ``data_parallel`` or ``tensor_parallel`` >
    1 on hardware that states no interconnect.
    """
    devices = dp.check_devices(data_parallel)
    bucket_bytes = dp.check_bucket_mib(bucket_mib) * dp.MIB
    stage = dp.check_zero_stage(zero_stage)
    plan = micro_plan(check_grad_accum(grad_accum))
    tp = tpar.check_tp(tensor_parallel)
    if devices == 1:
        stage = 0  # one device: nothing to partition, the single-device step
    hw = _hardware(hw)
    link = dp.require_link(hw, devices) if devices > 1 else None
    tp_link = dp.require_link(hw, tp, "tensor_parallel") if tp > 1 else None
    wl = training_form(wl)
    sharding = _sharded(_Same(wl), tp) if tp > 1 else None
    if sharding is not None:
        wl = sharding.workload
    shards = (devices if stage else 1, devices if stage >= 2 else 1)
    built = [_prepare(wl, optimizer, recipe, layer_formats, formats, checkpoint, input_grads,
                      fused_optimizer, weight_copy, *shards, micro) for micro, _ in plan]
    graphs = [b[0] for b in built]
    _, opt, base, recipes = built[-1]
    return simulate_micro_batches(hw, wl.name, graphs, plan, opt, base, recipes,
                                  capacity_bytes(hw, memory_gib), link, devices, stage,
                                  bucket_bytes, sharding=sharding, tp_link=tp_link)


def simulate_micro_batches(hw: Any, wl_name: str, graphs: list[TrainingGraph],
                           plan: tuple[tuple[Micro, int], ...], opt: Optimizer, base: Recipe,
                           recipes: Mapping[str, Recipe], capacity: int | None,
                           link: Any = None, devices: int = 1, stage: int = 0,
                           bucket_bytes: float = dp.DEFAULT_BUCKET_MIB * dp.MIB,
                           check_memory: bool = True, sharding: tpar.Sharding | None = None,
                           tp_link: Any = None) -> TrainingStep:
    """``step``'s simulation of its micro batches' ``graphs`` (``plan``: each one's kind and
    count) on ``hw``, its memory checked against ``capacity`` (unless ``check_memory`` is
    False: a pipeline stage's is checked with its micro batches in flight), on one of
    ``devices`` joined by ``link`` under ZeRO ``stage``, the layers split as ``sharding``
    says over ``tp_link``."""
    graph = graphs[-1]
    buckets = (dp.make_buckets(graph, grad_bytes(graph, base, recipes), bucket_bytes)
               if link is not None else [])
    params = param_bytes(graph, base, recipes)
    memory = account_memory(graph, opt, base, recipes, capacity,
                            comm_buffer_bytes(buckets, params, stage), stage, devices)
    if len(graphs) > 1:  # the largest op of any micro batch (the same memory otherwise)
        memory = replace(memory, working=max(_working_bytes(_Same(g)) for g in graphs))
    name = str(getattr(hw, "full_name", None) or getattr(hw, "name", hw))
    if check_memory and memory.capacity is not None and memory.peak > memory.capacity:
        raise WorkloadError(f"training step of {wl_name!r} needs {memory.describe()} but "
                            f"{name} has {memory.capacity / GIB:.2f} GiB; try checkpoint=True, "
                            f"a narrower recipe, a smaller batch"
                            + (" or zero_stage=1..3 with data_parallel=N (the model's state "
                               "partitioned over N devices)" if stage < 3 else ""))
    from pysim.simulate import simulate

    runs = []
    for g, (micro, count) in zip(graphs, plan, strict=True):
        comms = (dp.zero_collectives(
            g, buckets if g is graph else dp.make_buckets(g, grad_bytes(g, base, recipes),
                                                          bucket_bytes),
            link, devices, stage, params, micro) if link is not None else [])
        if sharding is not None:  # both on the link, launched as they become ready
            index = {o.name: i for i, o in enumerate(g.workload.ops)}
            comms = sorted(comms + tpar.collectives(g, sharding, tp_link),
                           key=lambda c: max((index[n] for n in c.after), default=-1))
        try:
            # the memory is checked above, each part once (the generic footprint of a training
            # graph counts a layer's weight again for its dX GEMM and misses saved activations)
            with accounted(g.workload):
                runs.append(MicroBatch(g, simulate(hw, g.workload, collectives=comms), count))
        except (WorkloadError, ConfigError) as err:
            raise type(err)(_explain(err, g, name)) from None
    result = runs[-1].result

    def mine(m: MicroBatch, tp_own: bool) -> tuple[Any, ...]:
        """The micro batch's transfers of data (``tp_own`` False) or tensor parallelism."""
        return tuple(c for c in m.result.collectives if c.name.startswith("tp.") == tp_own)

    def exposed_s(tp_own: bool) -> float:
        return sum(m.count * dp.exposed_cycles(mine(m, tp_own), list(zip(
            m.result.layers["start_cycle"], m.result.layers["end_cycle"], strict=True)))
            / m.result.clock_hz for m in runs)

    par = tp_par = None
    if link is not None:
        earlier = tuple((mine(m, False), m.count) for m in runs[:-1])
        par = dp.DataParallel(devices, bucket_bytes / dp.MIB, link, tuple(buckets),
                              mine(runs[-1], False), result.clock_hz, exposed_s(False), stage,
                              earlier)
    if sharding is not None:
        tp_par = tpar.TensorParallel(sharding.tp, tp_link, len(sharding.row),
                                     len(sharding.column), mine(runs[-1], True),
                                     result.clock_hz, exposed_s(True),
                                     tuple((mine(m, True), m.count) for m in runs[:-1]))
    return TrainingStep(graph, result, memory, base, opt, par, tuple(runs[:-1]), tp_par)


def training_form(wl: Workload | str | Any) -> Workload:
    """The workload ``step`` trains: a Workload as given, a YAML / ONNX path loaded, or a zoo
    spec ``[zoo:]NAME[:key=value,...]`` in its training form (a CNN's batch norms as ops, not
    folded into the convolutions, unless the spec says ``batchnorm=...``)."""
    if isinstance(wl, str) and not wl.endswith((".yaml", ".yml", ".onnx")):
        from pysim import zoo

        return zoo.from_spec(wl, batchnorm=True)
    if not isinstance(wl, Workload):
        from pysim.workload import load_workload
        return load_workload(wl)
    return wl


def _prepare(wl: Workload, optimizer: str | Optimizer, recipe: str | Recipe,
             layer_formats: Mapping[str, str | int | Format] | None,
             formats: Mapping[str, str | int | Format] | None, checkpoint: bool,
             input_grads: bool, fused_optimizer: bool, weight_copy: CopyAt | None,
             shards: int = 1, grad_shards: int = 1, micro: Micro = "only",
             sends: frozenset[str] = frozenset(), receives: frozenset[str] = frozenset(),
             ) -> tuple[TrainingGraph, Optimizer, Recipe, dict[str, Recipe]]:
    """What a step of ``wl`` is, whatever the hardware: its training graph (memoised), the
    optimizer, the base recipe and the per-layer ones. Raises WorkloadError as ``step``."""
    opt = get_optimizer(optimizer)
    base = get_recipe(recipe)
    if formats is not None:
        base = base.with_formats(formats)
    recipes = _layer_recipes(wl, base, layer_formats)
    if weight_copy is None:
        weight_copy = "forward" if base.autocast else "optimizer"
    graph = _training_graph(_Same(wl), base, tuple(sorted(recipes.items())), opt,
                            bool(input_grads), bool(checkpoint), bool(fused_optimizer),
                            weight_copy, shards, micro, grad_shards, sends, receives)
    return graph, opt, base, recipes


def check_options(wl: Workload, options: Mapping[str, Any]) -> dict[str, Any]:
    """``options`` (``step``'s keyword arguments beside the hardware and the workload) as a
    plain dict, checked for ``wl`` as far as no hardware is needed: their names, the
    optimizer, recipe, formats, layers, memory and data-parallel figures, and the training
    graph built (memoised, so the steps that follow reuse it). What a sweep of training steps
    (``pysim.sweep(..., training={...})``) checks before any point runs. Raises WorkloadError
    or ConfigError in one line."""
    params = inspect.signature(step).parameters
    names = [k for k in params if k not in ("hw", "wl")]
    if not isinstance(options, Mapping):
        raise WorkloadError(f"training options must be a mapping of step's keyword arguments "
                            f"({', '.join(names)}), got {options!r}")
    unknown = [k for k in options if k not in names]
    if unknown:
        raise WorkloadError(f"training option {unknown[0]!r} is not one of step's: "
                            f"{', '.join(names)}")
    a = {**{k: params[k].default for k in names}, **options}
    dp.check_devices(a["data_parallel"])
    dp.check_bucket_mib(a["bucket_mib"])
    stage = dp.check_zero_stage(a["zero_stage"])
    k = check_grad_accum(a["grad_accum"])
    tp = tpar.check_tp(a["tensor_parallel"])
    capacity_bytes(None, a["memory_gib"])
    n = a["data_parallel"]
    if tp > 1:
        wl = _sharded(_Same(wl), tp).workload
    for micro, _ in micro_plan(k):  # the graphs the points will step (memoised)
        _prepare(wl, a["optimizer"], a["recipe"], a["layer_formats"], a["formats"],
                 a["checkpoint"], a["input_grads"], a["fused_optimizer"], a["weight_copy"],
                 n if stage else 1, n if stage >= 2 else 1, micro)
    return dict(options)


def _hardware(hw: Any) -> Any:
    """``hw`` loaded where it is a path (a GPU preset or a Hardware as it is)."""
    from os import PathLike, fspath

    if isinstance(hw, (str, PathLike)):
        from pysim.config import load_hardware

        return load_hardware(fspath(hw))
    return hw


def _explain(err: Exception, graph: TrainingGraph, hw_name: str) -> str:
    """The simulator's error about a training op, with the op's role, layer and format."""
    text = str(err).splitlines()[0]
    m = re.search(r"op '([^']+)'", text)
    info = {o.name: o for o in graph.ops}.get(m.group(1)) if m else None
    if info is None:
        return text
    return (f"{info.role} op of layer {info.layer!r} in format {info.format} cannot run on "
            f"{hw_name}: {text}")


