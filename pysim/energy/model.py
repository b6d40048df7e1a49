"""Prices one mapped op: every joule is a count from the mapping times an energy-table entry.

Components (all in pJ here, J in results):
- ``mac``: MACs x the unit's energy per MAC for the op's widths (``unit.mac_pj``: for the
  systolic array ``mac_pj(weight_bits, act_bits, acc_bits)`` of the table);
- ``register_file``: PE register accesses (``unit.rf_accesses_per_mac`` per MAC: 3 on the
  systolic array, two operands read and one accumulator update) x ``rf_access_pj(bits)``, or,
  for a unit that lists its PE ``registers``, each register's reads and writes at its own
  energy (``OpMapping.rf_pj``);
- ``sram``: scratchpad words read and written (bits / word_bits per scratchpad, DMA fills and
  drains included) x the scratchpad's per-word energy (``read_pj`` / ``write_pj``: the table's
  size- and width-scaled SRAM access energy unless the config overrides it), plus SRAM inside
  the unit (``OpMapping.local_sram_pj``: a GPU SM's shared memory);
- ``dram``: bytes read x 8 x ``dram.read_pj_per_bit`` plus bytes written x 8 x
  ``dram.write_pj_per_bit``;
- ``vector``: vector-unit operations x ``vector_op_pj(bits)``;
- ``host``: bytes copied in from host memory (weights offloaded over ``host.link``) x
  ``HostLink.pj_per_byte``: the host memory's read, the link and the DRAM's write;
- ``leakage``: the chip's static power (``hw.leakage_mw()``) x the run's latency, priced once
  for the whole run by ``leakage_pj`` (ops overlap, so per-op durations would double count).
- ``clock``: the clock network's ``energy.clock_pj_per_cycle`` x the run's latency, and
- ``control``: ``energy.control_fraction`` f of the on-chip energy, f / (1 - f) x (on-chip
  dynamic + clock), for control logic and the on-chip network: both run-level like leakage
  (``overhead_pj``), after CNNergy's Eyeriss model (Manasi et al., NeuPart, TVLSI 2020).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # the sweep worker imports the component names without the mapper
    from pysim.mapping.planner import OpMapping

COMPONENTS = ("mac", "register_file", "sram", "dram", "vector", "host")
"""Per-op dynamic components, priced by ``price_op``."""
RUN_COMPONENTS = ("leakage", "clock", "control")
"""Run-level components, priced once from the run's latency and its dynamic energy."""
ON_CHIP = ("mac", "register_file", "sram", "vector")
"""The dynamic components spent on the chip (all but DRAM and the host link): the base of
``control``."""


@dataclass(frozen=True)
class OpEnergy:
    pj: dict[str, float]

    @property
    def total_pj(self) -> float:
        return sum(self.pj.values())


def price_op(hw: Any, op: OpMapping, host_read_bytes: int = 0) -> OpEnergy:
    """Dynamic energy of one op from its counts (leakage is priced per run), with
    ``host_read_bytes`` of its weights copied in from host memory."""
    table = hw.energy_table
    pj = dict.fromkeys(COMPONENTS, 0.0)
    if op.macs:
        pj["mac"] = op.macs * op.mac_pj
        pj["register_file"] = register_pj(table, op.rf_pj, op.rf_accesses, op.weight_bits,
                                          op.act_bits)
    pj["sram"] = sram_pj(hw, op.sram_read_bits, op.sram_write_bits, op.local_sram_pj)
    pj["dram"] = dram_pj(hw, op.dram_read_bytes, op.dram_write_bytes)
    if op.vector_ops:
        pj["vector"] = op.vector_ops * table.vector_op_pj(hw.vector.bits)
    if host_read_bytes:
        pj["host"] = host_read_bytes * hw.host.pj_per_byte(hw.dram.write_pj_per_bit)
    return OpEnergy(pj)


def register_pj(table: Any, rf_pj: float | None, rf_accesses: int, weight_bits: int,
                act_bits: int) -> float:
    """PE register energy: the unit's own registers' figure (``rf_pj``), else its accesses at
    the table's register-file energy for the wider operand."""
    if rf_pj is not None:
        return rf_pj
    return rf_accesses * table.rf_access_pj(max(weight_bits, act_bits))


def sram_pj(hw: Any, read_bits: dict[str, int], write_bits: dict[str, int],
            start: float = 0.0) -> float:
    """Scratchpad bits read and written, by scratchpad, at their per-bit energies, added to
    ``start`` (SRAM inside a unit)."""
    per_bit = hw.scratchpad_pj_per_bit
    total = start
    for name, bits in read_bits.items():
        total += bits * per_bit[name][0]
    for name, bits in write_bits.items():
        total += bits * per_bit[name][1]
    return total


def dram_pj(hw: Any, read_bytes: float, write_bytes: float) -> float:
    """DRAM bytes read and written at the DRAM's energy per bit."""
    return 8 * (read_bytes * hw.dram.read_pj_per_bit + write_bytes * hw.dram.write_pj_per_bit)


def leakage_pj(hw: Any, latency_cycles: float) -> float:
    """Static energy of the whole chip over ``latency_cycles``."""
    return hw.leakage_mw() * 1e-3 * (latency_cycles / hw.clock_hz) * 1e12


def overhead_pj(hw: Any, latency_cycles: float, on_chip_pj: float) -> dict[str, float]:
    """The run-level components for a run of ``latency_cycles`` whose on-chip dynamic energy
    (``ON_CHIP`` components) is ``on_chip_pj``: leakage, clock and control, in pJ."""
    clock = hw.energy.clock_pj_per_cycle * latency_cycles
    f = hw.energy.control_fraction
    return {"leakage": leakage_pj(hw, latency_cycles), "clock": clock,
            "control": f / (1.0 - f) * (on_chip_pj + clock)}
