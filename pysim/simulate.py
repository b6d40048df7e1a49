"""``simulate(hw, wl)``: load, map, run, price, Result."""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from typing import TYPE_CHECKING, Any

from pysim.config import Hardware, load_hardware
from pysim.config.host import with_offload
from pysim.energy import COMPONENTS, ON_CHIP, overhead_pj, price_op
from pysim.engine import LinkPlan, StepPlan, run_with_link
from pysim.engine.dram import transfer_timing
from pysim.errors import WorkloadError
from pysim.gcpause import gc_paused
from pysim.gpu.presets import GpuPreset
from pysim.interconnect import Collective, CollectiveTiming
from pysim.mapping import map_workload
from pysim.mapping.capacity import OffloadPlan, plan_offload
from pysim.mapping.kept_area import KeptBlock
from pysim.report.timeline import Timeline
from pysim.result import Result, layers_frame
from pysim.workload import Workload, as_workload

if TYPE_CHECKING:
    import pandas as pd

PJ = 1e-12


@gc_paused()  # a run makes almost no reference cycles (pysim/gcpause.py)
def simulate(hw: Hardware | str | PathLike | Any, wl: Workload | str | PathLike, *,
             trace: bool = False, memory_plan: str | None = None,
             progress: bool | None = False,
             collectives: Sequence[Collective] = (),
             offload: str | None = None) -> Result:
    """Simulate workload ``wl`` on hardware ``hw`` (objects or paths to their YAML files, ``wl``
    also a zoo model, ``"resnet50"`` or ``"zoo:bert_base:seq_len=128"``: ``as_workload``; a
    GPU preset, ``pysim.gpu.preset("a100")``, is its hardware description
    ``GpuPreset.hardware``, configs/gpu/a100.yaml). One path for every hardware: map (a GPU's
    ops as kernels, pysim/gpu/kernels.py), run on the engine, price, Result. With ``trace``
    the engine records each step's DMA transfers and compute (``Result.timeline``, written by
    ``Result.to_chrome_trace``); the figures are the same either way. ``memory_plan``
    ("planned", "fifo", "lru" or "belady") overrides the hardware's ``mapper.residency``:
    which op outputs stay on chip between their uses (``layers.attrs["residency"]`` says how
    it was chosen; ``layers.attrs["dispatch"]`` how the MAC ops found their units).
    ``progress``: a bar over the ops as they are mapped (None: when stderr is a terminal).
    ``collectives``: transfers on the device-to-device link that run beside the ops
    (pysim.interconnect.Collective; data-parallel training's gradient all-reduces), timed in
    ``Result.collectives``; the latency is the later of the last op's and the last
    collective's end.
    ``offload`` ("none", "on_demand" or "prefetch") overrides the hardware's
    ``host.offload``: whether weights that do not fit the DRAM run from host memory, copied
    in over ``host.link`` (pysim/config/host.py; the copies are ``Result.host_transfers``,
    their bytes ``Result.host_read_bytes`` and the layers' ``host_read_bytes``).

    Raises ConfigError / WorkloadError (ValueError) on bad input, e.g. an op whose precision
    no unit supports, a tile that fits no scratchpad or a collective naming an unknown op.
    """
    # Load: validated, immutable descriptions.
    if not isinstance(wl, Workload):
        wl = as_workload(wl)
    if isinstance(hw, GpuPreset):
        hw = hw.hardware
    if not isinstance(hw, Hardware):
        hw = load_hardware(hw)
    if memory_plan is not None:
        hw = hw.with_overrides({"mapper.residency": memory_plan})
    if offload is not None:
        hw = with_offload(hw, offload)
    # Map: unit, tiling, DRAM traffic and action counts of every op.
    notes: dict[str, str] = {}
    placement: list[KeptBlock] = []
    if progress is False:
        mappings = map_workload(hw, wl, notes, placement=placement)
    else:
        from pysim.progress import bar

        with bar(len(wl.ops), f"mapping {wl.name}", "op", progress) as b:
            mappings = map_workload(hw, wl, notes, tick=b.update, placement=placement)
    # Weights in host memory (host.offload): what each op copies in before it runs.
    offloaded = plan_offload(hw, wl) if hw.host is not None and hw.host.offload != "none" \
        else None
    fetch = offloaded.fetch_bytes if offloaded is not None else (0,) * len(mappings)
    # Run: DRAM timing per op from the DRAM model, then the SimPy engine over tile steps.
    timing = [transfer_timing(hw, m.dram_streams) for m in mappings]
    plans = [
        StepPlan(
            name=m.name,
            unit=m.unit,
            deps=m.deps,
            steps=m.steps,
            compute_cycles=m.compute_cycles,
            # a GPU kernel's time holds its memory traffic: nothing moves around it
            read_bytes=0 if m.in_kernel_traffic else m.dram_read_bytes,
            write_bytes=0 if m.in_kernel_traffic else m.dram_write_bytes,
            double_buffered=all(s.double_buffered for s in hw.scratchpads),
            # weights copied in from host memory: none of its reads start before the copy
            prefetch_read_bytes=0 if m.in_kernel_traffic or f else m.prefetch_read_bytes,
            queue=m.queue,
        )
        for m, f in zip(mappings, fetch, strict=True)
    ]
    links = _link_plans(collectives, plans, hw.clock_hz)
    copies = _host_plans(hw, offloaded, plans) if offloaded is not None else []
    timings, link_timings = run_with_link(plans, links + copies,
                                          [t.bytes_per_cycle for t in timing],
                                          [t.latency_cycles for t in timing], record=trace)
    latency = math.ceil(max([t.end_cycle for t in timings]
                            + [t.end_cycle for t in link_timings], default=0.0))
    # Price: counts x energy-table entries; leakage, clock and control over the whole run.
    energies = [price_op(hw, m, f) for m, f in zip(mappings, fetch, strict=True)]
    dynamic = {c: sum(e.pj[c] for e in energies) for c in COMPONENTS}
    run = overhead_pj(hw, latency, sum(dynamic[c] for c in ON_CHIP))
    breakdown = {c: pj * PJ for c, pj in (dynamic | run).items()}
    # Result: totals and one row per op.
    levels = _level_bytes(hw, mappings)
    layers = _layers_frame(mappings, timings, energies, timing, fetch)
    layers.attrs["peak_macs_per_cycle"] = sum(u.peak_macs_per_cycle for u in hw.units)
    layers.attrs["unit_peaks"] = {u.name: float(u.peak_macs_per_cycle) for u in hw.units}
    layers.attrs["dram_bytes_per_s"] = hw.dram.bandwidth_bytes_per_s
    layers.attrs["residency"] = notes.get("residency", "kernels: none kept between ops")
    layers.attrs["dispatch"] = notes.get("dispatch", "kernels: one per op")
    return Result(
        hardware=hw.name,
        workload=wl.name,
        clock_hz=hw.clock_hz,
        latency_cycles=latency,
        energy_breakdown_j=breakdown,
        dram_read_bytes=levels["dram"]["read"],
        dram_write_bytes=levels["dram"]["write"],
        compulsory_dram_bytes=levels["dram"]["compulsory"],
        macs=sum(m.macs for m in mappings),
        layers=layers,
        sim_events=sum(t.events for t in timings),
        level_bytes=levels,
        timeline=Timeline.from_engine(hw.clock_hz, plans, timings) if trace else None,
        tensor_traffic=_tensor_traffic(wl, mappings),
        collectives=tuple(CollectiveTiming(c.name, c.nbytes, *t)
                          for c, t in zip(collectives, link_timings[:len(links)], strict=True)),
        kept_blocks=tuple(placement),
        host_read_bytes=sum(fetch),
        host_transfers=tuple(
            CollectiveTiming(c.name, fetch[c.before[0]], *t)
            for c, t in zip(copies, link_timings[len(links):], strict=True)),
    )


def _host_plans(hw: Hardware, plan: OffloadPlan, plans: list[StepPlan]) -> list[LinkPlan]:
    """The copies from host memory as transfers on the engine's "host" port, one per op that
    reads offloaded weights, in op order. On demand, a copy starts once the op before it has
    ended. Prefetched, it starts once the staging buffers (``plan.staging_bytes``) have room
    for it: the ops of the earlier copies it would not fit beside have ended."""
    assert hw.host is not None
    fetching = [i for i, nbytes in enumerate(plan.fetch_bytes) if nbytes]
    out = []
    first, held = 0, 0  # prefetched: copies first..k share the staging buffers
    for k, i in enumerate(fetching):
        if plan.mode == "on_demand":
            after: tuple[int, ...] = (i - 1,) if i > 0 else ()
        else:
            held += plan.fetch_bytes[i]
            while held > plan.staging_bytes and first < k:
                held -= plan.fetch_bytes[fetching[first]]
                first += 1
            after = (fetching[first - 1],) if first > 0 else ()
        cycles = hw.host.copy_seconds(plan.fetch_bytes[i]) * hw.clock_hz
        out.append(LinkPlan(f"{plans[i].name}.weights", after, (i,), cycles, port="host"))
    return out


def _link_plans(collectives: Sequence[Collective], plans: list[StepPlan],
                clock_hz: float) -> list[LinkPlan]:
    """The engine's form of ``collectives``: op names as plan indices, seconds as cycles."""
    index = {p.name: i for i, p in enumerate(plans)}

    def find(c: Collective, field: str) -> tuple[int, ...]:
        names = getattr(c, field)
        missing = [n for n in names if n not in index]
        if missing:
            raise WorkloadError(f"collective {c.name!r}: {field} names {missing[0]!r}, "
                                "which is not an op of the workload")
        return tuple(index[n] for n in names)

    out = []
    for c in collectives:
        if not (isinstance(c.seconds, (int, float)) and math.isfinite(c.seconds)
                and c.seconds >= 0):
            raise WorkloadError(f"collective {c.name!r}: seconds must be a finite number "
                                f">= 0, got {c.seconds!r}")
        out.append(LinkPlan(c.name, find(c, "after"), find(c, "before"), c.seconds * clock_hz))
    return out


def _tensor_traffic(wl: Workload, mappings: list) -> tuple[tuple[str, str, int, int, int, int],
                                                            ...]:
    """Each tensor's DRAM bytes summed over the ops that move it (``Result.tensors``)."""
    sums: dict[str, list[int]] = {}
    for m in mappings:
        for name, read, write, compulsory in m.tensor_traffic:
            row = sums.setdefault(name, [0, 0, 0])
            row[0] += read
            row[1] += write
            row[2] += compulsory
    return tuple((name, wl.tensors[name].role, wl.tensors[name].bytes, row[0], row[1], row[2])
                 for name, row in sums.items() if any(row))


def _level_bytes(hw: Hardware, mappings: list) -> dict[str, dict[str, int]]:
    """Bytes read and written at each scratchpad (array operands, partial sums, DMA fills and
    drains, traffic through outer levels) and at DRAM, over the whole run; and of each
    level's transfers to and from other memories, bytes in and out and how many of them were
    compulsory or not (pysim/mapping/level_flows.py; DRAM's: the run's compulsory bytes)."""
    out = {s.name: {"read": 0, "write": 0} for s in hw.scratchpads}
    flows = {s.name: [0, 0, 0, 0] for s in hw.scratchpads}
    for m in mappings:
        for name, bits in m.sram_read_bits.items():
            out[name]["read"] += bits // 8
        for name, bits in m.sram_write_bits.items():
            out[name]["write"] += bits // 8
        for name, (into, out_, must_in, must_out) in m.level_flows.items():
            row = flows[name]
            row[0] += into
            row[1] += out_
            row[2] += must_in
            row[3] += must_out
    for name, (into, out_, must_in, must_out) in flows.items():
        moved, must = into // 8 + out_ // 8, (must_in + must_out) // 8
        out[name].update({"in": into // 8, "out": out_ // 8, "compulsory": must,
                          "non_compulsory": moved - must})
    read = sum(m.dram_read_bytes for m in mappings)
    write = sum(m.dram_write_bytes for m in mappings)
    must = sum(m.compulsory_read_bytes + m.compulsory_write_bytes for m in mappings)
    out["dram"] = {"read": read, "write": write, "compulsory": must,
                   "non_compulsory": read + write - must}
    return out


def _layers_frame(mappings: list, timings: list, energies: list,
                  transfers: list, fetch: Sequence[int]) -> pd.DataFrame:
    return layers_frame(
        op=[m.name for m in mappings], type=[m.op_type for m in mappings],
        unit=[m.unit for m in mappings], dataflow=[m.dataflow for m in mappings],
        start_cycle=[t.start_cycle for t in timings], end_cycle=[t.end_cycle for t in timings],
        compute_cycles=[m.compute_cycles for m in mappings],
        bank_stall_cycles=[m.bank_stall_cycles for m in mappings],
        port_stall_cycles=[m.port_stall_cycles for m in mappings],
        stall_cycles=[t.stall_cycles for t in timings], macs=[m.macs for m in mappings],
        peak_macs_per_cycle=[m.peak_macs_per_cycle for m in mappings],
        weight_bits=[m.weight_bits for m in mappings], act_bits=[m.act_bits for m in mappings],
        dtype=[m.dtype for m in mappings], vector_ops=[m.vector_ops for m in mappings],
        dram_read_bytes=[m.dram_read_bytes for m in mappings],
        dram_write_bytes=[m.dram_write_bytes for m in mappings],
        compulsory_bytes=[m.compulsory_read_bytes + m.compulsory_write_bytes
                          for m in mappings],
        energy_pj=[e.pj for e in energies], steps=[m.steps for m in mappings],
        sim_events=[t.events for t in timings], tiling=[m.tiling for m in mappings],
        resident_inputs=[",".join(m.resident_inputs) for m in mappings],
        dram_row_hit_rate=[math.nan if m.in_kernel_traffic else x.row_hit_rate
                           for m, x in zip(mappings, transfers, strict=True)],
        mapping=[m.mapping for m in mappings], host_read_bytes=list(fetch))
