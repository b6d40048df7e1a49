"""Maps every op of a workload onto the hardware: unit, tiling, DRAM traffic, SRAM counts.

The output is a list of ``OpMapping`` in execution order: everything the engine needs to time
the op (compute cycles, DRAM bytes, steps) and everything the energy model needs to price it
(MACs, SRAM and register-file accesses, vector operations), all as counts.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from functools import cache, lru_cache
from typing import Any, NamedTuple

import numpy as np

from pysim.energy.model import dram_pj, leakage_pj, register_pj, sram_pj
from pysim.engine.dram import dram_key
from pysim.errors import ConfigError, WorkloadError
from pysim.mapping.attention import map_attention
from pysim.mapping.bank_conflicts import fold_fetch_stalls
from pysim.mapping.capacity import check_capacity
from pysim.mapping.counts import add_bits, add_tile_traffic, flow, transfer
from pysim.mapping.kept_area import KeptBlock
from pysim.mapping.level_flows import add_compulsory, behind, chains
from pysim.mapping.loop_nest import GemmMapping
from pysim.mapping.mac_memo import MAPPED, PER_HARDWARE, MappedOps, op_signature, snapshot
from pysim.mapping.planned_residency import choose_residency
from pysim.mapping.sparsity import (
    activation_storage_ratio,
    effective_k,
    mac_energy_factor,
    weight_storage_ratio,
)
from pysim.mapping.subtile import SubTilePrices, choose_c_subtile
from pysim.mapping.tensor_traffic import attribute
from pysim.mapping.tiling import (
    LATENCY_TIE,
    ROLES,
    Capacity,
    FeatureMapA,
    NoTileFits,
    Objective,
    accumulate_reads,
    candidate_tiles,
    plan_gemm,
    tile_shapes,
)
from pysim.workload.number_formats import element_format, storage_ratio

MAX_STEPS = 8  # engine steps per op: tiles are grouped so one op costs O(100) SimPy events


@dataclass(frozen=True)
class OpMapping:
    """One op's mapping and counts. Bytes are DRAM bytes; SRAM counts are in bits so any word
    width can price them."""

    index: int
    name: str
    op_type: str
    unit: str
    unit_kind: str
    deps: tuple[int, ...]
    macs: int
    weight_bits: int
    act_bits: int
    dtype: str
    compute_cycles: float  # on the unit, bank-conflict stalls included (whole on accelerators)
    steps: int
    dram_read_bytes: int
    dram_write_bytes: int
    compulsory_read_bytes: int
    prefetch_read_bytes: int  # reads no producer writes (weights, graph inputs)
    compulsory_write_bytes: int
    sram_read_bits: dict[str, int] = field(default_factory=dict)  # scratchpad name -> bits
    sram_write_bits: dict[str, int] = field(default_factory=dict)
    # per scratchpad, bits: (in, out, compulsory in, compulsory out) of its transfers to and
    # from other memories (pysim/mapping/level_flows.py)
    level_flows: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    rf_accesses: int = 0
    rf_pj: float | None = None  # register energy when the unit prices its PE registers
    mac_pj: float = 0.0  # energy of one MAC on the op's unit
    # MACs per cycle of the op's MAC unit at its peak in the op's formats (0: a vector op);
    # the op's utilisation is macs / (cycles x this) (``_MacUnit.peak_macs_per_cycle_for``)
    peak_macs_per_cycle: float = 0.0
    vector_ops: int = 0
    bank_stall_cycles: int = 0
    port_stall_cycles: int = 0  # cycles the op's scratchpad traffic outlasts its compute
    tiling: str = ""
    dataflow: str = ""
    mapping: GemmMapping | None = None  # the MAC op's loop nest (print it)
    resident_inputs: tuple[str, ...] = ()
    # DRAM address streams: (bytes, contiguous run bytes, pitch between runs) per operand
    dram_streams: tuple[tuple[int, int, int], ...] = ()
    # The engine queue the op serializes on ("": its unit's own); GPU kernels share a stream.
    queue: str = ""
    # SRAM energy inside the unit (a GPU SM's shared memory), pJ, added to ``sram``.
    local_sram_pj: float = 0.0
    # Whether the DRAM bytes move inside the op's compute time (a GPU kernel, timed with its
    # memory traffic) rather than by the engine's DMA around it.
    in_kernel_traffic: bool = False
    # (tensor, DRAM bytes read, written, compulsory) of the op (pysim/mapping/tensor_traffic.py)
    tensor_traffic: tuple[tuple[str, int, int, int], ...] = ()


def _roles(hw: Any) -> dict[str, Any]:
    return {role: hw.for_operand(role) for role in ("input", "weight", "output")}


def _capacity(hw: Any) -> Callable[[int], tuple[Capacity, dict[str, Any]]]:
    """Room per scratchpad (in ``hw.scratchpads`` order) for the tiles of the operands it
    holds innermost, and the levels behind each operand's innermost one, as a function of the
    ``reserved`` bytes of the input scratchpad that hold tensors kept on chip for later ops
    (the layout is read once; each reserved size's Capacity is made once)."""
    spads = _roles(hw)
    names = [s.name for s in hw.scratchpads]
    layout = [(tuple(r for r in ROLES if spads[r].name == s.name), s.size_bytes,
               s.name == spads["input"].name, s.double_buffered) for s in hw.scratchpads]
    outer = tuple((r, names.index(o.name)) for r in ROLES for o in hw.chain(r)[1:])

    varying = next((g for g, (_, _, holds_input, _) in enumerate(layout) if holds_input), -1)

    @cache
    def at(reserved: int) -> tuple[Capacity, dict[str, Any]]:
        groups = tuple((roles, max(0, size - (reserved if holds_input else 0)), db)
                       for roles, size, holds_input, db in layout)
        return Capacity(groups=groups, outer=outer, varying=varying), spads

    return at


def _capability(unit: Any) -> str:
    """What a unit runs, for error messages."""
    note = getattr(unit, "capability", None)
    return note if isinstance(note, str) else f"precisions {list(unit.precisions)}"


def _widths(op: Any) -> str:
    named = ", ".join(f"{key} {getattr(op, key)}" for key in ("weight_format", "act_format")
                      if getattr(op, key, None))
    return (f"{op.dtype} operands, {op.weight_bits}-bit weights and {op.act_bits}-bit "
            f"activations" + (f" ({named})" if named else ""))


# The dispatch policies that map an op on every unit that runs it (_mapped_dispatch), and the
# closed-form score each orders the units by (_dispatch_score).
MAPPED_POLICIES = {"fastest": "fastest", "lowest_energy": "lowest_energy",
                   "earliest_finish": "fastest"}


def _dispatch_score(hw: Any, unit: Any, op: Any, policy: str) -> float:
    """The figure ``policy`` minimises for ``op`` on ``unit`` before any mapping
    (``_pick_unit``; under fastest ``map_workload`` then maps a GEMM on each unit,
    ``_mapped_dispatch``). fastest: the unit's closed-form cycles for the op's whole GEMM
    view (count x tile_cost(m, n, k).cycles; an attention op as its two GEMMs per head, Q K^T
    and P V, causal mask ignored); lowest_energy: MACs x the unit's energy per MAC (x its
    sparsity factor). SRAM, DRAM and register traffic are left out of both: they depend on
    the tiling, which depends on the unit."""
    policy = MAPPED_POLICIES.get(policy, policy)
    if policy == "lowest_energy":
        return op.macs * unit.mac_pj(hw.energy_table, op) * mac_energy_factor(op, unit)
    if unit.kind == "tensor_core":  # the kernel's time (pysim/gpu/kernels.py)
        from pysim.gpu.kernels import mac_kernel
        from pysim.gpu.presets import GpuPreset

        return mac_kernel(GpuPreset.of(hw, unit), op).seconds * hw.clock_hz
    view = op.gemm_view()
    if view is not None:
        views = [(view.count, view.m, view.n, view.k)]
    elif hasattr(op, "head_dim"):  # fused attention
        heads = op.batch * op.heads
        views = [(heads, op.q_len, op.kv_len, op.head_dim),
                 (heads, op.q_len, op.head_dim, op.kv_len)]
    else:  # no GEMM shape: MACs at the unit's peak rate
        return op.macs / max(1e-9, float(unit.peak_macs_per_cycle))
    return float(sum(count * unit.tile_cost(m, n, k, op).cycles for count, m, n, k in views))


def _mapped_dispatch(hw: Any, op: Any, objective: Objective) -> list[Any] | None:
    """The units ``map_workload`` maps an op on to dispatch it by their mappings, in the
    order listed: under ``dispatch: fastest``, ``lowest_energy`` or ``earliest_finish``, an op
    no ``unit`` pins, with a GEMM view or a fused attention, that several units support, none
    a tensor core (a kernel's time, ``_dispatch_score``) and the tiling search pricing time
    and energy (not the ``traffic`` objective). The op then runs on the unit whose mapping the
    search expects to finish first (its DRAM, ports and compute as the engine times them,
    ``Objective``) or to spend the least energy (``_energy_estimate``), not on the closed form
    of the whole GEMM or the MAC energy alone: a unit's tiles and its memory traffic are what
    the run pays, as a cost-model allocation of layers to cores (Stream, Symons et al., arXiv
    2212.10612) evaluates each core's mapping. None: ``_pick_unit``'s unit as it is."""
    if (getattr(hw, "dispatch", "first") not in MAPPED_POLICIES
            or getattr(op, "unit", None) is not None
            or (op.type != "attention" and op.gemm_view() is None)
            or objective.kind == "traffic"):
        return None
    units = [u for u in hw.units if u.supports(op)]
    if len(units) < 2 or any(u.kind == "tensor_core" for u in units):
        return None
    return units


def _attention_estimates(hw: Any, op: Any, m: dict[str, Any], objective: Objective) -> None:
    """A fused attention's ``latency_estimate`` and ``energy_estimate`` in its mapping ``m``
    (pysim/mapping/attention.py): its compute against its DRAM transfers at the configured
    bandwidth, whichever is longer (the blocks' traffic is the same on every unit; their
    compute is what differs), and its scratchpad and DRAM bits priced as the energy model
    prices them."""
    moved = m["dram_read_bytes"] + m["dram_write_bytes"]
    m["latency_estimate"] = max(float(m["compute_cycles"]),
                                moved / max(1e-9, objective.bytes_per_cycle))
    m["search_energy_pj"] = (sram_pj(hw, m["sram_read_bits"], m["sram_write_bits"])
                             + dram_pj(hw, m["dram_read_bytes"], m["dram_write_bytes"]))
    m["energy_estimate"] = _energy_estimate(hw, op, m)


def _energy_estimate(hw: Any, op: Any, m: dict[str, Any]) -> float:
    """The op's energy (pJ) in mapping ``m`` as ``lowest_energy`` compares units: the tiling
    search's DRAM, scratchpad and fill energy (``search_energy_pj``), the MACs, the PE
    registers, the vector unit's dequantization, and the chip's static and clock energy over
    the op's ``latency_estimate`` (a unit that takes longer leaks longer; pysim/energy/model.py
    prices the same components per op and per run)."""
    table = hw.energy_table
    cycles = float(m["latency_estimate"])
    return (float(m.get("search_energy_pj", 0.0)) + op.macs * float(m.get("mac_pj", 0.0))
            + register_pj(table, m.get("rf_pj"), m.get("rf_accesses", 0), op.weight_bits,
                          op.act_bits)
            + m.get("vector_ops", 0) * table.vector_op_pj(hw.vector.bits)
            + leakage_pj(hw, cycles) + hw.energy.clock_pj_per_cycle * cycles)


# earliest_finish weighs the units whose own mapped time is within this fraction of the
# fastest's: a unit free sooner but much slower at the op shares the DRAM channel longer than
# the estimates see (Timeline): with every unit weighed a random graph on lowp_edge ran 18 %
# longer than under fastest; at 10 % none ran more than 1.5 % longer
# (benchmarks/validate_dispatch.py, "earliest_finish").
EFT_SPAN = 0.1


class Timeline:
    """The schedule ``dispatch: earliest_finish`` estimates while it maps, in program order:
    when each op is estimated to end, when each unit is free, and when the DRAM channel is
    (each op's transfers at the configured bandwidth after the ones before it). An op starts
    once its inputs' producers have ended and its unit is free; it ends after its mapped time
    (``latency_estimate``; a vector op's compute or transfers, whichever is longer) and after
    its transfers have had the channel. The engine instead interleaves concurrent ops'
    transfers step by step, so an op that shares the channel with one started beside it ends
    later than this says (two DRAM-bound GEMMs on twin arrays: the first, whose consumers wait,
    3.0 -> 9.5 k cycles), which is where earliest_finish loses to fastest."""

    def __init__(self, bytes_per_cycle: float) -> None:
        self.bytes_per_cycle = max(1e-9, bytes_per_cycle)
        self.end: list[float] = []
        self.free: dict[str, float] = {}
        self.channel = 0.0

    def ready(self, deps: tuple[int, ...]) -> float:
        return max((self.end[d] for d in deps), default=0.0)

    def start(self, unit: str, ready: float) -> float:
        return max(ready, self.free.get(unit, 0.0))

    def finish(self, unit: str, ready: float, cycles: float, dram_bytes: float) -> float:
        """When an op of ``cycles`` moving ``dram_bytes`` would end on ``unit``."""
        start = self.start(unit, ready)
        return max(start + cycles,
                   max(start, self.channel) + dram_bytes / self.bytes_per_cycle)

    def commit(self, unit: str, ready: float, cycles: float, dram_bytes: float) -> None:
        """The next op (program order) placed on ``unit``."""
        end = self.finish(unit, ready, cycles, dram_bytes)
        self.channel = max(self.start(unit, ready), self.channel) + (
            dram_bytes / self.bytes_per_cycle)
        self.end.append(end)
        self.free[unit] = end


def _compute_floor(op: Any, unit: Any) -> float:
    """Cycles no mapping of ``op`` on ``unit`` undercuts: its MACs at the unit's peak rate (0
    for a zero-skipping unit, whose cycles follow the nonzeros)."""
    if getattr(unit, "sparsity", "none") == "skipping":
        return 0.0
    return float(op.macs / max(1e-9, unit.peak_macs_per_cycle_for(op)))


def _best_mapped(hw: Any, op: Any, units: list[Any],
                 map_on: Callable[[Any], dict[str, Any]]) -> tuple[Any, dict[str, Any]]:
    """The unit of ``units`` whose mapping (``map_on``) has the smallest
    ``latency_estimate`` (``dispatch: fastest``) or ``energy_estimate`` (``lowest_energy``),
    and that mapping; figures within a relative 1e-9 tie and go to the unit listed first. The
    units are mapped in the order of their closed-form score (``_dispatch_score``: the likely
    best first), and one whose floor exceeds the best figure so far is not mapped: under
    fastest its compute alone at its peak rate (``_compute_floor``: no mapping computes
    faster), under lowest_energy its MAC energy (on lowp_edge an int8 convolution is not
    mapped on the bit-serial array, 16x slower at w8a8: ResNet-50 cold 184 -> 33 ms)."""
    policy = hw.dispatch
    field = "energy_estimate" if policy == "lowest_energy" else "latency_estimate"
    best: tuple[float, int, Any, dict[str, Any]] | None = None
    closed = [_dispatch_score(hw, u, op, policy) for u in units]
    for j in sorted(range(len(units)), key=closed.__getitem__):
        u = units[j]
        if best is not None:
            # MACs x the unit's pJ per MAC (x its sparsity factor), or its compute floor
            floor = closed[j] if policy == "lowest_energy" else _compute_floor(op, u)
            if floor > best[0] * (1 + 1e-9):
                continue
        m_u = map_on(u)
        figure = float(m_u[field])
        if (best is None or figure < best[0] * (1 - 1e-9)
                or (figure <= best[0] * (1 + 1e-9) and j < best[1])):
            best = (figure, j, u, m_u)
    assert best is not None  # units is not empty
    return best[2], best[3]


def _dispatched(hw: Any, op: Any, unit: Any, units: list[Any] | None,
                map_on: Callable[[Any], dict[str, Any]], timeline: Timeline | None,
                deps: tuple[int, ...], mapped: MappedOps,
                key: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
    """The unit a MAC op runs on and its mapping (``map_on``): ``unit`` (``_pick_unit``'s)
    where ``units`` is None, else the one of ``units`` the dispatch picks by their mappings
    (earliest_finish on the ``timeline``; fastest and lowest_energy remembered by ``key``)."""
    if units is None:
        return unit, map_on(unit)
    if timeline is not None:
        return _earliest_finish(hw, op, units, map_on, timeline, timeline.ready(deps))
    return _remembered_best(hw, op, units, map_on, mapped, key)


def _remembered_best(hw: Any, op: Any, units: list[Any],
                     map_on: Callable[[Any], dict[str, Any]], mapped: MappedOps,
                     key: tuple[Any, ...]) -> tuple[Any, dict[str, Any]]:
    """``_best_mapped``'s unit, remembered per hardware by what the op's mapping reads
    (``key``): the same op in the same setting is dispatched alike, so a warm run maps it on
    the chosen unit alone (its mapping remembered too)."""
    name = mapped.dispatched.get(key)
    if name is not None:
        unit = next(u for u in units if u.name == name)
        return unit, map_on(unit)
    unit, m = _best_mapped(hw, op, units, map_on)
    mapped.dispatched[key] = unit.name
    while len(mapped.dispatched) > PER_HARDWARE:
        mapped.dispatched.popitem(last=False)
    return unit, m


def _earliest_finish(hw: Any, op: Any, units: list[Any],
                     map_on: Callable[[Any], dict[str, Any]], timeline: Timeline,
                     ready: float) -> tuple[Any, dict[str, Any]]:
    """``dispatch: earliest_finish``: among the units whose mapped time
    (``latency_estimate``) is within EFT_SPAN of the fastest's, the one on which the op, its
    inputs ``ready`` then, ends first on the ``timeline`` (HEFT's earliest-finish-time rule,
    Topcuoglu, Hariri and Wu, IEEE TPDS 2002, over the ops in program order): independent ops
    spread over identical or near-identical units, where fastest sends them all to the one
    listed first. Ends within a relative 1e-9 tie and go to the unit listed first; a unit
    whose compute floor exceeds the span is not mapped."""
    closed = [_dispatch_score(hw, u, op, "fastest") for u in units]
    mapped: dict[int, dict[str, Any]] = {}
    fastest = math.inf
    for j in sorted(range(len(units)), key=closed.__getitem__):
        if _compute_floor(op, units[j]) > fastest * (1 + EFT_SPAN) * (1 + 1e-9):
            continue
        mapped[j] = map_on(units[j])
        fastest = min(fastest, float(mapped[j]["latency_estimate"]))
    best: tuple[float, int] | None = None
    for j, m_u in sorted(mapped.items()):
        if float(m_u["latency_estimate"]) > fastest * (1 + EFT_SPAN) * (1 + 1e-9):
            continue
        end = timeline.finish(units[j].name, ready, float(m_u["latency_estimate"]),
                              m_u["dram_read_bytes"] + m_u["dram_write_bytes"])
        if best is None or end < best[0] * (1 - 1e-9):
            best = (end, j)
    assert best is not None  # the fastest unit is within the span
    return units[best[1]], mapped[best[1]]


def _pick_unit(hw: Any, op: Any) -> Any:
    """The unit a MAC op runs on: the unit named by ``op.unit`` if set (WorkloadError if the
    hardware has none of that name or it cannot run the op), else, among the units whose
    ``supports(op)`` holds, the one ``hw.dispatch`` prefers: "first" (listed first),
    "fastest" or "lowest_energy" (``_dispatch_score``; ties within 1e-9 go to the unit listed
    first). No unit supports the op: WorkloadError naming it."""
    pinned = getattr(op, "unit", None)
    if pinned is not None:
        unit = next((u for u in hw.units if u.name == pinned), None)
        if unit is None:
            units = ", ".join(f"{u.name} ({u.kind})" for u in hw.units)
            what = (f"the vector unit {pinned!r}, which runs no MAC ops"
                    if pinned == hw.vector.name else f"unit {pinned!r}, which {hw.name!r} lacks")
            raise WorkloadError(f"op {op.name!r} is pinned to {what}; pin it to one of: {units}")
        if not unit.supports(op):
            binary = (" (a binary op: it needs a unit with 1-bit support, e.g. kind xnor)"
                      if op.weight_bits == op.act_bits == 1 else "")
            raise WorkloadError(
                f"op {op.name!r} is pinned to unit {unit.name!r} ({unit.kind}), which cannot run "
                f"it: the op has {_widths(op)}{binary}; {unit.name!r} supports "
                f"{_capability(unit)}")
        return unit
    policy = getattr(hw, "dispatch", "first")
    if policy == "first":
        for unit in hw.units:
            if unit.supports(op):
                return unit
        candidates = []
    else:
        candidates = [u for u in hw.units if u.supports(op)]
    if not candidates:
        raise WorkloadError(
            f"op {op.name!r} needs {_widths(op)} but no unit supports them (units: "
            f"{'; '.join(f'{u.name} ({u.kind}): {_capability(u)}' for u in hw.units)})"
        )
    if len(candidates) == 1:
        return candidates[0]
    best, best_score = candidates[0], math.inf
    for unit in candidates:
        score = _dispatch_score(hw, unit, op, policy)
        if score < best_score * (1 - 1e-9):
            best, best_score = unit, score
    return best


def _tile_counts(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int,
                 rows_per_tile: int) -> np.ndarray:
    """Input indices (0 .. size-1, padding excluded) each tile of ``rows_per_tile`` consecutive
    outputs touches: a strided or dilated kernel skips the indices no tap reads; neighbouring
    tiles both count their shared halo."""
    starts = np.arange(0, out, rows_per_tile)
    ends = np.minimum(starts + rows_per_tile, out) - 1
    if dilation == 1 and stride <= kernel:  # the taps of consecutive outputs overlap: a range
        lo = np.maximum(0, starts * stride - pad)
        hi = np.minimum(size - 1, ends * stride - pad + kernel - 1)
        return np.maximum(0, hi - lo + 1)
    if dilation == 1:  # disjoint windows of `kernel` indices
        first = np.arange(out) * stride - pad
        per_row = np.maximum(0, np.minimum(size - 1, first + kernel - 1)
                             - np.maximum(0, first) + 1)
        return np.add.reduceat(per_row, starts)
    taps = np.arange(out)[:, None] * stride - pad + dilation * np.arange(kernel)[None, :]
    counts = []
    for lo_row, hi_row in zip(starts.tolist(), ends.tolist(), strict=True):
        v = taps[lo_row:hi_row + 1].ravel()
        counts.append(np.unique(v[(v >= 0) & (v < size)]).size)
    return np.array(counts)


def _range_stats(size: int, out: int, kernel: int, stride: int, pad: int,
                 rows_per_tile: int) -> tuple[int, int]:
    """``_tile_counts``' sum and max where it counts a range per tile (dilation 1, stride <=
    kernel), in Python: tiles that no edge clips touch ``(rows - 1) x stride + kernel``
    indices each, the few others are counted one by one."""
    def count(t: int) -> int:
        first = t * rows_per_tile
        last = min(first + rows_per_tile, out) - 1
        return max(0, min(size - 1, last * stride - pad + kernel - 1)
                   - max(0, first * stride - pad) + 1)

    tiles = -(-out // rows_per_tile)
    step = rows_per_tile * stride
    # unclipped: starts at index >= 0, holds rows_per_tile outputs, ends at index <= size - 1
    lo = -(-pad // step)
    hi = min(out // rows_per_tile,
             (size - kernel + pad - (rows_per_tile - 1) * stride) // step + 1)
    if hi <= lo:
        edges = [count(t) for t in range(tiles)]
        return sum(edges), max(edges)
    whole = (rows_per_tile - 1) * stride + kernel
    edges = [count(t) for t in range(min(lo, tiles))] + [count(t) for t in range(hi, tiles)]
    return (hi - lo) * whole + sum(edges), max([whole, *edges])


@lru_cache(maxsize=4096)
def _tile_stats(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int,
                rows_per_tile: int) -> tuple[int, int]:
    """(sum, max) of ``_tile_counts``."""
    if dilation == 1 and stride <= kernel:
        return _range_stats(size, out, kernel, stride, pad, rows_per_tile)
    counts = _tile_counts(size, out, kernel, stride, pad, dilation, rows_per_tile)
    return int(counts.sum()), int(counts.max())


def _touched(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int,
             rows_per_tile: int) -> int:
    """Input indices the tiles covering ``out`` outputs touch, summed over the tiles."""
    return _tile_stats(size, out, kernel, stride, pad, dilation, rows_per_tile)[0]


def _touched_most(size: int, out: int, kernel: int, stride: int, pad: int, dilation: int,
                  rows_per_tile: int) -> int:
    """The most input indices any tile of ``rows_per_tile`` consecutive outputs touches."""
    return _tile_stats(size, out, kernel, stride, pad, dilation, rows_per_tile)[1]


class ConvGeometry(NamedTuple):
    """What the input-traffic rules read of a convolution (hashable: a cache key)."""

    in_h: int
    in_w: int
    in_c: int
    groups: int
    act_bits: int
    kernel: tuple[int, int]
    stride: tuple[int, int]
    padding: tuple[int, int]
    dilation: tuple[int, int]
    out_h: int
    out_w: int
    input_bytes: int
    type: str = "conv2d"

    @classmethod
    def of(cls, op: Any) -> ConvGeometry:
        return cls(op.in_h, op.in_w, op.in_c, op.groups, op.act_bits, tuple(op.kernel),
                   tuple(op.stride), tuple(op.padding), tuple(op.dilation), op.out_h, op.out_w,
                   op.input_bytes)


@lru_cache(maxsize=4096)
def _feature_map(op: ConvGeometry, gm: int, gk: int, mts: tuple[int, ...],
                 burst: int) -> FeatureMapA:
    """A convolution's A for the tiling search, for every candidate row tile ``mts``."""
    image = op.out_h * op.out_w
    pixel = op.in_c // op.groups * op.act_bits / 8
    gathers = _conv_gathers_columns(op, burst)
    cols = (_touched(op.in_w, op.out_w, op.kernel[1], op.stride[1], op.padding[1], 1, op.out_w)
            if gathers else op.in_w)
    h = (op.in_h, op.out_h, op.kernel[0], op.stride[0], op.padding[0], op.dilation[0])
    passes, per_k = [], []
    for mt in mts:
        passes.append((mt, _a_fetch_bytes(op, mt, gm, gk, burst)))
        if mt >= image:  # whole images
            rows = -(-mt // image) * _touched_most(*h, op.out_h)
        else:  # a tile of mt pixels spans at most this many output rows
            rows = _touched_most(*h, min(op.out_h, -(-mt // op.out_w) + (mt % op.out_w > 0)))
        per_k.append((mt, rows * cols * pixel / gk))
    run, pitch = _conv_a_run(op, burst)
    return FeatureMapA(tuple(passes), tuple(per_k), run, pitch)


class PatchesGeometry(NamedTuple):
    """A convolution's weight-gradient GEMM (pysim.training.ops.WeightGrad: dW = X^T dY, M =
    the kernel's taps x a group's channels, K = the output positions) as its A's reads see it
    (hashable: a cache key)."""

    channels: int  # a group's input channels
    taps: int  # the kernel's taps (kh x kw)
    pixels_per_position: float  # input pixels per output position (stride^2 for a 'same' one)
    image_bytes: int  # one group's feature map, in bytes
    row_bytes: int  # one group's input row (width x channels)
    act_bits: int

    @classmethod
    def of(cls, op: Any) -> PatchesGeometry | None:
        """The geometry of ``op`` if it is a convolution's weight gradient (a 4-D X), else
        None."""
        x_shape, dy_shape = getattr(op, "x_shape", None), getattr(op, "dy_shape", None)
        if x_shape is None or dy_shape is None or len(x_shape) != 4 or len(dy_shape) != 4:
            return None
        count, gm, gk = op.count, op.m, op.k
        channels = x_shape[-1] // count
        if channels < 1 or x_shape[-1] % count or gm % channels or gm <= channels:
            return None  # a 1x1 kernel's patches are X itself (strided: a gather of it)
        if math.prod(dy_shape[:3]) != gk or dy_shape[0] != x_shape[0]:
            return None  # K is not dY's positions: no convolution's geometry to read
        pixels = math.prod(x_shape[:3])
        return cls(channels, gm // channels, pixels / gk,
                   -(-pixels * channels * op.act_bits // 8), -(-x_shape[2] * channels
                                                            * op.act_bits // 8), op.act_bits)


@lru_cache(maxsize=4096)
def _patches_map(op: PatchesGeometry, gm: int, gk: int, mts: tuple[int, ...],
                 burst: int = 1) -> FeatureMapA:
    """A weight gradient's A (X's patches, ``gm`` = taps x channels rows by ``gk`` output
    positions) as the DMA reads it: the feature map, the patch matrix built on chip as a
    convolution's forward builds its own (``_feature_map``; a TPU runs the weight gradient as
    a convolution, cuDNN's wgrad as an implicit GEMM). Each row tile takes the cheaper of two
    row orders:

    - tap-major, channels fastest (HWIO filters): a tile of whole channel sets reads the
      feature map once per tile, however many of the taps it holds, in whole input rows; a
      narrower one reads its channels' slice of one tap's shifted window, the patch matrix's
      own bytes, a run of its channels at each pixel's pitch;
    - channel-major, taps fastest (OIHW filters, PyTorch's): a tile of c = mt / taps whole
      channels reads those channels of every pixel once, each pixel's slice a run of its c
      channels rounded up to ``burst`` bytes at the pixel's pitch (NHWC), so the passes of all
      tiles read X about once where a burst holds no more than c channels' bytes.

    Each pass is no more than the patch matrix's bytes (a strided kernel's patches skip
    pixels). On chip a tile holds, per output position, its taps' channels or the input
    pixels the position's window advances by, whichever is fewer. Not counted: the halo rows
    neighbouring K tiles both read (a few rows per tile of whole output rows)."""
    patches = -(-gm * gk * op.act_bits // 8)
    pixel = -(-op.channels * op.act_bits // 8)  # one pixel's channels: the pitch of a slice
    pixels = round(gk * op.pixels_per_position)  # the feature map's pixels
    passes, per_k, runs = [], [], []
    for mt in mts:
        if mt >= op.channels:
            tap_major = min(patches, -(-gm // mt) * op.image_bytes)
            held = min(mt, op.channels * op.pixels_per_position)
            run = (op.row_bytes, op.row_bytes)
        else:  # each tap's window: its mt channels of every pixel, at the pixel's pitch
            tap_major, held = patches, mt
            run = (min(pixel, -(-mt * op.act_bits // 8)), pixel)
        best = tap_major
        c = mt // op.taps
        if mt % op.taps == 0 and 0 < c < op.channels:
            c_bytes = -(-c * op.act_bits // 8)
            fetch = -(-c_bytes // burst) * burst  # a pixel's c channels, in whole bursts
            channel_major = -(-op.channels // c) * pixels * min(fetch, pixel)
            if channel_major < best:
                best, run = channel_major, (min(fetch, pixel), pixel)
                held = min(mt, c * op.pixels_per_position)
        passes.append((mt, best))
        per_k.append((mt, held * op.act_bits / 8))
        if run != (op.row_bytes, op.row_bytes):
            runs.append((mt, *run))
    return FeatureMapA(tuple(passes), tuple(per_k), op.row_bytes, op.row_bytes, tuple(runs))


def _conv_gathers_columns(op: Any, burst: int) -> bool:
    """Whether the DMA reads only the input columns the kernel touches: the kernel skips
    columns (stride > its span) and each touched group of pixels is at least a burst."""
    span = op.dilation[1] * (op.kernel[1] - 1) + 1
    group = (op.kernel[1] * op.in_c // op.groups * op.act_bits + 7) // 8
    return op.stride[1] > span and op.dilation[1] == 1 and group >= burst


def _a_fetch_bytes(op: Any, mt: int, gm: int, gk: int, burst: int = 1) -> int:
    """DRAM bytes of one full pass over A. For a GEMM that is A itself; for a convolution the
    patch matrix is built on chip, so one pass reads the input rows the kernel touches (per
    group; a strided or dilated kernel skips rows), each row whole unless the kernel also
    skips columns in burst-sized groups, plus the halo rows that neighbouring row tiles share
    when M is tiled."""
    if op.type != "conv2d":
        return (gm * gk * op.act_bits + 7) // 8
    per_group = op.input_bytes // op.groups
    image = op.out_h * op.out_w
    rows = op.out_h if mt >= image else max(1, mt // op.out_w)
    h = op.dilation[0], op.stride[0], op.padding[0]
    touched_rows = _touched(op.in_h, op.out_h, op.kernel[0], h[1], h[2], h[0], rows)
    cols = op.in_w
    if _conv_gathers_columns(op, burst):
        cols = _touched(op.in_w, op.out_w, op.kernel[1], op.stride[1], op.padding[1], 1,
                        op.out_w)
    return math.ceil(per_group * touched_rows * cols / (op.in_h * op.in_w))


def _fetch_stalls(unit, spads, mt: int, nt: int, kt: int, op, b_bits: int) -> int:
    """Bank-conflict stalls of one fold: the operand(s) streamed in from the unit's edges."""
    bits = {"input": op.act_bits, "weight": b_bits}
    return sum(fold_fetch_stalls(spads[role], lanes, steps, bits[role])
               for role, lanes, steps in unit.fetch_streams(mt, nt, kt))


def hardware_objective(hw: Any, spads: dict[str, Any]) -> Objective:
    """The tiling objective of ``hw.mapper.objective`` with this hardware's prices: DRAM
    bandwidth in bytes per cycle, transfer latency, DRAM and scratchpad energy per byte / bit."""
    prices = hw.scratchpad_pj_per_bit
    per_bit = []
    for role in ("input", "weight", "output"):
        per_bit += list(prices[spads[role].name])
    return Objective(
        kind=hw.mapper.objective,
        bytes_per_cycle=hw.dram.bandwidth_bytes_per_s / hw.clock_hz,
        max_steps=MAX_STEPS,
        dram_read_pj_per_byte=8 * hw.dram.read_pj_per_bit,
        dram_write_pj_per_byte=8 * hw.dram.write_pj_per_bit,
        sram_pj_per_bit=tuple(per_bit),  # type: ignore[arg-type]
        level_pj_per_bit=tuple(prices[s.name] for s in hw.scratchpads),
        level_port_bits=tuple(s.port_bits_per_cycle for s in hw.scratchpads),
        transfer_latency=hw.dram.row_miss_latency_ns * 1e-9 * hw.clock_hz,
        halves=2 if all(s.double_buffered for s in hw.scratchpads) else 1,
        dram_key=dram_key(hw.dram),
        dram_headroom=hw.dram.headroom,
    )


def objective_for(hw: Any, op: Any, unit: Any, base: Objective,
                  keeps_output: bool = False) -> Objective:
    """``base`` for one op: under EDP its MAC and register-file energy (what no tiling
    changes) scale the product; the other objectives do not need it (a constant offset).
    ``keeps_output``: the output stays on chip for its consumers (the residency plan), so its
    final write is neither DRAM traffic nor bus time."""
    if keeps_output:
        base = replace(base, c_kept=True)
    if getattr(unit, "private_operand_buffers", False):  # its PEs do not read through ports
        base = replace(base, level_port_bits=())
    if base.kind != "edp":
        return base
    table = hw.energy_table
    mac = op.macs * (unit.mac_pj(table, op) * mac_energy_factor(op, unit)
                     + unit.rf_accesses_per_mac * table.rf_access_pj(
                         max(op.weight_bits, op.act_bits)))
    return replace(base, fixed_pj=mac)


def more_grains(unit: Any, op: Any) -> tuple[tuple[int, int, int], ...]:
    """The grains of ``unit`` with fewer arrays side by side, if it has any (systolic arrays)."""
    fewer = getattr(unit, "fewer_array_grains", None)
    return fewer(op) if fewer is not None else ()


def datapath_scale_group(op: Any, unit: Any) -> int:
    """The block size whose power-of-two scales ``unit`` applies in its datapath
    (``block_scales: datapath`` and a weight format with E8M0 block scales: MX), else 0 (the
    vector unit dequantizes, ``Op.dequant_work``)."""
    quant = op.quant
    if (getattr(unit, "block_scales", "vector") != "datapath" or op.weight_format is None
            or quant is None or quant.granularity != "group"):
        return 0
    return quant.group_size if element_format(op.weight_format).pow2_scales else 0


def _map_mac_op(op, unit, cap, spads, on_chip: frozenset[str], m: dict, burst: int,
                vector_ops_per_cycle: int, objective: Objective,
                hw_spads: tuple[Any, ...] = (), act_ratio: tuple[float, float] = (1.0, 1.0),
                source: str = "<dict>", memo: MappedOps | None = None,
                memo_key: tuple[Any, ...] = ()) -> tuple[int, int] | None:
    """Map MAC op ``op`` on ``unit`` into ``m``. With a ``memo`` (the hardware's mapped ops),
    everything after the tiling search is remembered by ``memo_key`` (what the caller's own
    key holds but the room left for tiles) and the tiling found: past the search the mapping
    reads the scratchpads' room only through the tiling, so an op that finds another room
    but the same tiling (a training graph's GEMM beside hundreds of kept-area sizes) reuses
    it. Returns the bytes of ``cap``'s varying group over which the tiling search finds the
    same tiling (``GemmTiling.room``; None: not known), so the caller can reuse the whole
    mapping there."""
    view = op.gemm_view()
    count, gm, gn, gk = view.count, view.m, view.n, view.k
    a_on_chip = bool(op.inputs) and op.inputs[0] in on_chip
    b_on_chip = len(op.inputs) > 1 and op.inputs[1] in on_chip
    psum_bits = unit.psum_bits(op)
    b_bits = op.input_bits()[1] if op.type == "matmul" else op.weight_bits  # B may differ
    grain_m, grain_n, grain_k = unit.grains(op)
    # Weights (bias included) are re-read in full as often as the B operand is; a unit with
    # sparsity support reads them compressed (values + metadata).
    ratio = weight_storage_ratio(op, unit)
    b_pass = math.ceil(ratio * (op.weight_bytes // count)) if op.weight_bytes else None
    fewer = more_grains(unit, op)
    a_map = None
    if op.type == "conv2d" or (patches := PatchesGeometry.of(op)) is not None:
        mts = tuple(candidate_tiles((gm, gn, gk), (grain_m, grain_n, grain_k),
                                    fewer)[0].tolist())
        a_map = (_feature_map(ConvGeometry.of(op), gm, gk, mts, burst)
                 if op.type == "conv2d" else _patches_map(patches, gm, gk, mts, burst))
    model = unit.tile_model(op)
    # A number format's scales ride with the values through DRAM (a convolution's feature-map
    # passes count them already: op.input_bytes).
    fmt_in = 1.0 if op.type == "conv2d" else op.input_bytes / max(1, op.input_value_bytes)
    fmt_out = op.output_bytes / max(1, op.output_value_bytes)
    # ... and a format's scales (along K) ride in the tiles and scratchpad reads of B (the
    # weight format) and of A (the activation format: MXFP8 activations).
    b_scales = storage_ratio((gn, gk), op.weight_format) if op.type != "matmul" else 1.0
    a_scales = storage_ratio((gm, gk), op.act_format)
    try:
        t = plan_gemm(gm, gn, gk, op.act_bits, b_bits, op.output_bits, psum_bits, cap,
                      grain_m, grain_n, grain_k, a_on_chip, burst, 0, model, objective,
                      a_map, b_pass, act_ratio[0] * fmt_in, act_ratio[1] * fmt_out, b_scales,
                      fewer, a_scales)
    except NoTileFits as exc:
        raise ConfigError(_too_small(op, view, cap, hw_spads, exc, source)) from None
    if memo is not None:
        known = memo.tiled.recall((*memo_key, t))
        if known is not None:
            m.update(known)
            return t.room
    a_reads = 0 if a_on_chip else (
        t.a_refetch * math.ceil(act_ratio[0] * _a_fetch_bytes(op, t.mt, gm, gk, burst))
        if op.type == "conv2d" else t.a_read_bytes)
    b_reads = 0 if b_on_chip else (t.b_refetch * b_pass if b_pass is not None
                                   else math.ceil(ratio * t.b_read_bytes))
    # Tiles run back to back on the unit: their steady cycles add up and one fill / drain
    # is exposed (pysim/mapping/tile_model.py); zero-skipping units walk a shorter K.
    lanes = getattr(unit, "cols", grain_n)
    shapes = tile_shapes(gm, gn, gk, t)
    times = np.array([count * n_tiles for n_tiles, *_ in shapes], dtype=np.int64)
    ms, ns, ks = (np.array([s[i] for s in shapes], dtype=np.int64) for i in (1, 2, 3))
    ks = np.array([effective_k(op, unit, int(kt), lanes) for kt in ks], dtype=np.int64)
    c = model.evaluate(ms, ns, ks)
    cycles = int((times * c.steady).sum() + c.fill.max())
    folds = int((times * c.folds).sum())
    bank_stalls = sum(int(times[j] * c.folds[j]) * _fetch_stalls(
        unit, spads, int(ms[j]), int(ns[j]), int(ks[j]), op, b_bits) for j in range(len(ms)))
    c_inner, sub = spads["output"], None
    bits = (op.act_bits, b_bits, psum_bits)
    ratios = (ratio * b_scales, a_scales)
    accumulated = count * int(accumulate_reads(gm, gn, gk, t.kt)) * psum_bits
    if t.c_level >= 0:  # C's tile lives at an outer level of its chain
        spads = {**spads, "output": hw_spads[t.c_level]}
        m["output_level"] = spads["output"].name
        sub = _c_subtile(unit, model, c, times, ms, ns, ks, (grain_m, grain_n), cap, c_inner,
                         spads, hw_spads, objective, (op.act_bits, b_bits, psum_bits), ratio)
        if sub is None and objective.level_port_bits:
            # The search priced this tiling's port time with the array's partial sums in
            # sub-tiles at C's inner level; walking the whole tile sends them through the
            # outer level's ports instead, which cheaper energy must not make a bottleneck
            # (tpu_v1's unified buffer once took VGG-16's conv4 at twice its compute).
            alt = _c_subtile(unit, model, c, times, ms, ns, ks, (grain_m, grain_n), cap,
                             c_inner, spads, hw_spads, objective,
                             (op.act_bits, b_bits, psum_bits), ratio, must_pay=False)
            if alt is not None:
                fixed = _fixed_bits(spads, hw_spads, count, a_reads, b_reads, t)
                bound = []
                for way in (None, alt):
                    walked: dict[str, Any] = {"sram_read_bits": {}, "sram_write_bits": {}}
                    _walk_c(walked, spads, c_inner, way, c, times, ms, ns, bits, ratios,
                            accumulated)
                    bound.append(max(cycles, _port_bound(hw_spads, walked, fixed)))
                if bound[1] < bound[0] * (1 - LATENCY_TIE):
                    sub = alt
    _walk_c(m, spads, c_inner, sub, c, times, ms, ns, bits, ratios, accumulated)
    if sub is not None:
        c = sub.cost
    _served_from_outer(m, spads, hw_spads, count, t)
    macs = int((times * c.macs).sum())
    factor = mac_energy_factor(op, unit)  # gated / skipped zero operands
    weight_fills = math.ceil(ratio * (times * c.b_reads).sum())  # weights loaded = read out
    input_fills = None
    if getattr(unit, "dataflow", "") == "rs":
        # Eyeriss's PE (JSSC 2017, Sec. V-B): per MAC the ifmap spad is read, and a zero found
        # there gates the filter spad read and the psum read and write; the spads are filled
        # once per element delivered (a multicast counted once).
        input_fills = int((times * c.a_reads).sum())
        rf = math.ceil(macs * (1 + 3 * factor)) + input_fills + weight_fills
    else:
        rf = int(unit.rf_accesses_per_mac * macs)
        if getattr(unit, "sparsity", "none") == "gating":  # gated PEs leave registers as is
            rf = math.ceil(rf * factor)
    registers = getattr(unit, "registers", None)
    if registers is not None:
        m["rf_pj"] = registers.pj(macs * factor, weight_fills, input_fills)
        if input_fills is not None and registers.input is not None:  # the read that finds 0
            m["rf_pj"] += macs * (1 - factor) * registers.input.read_pj
    # Dequantizing the accumulators (per tensor / channel / group scales) runs on the vector
    # unit alongside the array: the op takes the longer of the two; MX block scales applied in
    # the datapath cost no vector work (their shifts are in the MAC energy, map_workload).
    # A weight gradient's bias gradient (pysim.training.ops.WeightGrad) is summed there too,
    # from the dY tiles the array reads, and written after dW.
    dequant = (0 if datapath_scale_group(op, unit) else op.dequant_work()) + op.bias_grad_work()
    if dequant:
        cycles = max(cycles, math.ceil(dequant / vector_ops_per_cycle))
    bias_grad = op.bias_grad_bytes()
    m.update(
        compute_cycles=cycles + bank_stalls,
        # the op's time as the search expects the engine to run it, its ``count`` GEMMs
        # back to back (dispatch: fastest compares units by it, _mapped_dispatch), never
        # below the compute found here
        latency_estimate=max(count * float(t.latency_cycles), float(cycles + bank_stalls)),
        # DRAM, scratchpads and fills as the search prices them (Objective; under EDP it adds
        # the MACs and registers, fixed_pj, which _energy_estimate counts itself)
        search_energy_pj=count * (float(t.energy_pj) - objective.fixed_pj),
        bank_stall_cycles=bank_stalls,
        dram_read_bytes=count * (a_reads + b_reads + t.c_read_bytes),
        dram_write_bytes=count * t.c_write_bytes + bias_grad,
        # what a kept output saves: C's final write as the tiling writes it (whole bursts)
        kept_write_bytes=count * (t.c_final_bytes if t.c_final_bytes >= 0 else t.c_write_bytes)
        + bias_grad,
        fills={"input": count * a_reads, "weight": count * b_reads,
               "output": count * t.c_read_bytes},
        rf_accesses=rf,
        vector_ops=dequant,
        mapping=GemmMapping(count, gm, gn, gk, t.mt, t.nt, t.kt, t.order,
                            getattr(unit, "dataflow", ""), (grain_m, grain_n, grain_k),
                            objective.kind, t.resident,
                            hw_spads[t.c_level].name if t.c_level >= 0 else "",
                            (sub.m, sub.n) if sub is not None else (),
                            c_inner.name if sub is not None else "",
                            getattr(unit, "custom_spatial", ()),
                            folds),
        dataflow=getattr(unit, "dataflow", ""),
        steps_hint=_steps(count * t.tiles * t.mt),  # row chunks of each tile (tiling.py)
        dram_streams=_streams(t, gn, gk, count, a_reads, b_reads, op.act_bits, b_bits,
                              psum_bits, a_map.run_of(t.mt) if a_map is not None else None),
    )
    if memo is not None:
        memo.tiled.remember((*memo_key, t), m)
    return t.room


def _walk_c(m: dict[str, Any], spads: dict[str, Any], inner: Any, sub: Any, whole: Any,
            times: np.ndarray, ms: np.ndarray, ns: np.ndarray, bits: tuple[int, int, int],
            ratios: tuple[float, float], accumulated: int) -> None:
    """Count into ``m`` the array's reads and partial sums for C's tile at
    ``spads["output"]``: walked whole (``sub`` None) or in ``sub``-tiles at ``inner``, each
    leaving into C's level once; every K tile after a C tile's first reads back the
    ``accumulated`` bits earlier ones left there. ``bits`` = (A, B, partial sum), ``ratios``
    = (B's, A's storage ratio)."""
    a_bits, b_bits, psum_bits = bits
    b_ratio, a_ratio = ratios
    if sub is None:
        add_tile_traffic(m, spads, whole, times, a_bits, b_bits, psum_bits, b_ratio=b_ratio,
                         a_ratio=a_ratio)
    else:  # the array walks the tile in sub-tiles its innermost output level holds
        add_tile_traffic(m, {**spads, "output": inner}, sub.cost, times, a_bits, b_bits,
                         psum_bits, b_ratio=b_ratio, a_ratio=a_ratio)
        drained = int((times * ms * ns).sum()) * psum_bits  # each sub-tile leaves once
        transfer(m, inner.name, spads["output"].name, drained)
    add_bits(m["sram_read_bits"], spads["output"].name, accumulated)
    if sub is not None:  # partial sums read back out of C's outer level
        flow(m, spads["output"].name, out=accumulated)


def _fixed_bits(spads: dict[str, Any], hw_spads: tuple[Any, ...], count: int, a_reads: int,
                b_reads: int, t: Any) -> dict[str, dict[str, int]]:
    """The scratchpad bits of an op that do not depend on how C's tile is walked: DMA fills
    of A, B and C's read-back, C's writes to DRAM out of its level, and the operands an outer
    level serves (``GemmTiling.kept_outer``), as ``_map_mac_op`` and ``map_workload`` count
    them."""
    m: dict[str, Any] = {"sram_read_bits": {}, "sram_write_bits": {}}
    for role, nbytes in (("input", count * a_reads), ("weight", count * b_reads),
                         ("output", count * t.c_read_bytes)):
        add_bits(m["sram_write_bits"], spads[role].name, 8 * nbytes)
    add_bits(m["sram_read_bits"], spads["output"].name, 8 * count * t.c_write_bytes)
    _served_from_outer(m, spads, hw_spads, count, t)
    return m


def _served_from_outer(m: dict[str, Any], spads: dict[str, Any], hw_spads: tuple[Any, ...],
                       count: int, t: Any) -> None:
    """An operand kept at an outer level is served from there in place of DRAM
    (``GemmTiling.kept_outer``): its re-reads move from that level into the operand's own."""
    refills = dict(t.refill_bytes)
    for name, g in t.kept_outer:
        role = {"A": "input", "B": "weight", "C": "output"}[name]
        outer, inner, nbytes = hw_spads[g].name, spads[role].name, 8 * count * refills.get(name, 0)
        transfer(m, outer, inner, nbytes)
        if name == "C":  # spilled out of the inner level, written there, then read back
            transfer(m, inner, outer, nbytes)


def _port_bound(hw_spads: tuple[Any, ...], *parts: dict[str, dict[str, int]]) -> float:
    """The cycles the scratchpads' ports need for the bits of ``parts`` together
    (``Scratchpad.port_cycles``; ``port_stalls`` charges what exceeds the compute)."""
    def total(key: str, name: str) -> int:
        return sum(p[key].get(name, 0) for p in parts)

    return max((s.port_cycles(total("sram_read_bits", s.name), total("sram_write_bits", s.name))
                for s in hw_spads), default=0.0)


def _c_subtile(unit, model, whole, times, ms, ns, ks, grains, cap, inner, spads, hw_spads,
               objective: Objective, bits: tuple[int, int, int], b_ratio: float,
               must_pay: bool = True):
    """C's sub-tile in its innermost output level (pysim/mapping/subtile.py), when that level
    holds partial sums only; None when it holds other operands too or no sub-tile pays
    (``must_pay``: else the cheapest sub-tile whatever it saves)."""
    groups = cap.resolved_groups()
    home = next((g for g, (roles, _, _) in enumerate(groups) if "output" in roles), None)
    if home is None or groups[home][0] != ("output",) or not objective.level_pj_per_bit:
        return None
    _, size, double_buffered = groups[home]
    index = {sp.name: i for i, sp in enumerate(hw_spads)}
    price = objective.level_pj_per_bit
    registers = getattr(unit, "registers", None)
    fill = registers.weight.write_pj if registers is not None and registers.weight else 0.0
    prices = SubTilePrices(
        a_read=price[index[spads["input"].name]][0],
        b_read=price[index[spads["weight"].name]][0] * b_ratio,
        inner_read=price[index[inner.name]][0], inner_write=price[index[inner.name]][1],
        outer_read=price[index[spads["output"].name]][0],
        outer_write=price[index[spads["output"].name]][1], weight_fill=fill * b_ratio)
    return choose_c_subtile(model, whole, times, ms, ns, ks, grains,
                            size // (2 if double_buffered else 1), bits, prices, must_pay)


def _streams(t, gn: int, gk: int, count: int, a_reads: int, b_reads: int, a_bits: int,
             b_bits: int, psum_bits: int,
             a_run: tuple[int, int] | None) -> tuple[tuple[int, int, int], ...]:
    """Row-major tensors: a tile spanning whole rows is one run, else each tile row is one.
    A feature map's A (a convolution's input, a weight gradient's X) is read as its
    ``FeatureMapA`` says for the tile (``a_run``: run, pitch; ``_feature_map``,
    ``_patches_map``)."""
    def run(rows_in_tile: int, tile_cols: int, cols: int, bits: int) -> tuple[int, int]:
        pitch = (cols * bits + 7) // 8
        if tile_cols >= cols:
            return pitch * rows_in_tile, pitch * rows_in_tile
        return (tile_cols * bits + 7) // 8, pitch

    if a_run is None:
        a_run = run(t.mt, t.kt, gk, a_bits)
    c_run = run(t.mt, t.nt, gn, psum_bits)
    return (
        (count * a_reads, *a_run),
        (count * b_reads, *run(t.kt, t.nt, gn, b_bits)),
        (count * (t.c_write_bytes + t.c_read_bytes), *c_run),
    )


def _conv_a_run(op: Any, burst: int) -> tuple[int, int]:
    """(run, pitch) bytes of a convolution's input reads: whole NHWC rows (per group), or the
    touched pixel groups of a row when the kernel skips columns."""
    pixel = (op.in_c // op.groups * op.act_bits + 7) // 8
    if _conv_gathers_columns(op, burst):
        return op.kernel[1] * pixel, op.stride[1] * pixel
    row = op.in_w * pixel
    return row, row


def _too_small(op: Any, view: Any, cap: Capacity, hw_spads: tuple[Any, ...], exc: NoTileFits,
               source: str) -> str:
    """One line for an op whose smallest tile fits no scratchpad: each scratchpad too small
    for its share of that tile, as ``<field> must be >= <KiB> for op ..., got <KiB> (<source>:
    <field>)``; the GEMM's own message if no one scratchpad is (only their combination)."""
    lines = []
    for i, ((roles, room, db), least) in enumerate(
            zip(cap.resolved_groups(), exc.least, strict=False)):
        if not roles or least <= room or i >= len(hw_spads):
            continue
        spad, field = hw_spads[i], f"scratchpads[{i}].size_kib"
        kept = spad.size_bytes - room  # bytes holding tensors kept between ops
        need_kib = (least + kept) / 1024
        what = "+".join(roles) + (", double-buffered" if db else "")
        held = f", {kept / 1024:g} KiB of it holding tensors kept between ops" if kept else ""
        lines.append(f"{field} must be >= {need_kib:.4g} KiB for op {op.name!r} (the smallest "
                     f"tile of its GEMM M={view.m} N={view.n} K={view.k}: {what}{held}), got "
                     f"{spad.size_kib:g} ({source}: {field})")
    if lines:
        return "; ".join(lines)
    sizes = ", ".join(f"{s.name}: {s.size_kib:g} KiB" for s in hw_spads)
    return f"op {op.name!r} does not fit the scratchpads ({sizes}; {source}): {exc}"


def port_stalls(m: dict[str, Any], scratchpads: tuple[Any, ...]) -> None:
    """Cycles the op waits on scratchpad ports, added to its compute: every level's ports move
    its reads and writes (operand fetches, DMA fills and drains, partial sums) in no fewer
    than ``Scratchpad.port_cycles``; the op takes at least the longest of these."""
    busy = max((s.port_cycles(m["sram_read_bits"].get(s.name, 0),
                              m["sram_write_bits"].get(s.name, 0)) for s in scratchpads),
               default=0.0)
    stall = max(0, math.ceil(busy - 1e-9 - m["compute_cycles"]))
    m["compute_cycles"] += stall
    m["port_stall_cycles"] = stall


def _steps(tiles: int) -> int:
    return max(1, min(MAX_STEPS, tiles))


def map_workload(hw: Any, wl: Any, notes: dict[str, str] | None = None,
                 tick: Callable[[], Any] | None = None,
                 placement: list[KeptBlock] | None = None) -> list[OpMapping]:
    """Map each op in execution order. Raises WorkloadError if an op has no unit to run on.
    A GPU (every MAC unit a ``tensor_core``) maps each op to a kernel
    (``pysim.gpu.kernels.map_kernels``). ``notes`` (if given) receives ``"residency"``: how
    inter-layer reuse was chosen (``mapper.residency``); ``placement`` (if given) the kept
    area's addresses (pysim/mapping/kept_area.py; none under FIFO); ``tick`` (if given) is
    called once per op mapped (a progress bar)."""
    from pysim.gpu.kernels import is_gpu, map_kernels

    if is_gpu(hw):
        kernels = map_kernels(hw, wl)
        if tick is not None:
            for _ in kernels:
                tick()
        return kernels
    check_capacity(hw, wl)
    ops = list(wl.ops)
    index = {op.name: i for i, op in enumerate(ops)}
    producers = {tensor: index[name] for tensor, name in wl.producers.items()}
    graph_outputs = set(wl.outputs)
    spads = _roles(hw)
    budget = spads["input"].size_bytes // 4  # a quarter of the input scratchpad for reuse
    res, note = choose_residency(wl, budget, hw.mapper.residency,
                                 hw.mapper.residency_time_limit_s)
    if notes is not None:
        notes["residency"] = note
    if placement is not None:
        placement.extend(res.placement)
    seen_inputs: set[str] = set()  # tensors an op has read (the first reads are compulsory)
    out_level: dict[str, str] = {}  # op output -> the level its producer leaves it in
    chain_of = chains(hw)
    out: list[OpMapping] = []
    base = hardware_objective(hw, spads)
    mapped = MAPPED.of(hw)  # MAC ops mapped before on this hardware (pysim/mapping/mac_memo.py)
    if mapped.capacity is None:
        mapped.capacity = _capacity(hw)
    capacity_at = mapped.capacity  # by bytes kept on chip
    timeline = Timeline(base.bytes_per_cycle) if hw.dispatch == "earliest_finish" else None
    dispatched: dict[str, int] = {}  # ops dispatched by their mappings, by the unit chosen
    for i, op in enumerate(ops):
        if tick is not None:
            tick()
        on_chip = res.resident_inputs[i]
        reserved = res.resident_bytes_during[i]
        cap, spads = capacity_at(reserved)
        deps = tuple(sorted({producers[t] for t in op.inputs if t in producers}))
        m: dict[str, Any] = {"sram_read_bits": {}, "sram_write_bits": {}}
        # Activations crossing DRAM compressed (dram.compress_activations): read, written.
        codec = hw.dram.compress_activations
        act_ratio = (activation_storage_ratio(op.act_sparsity, op.act_bits, codec),
                     activation_storage_ratio(op.out_sparsity, op.output_bits, codec))
        out_stored = math.ceil(act_ratio[1] * wl.tensors[op.output].bytes)
        # Compulsory traffic: first read of graph inputs and of the op's weights.
        comp_by_role = {"input": 0, "weight": op.weight_bytes}  # by the level each fills
        first_touch = []
        moved_in = 0  # op outputs its A brings into the input scratchpad from another level
        for j, t in enumerate(op.inputs):
            if t in seen_inputs:
                continue
            seen_inputs.add(t)
            made = t in producers
            if made and (j > 0 or out_level[t] == spads["input"].name):
                continue  # already where its reader reads it
            view = op.gemm_view() if op.type == "conv2d" and j == 0 else None
            first = math.ceil(act_ratio[0] * (  # what it reads (a slice: its part)
                view.count * _a_fetch_bytes(op, view.m, view.m, view.k, hw.dram.burst_bytes)
                if view is not None else wl.tensors[t].bytes * op.read_fraction()))
            if made:
                moved_in += first
            else:
                first_touch.append(t)
                comp_by_role["input" if j == 0 else "weight"] += first
        comp_write = out_stored if op.output in graph_outputs else 0
        mac_op = op.type == "attention" or op.gemm_view() is not None
        # several units to map it on (_mapped_dispatch), else the one _pick_unit scores best
        units = _mapped_dispatch(hw, op, base) if mac_op else None
        unit = units[0] if units else (_pick_unit(hw, op) if mac_op else None)
        if unit is not None and unit.kind == "tensor_core":
            _map_on_tensor_cores(hw, unit, op, m)
            unit_name, unit_kind = unit.name, unit.kind
            m["mac_pj"] = unit.mac_pj(hw.energy_table, op)
        elif unit is not None and op.type == "attention":  # fused (pysim/mapping/attention.py)
            room = next(size for roles, size, _ in cap.resolved_groups() if "input" in roles)

            def attend_on(unit: Any, op: Any = op, base_m: dict[str, Any] = m,
                          room: int = room, spads: dict[str, Any] = spads,
                          on_chip: frozenset[str] = on_chip) -> dict[str, Any]:
                """The fused attention's mapping on ``unit``, with the figures dispatch
                compares (``_attention_estimates``)."""
                m = snapshot(base_m)
                try:
                    map_attention(op, unit, hw, spads, room, on_chip, m)
                except ValueError as exc:
                    raise ConfigError(str(exc)) from None
                m["mac_pj"] = unit.mac_pj(hw.energy_table, op)
                m["peak_macs_per_cycle"] = unit.peak_macs_per_cycle_for(op)
                _attention_estimates(hw, op, m, base)
                return m

            unit, m = _dispatched(hw, op, unit, units, attend_on, timeline, deps, mapped,
                                  (op_signature(op), reserved,
                                   *(t in on_chip for t in op.inputs)))
            unit_name, unit_kind = unit.name, unit.kind
        elif unit is not None:
            # what the mapping reads of the op besides its unit: its fields, whether A and B
            # are kept on chip, the bytes kept beside it, whether its output stays on chip
            setting = (op_signature(op), bool(op.inputs) and op.inputs[0] in on_chip,
                       len(op.inputs) > 1 and op.inputs[1] in on_chip, reserved,
                       not res.writes_output[i])

            def map_on(unit: Any, op: Any = op, base_m: dict[str, Any] = m, i: int = i,
                       on_chip: frozenset[str] = on_chip, cap: Any = cap,
                       spads: dict[str, Any] = spads, act_ratio: tuple[float, float] = act_ratio,
                       setting: tuple[Any, ...] = setting) -> dict[str, Any]:
                """The op's mapping on ``unit``: the same op (but for names) mapped before
                on this hardware and unit in the same setting, or at another kept-area size
                that leaves the tiling search the same fits, else mapped now."""
                key = ((setting[0], unit.name), *setting[1:])
                known = mapped.recall(key)
                if known is None and cap.varying >= 0:
                    known = mapped.rooms.recall_at((*key[:3], key[4]),
                                                   cap.groups[cap.varying][1])
                if known is not None:
                    return known
                m = snapshot(base_m)
                w_ratio = weight_storage_ratio(op, unit)
                if w_ratio < 1.0:
                    m["weight_ratio"] = w_ratio
                found = _map_mac_op(op, unit, cap, spads, on_chip, m, hw.dram.burst_bytes,
                                    hw.vector.ops_per_cycle, objective_for(
                                        hw, op, unit, base, not res.writes_output[i]),
                                    hw.scratchpads, act_ratio, hw.source, mapped,
                                    (*key[:3], key[4]))
                m["mac_pj"] = unit.mac_pj(hw.energy_table, op) * mac_energy_factor(op, unit)
                m["peak_macs_per_cycle"] = unit.peak_macs_per_cycle_for(op)
                if group := datapath_scale_group(op, unit):  # a partial-sum shift per block
                    m["mac_pj"] += hw.energy_table.shift_pj(unit.psum_bits(op)) / group
                m["energy_estimate"] = _energy_estimate(hw, op, m)
                mapped.remember(key, m)
                if found is not None:
                    mapped.rooms.remember_at((*key[:3], key[4]), found, m)
                return m

            unit, m = _dispatched(hw, op, unit, units, map_on, timeline, deps, mapped, setting)
            # weights a sparse unit reads compressed are stored so: their first read is that
            w_ratio = weight_storage_ratio(op, unit)
            if w_ratio < 1.0:
                comp_by_role["weight"] += math.ceil(w_ratio * op.weight_bytes) - op.weight_bytes
            unit_name, unit_kind = unit.name, unit.kind
        else:
            vec = hw.vector
            work = op.vector_work()
            m["compute_cycles"] = math.ceil(work / vec.ops_per_cycle)
            m["vector_ops"] = work
            frac = op.read_fraction()
            in_bytes = sum(math.ceil(wl.tensors[t].bytes * frac * act_ratio[0])
                           for t in op.inputs if t not in on_chip)
            m["dram_read_bytes"] = in_bytes + op.weight_bytes
            m["prefetch"] = op.weight_bytes + sum(
                math.ceil(wl.tensors[t].bytes * frac * act_ratio[0]) for t in op.inputs
                if t not in on_chip and t not in producers)
            m["dram_write_bytes"] = out_stored
            all_in = sum(math.ceil(wl.tensors[t].bytes * frac) for t in op.inputs)
            add_bits(m["sram_read_bits"], spads["input"].name, 8 * all_in)
            add_bits(m["sram_write_bits"], spads["output"].name, 8 * wl.tensors[op.output].bytes)
            half = max(1, spads["input"].size_bytes // 2)
            m["steps_hint"] = _steps(math.ceil((all_in + wl.tensors[op.output].bytes) / half))
            chunk = max(1, (all_in + wl.tensors[op.output].bytes) // m["steps_hint"])
            m["dram_streams"] = ((m["dram_read_bytes"] + m["dram_write_bytes"], chunk, chunk),)
            unit_name, unit_kind = vec.name, "vector"
        if not res.writes_output[i]:
            m["dram_write_bytes"] = max(0, m["dram_write_bytes"]
                                        - m.get("kept_write_bytes", out_stored))
        level_of = {role: spads[role].name for role in ROLES}  # where each operand lives
        level_of["output"] = m.get("output_level", level_of["output"])
        if op.output in res.kept_outputs and level_of["output"] != level_of["input"]:
            # kept for its consumers: moved from the output level into the input scratchpad
            transfer(m, level_of["output"], spads["input"].name, 8 * wl.tensors[op.output].bytes)
        # DMA fills write each operand's own scratchpad; drains read the output's.
        fills = m.get("fills", {"input": m["dram_read_bytes"]})
        if "prefetch" not in m:  # reads no producer writes may load before the producers end
            independent = (op.inputs[0] not in producers if op.inputs else False,
                           op.weight_bytes > 0 or (len(op.inputs) > 1
                                                   and op.inputs[1] not in producers))
            m["prefetch"] = (fills.get("input", 0) * independent[0]
                             + fills.get("weight", 0) * independent[1])
        for role, nbytes in fills.items():
            transfer(m, None, level_of[role], 8 * nbytes)
        transfer(m, level_of["output"], None, 8 * m["dram_write_bytes"])
        # Levels behind an operand's own pass its DRAM traffic on (written, read).
        through = dict(fills)
        through["output"] = through.get("output", 0) + m["dram_write_bytes"]
        for role, nbytes in through.items():
            for level in behind(chain_of, role, level_of[role]):
                transfer(m, None, level, 8 * nbytes)
                transfer(m, level, None, 8 * nbytes)
        # ... and the part of it all no capacity could save (pysim/mapping/level_flows.py)
        out_level[op.output] = level_of["output"]
        comp_read = comp_by_role["input"] + comp_by_role["weight"]
        add_compulsory(m, chain_of, level_of, fills, comp_by_role, 8 * comp_write,
                       8 * out_stored if (wl.consumers.get(op.output)
                                          and level_of["output"] != level_of["input"]) else 0,
                       8 * moved_in)
        # a GPU kernel's time holds its own traffic; PEs with operand memories of their own
        # do not read through the scratchpad's ports
        if not m.get("in_kernel_traffic") and not getattr(unit, "private_operand_buffers",
                                                          False):
            port_stalls(m, hw.scratchpads)
        if units is not None:
            dispatched[unit_name] = dispatched.get(unit_name, 0) + 1
        if timeline is not None:
            moved = m["dram_read_bytes"] + m["dram_write_bytes"]
            timeline.commit(unit_name, timeline.ready(deps),
                            float(m.get("latency_estimate", m["compute_cycles"])), moved)
        out.append(
            OpMapping(
                index=i,
                name=op.name,
                op_type=op.type,
                unit=unit_name,
                unit_kind=unit_kind,
                deps=deps,
                macs=op.macs,
                weight_bits=op.weight_bits,
                act_bits=op.act_bits,
                dtype=op.dtype,
                compute_cycles=int(m["compute_cycles"]),
                steps=m.pop("steps_hint"),
                dram_read_bytes=int(m["dram_read_bytes"]),
                dram_write_bytes=int(m["dram_write_bytes"]),
                prefetch_read_bytes=min(int(m["prefetch"]), int(m["dram_read_bytes"])),
                compulsory_read_bytes=comp_read,
                compulsory_write_bytes=int(comp_write),
                sram_read_bits=m["sram_read_bits"],
                sram_write_bits=m["sram_write_bits"],
                level_flows={k: (v[0], v[1], v[2], v[3]) for k, v in m.get("flows", {}).items()},
                rf_accesses=int(m.get("rf_accesses", 0)),
                rf_pj=m.get("rf_pj"),
                mac_pj=float(m.get("mac_pj", 0.0)),
                peak_macs_per_cycle=float(m.get("peak_macs_per_cycle", 0.0)),
                vector_ops=int(m.get("vector_ops", 0)),
                bank_stall_cycles=int(m.get("bank_stall_cycles", 0)),
                port_stall_cycles=int(m.get("port_stall_cycles", 0)),
                tiling=m.get("tiling") or str(m.get("mapping") or ""),
                mapping=m.get("mapping"),
                dataflow=m.get("dataflow", ""),
                resident_inputs=tuple(sorted(on_chip)),
                dram_streams=m["dram_streams"],
                local_sram_pj=float(m.get("local_sram_pj", 0.0)),
                in_kernel_traffic=bool(m.get("in_kernel_traffic", False)),
                tensor_traffic=attribute(op, wl.tensors, int(m["dram_read_bytes"]),
                                         int(m["dram_write_bytes"]), m.get("fills"), on_chip,
                                         comp_read, int(comp_write), first_touch,
                                         m.get("weight_ratio", 1.0)),
            )
        )
    if notes is not None:
        notes["dispatch"] = dispatch_note(hw, dispatched)
    return out


def dispatch_note(hw: Any, dispatched: dict[str, int]) -> str:
    """How the MAC ops found their units (``Result.layers.attrs["dispatch"]``): the policy, and
    where it compared several units' mappings, how many ops went to each."""
    policy = getattr(hw, "dispatch", "first")
    if not dispatched:
        return f"{policy}: no op compared several units' mappings"
    counts = ", ".join(f"{name} {n}" for name, n in sorted(dispatched.items()))
    return (f"{policy}: {sum(dispatched.values())} ops compared several units' mappings, "
            f"run on {counts}")


def _map_on_tensor_cores(hw: Any, unit: Any, op: Any, m: dict) -> None:
    """A MAC op on a ``tensor_core`` unit of an accelerator (MMA engines next to other units):
    one kernel of the GPU model (pysim/gpu/kernels.py) on the unit's SMs, the hardware's
    outermost scratchpad as their L2 and its DRAM as their HBM; the kernel's time holds its
    DRAM traffic."""
    from pysim.gpu.kernels import mac_kernel, smem_pj_per_byte
    from pysim.gpu.presets import GpuPreset

    gpu = GpuPreset.of(hw, unit)
    k = mac_kernel(gpu, op)
    add_bits(m["sram_read_bits"], hw.chain("input")[-1].name, 8 * k.l2_bytes)
    m.update(compute_cycles=math.ceil(k.seconds * hw.clock_hz), steps_hint=1,
             dram_read_bytes=k.hbm_read_bytes, dram_write_bytes=k.hbm_write_bytes,
             fills={"input": k.hbm_read_bytes}, tiling=k.tiling, in_kernel_traffic=True,
             local_sram_pj=k.smem_bytes * smem_pj_per_byte(hw, gpu),
             peak_macs_per_cycle=k.peak_macs_per_cycle,
             vector_ops=op.vector_work() if op.type == "attention" else 0,
             dram_streams=((k.hbm_read_bytes + k.hbm_write_bytes, hw.dram.row_bytes,
                            hw.dram.row_bytes),))
