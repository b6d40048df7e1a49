"""The interface every MAC unit of a hardware description offers the mapper.

A unit config (``pysim.config.units``) implements:

- ``supports(op) -> bool``: can it run the op's operand widths and number format;
- ``grains() -> (m, n, k)``: tile sizes that waste no folds (tiles are multiples of these): the
  spatial unrolling, e.g. K on the rows and N on the columns of a weight-stationary array;
- ``tile_model(op)``: a hashable model whose ``evaluate(m, n, k)`` prices arrays of tile
  shapes at once (pysim/mapping/tile_model.py), for the mapping search;
- ``tile_cost(m, n, k, op) -> TileCost``: cycles and SRAM operand accesses of one GEMM tile;
- ``fetch_streams(m, n, k) -> ((role, lanes, steps), ...)``: what one fold reads from the
  scratchpads per cycle (for bank conflicts);
- ``mac_pj(table, op) -> float``: energy of one of the op's MACs on this unit;
- ``psum_bits(op) -> int``: the width of the op's partial sums (``mac_bits``; a systolic
  array's float ops ``float_acc_bits``);
- ``peak_macs_per_cycle`` and ``pes``.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TileCost:
    """Cycles and scratchpad accesses (in operand elements) of one GEMM tile on a unit."""

    cycles: int
    folds: int
    macs: int
    input_reads: int
    weight_reads: int
    output_writes: int
    output_reads: int
