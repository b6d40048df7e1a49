"""Data parallelism: one training step on each of ``devices`` identical devices, gradients
averaged by ring all-reduces over the hardware's ``interconnect`` while the backward pass
still computes (PyTorch DistributedDataParallel: Li et al., "PyTorch Distributed:
Experiences on Accelerating Data Parallel Training", VLDB 2020, section 3.2).

- Every device runs the whole training graph on its own batch (the workload's batch is the
  per-device batch; the global batch is ``devices`` times it).
- Gradients are packed into buckets in the reverse order of the layers (the order the
  backward pass produces them), a bucket closed once it holds ``bucket_mib`` MiB or more (a
  layer's gradient is never split), as DDP's ``bucket_cap_mb`` (default 25) does. DDP makes its
  first bucket 1 MiB (``dist._DEFAULT_FIRST_BUCKET_BYTES``); that refinement is not modelled.
- A bucket's all-reduce is ready when the last op producing one of its gradients (dW, bias
  gradient, layernorm dgamma / dbeta) has ended; buckets take the link in order (DDP launches
  them in order), one at a time, each for ``Link.allreduce_s`` of its bytes
  (pysim/interconnect.py: 2 (n-1)/n x bytes / bandwidth + 2 (n-1) x latency). The link is a
  SimPy resource in the engine (pysim/engine/simulator.py): the rest of the backward pass
  computes meanwhile, and every optimizer update waits for all buckets.
- Memory: DDP's default (``gradient_as_bucket_view=False``) keeps the buckets as a second copy
  of the gradients; that copy is the only memory data parallelism adds (``comm_buffers``).

ZeRO (Rajbhandari et al., "ZeRO: Memory Optimizations Toward Training Trillion Parameter
Models", SC 2020; ``zero_stage``) partitions what every device otherwise holds whole:

- stage 1 (P_os) the optimizer states, and the master weights where the forward reads a
  low-precision copy the update writes: each device updates its 1 / n of the parameters
  (the update op reads and writes 1 / n: pysim/training/graph.py ``shards``). The gradients
  are reduce-scattered per bucket (each device receives its partition, reduced) while the
  backward pass computes, and after the update the new parameters (as the forward reads
  them: the low-precision copy, else the master weights) are all-gathered per bucket, the
  step's last transfers (DeepSpeed's ``all_gather_dp_groups`` after ``step()``);
- stage 2 (P_os+g) the weight gradients too: a device keeps only its partition once a
  bucket is reduce-scattered; the same transfers as stage 1;
- stage 3 (P_os+g+p, PyTorch FSDP's FULL_SHARD) the parameters too. The buckets are the
  sharded units: each unit's parameters are all-gathered before its forward ops and again
  before its backward ops (dX needs W; a recomputed forward too), and its gradients
  reduce-scattered after them. As FSDP's rate limiter (``limit_all_gathers``) allows, at
  most two units are gathered at once: a unit's all-gather waits for the ops of the unit two
  before it (forward), or two after it (backward, the reverse order) to end, so the next
  unit's gather overlaps the current unit's compute (FSDP's forward / backward prefetch).
  Transfers take the link one at a time in the order they become ready (FSDP runs its
  gathers and reduce-scatters on two streams, which share the link's bandwidth).

Each device sends 2 (n-1)/n x the gradient bytes under DDP and stages 1-2 alike (when the
gradients and the gathered parameters have the same width), and 3 (n-1)/n under stage 3:
the paper's 2 Psi and 3 Psi (section 7). Memory per device (``pysim.training.step``): the
partitioned parts / n, plus the buckets in flight: one reduce-scatter bucket (DeepSpeed's
``reduce_bucket_size`` staging, here ``bucket_mib``) and, under stage 3, two units' gathered
parameters. With one device a stage changes nothing.

Not modelled: the link's energy, NCCL kernels' use of SMs and HBM bandwidth (they slow the
compute they overlap on a real GPU), the HBM traffic of the collectives' own reads and
writes, the 1 MiB first bucket, a hierarchical (tree / NVSwitch SHARP) all-reduce, and
ZeRO's CPU / NVMe offload.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pysim.errors import ConfigError
from pysim.interconnect import (
    Collective,
    CollectiveTiming,
    Link,
    allreduce_bytes_per_device,
    gather_bytes_per_device,
)
from pysim.interconnect import link_of as _link_of
from pysim.training.graph import TrainingGraph

MIB = 2**20
MAX_DEVICES = 65536
DEFAULT_BUCKET_MIB = 25.0  # torch.nn.parallel.DistributedDataParallel(bucket_cap_mb=25)
ZERO_STAGES = (0, 1, 2, 3)  # 0: plain data parallelism (DDP)


def check_devices(value: object) -> int:
    """``data_parallel`` as an int in 1..MAX_DEVICES. Raises ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_DEVICES:
        raise ConfigError(f"data_parallel must be an int in 1..{MAX_DEVICES} (devices), got "
                          f"{value!r}")
    return value


def check_bucket_mib(value: object) -> float:
    """``bucket_mib`` as a finite number > 0. Raises ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) \
            or not math.isfinite(value) or value <= 0:
        raise ConfigError(f"bucket_mib must be a finite number > 0 (MiB per gradient bucket), "
                          f"got {value!r}")
    return float(value)


def check_zero_stage(value: object) -> int:
    """``zero_stage`` as an int in ZERO_STAGES. Raises ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or value not in ZERO_STAGES:
        raise ConfigError(f"zero_stage must be one of {', '.join(map(str, ZERO_STAGES))} (0: "
                          f"none, 1: optimizer states, 2: and gradients, 3: and parameters "
                          f"partitioned), got {value!r}")
    return value


def require_link(hw: Any, devices: int, asked_by: str = "data_parallel") -> Link:
    """The hardware's link, which ``asked_by`` (an option, ``devices`` its value) needs.
    Raises ConfigError naming both when the hardware states none."""
    link = _link_of(hw)
    if link is None:
        name = getattr(hw, "name", type(hw).__name__)
        raise ConfigError(f"{asked_by} {devices} needs interconnect: hardware {name!r} "
                          "states none (add interconnect: {bandwidth_gb_per_s, latency_us})")
    return link


@dataclass(frozen=True)
class Bucket:
    """Gradients all-reduced together: their ``layers`` (in the order the backward pass
    finishes them), their bytes and the ops that produce them."""

    layers: tuple[str, ...]
    nbytes: int
    producers: tuple[str, ...]


def _grad_producers(graph: TrainingGraph) -> dict[str, tuple[str, ...]]:
    """For each layer with an optimizer update: the ops that produce the gradients its update
    reads (through any cast back to the gradients' format)."""
    wl = graph.workload
    role = {o.name: o.role for o in graph.ops}
    out = {}
    for layer, grads in graph.update_grads.items():
        made = []
        for t in grads:
            src = wl.producers.get(t)
            while src is not None and role[src] == "cast":
                src = wl.producers.get(wl.op(src).inputs[0])
            if src is not None:
                made.append(src)
        out[layer] = tuple(dict.fromkeys(made))
    return out


def make_buckets(graph: TrainingGraph, grad_bytes: dict[str, int],
                 bucket_bytes: float) -> list[Bucket]:
    """DDP's bucketing (see the module docstring) of the layers with an update."""
    producers = _grad_producers(graph)
    buckets: list[Bucket] = []
    layers: list[str] = []
    size = 0
    for layer in reversed(list(graph.params)):
        if layer not in producers:
            continue
        layers.append(layer)
        size += grad_bytes[layer]
        if size >= bucket_bytes:
            buckets.append(_bucket(layers, size, producers))
            layers, size = [], 0
    if layers:
        buckets.append(_bucket(layers, size, producers))
    return buckets


def _bucket(layers: list[str], size: int, producers: dict[str, tuple[str, ...]]) -> Bucket:
    ops = tuple(dict.fromkeys(p for layer in layers for p in producers[layer]))
    return Bucket(tuple(layers), size, ops)


def collectives(graph: TrainingGraph, buckets: Sequence[Bucket], link: Link,
                devices: int) -> list[Collective]:
    """One all-reduce per bucket, before every optimizer update."""
    updates = tuple(o.name for o in graph.ops if o.role == "optimizer")
    return [Collective(f"allreduce.bucket{i}", b.producers, updates,
                       link.allreduce_s(b.nbytes, devices),
                       allreduce_bytes_per_device(b.nbytes, devices))
            for i, b in enumerate(buckets)]


def zero_collectives(graph: TrainingGraph, buckets: Sequence[Bucket], link: Link,
                     devices: int, stage: int, param_bytes: dict[str, int],
                     micro: str = "only") -> list[Collective]:
    """The transfers of ZeRO ``stage`` (1-3; 0: ``collectives``'s all-reduces) in the order
    they are launched (see the module docstring), on ``graph``'s micro batch (``micro``,
    pysim/training/graph.py): before the last one of a step that accumulates gradients,
    nothing under DDP and stage 1 (they reduce the accumulated gradients once), the
    reduce-scatters under stage 2, every transfer but the update's gather under stage 3.
    ``param_bytes``: each layer's parameters as the forward reads them."""
    updates = tuple(o.name for o in graph.ops if o.role == "optimizer")  # none but the last's
    last = micro in ("only", "last")
    if stage < 2 and not last:
        return []
    if stage == 0:
        return collectives(graph, buckets, link, devices)

    def scatter(i: int, b: Bucket) -> Collective:
        return Collective(f"reduce_scatter.bucket{i}", b.producers, updates,
                          link.reduce_scatter_s(b.nbytes, devices),
                          gather_bytes_per_device(b.nbytes, devices))

    def gather(name: str, b: Bucket, after: tuple[str, ...],
               before: tuple[str, ...]) -> Collective:
        nbytes = sum(param_bytes[layer] for layer in b.layers)
        return Collective(name, after, before, link.allgather_s(nbytes, devices),
                          gather_bytes_per_device(nbytes, devices))

    if stage < 3:  # the parameters gathered after the update
        return ([scatter(i, b) for i, b in enumerate(buckets)]
                + [gather(f"all_gather.bucket{i}", b, updates, ())
                   for i, b in enumerate(buckets) if last])
    # stage 3: the buckets are the units; forward in layer order, backward in the buckets'
    index = {o.name: i for i, o in enumerate(graph.ops)}
    unit_of = {layer: u for u, b in enumerate(buckets) for layer in b.layers}
    fwd: list[list[str]] = [[] for _ in buckets]
    bwd: list[list[str]] = [[] for _ in buckets]
    for o in graph.ops:
        u = unit_of.get(o.layer)
        if u is None:
            continue
        if o.phase == "forward":
            fwd[u].append(o.name)
        elif o.phase in ("backward", "recompute") and o.role != "dW":
            bwd[u].append(o.name)

    def before_all(ops: list[str], users: list[str]) -> tuple[str, ...]:
        """``ops`` that come before every op of ``users`` in the graph's order (a gather
        waiting for a later op would deadlock the units' in-order queues)."""
        first = min((index[n] for n in users), default=len(index))
        return tuple(n for n in ops if index[n] < first)

    order = list(reversed(range(len(buckets))))  # forward: the last bucket's layers first
    out = [gather(f"all_gather.forward.unit{u}", buckets[u],
                  before_all(fwd[order[k - 2]], fwd[u]) if k >= 2 else (), tuple(fwd[u]))
           for k, u in enumerate(order)]
    for j, b in enumerate(buckets):  # backward: bucket 0 (the last layers) first
        after = bwd[j - 2] if j >= 2 else fwd[0]
        out.append(gather(f"all_gather.backward.unit{j}", b, before_all(after, bwd[j]),
                          tuple(bwd[j])))
        if j >= 1:
            out.append(scatter(j - 1, buckets[j - 1]))
    if buckets:
        out.append(scatter(len(buckets) - 1, buckets[-1]))
    # launched as they become ready: a transfer listed before another never waits for an op
    # that waits for the later one (a recomputed block's forward runs before the backward of
    # units its segment does not hold)
    return sorted(out, key=lambda c: max((index[n] for n in c.after), default=-1))


Runs = tuple[tuple[tuple[CollectiveTiming, ...], int], ...]  # transfers, micro batches


def sent_bytes(last: Sequence[CollectiveTiming], earlier: Runs = ()) -> float:
    """Bytes each device sends in the transfers of a step's last micro batch and, each
    times its count, of the earlier ones."""
    return sum(c.nbytes for c in last) + sum(n * sum(c.nbytes for c in t) for t, n in earlier)


def busy_s(last: Sequence[CollectiveTiming], earlier: Runs, clock_hz: float) -> float:
    """Seconds the link is busy with those transfers."""
    return (sum(c.cycles for c in last) + sum(
        n * sum(c.cycles for c in t) for t, n in earlier)) / clock_hz


def exposed_cycles(link: Sequence[CollectiveTiming], ops: Sequence[tuple[float, float]]) -> float:
    """Cycles the link is busy while no op runs: the communication the step waits for (the
    "exposed" communication of Meta's Holistic Trace Analysis, comm time not overlapped by
    compute). ``ops``: each op's (start, end) cycle."""
    busy = sorted((c.start_cycle, c.end_cycle) for c in link if c.end_cycle > c.start_cycle)
    compute = _union(sorted(o for o in ops if o[1] > o[0]))
    exposed = 0.0
    j = 0
    for start, end in busy:
        covered = 0.0
        while j < len(compute) and compute[j][1] <= start:
            j += 1
        k = j
        while k < len(compute) and compute[k][0] < end:
            covered += min(end, compute[k][1]) - max(start, compute[k][0])
            k += 1
        exposed += (end - start) - covered
    return exposed


def _union(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    out: list[tuple[float, float]] = []
    for s, e in spans:
        if out and s <= out[-1][1]:
            out[-1] = (out[-1][0], max(out[-1][1], e))
        else:
            out.append((s, e))
    return out


@dataclass(frozen=True)
class DataParallel:
    """What data parallelism added to a step: ``devices``, the ``link``, the gradient
    ``buckets`` and when each bucket's all-reduce ran (``timings``, cycles at ``clock_hz``);
    ``exposed_comm_s`` is the part of it no op overlapped."""

    devices: int
    bucket_mib: float
    link: Link
    buckets: tuple[Bucket, ...]
    timings: tuple[CollectiveTiming, ...]
    clock_hz: float
    exposed_comm_s: float  # over every micro batch of the step
    zero_stage: int = 0
    # the transfers of the micro batches before the last (gradient accumulation), each with
    # how many micro batches it stands for
    earlier: Runs = ()

    @property
    def grad_bytes(self) -> int:
        """Bytes of the gradients all-reduced (per device, each device holds them all)."""
        return sum(b.nbytes for b in self.buckets)

    @property
    def comm_bytes_per_device(self) -> float:
        """Bytes each device sends over the step: 2 (n-1)/n x gradient bytes under DDP (see
        the module docstring for ZeRO's)."""
        return sent_bytes(self.timings, self.earlier)

    @property
    def comm_s(self) -> float:
        """Seconds the link is busy (every bucket's all-reduce)."""
        return busy_s(self.timings, self.earlier, self.clock_hz)

    def summary(self) -> dict[str, Any]:
        return {"data_parallel": self.devices, "zero_stage": self.zero_stage,
                "bucket_mib": self.bucket_mib,
                "buckets": len(self.buckets), "grad_bytes": self.grad_bytes,
                "comm_bytes_per_device": self.comm_bytes_per_device, "comm_s": self.comm_s,
                "exposed_comm_s": self.exposed_comm_s}


__all__ = ["ZERO_STAGES", "Bucket", "DataParallel", "busy_s", "check_bucket_mib",
           "check_devices", "check_zero_stage", "collectives", "exposed_cycles", "make_buckets",
           "require_link", "sent_bytes", "zero_collectives"]
