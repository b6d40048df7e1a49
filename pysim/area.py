"""Silicon area per component (mm²) by technology node, so sweeps can trade area.

``area_mm2(hw)`` returns ``{component name: mm²}`` for every compute unit, the vector unit and
every scratchpad, plus ``"total"`` (their sum). It is a first-order model of the datapath and
its buffers; I/O, PHYs, the host interface and control are left out (about a third of TPU v1's
die). Sources and the scaling rule (docs/sweeps.md has the full derivation):

SRAM (a scratchpad of B bits, P ports per bank)::

    area = B * bitcell_um2(node) / ARRAY_EFFICIENCY * (1 + PORT_AREA * (P - 1))

- ``SRAM_BITCELL_UM2``: published high-density 6T bitcells (IEDM/ISSCC technology papers):
  Intel 90 nm 1.0, 65 nm 0.570, 45 nm 0.346 (Mistry et al., IEDM 2007), 32 nm 0.171, 22 nm
  0.092, 14 nm 0.0588, 10 nm 0.0312; TSMC 28 nm 0.127, 16 nm FinFET 0.070, N7 0.027 (IEDM
  2016), N5 0.021 (IEDM 2019). Log-log interpolation between nodes; above 90 nm, x node².
- ``ARRAY_EFFICIENCY`` = 0.3: bitcells over macro area for a banked, wide-word scratchpad.
  From the CACTI rule of thumb of ~600 F² per bit including periphery (D. J. Greaves, SoC
  Design lecture notes, Cambridge, after CACTI 5): 600 x 45 nm² = 1.215 µm² against Intel's
  0.346 µm² cell, i.e. 0.28.
- ``PORT_AREA`` = 0.5: each extra port adds half the single-port area (an assumption; 8T
  two-port cells are ~1.3-2x a 6T cell).

Logic, at 45 nm, from Horowitz (ISSCC 2014) as tabulated by Han et al. (EIE, ISCA 2016,
Table I): int add 8/16/32 bit 36/67/137 µm²; int multiply 8/32 bit 282/3495 µm²; fp16
add/multiply 1360/1640 µm²; fp32 add/multiply 4184/7700 µm². A flip-flop bit is 4.52 µm²
(DFF_X1, Nangate 45 nm Open Cell Library). Between points, power laws through neighbouring
points (like pysim's energy table). A systolic PE is a multiplier at its widest precision, an
adder at ``mac_bits`` and its registers (activation, weight — two for weight-stationary, the
shadow weight being double-buffered — and partial sum); a multiplication-free PE
(``multiplier``, docs/low_precision_units.md) has in place of its multiplier the logic that
replaces it, from the same Nangate library's X1 cells (XOR2 1.596 µm², MUX2 1.862 µm²):
L-Mul an integer adder ``bits - 1`` wide (the operands' exponent and mantissa fields, Luo &
Sun 2024), a shift PE a barrel shifter (one MUX2 per activation bit per stage, a stage per
shift-amount bit up to log2 of ``mac_bits``) and a sign select (an XOR2 per bit), a ternary
PE the sign select alone; a vector lane is an fp multiplier and
adder at ``bits`` and three registers. Logic area is multiplied by ``LAYOUT_OVERHEAD`` = 2 (an
assumption: ~70 % standard-cell utilisation plus clock tree, pipeline control and wiring).

Scaling from 45 nm: logic x (node / 45)² (ideal, optimistic below ~16 nm where wires and
cell heights stop scaling); SRAM by the bitcell table above, which captures the slowdown.

Sanity check against TPU v1 (Jouppi et al., ISCA 2017, 28 nm, die < 331 mm²; floor plan: the
Unified Buffer 29 %, the matrix unit 24 %, the accumulators 6 %): configs/tpu_v1.yaml gives
the 24 MiB Unified Buffer 85 mm² (published ~96), the accumulators 14 mm² (~20), the 256x256
matrix unit 34 mm² (~79: the model's MAC lacks the TPU's 16-bit and signed/unsigned operand
support and its real layout overheads, so it is ~2.3x small). tests/test_area.py pins these.
A GPU (``tensor_core`` unit) counts its MMA datapath and on-SM SRAM only: configs/gpu/a100.yaml
gives 96 mm² of the 826 mm² GA100 die (schedulers, L1 tags, FP64 and INT units, the NoC, PHYs
and the host interface are not modelled), so compare GPU areas with each other, not with dies.
"""

from __future__ import annotations

import math
from typing import Any

SRAM_BITCELL_UM2: dict[float, float] = {
    90: 1.0, 65: 0.570, 45: 0.346, 32: 0.171, 28: 0.127, 22: 0.092, 16: 0.070, 14: 0.0588,
    10: 0.0312, 7: 0.027, 5: 0.021,
}
"""Published 6T SRAM bitcell area (µm²) by node (nm); see the module docstring."""

ARRAY_EFFICIENCY = 0.3
PORT_AREA = 0.5
LAYOUT_OVERHEAD = 2.0
DFF_UM2_PER_BIT_45NM = 4.52
REFERENCE_NODE_NM = 45.0

# Horowitz (ISSCC 2014) areas at 45 nm, µm²: (x, area) points of each power law.
_INT_ADD = ((8, 36.0), (16, 67.0), (32, 137.0))             # x = bits
_INT_MULT = ((64, 282.0), (1024, 3495.0))                    # x = weight_bits * act_bits
_FP_ADD = ((16, 1360.0), (32, 4184.0))                       # x = bits
_FP_MULT = ((16, 1640.0), (32, 7700.0))                      # x = bits
XOR2_UM2_45NM = 1.596  # XOR2_X1, Nangate 45 nm Open Cell Library
MUX2_UM2_45NM = 1.862  # MUX2_X1, same library


def _power_law(points: tuple[tuple[float, float], ...], x: float) -> float:
    """y at x on the power law through the two neighbouring points (ends extended)."""
    i = 0
    while i < len(points) - 2 and x > points[i + 1][0]:
        i += 1
    (x0, y0), (x1, y1) = points[i], points[i + 1]
    return y0 * (x / x0) ** (math.log(y1 / y0) / math.log(x1 / x0))


def logic_scale(node_nm: float) -> float:
    """Area factor of logic from 45 nm to ``node_nm``: (node / 45)²."""
    return (node_nm / REFERENCE_NODE_NM) ** 2


def sram_bitcell_um2(node_nm: float) -> float:
    """6T SRAM bitcell area (µm²) at ``node_nm``: the table, log-log interpolated; above its
    largest node, scaled as node²; below its smallest, held at the smallest node's cell."""
    nodes = sorted(SRAM_BITCELL_UM2)
    if node_nm >= nodes[-1]:
        return SRAM_BITCELL_UM2[nodes[-1]] * (node_nm / nodes[-1]) ** 2
    if node_nm <= nodes[0]:
        return SRAM_BITCELL_UM2[nodes[0]]
    hi = next(n for n in nodes if n >= node_nm)
    lo = max(n for n in nodes if n <= node_nm)
    if hi == lo:
        return SRAM_BITCELL_UM2[hi]
    t = math.log(node_nm / lo) / math.log(hi / lo)
    return math.exp(math.log(SRAM_BITCELL_UM2[lo]) * (1 - t) + math.log(SRAM_BITCELL_UM2[hi]) * t)


def sram_mm2(size_bytes: float, node_nm: float, ports: int = 1) -> float:
    """Area (mm²) of ``size_bytes`` of SRAM at ``node_nm`` with ``ports`` ports per bank."""
    bits = 8 * size_bytes
    return (bits * sram_bitcell_um2(node_nm) / ARRAY_EFFICIENCY
            * (1 + PORT_AREA * (ports - 1)) * 1e-6)


def int_multiplier_um2(weight_bits: int, act_bits: int, multiplier: str = "exact",
                       acc_bits: int = 32) -> float:
    """Area (µm², 45 nm, no layout overhead) of what multiplies an integer activation by a
    weight: an array multiplier (``exact``; Horowitz), a barrel shifter of the activation by
    a power-of-two weight's exponent plus a sign select (``shift``), or the sign select alone
    (``ternary``: +1 / -1, a zero gating the update). Module docstring: the cells."""
    if multiplier == "exact" or multiplier == "lmul":  # L-Mul replaces float products only
        return _power_law(_INT_MULT, weight_bits * act_bits)
    sign = act_bits * XOR2_UM2_45NM
    if multiplier == "ternary":
        return sign
    if multiplier == "shift":
        stages = max(1, min(weight_bits - 1, math.ceil(math.log2(acc_bits))))
        return act_bits * stages * MUX2_UM2_45NM + sign
    raise ValueError(f"multiplier must be exact, lmul, shift or ternary, got {multiplier!r}")


def float_multiplier_um2(bits: int, multiplier: str = "exact") -> float:
    """Area (µm², 45 nm, no layout overhead) of a ``bits``-wide float multiplier (Horowitz),
    or of L-Mul's integer adder over the ``bits - 1`` exponent-and-mantissa bits."""
    if multiplier == "lmul":
        return _power_law(_INT_ADD, bits - 1)
    return _power_law(_FP_MULT, bits)


def mac_pe_um2(weight_bits: int, act_bits: int, acc_bits: int = 32, weight_regs: int = 1,
               node_nm: float = REFERENCE_NODE_NM, multiplier: str = "exact") -> float:
    """Area (µm²) of one integer MAC processing element: multiplier (or what replaces it:
    ``multiplier``), accumulator adder and registers (activation, ``weight_regs`` weights,
    partial sum), with the layout overhead."""
    arithmetic = (int_multiplier_um2(weight_bits, act_bits, multiplier, acc_bits)
                  + _power_law(_INT_ADD, acc_bits))
    registers = DFF_UM2_PER_BIT_45NM * (act_bits + weight_regs * weight_bits + acc_bits)
    return (arithmetic + registers) * LAYOUT_OVERHEAD * logic_scale(node_nm)


def vector_lane_um2(bits: int, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Area (µm²) of one vector lane: an fp multiplier and adder at ``bits``, three
    ``bits``-wide registers, with the layout overhead."""
    arithmetic = _power_law(_FP_MULT, bits) + _power_law(_FP_ADD, bits)
    return ((arithmetic + 3 * bits * DFF_UM2_PER_BIT_45NM) * LAYOUT_OVERHEAD
            * logic_scale(node_nm))


def bit_lanes_um2(lanes: int, acc_bits: int, node_nm: float = REFERENCE_NODE_NM) -> float:
    """Area (µm²) of a bit-level dot-product unit: ``lanes`` 1-bit products (an AND or XNOR,
    priced as a 1 x 1 multiplier) reduced by a popcount tree (``lanes`` 1-bit adders), an
    ``acc_bits`` accumulator, and registers for two operand bits per lane and the accumulator."""
    arithmetic = (lanes * (_power_law(_INT_MULT, 1) + _power_law(_INT_ADD, 1))
                  + _power_law(_INT_ADD, acc_bits))
    registers = DFF_UM2_PER_BIT_45NM * (2 * lanes + acc_bits)
    return (arithmetic + registers) * LAYOUT_OVERHEAD * logic_scale(node_nm)


def _systolic_mm2(unit: Any, node_nm: float) -> float:
    """Integer PEs at the widest of ``precisions``; a float array's PEs also hold an fp
    multiplier at the widest float precision and an fp adder at ``float_acc_bits``, with
    registers at those widths; ``multiplier`` swaps the multiplier for what replaces it."""
    weight_regs = 2 if unit.dataflow == "ws" else 1  # double-buffered stationary weights
    um2 = 0.0
    if unit.precisions:
        bits = max(unit.precisions)
        um2 += mac_pe_um2(bits, bits, unit.mac_bits, weight_regs, node_nm, unit.multiplier)
    if unit.float_precisions:
        bits, acc = max(unit.float_precisions), unit.float_acc_bits
        arithmetic = (float_multiplier_um2(bits, unit.multiplier)
                      + _power_law(_FP_ADD, acc))
        registers = 0.0 if unit.precisions else DFF_UM2_PER_BIT_45NM * (
            bits + weight_regs * bits + acc)
        um2 += (arithmetic + registers) * LAYOUT_OVERHEAD * logic_scale(node_nm)
    return unit.pes * um2 * 1e-6


def _bit_serial_mm2(unit: Any, node_nm: float) -> float:
    # Bit Fusion's fusion units hold 16 BitBricks of 2 x 2 bits: 64 one-bit products each.
    lanes = unit.dk * (64 if unit.mode == "bitfusion" else 1)
    return unit.dm * unit.dn * bit_lanes_um2(lanes, unit.acc_bits, node_nm) * 1e-6


def _xnor_mm2(unit: Any, node_nm: float) -> float:
    return unit.pe * bit_lanes_um2(unit.simd, unit.acc_bits, node_nm) * 1e-6


def _tensor_core_mm2(unit: Any, node_nm: float) -> float:
    """The SMs' MMA datapath and their on-SM SRAM: the fp16 MACs per clock of all SMs (int8 on
    a part without fp16), each an fp16 multiplier and an fp32 adder with the layout overhead
    (no registers of their own: operands come from the register file), plus each SM's
    register file and shared memory as SRAM. CUDA cores are the vector unit's; the L2 is a
    scratchpad."""
    from pysim import _core

    dtype = "fp16" if "fp16" in unit.dtypes() else unit.dtypes()[0]
    macs = unit.sms * _core.tc_macs_per_clk_per_sm(unit.arch, dtype, False, None, False)
    mac_um2 = ((_power_law(_FP_MULT, 16) + _power_law(_FP_ADD, 32)) * LAYOUT_OVERHEAD
               * logic_scale(node_nm))
    sram = unit.sms * 1024 * (unit.register_file_kib_per_sm + unit.shared_memory_kib_per_sm)
    return macs * mac_um2 * 1e-6 + sram_mm2(sram, node_nm)


# unit kind -> its datapath area; one registry like pysim.config.units.UNIT_KINDS
UNIT_AREA = {"systolic_array": _systolic_mm2, "bit_serial": _bit_serial_mm2,
             "xnor": _xnor_mm2, "tensor_core": _tensor_core_mm2}


def unit_mm2(unit: Any, node_nm: float) -> float:
    """Area (mm²) of a compute unit (``UNIT_AREA`` by its kind)."""
    try:
        return UNIT_AREA[unit.kind](unit, node_nm)
    except KeyError:
        raise ValueError(f"no area model for unit kind {unit.kind!r}; known: "
                         f"{', '.join(UNIT_AREA)}") from None


def area_mm2(hw: Any) -> dict[str, float]:
    """Area (mm²) of each compute unit, the vector unit and each scratchpad of ``hw`` (keyed
    by name; a name used twice gets its kind appended), and ``"total"``."""
    node = hw.technology_nm
    parts: list[tuple[str, str, float]] = [
        (u.name, "unit", unit_mm2(u, node)) for u in hw.units]
    parts.append((hw.vector.name, "vector",
                   hw.vector.lanes * hw.vector.ops_per_lane_per_cycle
                   * vector_lane_um2(hw.vector.bits, node) * 1e-6))
    parts += [(s.name, "scratchpad", sram_mm2(s.size_bytes, node, s.ports))
              for s in hw.scratchpads]
    names = [name for name, _, _ in parts]
    out = {(name if names.count(name) == 1 else f"{name} ({kind})"): mm2
           for name, kind, mm2 in parts}
    out["total"] = sum(out.values())
    return out
