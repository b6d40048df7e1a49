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

Not modelled: the link's energy, NCCL kernels' use of SMs and HBM bandwidth (they slow the
compute they overlap on a real GPU), the 1 MiB first bucket, and a hierarchical (tree /
NVSwitch SHARP) all-reduce.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pysim.errors import ConfigError
from pysim.interconnect import Collective, CollectiveTiming, Link, allreduce_bytes_per_device
from pysim.interconnect import link_of as _link_of
from pysim.training.graph import TrainingGraph

MIB = 2**20
MAX_DEVICES = 65536
DEFAULT_BUCKET_MIB = 25.0  # torch.nn.parallel.DistributedDataParallel(bucket_cap_mb=25)


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


def require_link(hw: Any, devices: int) -> Link:
    """The hardware's link. Raises ConfigError when it states none."""
    link = _link_of(hw)
    if link is None:
        name = getattr(hw, "name", type(hw).__name__)
        raise ConfigError(f"data_parallel {devices} needs interconnect: hardware {name!r} "
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
    exposed_comm_s: float

    @property
    def grad_bytes(self) -> int:
        """Bytes of the gradients all-reduced (per device, each device holds them all)."""
        return sum(b.nbytes for b in self.buckets)

    @property
    def comm_bytes_per_device(self) -> float:
        """Bytes each device sends over the step: 2 (n-1)/n x gradient bytes."""
        return sum(c.nbytes for c in self.timings)

    @property
    def comm_s(self) -> float:
        """Seconds the link is busy (every bucket's all-reduce)."""
        return sum(c.cycles for c in self.timings) / self.clock_hz

    def summary(self) -> dict[str, Any]:
        return {"data_parallel": self.devices, "bucket_mib": self.bucket_mib,
                "buckets": len(self.buckets), "grad_bytes": self.grad_bytes,
                "comm_bytes_per_device": self.comm_bytes_per_device, "comm_s": self.comm_s,
                "exposed_comm_s": self.exposed_comm_s}


__all__ = ["Bucket", "DataParallel", "check_bucket_mib", "check_devices", "collectives",
           "exposed_cycles", "make_buckets", "require_link"]
