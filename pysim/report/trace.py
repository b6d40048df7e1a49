"""The engine's timeline in the Trace Event Format (the JSON that the Perfetto UI and
chrome://tracing open).

One process (the run) with one thread per track: each queue's compute track (a unit, or a
GPU's stream), then its DMA read and DMA write channels, then the shared DRAM bus. On a compute
track each op is a slice from the cycle it was ready (its producers done, its unit free of the
previous op's compute) to the end of its last compute step, its steps nested inside, and the
cycles in between when the unit waited are nested slices named ``stall``; the op's stores end
later on its DMA write track (``end_cycle`` in ``Result.layers``). On a DMA track each op is a
slice over its transfers with its steps nested inside (a step's slice includes the wait for
the bus); on the DRAM bus each transfer is a slice while it holds the bus. Transfers on a
link follow on tracks of their own: collectives on the device link, weights copied in from host
memory on the host link (``Result.collectives``, ``Result.host_transfers``), each a slice
while it holds the link. Tracks with no
events (a GPU's kernels move their bytes inside their time: no DMA) are left out. Timestamps
and durations are in microseconds (cycles / clock), rounded to the picosecond.
"""

from __future__ import annotations

import json
import math
from os import PathLike
from typing import Any

from pysim.engine.simulator import Interval
from pysim.report.timeline import OpTrace, Timeline

PID = 1
_EPS = 1e-9  # cycles: a gap shorter than this is float noise, not a stall


def _ops_args(res: Any) -> list[dict[str, Any]]:
    """Per op, the figures its slice carries (energy, bytes, cycles) from ``res.layers``."""
    cols = ["type", "unit", "macs", "cycles", "compute_cycles", "stall_cycles",
            "dram_read_bytes", "dram_write_bytes", "energy_j"]
    layers = res.layers
    have = [c for c in cols if c in layers]
    out = []
    for row in layers[have].itertuples(index=False):
        args = {}
        for col, value in zip(have, row, strict=True):
            value = value.item() if hasattr(value, "item") else value
            args[col] = None if isinstance(value, float) and math.isnan(value) else value
        out.append(args)
    return out


class _Writer:
    def __init__(self, clock_hz: float) -> None:
        self.us_per_cycle = 1e6 / clock_hz
        self.events: list[dict[str, Any]] = []

    def us(self, cycle: float) -> float:
        return round(cycle * self.us_per_cycle, 6)

    def slice(self, tid: int, name: str, cat: str, start: float, end: float,
              args: dict[str, Any] | None = None) -> None:
        ts = self.us(start)
        event: dict[str, Any] = {"ph": "X", "name": name, "cat": cat, "pid": PID, "tid": tid,
                                 "ts": ts, "dur": max(0.0, round(self.us(end) - ts, 6))}
        if args:
            event["args"] = args
        self.events.append(event)


def _compute_track(w: _Writer, tid: int, op: OpTrace, args: dict[str, Any]) -> None:
    computes = [iv for iv in op.intervals if iv.kind == "compute"]
    if not computes:
        return
    reads: dict[int, float] = {}
    for iv in op.intervals:
        if iv.kind == "read":
            reads[iv.step] = max(reads.get(iv.step, 0.0), iv.end_cycle)
    start = min(op.start_cycle, computes[0].start_cycle)
    w.slice(tid, op.name, "op", start, computes[-1].end_cycle,
            {**args, "end_cycle_with_stores": op.end_cycle})
    free_at = start
    for iv in computes:
        gap = iv.start_cycle - free_at
        if gap > _EPS:
            loaded = reads.get(iv.step)
            waited = ("DMA read" if loaded is not None and loaded >= iv.start_cycle - _EPS
                      else "producers" if iv.step == 0 else "output buffer (DMA write)")
            w.slice(tid, "stall", "stall", free_at, iv.start_cycle,
                    {"op": op.name, "step": iv.step, "cycles": gap, "waiting_for": waited})
        w.slice(tid, f"step {iv.step}", "compute", iv.start_cycle, iv.end_cycle,
                {"cycles": iv.end_cycle - iv.start_cycle})
        free_at = iv.end_cycle


def _dma_track(w: _Writer, tid: int, op: OpTrace, transfers: list[Interval],
               kind: str) -> None:
    if not transfers:
        return
    w.slice(tid, op.name, f"dma_{kind}", transfers[0].start_cycle, transfers[-1].end_cycle,
            {"bytes": sum(iv.nbytes for iv in transfers)})
    by_step: dict[int, list[Interval]] = {}
    for iv in transfers:
        by_step.setdefault(iv.step, []).append(iv)
    for step, parts in by_step.items():
        w.slice(tid, f"step {step}", f"dma_{kind}", parts[0].start_cycle, parts[-1].end_cycle,
                {"bytes": sum(p.nbytes for p in parts),
                 "bus_wait_cycles": sum(p.bus_cycle - p.start_cycle for p in parts)})
        if len(parts) > 1:  # the prefetchable part before the producers finished, the rest after
            for part in parts:
                w.slice(tid, "transfer", f"dma_{kind}", part.start_cycle, part.end_cycle,
                        {"bytes": part.nbytes})


def chrome_trace(res: Any) -> dict[str, Any]:
    """The trace of ``res`` (a Result of ``simulate(..., trace=True)``) as a Trace Event
    Format object (``{"traceEvents": [...], ...}``). Raises ValueError if ``res`` holds no
    timeline."""
    timeline: Timeline | None = getattr(res, "timeline", None)
    if timeline is None:
        raise ValueError(f"{res.workload} on {res.hardware} was simulated without a timeline: "
                         "run simulate(hw, wl, trace=True)")
    w = _Writer(timeline.clock_hz)
    queues = timeline.queues
    tids: dict[tuple[str, str], int] = {}
    for q in queues:
        for kind in ("compute", "read", "write"):
            tids[(q, kind)] = len(tids) + 1
    bus_tid = len(tids) + 1
    used: set[int] = set()
    for op, args in zip(timeline.ops, _ops_args(res), strict=True):
        reads = [iv for iv in op.intervals if iv.kind == "read"]
        writes = [iv for iv in op.intervals if iv.kind == "write"]
        before = len(w.events)
        _compute_track(w, tids[(op.queue, "compute")], op, args)
        _dma_track(w, tids[(op.queue, "read")], op, reads, "read")
        _dma_track(w, tids[(op.queue, "write")], op, writes, "write")
        for iv in sorted(reads + writes, key=lambda iv: (iv.bus_cycle, iv.end_cycle)):
            w.slice(bus_tid, f"{op.name} {iv.kind} step {iv.step}", "dram", iv.bus_cycle,
                    iv.end_cycle, {"bytes": iv.nbytes, "queue": op.queue})
        used.update(e["tid"] for e in w.events[before:])
    names = {tid: (q if kind == "compute" else f"{q} DMA {kind}")
             for (q, kind), tid in tids.items()}
    names[bus_tid] = "DRAM bus"
    links = (("device link", getattr(res, "collectives", ())),
             ("host link", getattr(res, "host_transfers", ())))
    for name, transfers in links:
        if not transfers:
            continue
        tid = max(names) + 1
        names[tid] = name
        used.add(tid)
        for t in transfers:
            w.slice(tid, t.name, "link", t.start_cycle, t.end_cycle,
                    {"bytes": t.nbytes, "waited_cycles": t.start_cycle - t.ready_cycle})
    meta: list[dict[str, Any]] = [{
        "ph": "M", "name": "process_name", "pid": PID, "tid": 0, "ts": 0,
        "args": {"name": f"pysim: {res.workload} on {res.hardware}"}}]
    for tid in sorted(used):
        meta.append({"ph": "M", "name": "thread_name", "pid": PID, "tid": tid, "ts": 0,
                     "args": {"name": names[tid]}})
        meta.append({"ph": "M", "name": "thread_sort_index", "pid": PID, "tid": tid, "ts": 0,
                     "args": {"sort_index": tid}})
    slices = sorted(w.events, key=lambda e: (e["tid"], e["ts"]))  # stable: parents first
    return {
        "traceEvents": meta + slices,
        "displayTimeUnit": "ns",
        "otherData": {"hardware": res.hardware, "workload": res.workload,
                      "clock_hz": timeline.clock_hz, "latency_cycles": res.latency_cycles,
                      "energy_j": res.energy_j},
    }


def write_chrome_trace(res: Any, path: str | PathLike) -> None:
    """Write ``chrome_trace(res)`` to ``path`` as JSON (open it in the Perfetto UI or
    chrome://tracing)."""
    trace = chrome_trace(res)
    with open(path, "w", encoding="utf-8") as f:
        json.dump(trace, f, separators=(",", ":"), allow_nan=False)
        f.write("\n")
