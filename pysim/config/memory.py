"""Memories of a hardware description: on-chip scratchpads and the off-chip DRAM."""

from __future__ import annotations

from functools import cached_property
from typing import TYPE_CHECKING, Annotated, Any, Literal

from pydantic import (
    BeforeValidator,
    ConfigDict,
    Field,
    field_validator,
    model_validator,
)

from pysim.config.dram_presets import DRAM_PRESETS, PRESET_NAMES
from pysim.config.quantities import BandwidthGBps, Float, Int, SizeKiB, lower
from pysim.config.yaml_io import FieldError
from pysim.memo import CachedFigures

if TYPE_CHECKING:
    from pysim.config.energy_table import EnergyTable

Operand = Literal["input", "weight", "output"]
OPERANDS: tuple[str, ...] = ("input", "weight", "output")


def port_cycles(read_bits: Any, write_bits: Any, rates: tuple[float, float, float]) -> Any:
    """The fewest cycles in which ports moving ``rates`` = (read, write, any) bits per cycle
    move ``read_bits`` and ``write_bits`` (words spread evenly over the banks): reads on the
    read-capable ports, writes on the write-capable ones, both together on all of them.
    Numbers or NumPy arrays (the tiling search prices every candidate at once)."""
    read_rate, write_rate, any_rate = rates
    times = (read_bits / read_rate, write_bits / write_rate, (read_bits + write_bits) / any_rate)
    if isinstance(read_bits, (int, float)) and isinstance(write_bits, (int, float)):
        return max(times)  # the planner's per-op stall: no NumPy on the hot path
    import numpy as np

    return np.maximum(np.maximum(times[0], times[1]), times[2])


class Scratchpad(CachedFigures):
    """An on-chip SRAM buffer of ``size_kib`` KiB in ``banks`` banks, ``word_bits`` wide per
    bank port, holding the operands named in ``holds``. Each bank has ``ports_per_bank``
    read-write ports plus ``read_ports_per_bank`` read-only and ``write_ports_per_bank``
    write-only ones (CACTI's port kinds); every bank must be readable and writable. Per cycle a
    bank serves at most one word per port: an op's reads and writes at this level (the unit's
    operand fetches, DMA fills and drains, partial sums) take at least
    ``ScratchpadPorts.cycles`` of them, which the engine charges as port stalls when they
    exceed its compute.

    ``read_energy_pj`` / ``write_energy_pj`` (per word access) override the energy table's
    ``sram_access_pj(size_bytes, word_bits)``. ``backed_by`` names the next level out of this
    one (another scratchpad that holds its operands too: TPU v1's accumulators drain into the
    Unified Buffer) instead of DRAM. The size must be a whole number of bytes and
    a multiple of ``banks * word_bits / 8``.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str = Field(min_length=1)
    size_kib: SizeKiB = Field(gt=0, le=1 << 30)  # at most 1 TiB on chip
    banks: Int = Field(default=1, ge=1, le=4096)
    ports_per_bank: Int = Field(default=1, ge=0, le=16)
    read_ports_per_bank: Int = Field(default=0, ge=0, le=16)
    write_ports_per_bank: Int = Field(default=0, ge=0, le=16)
    word_bits: Int = Field(default=64, ge=8, le=1024)
    double_buffered: bool = True
    holds: tuple[Operand, ...] = Field(min_length=1)
    read_energy_pj: Float | None = Field(default=None, ge=0)
    write_energy_pj: Float | None = Field(default=None, ge=0)
    backed_by: str | None = None

    @field_validator("word_bits")
    @classmethod
    def _whole_bytes(cls, value: int) -> int:
        if value % 8:
            raise ValueError("must be a multiple of 8")
        return value

    @field_validator("holds")
    @classmethod
    def _distinct(cls, value: tuple[str, ...]) -> tuple[str, ...]:
        if len(set(value)) != len(value):
            raise ValueError("must not repeat an operand")
        return value

    @model_validator(mode="after")
    def _readable_and_writable(self) -> Scratchpad:
        if self.read_ports < 1:
            raise FieldError("read_ports_per_bank", self.read_ports_per_bank,
                             "must be >= 1 when ports_per_bank is 0 (a bank nothing can read)")
        if self.write_ports < 1:
            raise FieldError("write_ports_per_bank", self.write_ports_per_bank,
                             "must be >= 1 when ports_per_bank is 0 (a bank nothing can write)")
        return self

    @model_validator(mode="after")
    def _size_fits(self) -> Scratchpad:
        size_bytes = self.size_kib * 1024
        if abs(size_bytes - round(size_bytes)) > 1e-6:
            raise FieldError("size_kib", self.size_kib,
                             f"must be a whole number of bytes ({size_bytes:g} bytes is not)")
        row_bytes = self.banks * self.word_bits // 8
        if round(size_bytes) % row_bytes:
            raise FieldError(
                "size_kib", self.size_kib,
                f"must be a multiple of banks x word bytes ({self.banks} x "
                f"{self.word_bits // 8} = {row_bytes} bytes); {round(size_bytes)} bytes is not")
        return self

    @property
    def size_bytes(self) -> int:
        return round(self.size_kib * 1024)

    @property
    def word_bytes(self) -> int:
        return self.word_bits // 8

    @property
    def bank_bytes(self) -> int:
        return self.size_bytes // self.banks

    @property
    def read_ports(self) -> int:
        """Ports per bank that can read: read-write plus read-only."""
        return self.ports_per_bank + self.read_ports_per_bank

    @property
    def write_ports(self) -> int:
        """Ports per bank that can write: read-write plus write-only."""
        return self.ports_per_bank + self.write_ports_per_bank

    @property
    def ports(self) -> int:
        """All ports per bank."""
        return self.ports_per_bank + self.read_ports_per_bank + self.write_ports_per_bank

    @property
    def bytes_per_cycle(self) -> int:
        """Peak access bandwidth: banks x all ports x word bytes per cycle."""
        return self.banks * self.ports * self.word_bytes

    @cached_property
    def port_bits_per_cycle(self) -> tuple[float, float, float]:
        """(read, write, any) bits the banks' ports move per cycle: read-capable, write-capable
        and all ports x banks x word bits."""
        row = self.banks * self.word_bits
        return (float(row * self.read_ports), float(row * self.write_ports),
                float(row * self.ports))

    def port_cycles(self, read_bits: float, write_bits: float) -> float:
        """The fewest cycles in which the banks' ports move ``read_bits`` and ``write_bits``
        (``port_cycles`` at ``port_bits_per_cycle``)."""
        return float(port_cycles(read_bits, write_bits, self.port_bits_per_cycle))

    def read_pj(self, table: EnergyTable) -> float:
        """Energy (pJ) of one word read: the override, else the table's SRAM model."""
        if self.read_energy_pj is not None:
            return self.read_energy_pj
        return table.sram_access_pj(self.size_bytes, self.word_bits)

    def write_pj(self, table: EnergyTable) -> float:
        """Energy (pJ) of one word write: the override, else the table's SRAM model."""
        if self.write_energy_pj is not None:
            return self.write_energy_pj
        return table.sram_access_pj(self.size_bytes, self.word_bits)


_TIMINGS = ("rcd", "cl", "rp", "ras", "refi", "rfc")  # t_<name>_ns fields, tNAME_ns in C++


def _preset_name(value: Any) -> Any:
    value = lower(value)
    return value.replace("-", "_") if isinstance(value, str) else value


class Dram(CachedFigures):
    """Off-chip DRAM: a ``preset`` (see pysim/config/dram_presets.py) whose every field can be
    overridden. After validation every field holds a value: the user's, else the preset's.

    ``bandwidth_gb_per_s`` (1 GB/s = 1e9 B/s) is the bandwidth the engine uses. Left out, it
    is the peak ``channels * bus_bits / 8 * data_rate_mtps / 1000``. Set, it caps that peak
    (a sustained bandwidth, e.g. controller efficiency): it must be <= the peak, and the
    engine uses it as given. A string with a unit is accepted ("12.8 GB/s", "102400 MB/s").
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    preset: Annotated[str, BeforeValidator(_preset_name)]
    # Field(default=None) = "from the preset"; filled in by _fill_from_preset.
    channels: Int = Field(default=None, ge=1, le=1024)
    banks_per_channel: Int = Field(default=None, ge=1, le=1024)
    row_bytes: Int = Field(default=None, ge=1)
    burst_bytes: Int = Field(default=None, ge=1)
    bus_bits: Int = Field(default=None, ge=8, le=4096)
    data_rate_mtps: Float = Field(default=None, gt=0)
    t_rcd_ns: Float = Field(default=None, gt=0)
    t_cl_ns: Float = Field(default=None, gt=0)
    t_rp_ns: Float = Field(default=None, gt=0)
    t_ras_ns: Float = Field(default=None, gt=0)
    t_refi_ns: Float = Field(default=None, gt=0)
    t_rfc_ns: Float = Field(default=None, gt=0)
    energy_pj_per_bit: Float = Field(default=None, ge=0)
    # Reads and writes priced apart (a write drives the on-die termination, a read the
    # controller's); left out, each is energy_pj_per_bit.
    read_energy_pj_per_bit: Float | None = Field(default=None, ge=0)
    write_energy_pj_per_bit: Float | None = Field(default=None, ge=0)
    bandwidth_gb_per_s: BandwidthGBps = Field(default=None, gt=0)
    # A codec at the chip boundary stores activations in DRAM in their sparsity's format
    # (an op's ``act_sparsity`` read, ``out_sparsity`` written) where that is smaller than
    # dense: Eyeriss's run-length coder (Chen et al., JSSC 2017, Sec. V-A).
    compress_activations: bool = False
    # Capacity in GiB (a GPU's HBM): the workload's weights, graph inputs and largest op's
    # activations must fit (a WorkloadError otherwise). Left out: not checked.
    capacity_gib: Float | None = Field(default=None, gt=0, le=1 << 30)

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str) -> str:
        if value not in DRAM_PRESETS:
            raise ValueError(f"is not a known DRAM preset; known presets: {list(PRESET_NAMES)}")
        return value

    @model_validator(mode="after")
    def _fill_from_preset(self) -> Dram:
        for key, value in DRAM_PRESETS[self.preset].fields().items():
            if getattr(self, key) is None:
                object.__setattr__(self, key, value)  # frozen model: fill before anyone sees it
        if self.bus_bits % 8:
            raise FieldError("bus_bits", self.bus_bits, "must be a multiple of 8")
        if self.burst_bytes % (self.bus_bits // 8):
            raise FieldError("burst_bytes", self.burst_bytes,
                             f"must be a multiple of the bus width "
                             f"({self.bus_bits // 8} bytes)")
        if self.row_bytes % self.burst_bytes:
            raise FieldError("row_bytes", self.row_bytes,
                             f"must be a multiple of burst_bytes ({self.burst_bytes})")
        if self.t_ras_ns < self.t_rcd_ns:
            raise FieldError("t_ras_ns", self.t_ras_ns,
                             f"must be >= t_rcd_ns ({self.t_rcd_ns:g})")
        if self.bandwidth_gb_per_s is None:
            object.__setattr__(self, "bandwidth_gb_per_s", self.peak_bandwidth_gb_per_s)
        self._model_accepts()
        if self.t_rfc_ns + self.t_rp_ns + self.t_rcd_ns >= self.t_refi_ns:
            raise FieldError("t_refi_ns", self.t_refi_ns,
                             f"must exceed t_rfc_ns + t_rp_ns + t_rcd_ns ({self.t_rfc_ns:g} + "
                             f"{self.t_rp_ns:g} + {self.t_rcd_ns:g} ns): between refreshes a "
                             f"bank must have time to open a row")
        return self

    @cached_property
    def _model_key(self) -> tuple[tuple[str, Any], ...]:
        return (("channels", self.channels), ("banks_per_channel", self.banks_per_channel),
                ("row_bytes", self.row_bytes), ("burst_bytes", self.burst_bytes),
                ("bus_bits", self.bus_bits), ("data_rate_mtps", float(self.data_rate_mtps)),
                *((f"t{n.upper()}_ns", float(getattr(self, f"t_{n}_ns"))) for n in _TIMINGS))

    def model_key(self) -> tuple[tuple[str, Any], ...]:
        """The C++ DRAM model's parameters (``_core.DramSpec``'s keywords), hashable for
        caching (computed once: the engine asks for every op)."""
        return self._model_key

    def _model_accepts(self) -> None:
        """The C++ DRAM model's own checks (time limits, refresh fitting its interval, ...)
        run here, so a field that loads never fails later inside a simulation."""
        import numpy as np

        from pysim import _core

        try:
            _core.dram_simulate_stream(_core.DramSpec(**dict(self.model_key())),
                                       np.zeros(1, np.int64),
                                       np.ones(1, np.int64), np.zeros(1, bool))
        except ValueError as exc:
            message = str(exc)
            if message.startswith("tRP_ns + tRFC_ns"):
                reason = (f"must exceed t_rp_ns + t_rfc_ns ({self.t_rp_ns:g} + "
                          f"{self.t_rfc_ns:g} ns): a refresh must fit its interval")
                raise FieldError("t_refi_ns", self.t_refi_ns, reason) from None
            name = message.split()[0]
            field = {f"t{n.upper()}_ns": f"t_{n}_ns" for n in _TIMINGS}.get(name, name)
            reason = message[len(name):].split(", got")[0].strip()
            raise FieldError(field, getattr(self, field, None), reason) from None

    @property
    def read_pj_per_bit(self) -> float:
        """Energy per bit read: ``read_energy_pj_per_bit``, else ``energy_pj_per_bit``."""
        if self.read_energy_pj_per_bit is not None:
            return self.read_energy_pj_per_bit
        return self.energy_pj_per_bit

    @property
    def write_pj_per_bit(self) -> float:
        """Energy per bit written: ``write_energy_pj_per_bit``, else ``energy_pj_per_bit``."""
        if self.write_energy_pj_per_bit is not None:
            return self.write_energy_pj_per_bit
        return self.energy_pj_per_bit

    @property
    def peak_bandwidth_gb_per_s(self) -> float:
        """Pin bandwidth: channels x bus_bits / 8 x data_rate_mtps / 1000 (GB/s)."""
        return self.channels * self.bus_bits / 8 * self.data_rate_mtps / 1000

    @property
    def headroom(self) -> float:
        """Pin over configured bandwidth when the configured one is narrower (a link or
        controller cap), else 1: the DRAM's achieved fraction may fall this far before it,
        not the cap, sets the rate (pysim/engine/dram.py)."""
        return max(1.0, self.peak_bandwidth_gb_per_s / self.bandwidth_gb_per_s)

    @property
    def bandwidth_bytes_per_s(self) -> float:
        """The bandwidth the engine uses, in bytes per second."""
        return self.bandwidth_gb_per_s * 1e9

    @property
    def row_hit_latency_ns(self) -> float:
        """Read to an open row: tCL."""
        return self.t_cl_ns

    @property
    def row_miss_latency_ns(self) -> float:
        """Read to a closed (precharged) bank: tRCD + tCL."""
        return self.t_rcd_ns + self.t_cl_ns

    @property
    def row_conflict_latency_ns(self) -> float:
        """Read to a bank with another row open: tRP + tRCD + tCL."""
        return self.t_rp_ns + self.t_rcd_ns + self.t_cl_ns

    @property
    def burst_ns(self) -> float:
        """Time one burst occupies a channel's data bus."""
        return self.burst_bytes / (self.bus_bits / 8 * self.data_rate_mtps) * 1e3

    @property
    def refresh_fraction(self) -> float:
        """Fraction of time a bank is busy refreshing: tRFC / tREFI."""
        return self.t_rfc_ns / self.t_refi_ns
