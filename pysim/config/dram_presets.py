"""Off-chip DRAM presets: organisation, timing and energy per standard.

Every number carries its source. Timings are in ns, rates in MT/s (mega-transfers per second
per pin), sizes in bytes. A "channel" here is an independent data bus of ``bus_bits`` pins;
the peak bandwidth of a preset is ``channels * bus_bits / 8 * data_rate_mtps / 1000`` GB/s.

Energy per bit (``energy_pj_per_bit``) is the whole access (activate + I/O) averaged per bit
moved. These are ESTIMATES from the literature, not datasheet values: DRAM energy depends on
row-buffer locality, termination and the PHY. Override ``dram.energy_pj_per_bit`` in a
hardware YAML when you have a better figure.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any


@dataclass(frozen=True)
class DramPreset:
    """One DRAM standard at one speed grade, as the hardware YAML's ``dram`` fields."""

    channels: int
    banks_per_channel: int
    row_bytes: int
    burst_bytes: int
    bus_bits: int
    data_rate_mtps: float
    t_rcd_ns: float
    t_cl_ns: float
    t_rp_ns: float
    t_ras_ns: float
    t_refi_ns: float
    t_rfc_ns: float
    energy_pj_per_bit: float

    @property
    def peak_bandwidth_gb_per_s(self) -> float:
        return self.channels * self.bus_bits / 8 * self.data_rate_mtps / 1000

    def fields(self) -> dict[str, Any]:
        return asdict(self)


# DDR4 energy: 15-20 pJ/bit is the range commonly quoted for a DDR4 access including I/O
# (e.g. the DRAM comparison in O'Connor et al., "Fine-Grained DRAM", MICRO 2017); we take the
# midpoint. An estimate.
_DDR4_PJ_PER_BIT = 17.5

DRAM_PRESETS: dict[str, DramPreset] = {
    # DDR4-2400, one 64-bit channel (one rank of 8 x8 devices), speed bin 2400R 16-16-16.
    # JEDEC JESD79-4; Micron MT40A (8 Gb DDR4) datasheet; same bin as Ramulator's DDR4 table.
    "ddr4_2400": DramPreset(
        channels=1,  # one DIMM channel
        banks_per_channel=16,  # 4 bank groups x 4 banks (JESD79-4, x4/x8 devices)
        row_bytes=8192,  # 1 KB page per x8 device x 8 devices per rank (JESD79-4)
        burst_bytes=64,  # BL8 x 64-bit bus
        bus_bits=64,
        data_rate_mtps=2400,
        t_rcd_ns=13.32,  # 16 nCK x 0.833 ns (2400R)
        t_cl_ns=13.32,  # CL16
        t_rp_ns=13.32,  # 16 nCK
        t_ras_ns=32.0,  # JESD79-4 tRAS(min) for DDR4-2400
        t_refi_ns=7800.0,  # 7.8 us, normal temperature range (JESD79-4)
        t_rfc_ns=350.0,  # tRFC1 for an 8 Gb device (JESD79-4)
        energy_pj_per_bit=_DDR4_PJ_PER_BIT,  # estimate, see above
    ),
    # LPDDR4-3200: two x16 channels (one x32 package, the common mobile/edge configuration).
    # JEDEC JESD209-4; Micron LPDDR4 datasheets; cf. Ramulator's LPDDR4-3200 table.
    "lpddr4_3200": DramPreset(
        channels=2,  # LPDDR4 channels are 16 bits wide (JESD209-4); x32 package = 2 channels
        banks_per_channel=8,  # JESD209-4
        row_bytes=2048,  # 2 KB page per channel (JESD209-4)
        burst_bytes=32,  # BL16 x 16-bit channel
        bus_bits=16,
        data_rate_mtps=3200,
        t_rcd_ns=18.0,  # tRCD = max(18 ns, 4 nCK) (JESD209-4, typical)
        t_cl_ns=17.5,  # RL = 28 nCK at 1600 MHz, DBI off (JESD209-4)
        t_rp_ns=18.0,  # tRPpb = max(18 ns, 4 nCK) (JESD209-4)
        t_ras_ns=42.0,  # tRAS = max(42 ns, 3 nCK) (JESD209-4)
        t_refi_ns=3904.0,  # 3.904 us (JESD209-4, 1x refresh)
        t_rfc_ns=280.0,  # tRFCab for 8 Gb per channel (Micron LPDDR4 datasheet)
        # 4-6 pJ/bit is the range commonly quoted for LPDDR4 (e.g. O'Connor et al., MICRO
        # 2017, and vendor material); midpoint taken. An estimate.
        energy_pj_per_bit=5.0,
    ),
    # HBM2, one stack in legacy mode: 8 channels x 128 bits at 2.0 Gb/s/pin = 256 GB/s.
    # JEDEC JESD235A/B. Timings are representative: the core timings of Ramulator's HBM
    # model (nCL = nRCD = nRP = 7, nRAS = 17 at tCK = 2 ns), assumed unchanged in ns for HBM2.
    "hbm2": DramPreset(
        channels=8,  # 8 channels per stack (JESD235)
        banks_per_channel=16,  # 4 bank groups x 4 banks for 8 Gb channels (JESD235A)
        row_bytes=2048,  # 2 KB page per channel in legacy mode (JESD235)
        burst_bytes=32,  # BL2 x 128-bit channel (legacy mode)
        bus_bits=128,
        data_rate_mtps=2000,
        t_rcd_ns=14.0,
        t_cl_ns=14.0,
        t_rp_ns=14.0,
        t_ras_ns=34.0,
        t_refi_ns=3900.0,  # 3.9 us (JESD235)
        t_rfc_ns=350.0,  # 8 Gb channel (Ramulator 2's HBM2 tRFC table)
        # 3.9 pJ/bit: O'Connor et al., "Fine-Grained DRAM", MICRO 2017 (HBM2 baseline).
        energy_pj_per_bit=3.9,
    ),
    # HBM3, one stack: 16 channels x 64 bits = 32 pseudo-channels x 32 bits at 6.4 Gb/s/pin
    # = 819.2 GB/s. JEDEC JESD238. Modelled as 32 pseudo-channels (they are independent).
    # Core timings are assumed equal to the HBM2 preset's (representative, not datasheet).
    "hbm3": DramPreset(
        channels=32,  # 16 channels x 2 pseudo-channels (JESD238)
        banks_per_channel=16,  # 4 bank groups x 4 banks per pseudo-channel (8 Gb), assumed
        row_bytes=1024,  # 1 KB page per pseudo-channel (JESD238)
        burst_bytes=32,  # BL8 x 32-bit pseudo-channel
        bus_bits=32,
        data_rate_mtps=6400,
        t_rcd_ns=14.0,
        t_cl_ns=14.0,
        t_rp_ns=14.0,
        t_ras_ns=34.0,
        t_refi_ns=3900.0,
        t_rfc_ns=350.0,
        # 3-3.5 pJ/bit is the range quoted for HBM3 in vendor material and surveys; midpoint
        # taken. An estimate.
        energy_pj_per_bit=3.25,
    ),
    # DDR3-1600, one 64-bit channel, speed bin 1600K 11-11-11.
    # JEDEC JESD79-3; Micron MT41K (4 Gb DDR3L/DDR3) datasheet.
    "ddr3_1600": DramPreset(
        channels=1,
        banks_per_channel=8,  # JESD79-3
        row_bytes=8192,  # 1 KB page per x8 device x 8 devices per rank
        burst_bytes=64,  # BL8 x 64-bit bus
        bus_bits=64,
        data_rate_mtps=1600,
        t_rcd_ns=13.75,  # 11 nCK x 1.25 ns (1600K)
        t_cl_ns=13.75,  # CL11
        t_rp_ns=13.75,
        t_ras_ns=35.0,  # JESD79-3 tRAS(min) for DDR3-1600
        t_refi_ns=7800.0,  # 7.8 us (JESD79-3)
        t_rfc_ns=260.0,  # 4 Gb device (JESD79-3)
        # Assumption: the DDR4 estimate scaled by (VDD_DDR3 / VDD_DDR4)^2 = (1.5 V / 1.2 V)^2.
        energy_pj_per_bit=_DDR4_PJ_PER_BIT * (1.5 / 1.2) ** 2,
    ),
}

PRESET_NAMES: tuple[str, ...] = tuple(DRAM_PRESETS)
