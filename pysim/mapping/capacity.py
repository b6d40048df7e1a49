"""Whether a workload fits the hardware's DRAM (``dram.capacity_gib``, a GPU's HBM): checked
before any op is mapped, on every hardware."""

from __future__ import annotations

from typing import Any

from pysim.errors import WorkloadError


def check_capacity(hw: Any, wl: Any) -> None:
    """Raise WorkloadError if the workload cannot live in the hardware's DRAM
    (``dram.capacity_gib``; unchecked if it has none): every weight, every graph input (a KV
    cache is one) and the largest op's activations (its inputs and output) held at once."""
    capacity = hw.dram.capacity_gib
    if capacity is None:
        return
    declared = [t for name, t in wl.tensors.items() if name not in wl.producers]
    # each weight once, however many ops read it (a training graph's forward and dX GEMMs
    # both declare the layer's weight)
    held = {t.name: t.bytes for op in wl.ops for t in op.weight_tensors()}
    held.update({t.name: t.bytes for t in declared if t.role == "weight"})
    weights = sum(held.values())
    inputs = sum(t.bytes for t in declared if t.role != "weight")
    live = max((sum(wl.tensors[t].bytes for t in set(op.inputs) if t in wl.producers)
                + op.output_memory_bytes for op in wl.ops), default=0)
    need, gib = weights + inputs + live, 2**30
    if need > capacity * gib:
        raise WorkloadError(
            f"workload {wl.name!r} needs {need / gib:.4g} GiB of DRAM on {_label(hw)} "
            f"(weights {weights / gib:.4g} GiB, graph inputs {inputs / gib:.4g} GiB, the "
            f"largest op's activations {live / gib:.4g} GiB); it has {capacity:g} GiB "
            "(dram.capacity_gib)")


def _label(hw: Any) -> str:
    """The part's name where a unit states one (a GPU's ``description``), else the hardware's."""
    return next((u.description for u in hw.units if getattr(u, "description", "")),
                repr(hw.name))
