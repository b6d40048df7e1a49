"""Whether a workload fits the hardware's DRAM (``dram.capacity_gib``, a GPU's HBM): checked
before any op is mapped, on every hardware. Where it does not and the hardware's ``host``
link offloads weights (pysim/config/host.py), ``plan_offload`` says which weights live in
host memory and what each op copies in. A caller that accounts a workload's memory itself,
more exactly than the generic footprint can (a training step: master weights, optimizer
states, gradients, saved activations), runs the simulation inside ``accounted(wl)``."""

from __future__ import annotations

import contextlib
import contextvars
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

from pysim.errors import WorkloadError
from pysim.workload.graph import Footprint

GIB = 2**30


@dataclass(frozen=True)
class OffloadPlan:
    """Where the weights live under ``host.offload``: ``host_weights`` in host memory (the
    rest on the device), ``fetch_bytes`` per op (what it copies in before it runs) and the
    device bytes set aside for the copies (``staging_bytes``)."""

    mode: str
    host_weights: frozenset[str]
    fetch_bytes: tuple[int, ...]
    device_weight_bytes: int
    host_weight_bytes: int
    staging_bytes: int


# ids of the workloads whose memory the running caller has checked itself (``accounted``)
_ACCOUNTED: contextvars.ContextVar[frozenset[int]] = contextvars.ContextVar(
    "pysim_capacity_accounted", default=frozenset())


@contextlib.contextmanager
def accounted(wl: Any) -> Iterator[None]:
    """Inside the block, ``check_capacity`` leaves ``wl`` (this very object) to its caller,
    which has checked its memory against the hardware's by a model of its own. A training
    graph is the case: its generic footprint counts each layer's weight again for the input
    gradient GEMM that reads it transposed, and the optimizer's master weights beside the
    forward weights they are in fp32, while it misses the activations saved for the backward
    pass (pysim.training.step's ``Memory`` counts each once)."""
    token = _ACCOUNTED.set(_ACCOUNTED.get() | {id(wl)})
    try:
        yield
    finally:
        _ACCOUNTED.reset(token)


def check_capacity(hw: Any, wl: Any) -> None:
    """Raise WorkloadError if the workload cannot live in the hardware's DRAM
    (``dram.capacity_gib``; unchecked if it has none): every weight, every graph input (a KV
    cache is one) and the largest op's activations (its inputs and output) held at once.
    Where the hardware offloads weights to host memory (``host.offload``), what must fit is
    what stays on the device (``plan_offload`` raises where it does not). Unchecked inside
    ``accounted(wl)``."""
    host = getattr(hw, "host", None)
    if host is not None and host.offload != "none":
        plan_offload(hw, wl)
        return
    capacity = hw.dram.capacity_gib
    if capacity is None or id(wl) in _ACCOUNTED.get():
        return
    fp: Footprint = wl.footprint
    need = fp.weight_bytes + fp.inputs + fp.live
    if need > capacity * GIB:
        raise WorkloadError(
            f"workload {wl.name!r} needs {need / GIB:.4g} GiB of DRAM on {_label(hw)} "
            f"(weights {fp.weight_bytes / GIB:.4g} GiB, graph inputs {fp.inputs / GIB:.4g} "
            f"GiB, the largest op's activations {fp.live / GIB:.4g} GiB); it has "
            f"{capacity:g} GiB (dram.capacity_gib; or let weights run from host memory: "
            "host.offload on_demand or prefetch)")


def plan_offload(hw: Any, wl: Any) -> OffloadPlan:
    """Which weights stay on the device and which live in host memory under
    ``hw.host.offload`` (pysim/config/host.py): in op order, weights stay on the device
    while they fit its memory less the graph inputs, the largest op's activations and the
    staging buffers (the largest op's weights, once on demand, twice prefetched), and at most
    ``host.device_weights_gib``; from the first that does not, they live in host memory.
    Raises WorkloadError if the device cannot hold even the rest, or the host memory
    (``host.capacity_gib``) the offloaded weights."""
    host = hw.host
    fp: Footprint = wl.footprint
    per_op = wl.weights_read
    largest = max((sum(w.values()) for w in per_op), default=0)
    staging = largest * (2 if host.offload == "prefetch" else 1)
    capacity = hw.dram.capacity_gib
    fits = capacity is None or fp.weight_bytes + fp.inputs + fp.live <= capacity * GIB
    room = float("inf") if fits else capacity * GIB - fp.inputs - fp.live - staging
    if room < 0:
        raise WorkloadError(
            f"workload {wl.name!r} does not fit {_label(hw)} even with its weights in host "
            f"memory: graph inputs {fp.inputs / GIB:.4g} GiB, the largest op's activations "
            f"{fp.live / GIB:.4g} GiB and {host.offload} staging for the largest op's weights "
            f"{staging / GIB:.4g} GiB need {(fp.inputs + fp.live + staging) / GIB:.4g} GiB; "
            f"it has {capacity:g} GiB (dram.capacity_gib)")
    if host.device_weights_gib is not None:
        room = min(room, host.device_weights_gib * GIB)
    on_device, host_weights = 0, set[str]()
    for name, nbytes in fp.weights.items():
        if host_weights or on_device + nbytes > room:
            host_weights.add(name)
        else:
            on_device += nbytes
    in_host = sum(fp.weights[n] for n in host_weights)
    if host.capacity_gib is not None and in_host > host.capacity_gib * GIB:
        raise WorkloadError(
            f"workload {wl.name!r}: the {in_host / GIB:.4g} GiB of weights offloaded from "
            f"{_label(hw)} do not fit its host memory of {host.capacity_gib:g} GiB "
            "(host.capacity_gib)")
    fetch = tuple(sum(b for n, b in w.items() if n in host_weights) for w in per_op)
    return OffloadPlan(host.offload, frozenset(host_weights), fetch, on_device, in_host,
                       staging if host_weights else 0)


def _label(hw: Any) -> str:
    """The part's name where a unit states one (a GPU's ``description``), else the hardware's."""
    return next((u.description for u in hw.units if getattr(u, "description", "")),
                repr(hw.name))
