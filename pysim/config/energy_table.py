"""Per-action energy table: pJ per arithmetic operation, SRAM / register-file access and DRAM
bit, plus leakage, at one technology node, with the source of every number.

The default table (``"45nm"``, ``pysim/config/tables/45nm.yaml``, copied to
``configs/energy/45nm.yaml``) is Horowitz, ISSCC 2014 at 45 nm / 0.9 V. Between the table's
points, energies are interpolated log-log (a power law through neighbouring points, the end
segments extended beyond them); docs/hardware_config.md derives each method.

Scaling to another node (``scaled_to``): dynamic energy E = C V^2 with C proportional to the
feature size, so ``E(node) = E(base) x (node / base) x (Vdd(node) / Vdd(base))^2``; leakage
power P = I V with I proportional to device width, so ``x (node / base) x (Vdd(node) /
Vdd(base))``; DRAM and ratios are unchanged. This first-order (constant-field) rule is
optimistic below ~22 nm, where wires and Vdd scale less; Stillmaker & Baas, "Scaling
equations for the accurate prediction of CMOS device performance from 180 nm to 7 nm"
(Integration, 2017) give fitted per-node factors and are the better choice for a custom table.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from pysim.config.quantities import Float
from pysim.errors import ConfigError

TABLES_DIR = Path(__file__).parent / "tables"
BUILTIN_TABLES: dict[str, Path] = {"45nm": TABLES_DIR / "45nm.yaml"}

# Nominal core supply voltage per node (nm -> V). ASSUMPTION, representative values: the
# 0.9 V at 45 nm is Horowitz's; the rest are typical nominal Vdd of each generation as
# published in the ITRS roadmaps and foundry process briefs (e.g. 28 nm HPM 0.9 V, 16 nm
# FinFET 0.8 V, 7 nm 0.75 V). Between entries Vdd is interpolated linearly in log(node).
VDD_BY_NODE_NM: dict[float, float] = {
    180: 1.8, 130: 1.2, 90: 1.0, 65: 1.0, 45: 0.9, 40: 0.9, 32: 0.9, 28: 0.9, 22: 0.8,
    20: 0.8, 16: 0.8, 14: 0.8, 12: 0.8, 10: 0.75, 7: 0.75, 5: 0.7, 3: 0.7,
}
MIN_NODE_NM, MAX_NODE_NM = min(VDD_BY_NODE_NM), max(VDD_BY_NODE_NM)

REQUIRED_ENTRIES = (
    "int8_add_pj", "int32_add_pj", "int8_mult_pj", "int32_mult_pj",
    "fp16_add_pj", "fp16_mult_pj", "fp32_add_pj", "fp32_mult_pj",
    "sram_8kib_read_64b_pj", "sram_32kib_read_64b_pj", "sram_1mib_read_64b_pj",
    "dram_read_64b_low_pj", "dram_read_64b_high_pj", "rf_access_per_mac16",
    "sram_leakage_mw_per_kib", "pe_leakage_mw",
)
KINDS = ("int", "fp")
# Optional entries (a custom table may leave them out; the methods then derive them):
# and_popcount_bit_pj (bit-serial units), xnor_popcount_bit_pj (XNOR / popcount units),
# lmul_over_int_add (L-Mul multipliers), int8_shift_pj / int32_shift_pj (shift multipliers),
# sign_select_bit_pj (ternary multipliers).
XNOR_OVER_AND = 1.1  # ASSUMPTION: an XNOR2 gate in place of an AND2 beside the reducing adder
# ShiftAddNet (You et al., NeurIPS 2020), Table 1, 45 nm ASIC unit energies: a FIX32 shift 0.13
# pJ against a FIX32 add 0.1 pJ, a FIX8 shift 0.024 pJ against a FIX8 add 0.03 pJ (its adds
# and multiplies are Horowitz's). pysim keeps the shift as these ratios to the table's own
# adds, so that it scales with the table (to another node, or a custom table).
SHIFT_OVER_ADD = {8: 0.024 / 0.03, 32: 0.13 / 0.1}


def vdd_at(node_nm: float) -> float:
    """Nominal Vdd (V) at ``node_nm``. Raises ValueError outside 3..180 nm."""
    if not MIN_NODE_NM <= node_nm <= MAX_NODE_NM:
        raise ValueError(f"technology node must be in {MIN_NODE_NM}..{MAX_NODE_NM} nm, "
                         f"got {node_nm}")
    nodes = sorted(VDD_BY_NODE_NM)
    if node_nm in VDD_BY_NODE_NM:
        return VDD_BY_NODE_NM[node_nm]
    hi = next(n for n in nodes if n > node_nm)
    lo = nodes[nodes.index(hi) - 1]
    t = math.log(node_nm / lo) / math.log(hi / lo)
    return VDD_BY_NODE_NM[lo] + t * (VDD_BY_NODE_NM[hi] - VDD_BY_NODE_NM[lo])


def loglog(x: float, points: list[tuple[float, float]]) -> float:
    """Piecewise power law through ``points`` (sorted by x): exact at each point, linear in
    log(y) vs log(x) between them, the first/last segment extended beyond the ends."""
    for px, py in points:
        if x == px:
            return py
    i = 0
    while i < len(points) - 2 and x > points[i + 1][0]:
        i += 1
    (x0, y0), (x1, y1) = points[i], points[i + 1]
    slope = math.log(y1 / y0) / math.log(x1 / x0)
    return y0 * (x / x0) ** slope


# (exponent bits, significand bits with the hidden one) of the table's two float anchors
_FP16_FIELDS, _FP32_FIELDS = (5, 11), (8, 24)


@functools.lru_cache(maxsize=64)
def _float_mult_fit(fp16_pj: float, fp32_pj: float) -> tuple[float, float]:
    """(k, c) of ``EnergyTable.float_mult_pj`` through the fp16 and fp32 multiplies: gate
    counts g = p^2 + c (e + p); c from their ratio (clamped at 0 where the ratio is above the
    significand arrays' own, (24 / 11)^2), then k = fp16_pj / g(fp16)."""
    (e16, p16), (e32, p32) = _FP16_FIELDS, _FP32_FIELDS
    ratio = fp32_pj / fp16_pj
    denom = ratio * (e16 + p16) - (e32 + p32)
    c = max(0.0, (p32 * p32 - ratio * p16 * p16) / denom) if denom > 0 else 0.0
    return fp16_pj / (p16 * p16 + c * (e16 + p16)), c


def _check_bits(name: str, bits: int) -> int:
    if isinstance(bits, bool) or not isinstance(bits, int) or not 1 <= bits <= 64:
        raise ValueError(f"{name} must be an integer in 1..64, got {bits!r}")
    return bits


class EnergyEntry(BaseModel):
    """One number of the table: ``value`` in ``unit``, how it scales, and where it is from."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    value: Float = Field(ge=0)
    unit: str
    scaling: Literal["dynamic", "leakage", "none"]
    source: str = Field(min_length=1)


class EnergyTable(BaseModel):
    """Per-action energies at ``technology_nm`` / ``vdd_v``; see the module docstring.

    All ``*_pj`` methods return picojoules per action; ``leakage_mw`` returns milliwatts.
    """

    model_config = ConfigDict(frozen=True, extra="forbid")

    name: str
    technology_nm: Float = Field(ge=MIN_NODE_NM, le=MAX_NODE_NM)
    vdd_v: Float = Field(gt=0)
    source: str
    entries: dict[str, EnergyEntry]
    dram_bound_pj_per_bit: Float | None = Field(default=None, ge=0)

    @field_validator("entries")
    @classmethod
    def _all_entries(cls, entries: dict[str, EnergyEntry]) -> dict[str, EnergyEntry]:
        missing = [k for k in REQUIRED_ENTRIES if k not in entries]
        if missing:
            raise ValueError(f"lacks entries {missing}; a table needs {list(REQUIRED_ENTRIES)}")
        return entries

    def value(self, name: str) -> float:
        """The number of entry ``name``. Raises KeyError if there is no such entry."""
        return self.entries[name].value

    # -- arithmetic --------------------------------------------------------------------------

    def mult_pj(self, weight_bits: int, act_bits: int, kind: str = "int") -> float:
        """One multiply. int: power law in weight_bits x act_bits through the 8x8 and 32x32
        points; fp: power law in max(weight_bits, act_bits) through fp16 and fp32."""
        _check_bits("weight_bits", weight_bits)
        _check_bits("act_bits", act_bits)
        if kind == "int":
            pts = [(64.0, self.value("int8_mult_pj")), (1024.0, self.value("int32_mult_pj"))]
            return loglog(float(weight_bits * act_bits), pts)
        if kind == "fp":
            pts = [(16.0, self.value("fp16_mult_pj")), (32.0, self.value("fp32_mult_pj"))]
            return loglog(float(max(weight_bits, act_bits)), pts)
        raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")

    def float_mult_pj(self, w: tuple[int, int], a: tuple[int, int]) -> float:
        """One float multiply of operands with (exponent bits, mantissa bits) ``w`` and ``a``
        (fp16: (5, 10), bf16: (8, 7), fp8 E4M3: (4, 3)), by gate count: the significand
        array p_w x p_a (p = mantissa bits + the hidden one; "the physical size of a hardware
        multiplier scales with the square of the mantissa width", Wang & Kanwar, "BFloat16:
        the secret to high performance on Cloud TPUs", Google Cloud blog, 2019) plus ``c`` per
        exponent-adder and normalisation bit (e + p, the wider operand's), scaled by ``k``.
        ``k`` and ``c`` are solved so that fp16 x fp16 and fp32 x fp32 are the table's
        ``fp16_mult_pj`` and ``fp32_mult_pj`` (Horowitz: c = 7.7, k = 0.0045 pJ), so
        ``mult_pj``'s anchors hold; between them a narrow mantissa costs less than a width
        suggests: bf16 0.84 pJ against fp16's 1.1, fp8 E4M3 0.35, E5M2 0.32, fp4 E2M1 0.16
        (1.75x / 0.8x Horowitz's int8 multiply). ASSUMPTION: the form is a first-order gate
        count; the two anchors fix it."""
        for name, (e, m) in (("w", w), ("a", a)):
            if not (0 <= e <= 16 and 0 <= m <= 32) or e + m < 1:
                raise ValueError(f"{name} must be (exponent bits 0..16, mantissa bits 0..32), "
                                 f"got {(e, m)!r}")
        k, c = _float_mult_fit(self.value("fp16_mult_pj"), self.value("fp32_mult_pj"))
        p_w, p_a = w[1] + 1, a[1] + 1
        return k * (p_w * p_a + c * (max(w[0], a[0]) + max(p_w, p_a)))

    def add_pj(self, bits: int, kind: str = "int") -> float:
        """One add of ``bits``-wide operands: power law through the table's two widths
        (int 8 and 32, fp 16 and 32)."""
        _check_bits("bits", bits)
        if kind == "int":
            pts = [(8.0, self.value("int8_add_pj")), (32.0, self.value("int32_add_pj"))]
        elif kind == "fp":
            pts = [(16.0, self.value("fp16_add_pj")), (32.0, self.value("fp32_add_pj"))]
        else:
            raise ValueError(f"kind must be one of {KINDS}, got {kind!r}")
        return loglog(float(bits), pts)

    def mac_pj(self, weight_bits: int, act_bits: int, kind: str = "int",
               acc_bits: int = 32) -> float:
        """One multiply-accumulate: ``mult_pj(weight_bits, act_bits, kind)`` plus
        ``add_pj(acc_bits, kind)``. mac_pj(8, 8) = int8 mult + int32 add = 0.3 pJ at 45 nm."""
        return self.mult_pj(weight_bits, act_bits, kind) + self.add_pj(acc_bits, kind)

    def and_popcount_bit_pj(self) -> float:
        """One 1 x 1-bit product of a bit-serial unit: an AND gate and its input to the
        popcount / adder tree. The ``and_popcount_bit_pj`` entry, else int8_mult_pj / 64 (an
        8 x 8 array multiplier's 64 AND partial products, each with its share of the
        reduction tree)."""
        if "and_popcount_bit_pj" in self.entries:
            return self.value("and_popcount_bit_pj")
        return self.value("int8_mult_pj") / 64

    def xnor_popcount_bit_pj(self) -> float:
        """One binary (+-1) MAC bit of an XNOR / popcount unit: an XNOR gate and its popcount-
        tree input. The ``xnor_popcount_bit_pj`` entry, else 1.1 x ``and_popcount_bit_pj()``."""
        if "xnor_popcount_bit_pj" in self.entries:
            return self.value("xnor_popcount_bit_pj")
        return XNOR_OVER_AND * self.and_popcount_bit_pj()

    # -- multiplication-free multipliers (docs/low_precision_units.md) ----------------------

    def lmul_pj(self, bits: int) -> float:
        """One L-Mul of two ``bits``-wide floats (Luo & Sun, arXiv:2410.00907, 2024): an
        integer add of the operands' exponent-and-mantissa fields, ``bits - 1`` wide (the sign
        is an XOR; the bias and the 2^-l(m) offset are one constant folded into the add), so
        ``lmul_over_int_add`` x ``add_pj(bits - 1)``. The paper's gate-count argument: an m-bit
        mantissa multiplier has O(m^2) gates, this adder O(e + m). ``lmul_over_int_add``: the
        entry, else 1.0 (ASSUMPTION: the constant costs no second adder, a carry-save row at
        most). fp16: 0.052 pJ against Horowitz's 1.1 pJ fp16 multiply (-95 %)."""
        _check_bits("bits", bits)
        if bits < 2:
            raise ValueError(f"bits must be >= 2 for a float (sign, exponent), got {bits!r}")
        ratio = self.value("lmul_over_int_add") if "lmul_over_int_add" in self.entries else 1.0
        return ratio * self.add_pj(bits - 1, "int")

    def shift_pj(self, bits: int) -> float:
        """One barrel shift of a ``bits``-wide fixed-point operand (DeepShift / ShiftAddNet's
        multiplier for power-of-two weights): power law through the ``int8_shift_pj`` and
        ``int32_shift_pj`` entries, else through ShiftAddNet's 45 nm ratios to the table's adds
        (``SHIFT_OVER_ADD``: 0.8 x int8_add_pj, 1.3 x int32_add_pj; 0.024 and 0.13 pJ at 45
        nm)."""
        _check_bits("bits", bits)
        lo = (self.value("int8_shift_pj") if "int8_shift_pj" in self.entries
              else SHIFT_OVER_ADD[8] * self.value("int8_add_pj"))
        hi = (self.value("int32_shift_pj") if "int32_shift_pj" in self.entries
              else SHIFT_OVER_ADD[32] * self.value("int32_add_pj"))
        return loglog(float(bits), [(8.0, lo), (32.0, hi)])

    def sign_select_pj(self, bits: int) -> float:
        """The multiplier of a ternary weight (+1, -1; 0 gates the update): a conditional
        negation of a ``bits``-wide operand, one XOR per bit with the +1 entering as the
        adder's carry-in. ``sign_select_bit_pj`` x bits, the entry else ``and_popcount_bit_pj``
        (ASSUMPTION: an XOR2 with its wire costs about what an AND2 and its share of a
        reduction tree do, 0.003 pJ at 45 nm: 0.025 pJ for 8 bits, an eighth of an int8
        multiply)."""
        _check_bits("bits", bits)
        per_bit = (self.value("sign_select_bit_pj") if "sign_select_bit_pj" in self.entries
                   else self.and_popcount_bit_pj())
        return per_bit * bits

    def vector_op_pj(self, bits: int, kind: str = "fp") -> float:
        """One vector-lane operation (elementwise, softmax, layernorm, pooling step), taken
        as one multiply plus one add at ``bits`` (an FMA without a wider accumulator)."""
        return self.mult_pj(bits, bits, kind) + self.add_pj(bits, kind)

    # -- storage -------------------------------------------------------------------------------

    def sram_access_pj(self, size_bytes: float, word_bits: int) -> float:
        """One read or write of a ``word_bits`` word from an SRAM of ``size_bytes``: power law
        in size through the 8 KiB / 32 KiB / 1 MiB 64-bit points, times word_bits / 64.
        Writes are taken equal to reads (Horowitz gives reads only)."""
        if not size_bytes > 0:
            raise ValueError(f"size_bytes must be > 0, got {size_bytes!r}")
        if isinstance(word_bits, bool) or not isinstance(word_bits, int) or word_bits < 1:
            raise ValueError(f"word_bits must be an integer >= 1, got {word_bits!r}")
        pts = [(8192.0, self.value("sram_8kib_read_64b_pj")),
               (32768.0, self.value("sram_32kib_read_64b_pj")),
               (1048576.0, self.value("sram_1mib_read_64b_pj"))]
        return loglog(float(size_bytes), pts) * word_bits / 64

    def rf_access_pj(self, bits: int) -> float:
        """One register-file access of ``bits``: rf_access_per_mac16 x mac_pj(16, 16) (the
        Eyeriss ratio, whose MAC is 16-bit) x bits / 16."""
        _check_bits("bits", bits)
        return self.value("rf_access_per_mac16") * self.mac_pj(16, 16) * bits / 16

    def dram_pj_per_bit(self) -> float:
        """DRAM energy per bit moved: the bound DRAM preset's ``energy_pj_per_bit`` (a
        Hardware binds it), else the midpoint of Horowitz's 1.3-2.6 nJ per 64 bits."""
        if self.dram_bound_pj_per_bit is not None:
            return self.dram_bound_pj_per_bit
        low, high = self.value("dram_read_64b_low_pj"), self.value("dram_read_64b_high_pj")
        return (low + high) / 2 / 64

    def leakage_mw(self, sram_kib: float = 0.0, pes: int = 0) -> float:
        """Static power (mW) of ``sram_kib`` KiB of SRAM plus ``pes`` processing elements."""
        if sram_kib < 0 or pes < 0:
            raise ValueError(f"sram_kib and pes must be >= 0, got {sram_kib!r}, {pes!r}")
        return sram_kib * self.value("sram_leakage_mw_per_kib") + pes * self.value(
            "pe_leakage_mw")

    # -- derived tables ----------------------------------------------------------------------

    def scaled_to(self, node_nm: float) -> EnergyTable:
        """This table moved to ``node_nm`` by the rule in the module docstring. Identity when
        node_nm equals the table's node. Raises ValueError outside 3..180 nm."""
        vdd = vdd_at(node_nm)
        if node_nm == self.technology_nm:
            return self
        length, volt = node_nm / self.technology_nm, vdd / self.vdd_v
        factor = {"dynamic": length * volt**2, "leakage": length * volt, "none": 1.0}
        entries = {k: e.model_copy(update={"value": e.value * factor[e.scaling]})
                   for k, e in self.entries.items()}
        return self.model_copy(update={"technology_nm": float(node_nm), "vdd_v": vdd,
                                       "entries": entries})

    def with_overrides(self, overrides: Mapping[str, float]) -> EnergyTable:
        """A copy with entry values replaced (absolute, in the entry's unit, at this node).
        Raises ValueError for an unknown entry or a negative value."""
        entries = dict(self.entries)
        for key, value in overrides.items():
            if key not in entries:
                raise ValueError(f"unknown energy entry {key!r}; known: {sorted(entries)}")
            if isinstance(value, bool) or not isinstance(value, (int, float)) or value < 0:
                raise ValueError(f"energy override {key} must be a number >= 0, got {value!r}")
            entries[key] = entries[key].model_copy(
                update={"value": float(value), "source": "user override"})
        return self.model_copy(update={"entries": entries})

    def bound_to_dram(self, pj_per_bit: float) -> EnergyTable:
        """A copy whose ``dram_pj_per_bit()`` is ``pj_per_bit`` (from a DRAM preset)."""
        return self.model_copy(update={"dram_bound_pj_per_bit": float(pj_per_bit)})


def load_energy_table(ref: str | Path, base_dir: str | Path | None = None) -> EnergyTable:
    """The table named ``ref`` ("45nm") or read from the YAML file ``ref`` (relative paths
    resolve against ``base_dir``, else the working directory).

    Raises ConfigError naming the file, the entry and the value if the file is missing or
    malformed.
    """
    if isinstance(ref, str) and ref.strip().lower() in BUILTIN_TABLES:
        path = BUILTIN_TABLES[ref.strip().lower()]
    else:
        path = Path(ref)
        if not path.is_absolute() and base_dir is not None:
            path = Path(base_dir) / path
    try:
        mtime = path.stat().st_mtime_ns
    except OSError as exc:
        raise ConfigError(
            f"energy table {str(ref)!r} is neither a built-in table {sorted(BUILTIN_TABLES)} "
            f"nor a readable file ({path}: {exc.strerror})") from None
    return _load_table_file(str(path.resolve()), mtime)


@functools.lru_cache(maxsize=32)
def _load_table_file(path: str, mtime_ns: int) -> EnergyTable:
    from pysim.config.yaml_io import format_validation_error, read_yaml_mapping

    data = read_yaml_mapping(path)
    try:
        return EnergyTable.model_validate(data)
    except ValidationError as err:
        raise format_validation_error(err, path, EnergyTable, data) from None
