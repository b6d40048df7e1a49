"""Eyeriss's clock-network energy per cycle, from CNNergy's H-tree model, for configs/eyeriss.yaml.

CNNergy (S. D. Manasi, F. S. Snigdha, S. S. Sapatnekar, "NeuPart: Using Analytical Models to
Drive Energy-Efficient Partitioning of CNN Computations on Cloud-Connected Mobile Clients",
IEEE TVLSI 2020; github.com/manasiumn37/CNNergy, src/Clock_Tree_Power.m) models Eyeriss's
clock as an H-tree over the 3.5 x 3.5 mm die with 16 leaves: 12 drive the 168 PEs (14 per
leaf: each PE's 576 + 32 flip-flops and its filter SRAM's address / data registers, decoders,
precharge and sense amplifiers), one the 108 KB global buffer (27 banks). Every capacitance is
from the NCSU 45 nm PDK; power is C V^2 f at 1.1 V, 200 MHz, scaled to 65 nm at 1 V by
(65 / 45) (1 / 1.1)^2. The energy per cycle, C V^2 at 65 nm, is what pysim takes
(``energy.clock_pj_per_cycle``): it does not change with the clock.

    python benchmarks/eyeriss_clock_tree.py
"""

from __future__ import annotations

VDD_45 = 1.1  # V, the PDK's nominal supply
CLOCK_HZ = 200e6  # Eyeriss's core clock for the AlexNet measurement
INV_X1_F = 0.00155103e-12  # gate capacitance of an INVX1 (NCSU 45 nm .lib)
UNIT_F = INV_X1_F / 15  # one minimum-size transistor (W = L = 50 nm)
FLOP_F = 30 * 0.00646193e-12 / 60  # a transmission-gate flip-flop's clock load
WIRE_F_PER_UM = 0.0358e-15  # metal 10
DIE_UM = 3.5e3  # the die edge, from the Eyeriss micrograph


def clock_watts_45nm() -> float:
    """The H-tree's and its leaves' C V^2 f at 45 nm."""
    buffer = UNIT_F * (3 + 6)  # each tree inverter: NMOS 3, PMOS 6 unit widths
    long_wire, short_wire = DIE_UM / 4 * WIRE_F_PER_UM, DIE_UM / 8 * WIRE_F_PER_UM
    double, single = 2 * buffer + long_wire, buffer + short_wire
    # branches level by level: (capacitance, how many)
    tree = (double * 1 + single * 2 + double * 2 + single * 4 + double * 4 + double * 8)
    and3 = (4 + 6) * 4 * UNIT_F  # a decoder: four 3-input AND gates on the clock
    pe_registers = FLOP_F * (576 + 32) * 14  # ifmap / psum spads and a pipeline register
    filter_sram = ((8 + 16 + 16) * FLOP_F + and3 + and3 + 64 * (4 + 2) * UNIT_F
                   + 16 * (4 + 2) * UNIT_F) * 14
    glb = ((16 + 16 + 16) * FLOP_F + and3 + 64 * 27 * (20 + 10) * UNIT_F
           + 16 * 27 * (4 + 2) * UNIT_F)
    clocked = tree + 12 * (pe_registers + filter_sram) + glb
    return clocked * VDD_45 ** 2 * CLOCK_HZ


def clock_pj_per_cycle_65nm() -> float:
    """C V^2 per cycle at 65 nm and 1 V (CNNergy's scaling)."""
    return clock_watts_45nm() * (65 / 45) * (1 / VDD_45) ** 2 / CLOCK_HZ * 1e12


def main() -> None:
    pj = clock_pj_per_cycle_65nm()
    print(f"Eyeriss clock network (CNNergy H-tree): {pj * 1e-12 * CLOCK_HZ * 1e3:.1f} mW at "
          f"200 MHz, {pj:.1f} pJ per cycle (configs/eyeriss.yaml energy.clock_pj_per_cycle)")


if __name__ == "__main__":
    main()
