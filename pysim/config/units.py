"""Compute units of a hardware description: the ``units:`` list (one registry, keyed by
``kind``) and the vector unit.

Kinds: ``systolic_array`` (int MAC PEs), ``bit_serial`` (BISMO / Stripes / Bit Fusion
bit-serial dot-product units) and ``xnor`` (a FINN-style XNOR / popcount array for +-1 binary
ops). Each implements the MAC-unit interface of ``pysim/units/base.py``; the mapper never asks
which kind it has. docs/hardware_config.md lists the fields; docs/low_precision_units.md,
"Integration", the cost mapping and the energy model of the low-precision kinds.

To add a unit kind: write a model with ``kind: Literal["<kind>"]``, ``name``, a ``pes``
property and a ``build()`` method, and add it to ``UNIT_KINDS``. The ``Unit`` union, the YAML
loader and the "unknown kind" error all follow from that one dict.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any, ClassVar, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationInfo,
    field_validator,
    model_validator,
)

from pysim import _core
from pysim.config.quantities import Float, Int, lower
from pysim.config.yaml_io import FieldError
from pysim.errors import ConfigError
from pysim.mapping.tile_model import (
    PRESET,
    SPATIAL,
    ClosedFormTiles,
    ConvWindow,
    RowStationaryTiles,
    SystolicTiles,
    stationary,
)
from pysim.units.base import TileCost
from pysim.units.bit_serial import BitSerialArray
from pysim.units.row_stationary import RowStationaryArray
from pysim.units.systolic_array import MAX_DIM, SystolicArray
from pysim.units.xnor import XnorArray

Dataflow = Annotated[Literal["os", "ws", "is", "rs"], BeforeValidator(lower)]
Timing = Annotated[Literal["scalesim", "pipelined"], BeforeValidator(lower)]
Bits = Annotated[Int, Field(ge=1, le=64)]
OperandBits = Annotated[Int, Field(ge=1, le=32)]  # what the low-precision closed forms take


def _distinct(value: tuple[int, ...]) -> tuple[int, ...]:
    if len(set(value)) != len(value):
        raise ValueError("must not repeat a width")
    return value


def _at_least_widest(value: int, info: Any) -> int:
    """An accumulator must be as wide as the widest operand precision."""
    widest = max(info.data.get("precisions") or (0,))
    if value < widest:
        raise ValueError(f"must be >= the widest precision ({widest} bits)")
    return value
BitSerialMode = Annotated[Literal["bismo", "stripes", "bitfusion"], BeforeValidator(lower)]


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class _MacUnit(_Model):
    """What every MAC-unit kind shares (pysim/units/base.py's interface).

    ``private_operand_buffers``: the unit's PEs read their operands from memories of their
    own (BISMO's per-row and per-column operand buffers, FINN's per-PE weight memories), not
    through the shared scratchpad's ports, which then carry only the DMA traffic that fills
    them: the scratchpad port bound does not apply to its operand reads."""

    private_operand_buffers: ClassVar[bool] = False

    def psum_bits(self, op: Any) -> int:
        """Width of the partial sums the unit writes for ``op`` (the mapper's psum width):
        its accumulator, ``mac_bits``."""
        return self.mac_bits  # type: ignore[attr-defined, no-any-return]

    def peak_macs_per_cycle_for(self, op: Any) -> float:
        """MACs per cycle the unit does at its peak in ``op``'s formats (what the op's
        utilisation is against): ``peak_macs_per_cycle``, the same for every format the unit
        runs, unless the kind says otherwise."""
        return float(self.peak_macs_per_cycle)  # type: ignore[attr-defined]


class RegisterFile(_Model):
    """One PE register (file) of an operand: energy per read and per write, pJ."""

    read_pj: Float = Field(ge=0)
    write_pj: Float = Field(ge=0)


class PeRegisters(_Model):
    """The registers each PE holds per operand, priced per access (Timeloop's / ZigZag's
    innermost memory level). An operand left out has no register: it comes straight from its
    buffer or neighbour (ZigZag's TPU-like inputs)."""

    input: RegisterFile | None = None
    weight: RegisterFile | None = None
    output: RegisterFile | None = None

    def pj(self, macs: float, weight_fills: float, input_fills: float | None = None) -> float:
        """Per MAC: the input read, the weight read, the partial sum read and written; per
        weight loaded into a PE: one weight write. Inputs are written once per MAC (shifted in,
        as on a systolic array) unless ``input_fills`` counts their writes (a spad filled once
        and read many times, as in row stationary)."""
        total = 0.0
        if self.input is not None:
            writes = macs if input_fills is None else input_fills
            total += macs * self.input.read_pj + writes * self.input.write_pj
        if self.weight is not None:
            total += macs * self.weight.read_pj + weight_fills * self.weight.write_pj
        if self.output is not None:
            total += macs * (self.output.read_pj + self.output.write_pj)
        return total


GemmDim = Annotated[Literal["m", "n", "k"], BeforeValidator(lower)]


class SpatialUnrolling(_Model):
    """Which GEMM dimension is unrolled over the array's rows and which over its columns
    (ZigZag's ``spatial_mapping``, Timeloop's spatial constraints); the third is streamed.
    The presets: OS = {rows: m, cols: n}, WS = {rows: k, cols: n}, IS = {rows: k, cols: m}.
    ``arrays``: the dimension split over the unit's ``arrays`` (cores) side by side, each
    taking its slice, the operands it does not index broadcast to all (default: the column
    dimension, as a TPU v4 core's MXUs split N; the streamed one runs the arrays on different
    rows of M, say, each holding the same weights; K leaves each array in use partial sums of
    its slice, added across them: pysim/mapping/tile_model.py)."""

    rows: GemmDim
    cols: GemmDim
    arrays: GemmDim | None = None

    @model_validator(mode="after")
    def _distinct(self) -> SpatialUnrolling:
        if self.rows == self.cols:
            raise FieldError("cols", self.cols, f"must differ from rows ({self.rows!r})")
        return self


class SystolicArrayUnit(_MacUnit):
    """An R x C systolic array of MAC PEs (``kind: systolic_array``).

    ``rows``, ``cols`` in 1..4096; ``dataflow`` os/ws/is, or rs (Eyeriss's row stationary:
    filter rows on the PE rows, output rows on the columns; pysim/mapping/tile_model.py's
    ``RowStationaryTiles``); ``spatial`` the general form of the first three, ``{rows: <m|n|k>,
    cols: <m|n|k>}`` (the dataflow, if given, must name the operand it keeps in the PEs, and
    may be left out); ``timing`` scalesim/pipelined
    (docs/systolic_timing.md); ``precisions`` the operand widths in bits the PEs support
    (default [8]); ``mac_bits`` the accumulator width in bits (default 32, >= every precision);
    ``sparsity`` how the PEs treat zero operands: none, gating (no toggling: energy only) or
    skipping (zeros skipped: cycles too; pysim/mapping/sparsity.py); ``pe_weights`` the
    weights each PE's register file holds (WS / IS, default 1 as in SCALE-Sim): a PE walks
    them for each streamed operand with its partial sum in place, so partial sums leave the
    array once per ``pe_weights`` row folds (pysim/mapping/tile_model.py); ``mac_energy_pj``
    one MAC's energy (else the energy table's at the op's widths); ``registers`` each PE's
    operand registers with their read / write energies (else ``rf_accesses_per_mac`` accesses
    priced by the table's ``rf_access_pj``); ``arrays`` identical arrays side by side (1..256),
    the dimension the dataflow maps to the columns split across them (a TPU v4 core's four
    MXUs): the operand streamed along the rows is broadcast to every array;
    ``float_precisions`` the float operand widths the PEs also multiply (4..32 bits: fp8, bf16 /
    fp16, fp32; default none), accumulating in ``float_acc_bits`` (default 32, fp32 as the
    TPU's bf16 MXU and the tensor cores do); ``precisions`` may then be empty (a float-only
    array). ``multiplier`` what each PE multiplies with (docs/low_precision_units.md,
    "Multiplication-free MAC arrays"; the array's timing is the same for every one): ``exact``
    (default), ``lmul`` (Luo & Sun's L-Mul: float ops, an integer add in place of the mantissa
    product), ``shift`` (a barrel shifter: int ops whose weights are in a power-of-two format,
    ``pow2``), ``ternary`` (a sign select: int ops with ``ternary`` weights; a zero weight
    gates the accumulator update). ``block_scales`` where a weight format's power-of-two block
    scales (MX's E8M0, OCP MX v1.0 Section 6.3) are applied: ``vector`` (default: the vector
    unit multiplies each block's partial sums by their scales, as for any group scale) or
    ``datapath`` (the PE that closes a block shifts its partial sum by the scale's exponent, as
    MX-native MACs do: no vector work, a shift per block per output in the MAC energy).
    """

    kind: Literal["systolic_array"]
    name: str = Field(min_length=1)
    rows: Int = Field(ge=1, le=MAX_DIM)
    cols: Int = Field(ge=1, le=MAX_DIM)
    dataflow: Dataflow = None  # type: ignore[assignment]  # from ``spatial`` if left out
    spatial: SpatialUnrolling | None = None
    timing: Timing = "pipelined"
    precisions: Annotated[tuple[Bits, ...], AfterValidator(_distinct)] = Field(default=(8,))
    mac_bits: Bits = 32
    sparsity: Literal["none", "gating", "skipping"] = "none"
    pe_weights: Int = Field(default=1, ge=1, le=MAX_DIM)
    mac_energy_pj: Float | None = Field(default=None, ge=0)
    registers: PeRegisters | None = None
    arrays: Int = Field(default=1, ge=1, le=256)
    float_precisions: Annotated[tuple[Annotated[Int, Field(ge=4, le=32)], ...],
                                AfterValidator(_distinct)] = ()
    float_acc_bits: Annotated[Int, Field(ge=8, le=32)] = 32
    multiplier: Annotated[Literal["exact", "lmul", "shift", "ternary"],
                          BeforeValidator(lower)] = "exact"
    block_scales: Annotated[Literal["vector", "datapath"], BeforeValidator(lower)] = "vector"

    @model_validator(mode="after")
    def _multiplier_has_operands(self) -> SystolicArrayUnit:
        if self.multiplier == "lmul" and not self.float_precisions:
            raise FieldError("multiplier", self.multiplier, "needs float_precisions (L-Mul "
                             "multiplies floats; without them: exact, shift or ternary)")
        if self.multiplier in ("shift", "ternary") and not self.precisions:
            raise FieldError("multiplier", self.multiplier, "needs precisions (it takes "
                             "integer activations; a float-only array: exact or lmul)")
        return self

    @model_validator(mode="after")
    def _float_acc_wide_enough(self) -> SystolicArrayUnit:
        if not self.precisions and not self.float_precisions:
            raise FieldError("precisions", [], "must list a width unless float_precisions "
                             "does (a float-only array)")
        if self.float_precisions and self.float_acc_bits < max(self.float_precisions):
            raise FieldError("float_acc_bits", self.float_acc_bits,
                             f"must be >= the widest float precision "
                             f"({max(self.float_precisions)} bits)")
        return self

    def psum_bits(self, op: Any) -> int:
        """Width of the partial sums of ``op``: ``float_acc_bits`` for float ops, else
        ``mac_bits``."""
        return self.float_acc_bits if op.dtype == "float" else self.mac_bits

    @property
    def rf_accesses_per_mac(self) -> int:
        """PE register accesses per MAC: two operand registers read and one accumulator
        updated; row stationary reads its filter, ifmap and psum spads and writes the psum
        (Eyeriss's PE, Chen et al., JSSC 2017, Fig. 10), its spad fills counted apart."""
        return 4 if self.dataflow == "rs" else 3

    _wide_enough = field_validator("mac_bits")(classmethod(lambda cls, v, info:
                                                            _at_least_widest(v, info)))

    @model_validator(mode="after")
    def _spatial_matches_dataflow(self) -> SystolicArrayUnit:
        if self.spatial is None:
            if self.dataflow is None:
                raise FieldError("dataflow", None, "is required (os, ws, is or rs) unless "
                                 "spatial gives the unrolling")
            return self
        if self.dataflow == "rs":
            raise FieldError("spatial", self.spatial.model_dump(), "does not apply to rs "
                             "(row stationary unrolls filter rows and output rows)")
        preset = PRESET[stationary(self.spatial.rows, self.spatial.cols)]
        if self.dataflow is None:
            object.__setattr__(self, "dataflow", preset)  # frozen: before anyone sees it
        elif self.dataflow != preset:
            kept = {"os": "C (outputs)", "ws": "B (weights)", "is": "A (inputs)"}[preset]
            raise FieldError("dataflow", self.dataflow,
                             f"must be {preset!r} (or left out): spatial {{rows: "
                             f"{self.spatial.rows}, cols: {self.spatial.cols}}} keeps {kept} "
                             "in the PEs")
        return self

    @property
    def on_rows_cols(self) -> tuple[str, str]:
        """(GEMM dimension on the rows, on the columns) of OS / WS / IS and ``spatial``."""
        if self.spatial is not None:
            return self.spatial.rows, self.spatial.cols
        return SPATIAL[self.dataflow][0], SPATIAL[self.dataflow][1]

    @property
    def split_dim(self) -> str:
        """The GEMM dimension the ``arrays`` split (``spatial.arrays``; default the column
        dimension)."""
        if self.spatial is not None and self.spatial.arrays is not None:
            return self.spatial.arrays
        return self.on_rows_cols[1]

    @property
    def custom_spatial(self) -> tuple[str, ...]:
        """``on_rows_cols`` when ``spatial`` lays the array out other than its preset, plus the
        dimension split over several arrays when that is not the column one, else () (what the
        mapping and the tile model record)."""
        if self.dataflow == "rs":
            return ()
        on_rows, on_cols = self.on_rows_cols
        if self.arrays > 1 and self.split_dim != on_cols:
            return on_rows, on_cols, self.split_dim
        return () if self.preset_layout else self.on_rows_cols

    @property
    def preset_layout(self) -> bool:
        """Whether the unrolling is its dataflow preset's (the C++ fold model's)."""
        return self.dataflow != "rs" and self.on_rows_cols == SPATIAL[self.dataflow][:2]

    @property
    def pes(self) -> int:
        """Processing elements (rows x cols x arrays)."""
        return self.rows * self.cols * self.arrays

    @property
    def peak_macs_per_cycle(self) -> int:
        return self.rows * self.cols * self.arrays

    def build(self) -> SystolicArray | RowStationaryArray:
        """The unit model for this config: ``pysim.units.SystolicArray`` (the C++ fold model
        of OS / WS / IS as SCALE-Sim lays them out) or ``pysim.units.RowStationaryArray``
        (row stationary). Another spatial unrolling has its tile model only (ConfigError)."""
        if self.dataflow == "rs":
            return RowStationaryArray(self.rows, self.cols, self.pe_weights, self.arrays)
        if not self.preset_layout:
            raise ConfigError(f"unit {self.name!r}: the C++ systolic model lays out os, ws or "
                              "is as SCALE-Sim does; another spatial unrolling has only its "
                              "tile model")
        return SystolicArray(rows=self.rows, cols=self.cols, dataflow=self.dataflow,
                             timing=self.timing)

    # -- the MAC-unit interface (pysim/units/base.py) ------------------------------------------

    def supports(self, op: Any) -> bool:
        """Integer operands up to the widest of ``precisions`` (narrower ones run
        sign-extended); float operands up to the widest of ``float_precisions`` (a float MAC
        array: fp8 / bf16 / fp16 multipliers accumulating in ``float_acc_bits``). A
        multiplication-free ``multiplier`` narrows that: ``lmul`` float ops only; ``shift``
        int ops whose weights are a power-of-two format (``pow2``); ``ternary`` int ops with
        ``ternary`` weights (both: ops with a weight operand, not matmul / attention)."""
        if self.multiplier == "lmul" and op.dtype != "float":
            return False
        if self.multiplier in ("shift", "ternary") and not _mulfree_weights(self.multiplier, op):
            return False
        widths = self.float_precisions if op.dtype == "float" else self.precisions
        return bool(widths) and max(operand_bits(op)) <= max(widths)

    def grains(self, op: Any = None) -> tuple[int, int, int]:
        """(m, n, k) tile grains from the spatial unrolling: OS holds M on the rows and N on
        the columns, WS K on the rows and N on the columns, IS K on the rows and M on the
        columns (docs/systolic_timing.md); the streamed dimension has grain 1. Row stationary
        takes whole output rows, ``cols`` of them (M), and whole filter planes (K)."""
        if self.dataflow == "rs":
            w = ConvWindow.of(op)
            return w.out_w * self.cols, 1, w.kernel[0] * w.kernel[1]
        return self._grains_at(self.arrays)

    def _grains_at(self, arrays: int) -> tuple[int, int, int]:
        on_rows, on_cols = self.on_rows_cols
        grain = {on_rows: self.rows, on_cols: self.cols}
        grain[self.split_dim] = grain.get(self.split_dim, 1) * arrays  # split over the arrays
        return grain.get("m", 1), grain.get("n", 1), grain.get("k", 1)

    def fewer_array_grains(self, op: Any = None) -> tuple[tuple[int, int, int], ...]:
        """The grains of this array with fewer arrays side by side (1 .. arrays - 1, at most
        16 of them: every count up to 16, then powers of two), whose tile candidates the search
        also tries: a unit with more arrays can run any tiling one with fewer runs, so its
        search space contains theirs (more arrays are never slower; issue 11)."""
        if self.dataflow == "rs" or self.arrays == 1:
            return ()
        counts = sorted({*range(1, min(self.arrays, 17)),
                         *(1 << i for i in range(self.arrays.bit_length()))} - {self.arrays})
        return tuple(self._grains_at(j) for j in counts if j < self.arrays)

    def tile_model(self, op: Any) -> SystolicTiles | RowStationaryTiles:
        """The vectorised closed form the mapping search scores tilings with."""
        if self.dataflow == "rs":
            return RowStationaryTiles(self.rows, self.cols, self.pe_weights, self.arrays,
                                      ConvWindow.of(op))
        return SystolicTiles(self.rows, self.cols, self.dataflow, self.timing, self.pe_weights,
                             self.arrays, self.custom_spatial)

    def tile_cost(self, m: int, n: int, k: int, op: Any) -> TileCost:
        if self.pe_weights > 1 or self.arrays > 1 or not self.preset_layout:  # tile model
            t = self.tile_model(op).evaluate(m, n, k)
            return TileCost(int(t.cycles), int(t.folds), int(t.macs), int(t.a_reads),
                            int(t.b_reads), int(t.c_writes), int(t.c_reads))
        spec = _core.SystolicSpec(self.rows, self.cols, self.dataflow, self.timing)
        c = _core.systolic_cost(spec, _core.GemmShape(m, n, k))
        return TileCost(c.cycles, c.folds, c.macs, c.ifmap_reads, c.filter_reads,
                        c.ofmap_writes, c.ofmap_reads)

    def fetch_streams(self, m: int, n: int, k: int) -> tuple[tuple[str, int, int], ...]:
        """Per fold, the operands read from the scratchpads as they stream in: the one indexed
        by the row dimension and the streamed one along the row edge (one word per row per
        step), the one indexed by the column dimension and the streamed one along the column
        edge (OS: A and B, K steps each; WS: rows of A, M steps; IS: columns of B, N steps);
        partial sums are written, not fetched. A tile narrower than the array feeds only its
        own lanes (the others get zeros, no access). Row stationary multicasts rows over
        Eyeriss's NoC, not per-PE bank ports: no bank-conflict model."""
        if self.dataflow == "rs":
            return ()
        on_rows, on_cols = self.on_rows_cols
        (streamed,) = set("mnk") - {on_rows, on_cols}
        extent = {"m": m, "n": n, "k": k}
        steps = extent[streamed]
        if self.split_dim == streamed:  # each array streams its slice
            steps = -(-steps // self.arrays)
        out = []
        for role, dims in (("input", "mk"), ("weight", "kn")):
            if streamed in dims and on_rows in dims:
                out.append((role, min(self.rows, extent[on_rows]), steps))
            elif streamed in dims and on_cols in dims:
                out.append((role, min(self.cols, extent[on_cols]), steps))
        return tuple(out)

    def mac_pj(self, table: Any, op: Any) -> float:
        """``mac_energy_pj`` if set, else the table's MAC at the op's widths: its multiply (by
        ``multiplier``: below) and an accumulator add (``float_acc_bits`` fp for float ops,
        else ``mac_bits`` int). Multipliers: ``lmul`` ``table.lmul_pj(max(w, a))``; ``shift``
        ``table.shift_pj(act_bits)`` (the activation shifted); ``ternary``
        ``table.sign_select_pj(act_bits)`` with the add scaled by the weights' density
        (``weight_sparsity``; 1 when not given) unless ``sparsity`` already gates zeros.
        ``exact`` int ops with a 1-bit operand on an array whose ``precisions`` list 1 (PEs
        that take binary codes, EcoFormer's hashes): the code selects the other operand or
        its negation, ``table.sign_select_pj(other bits)`` plus the accumulator add, the
        accumulate-only MAC of a multiplication-free array (Liu et al., NeurIPS 2022); a
        1-bit operand on an array without 1 in ``precisions`` is multiplied sign-extended.
        Widths: ``operand_bits(op)`` (a matmul's B at its ``b_bits``)."""
        if self.mac_energy_pj is not None:
            return self.mac_energy_pj
        if self.multiplier == "lmul":
            return (table.lmul_pj(max(op.weight_bits, op.act_bits))
                    + table.add_pj(self.float_acc_bits, "fp"))
        if self.multiplier == "shift":
            return table.shift_pj(op.act_bits) + table.add_pj(self.mac_bits)
        if self.multiplier == "ternary":
            gated = 1.0
            if self.sparsity == "none" and op.weight_sparsity is not None:
                gated = op.weight_sparsity.density  # zero weights skip the update
            return table.sign_select_pj(op.act_bits) + gated * table.add_pj(self.mac_bits)
        a_bits, b_bits = operand_bits(op)
        if op.dtype == "float":  # a float multiply and a float_acc_bits float add
            mult = float_mult_pj(table, op, a_bits, b_bits)
            block = mx_block_accumulator(op, self) if self.block_scales == "datapath" else None
            if block is not None:  # an MX-native MAC: the block's sum in fixed point
                return mult + block.mac_pj(table) + table.add_pj(
                    self.float_acc_bits, "fp") / block.group
            return mult + table.add_pj(self.float_acc_bits, "fp")
        if 1 in (a_bits, b_bits) and 1 in self.precisions:  # a binary code selects: no multiply
            return table.sign_select_pj(max(a_bits, b_bits)) + table.add_pj(self.mac_bits)
        return table.mac_pj(b_bits, a_bits, acc_bits=self.mac_bits)

    @property
    def capability(self) -> str:
        """What ops it runs, for error messages."""
        parts = []
        if self.precisions:
            parts.append(f"int operands up to {max(self.precisions)} bits (precisions "
                         f"{list(self.precisions)})")
        if self.float_precisions:
            parts.append(f"float operands up to {max(self.float_precisions)} bits "
                         f"(float_precisions {list(self.float_precisions)})")
        note = {"lmul": "float ops only (multiplier lmul)",
                "shift": "int ops with power-of-two weights, weight_format pow2 (multiplier "
                         "shift)",
                "ternary": "int ops with ternary weights, weight_format ternary (multiplier "
                           "ternary)"}.get(self.multiplier)
        return "; ".join(parts) + (f"; {note}" if note else "")


def _mulfree_weights(multiplier: str, op: Any) -> bool:
    """Whether ``op``'s weights suit a ``shift`` / ``ternary`` multiplier: an int op with a
    weight operand whose ``weight_format`` is a power-of-two format / ``ternary``."""
    fmt = getattr(op, "weight_format", None)
    if op.dtype != "int" or fmt is None or op.type in ("matmul", "attention"):
        return False
    if multiplier == "ternary":
        return bool(fmt == "ternary")
    from pysim.formats.registry import FloatFormat, get

    f = get(fmt)
    return isinstance(f, FloatFormat) and f.is_pow2


def operand_bits(op: Any) -> tuple[int, int]:
    """(a_bits, b_bits) of the GEMM an op lowers to, as the mapper reads them: A is the
    activation operand (``act_bits``); B is the weight operand (``weight_bits``) except for
    ops whose two operands are both activations (``attention``: ``act_bits``; ``matmul``: its
    ``input_bits()``, B at ``b_bits`` when set)."""
    if op.type == "matmul":  # both activations; B may be narrower or wider (``b_bits``)
        return op.input_bits()
    b_bits = op.act_bits if op.type == "attention" else op.weight_bits
    return op.act_bits, b_bits


@dataclass(frozen=True)
class BlockAccumulator:
    """An MX-native MAC's fixed-point accumulator for one block of ``group`` products (OCP MX
    v1.0, Sec. 6.3: a block's dot product is computed "in a precision of the implementation's
    choosing"; here exactly): each product, over an exponent ``span`` of positions, is aligned
    into a ``word_bits`` fixed-point word and added there; the block's sum meets the float
    accumulator once per block. This is the integer accumulation Cuyckens et al.
    (arXiv:2511.06313) set against an fp32 add per product: cheap for fp4 and fp6 elements,
    wide (42 bits for E4M3, 70 kept to 64 for E5M2) for fp8."""

    word_bits: int
    span: int
    group: int

    def mac_pj(self, table: Any) -> float:
        """One product's alignment and add: an aligner of ``word_bits`` outputs with
        log2(``span``) mux stages (a ``word_bits`` barrel shifter has log2(``word_bits``)), and
        a ``word_bits`` integer add."""
        stages = math.log2(max(2, self.span)) / math.log2(max(2, self.word_bits))
        return table.shift_pj(self.word_bits) * stages + table.add_pj(self.word_bits)


# E5M2 x E5M2 products span 70 bits; a word is kept to 64 (products more than 2^-36 below the
# block's largest drop, beyond what an fp32 block sum keeps)
MAX_BLOCK_WORD_BITS = 64


def mx_block_accumulator(op: Any, unit: Any) -> BlockAccumulator | None:
    """The fixed-point block accumulator of an MX-native MAC (``block_scales: datapath``) for a
    float op whose two operands are float formats of at most 8 bits (MX elements: fp8, fp6,
    fp4) and whose weights carry power-of-two block scales; None otherwise (the MAC adds each
    product to the float accumulator). Word: the product range of the two formats, subnormals
    included, (emax_a + emax_w + 2) - (emin_a - m_a + emin_w - m_w), plus log2(group) guard
    bits and a sign."""
    from pysim.formats.registry import FloatFormat, MXFormat, get
    from pysim.mapping.planner import datapath_scale_group

    group = datapath_scale_group(op, unit)
    act, weight = getattr(op, "act_format", None), getattr(op, "weight_format", None)
    if not group or act is None or weight is None:
        return None
    fmts = []
    for name in (act, weight):
        f = get(name)
        f = f.element if isinstance(f, MXFormat) else f
        if not isinstance(f, FloatFormat) or f.bits > 8:
            return None
        fmts.append(f)
    a, w = fmts
    top = a.emax + w.emax + 2
    bottom = (a.emin - a.mbits) + (w.emin - w.mbits)
    word = top - bottom + math.ceil(math.log2(group)) + 1
    return BlockAccumulator(min(word, MAX_BLOCK_WORD_BITS), a.emax + w.emax - a.emin - w.emin,
                            group)


# (exponent, mantissa) bits of a float operand that names no format: IEEE's at 16 and 32 bits
IEEE_FIELDS = {16: (5, 10), 32: (8, 23)}


def float_mult_pj(table: Any, op: Any, a_bits: int, b_bits: int, b_as_a: bool = False) -> float:
    """One float multiply of the op's A and B operands (``a_bits`` / ``b_bits`` wide): by their
    (exponent, mantissa) fields (``EnergyTable.float_mult_pj``) where both are known, else the
    width power law through fp16 and fp32 (``mult_pj``; the two agree there). A's format is
    ``act_format``; B's ``weight_format``, or A's for an attention op, a matmul whose B is not
    narrower or wider, and ``b_as_a`` (a weight multiplied as what it is dequantized to); a
    float that names no format is IEEE's at 16 and 32 bits."""
    from pysim.workload.number_formats import element_format

    def fields(fmt: str | None, bits: int) -> tuple[int, int] | None:
        return element_format(fmt).fields if fmt is not None else IEEE_FIELDS.get(bits)

    a_fmt = getattr(op, "act_format", None)
    if b_as_a or op.type == "attention" or (op.type == "matmul" and b_bits == a_bits):
        b_fmt = a_fmt
    else:
        b_fmt = None if op.type == "matmul" else getattr(op, "weight_format", None)
    a, b = fields(a_fmt, a_bits), fields(b_fmt, b_bits)
    if a is not None and b is not None:
        return float(table.float_mult_pj(b, a))
    return float(table.mult_pj(b_bits, a_bits, "fp"))


# The unit models, built once per distinct config (a model is immutable and cheap to keep).
_bit_serial_array = lru_cache(maxsize=64)(BitSerialArray)
_xnor_array = lru_cache(maxsize=64)(XnorArray)


def _reduction_k(op: Any) -> int:
    """K of the op's GEMM view (for an attention op, its head_dim); the MAC energies of the
    low-precision units amortise per-output work (accumulator updates, thresholds) over it."""
    view = op.gemm_view()
    if view is not None:
        return int(view.k)
    return int(getattr(op, "head_dim", 1))


class BitSerialUnit(_MacUnit):
    """A bit-serial array of ``dm`` x ``dn`` dot-product units, ``dk`` lanes each
    (``kind: bit_serial``; the model is ``pysim.units.BitSerialArray``).

    ``mode`` bismo (cycles ~ w x a bits), stripes (~ a) or bitfusion (2-bit BitBricks);
    ``precisions`` the operand widths in bits its control supports (default 1..8; each 1..32,
    no repeats): an op runs here only if both its operand widths are listed, at exactly those
    widths (no padding); ``acc_bits`` the accumulator / written result width (default 32,
    >= the widest precision); ``sparsity`` none, gating or skipping (as for the systolic
    array: zero weights gate the AND planes, or are skipped along K).
    """

    kind: Literal["bit_serial"]
    name: str = Field(min_length=1)
    dm: Int = Field(ge=1, le=MAX_DIM)
    dn: Int = Field(ge=1, le=MAX_DIM)
    dk: Int = Field(ge=1, le=MAX_DIM)
    mode: BitSerialMode = "bismo"
    precisions: Annotated[tuple[OperandBits, ...], AfterValidator(_distinct)] = Field(
        default=(1, 2, 3, 4, 5, 6, 7, 8), min_length=1)
    acc_bits: Bits = 32
    sparsity: Literal["none", "gating", "skipping"] = "none"

    # Operand bits stream from the unit's own buffers into AND / popcount lanes; the
    # per-bit energy (``and_popcount_bit_pj``) covers the datapath registers.
    rf_accesses_per_mac: ClassVar[int] = 0

    _wide_enough = field_validator("acc_bits")(classmethod(lambda cls, v, info:
                                                            _at_least_widest(v, info)))

    @property
    def pes(self) -> int:
        """Dot-product units (dm x dn), for leakage."""
        return self.dm * self.dn

    @property
    def mac_bits(self) -> int:
        """Width of the partial sums the unit writes (the mapper's psum width)."""
        return self.acc_bits

    @property
    def peak_macs_per_cycle(self) -> float:
        """Peak MACs per cycle at w8a8 (comparable with an int8 systolic array's), whatever
        ``precisions`` holds: bismo dm dn dk / 64, stripes dm dn dk / 8, bitfusion dm dn dk."""
        return self._array.peak_macs_per_cycle(8, 8)

    def peak_macs_per_cycle_for(self, op: Any) -> float:
        """The peak at the op's operand widths: a w4a4 op on a BISMO array does four times
        the w8a8 MACs per cycle (``BitSerialArray.peak_macs_per_cycle``)."""
        a_bits, b_bits = operand_bits(op)
        return self._array.peak_macs_per_cycle(a_bits, b_bits)

    @property
    def capability(self) -> str:
        return f"int operands of {list(self.precisions)} bits (both operands)"

    def build(self) -> BitSerialArray:
        """The unit model (``pysim.units.bit_serial.BitSerialArray``) for this config."""
        return BitSerialArray(dm=self.dm, dn=self.dn, dk=self.dk, mode=self.mode,
                              acc_bits=self.acc_bits)

    @property
    def _array(self) -> BitSerialArray:
        return _bit_serial_array(self.dm, self.dn, self.dk, self.mode, self.acc_bits)

    # -- the MAC-unit interface (pysim/units/base.py) ------------------------------------------

    def supports(self, op: Any) -> bool:
        """Integer ops whose two operand widths are both in ``precisions``."""
        a_bits, b_bits = operand_bits(op)
        return op.dtype == "int" and a_bits in self.precisions and b_bits in self.precisions

    def grains(self, op: Any = None) -> tuple[int, int, int]:
        """An output tile is dm x dn; a DPU reduces K in chunks of dk (Bit Fusion: dk x pf;
        dk is the grain that fits every width)."""
        return self.dm, self.dn, self.dk

    def tile_cost(self, m: int, n: int, k: int, op: Any) -> TileCost:
        """The closed form ``BitSerialArray.cost(m, n, k, a_bits, b_bits)``; operand bits
        delivered to the DPUs become element reads (``a_read_bits / a_bits``: in bismo mode
        every element is read once per bit plane of the other operand), the accumulators are
        written once per output (``out_writes``, at ``acc_bits``) and never read back."""
        return self.tile_cost_of(m, n, k, operand_bits(op))

    def tile_cost_of(self, m: int, n: int, k: int, key: tuple) -> TileCost:
        """``tile_cost`` with the op reduced to its operand widths ``key = (a_bits, b_bits)``."""
        a_bits, b_bits = key
        c = self._array.cost(m, n, k, a_bits, b_bits)
        return TileCost(c.cycles, c.m_tiles * c.n_tiles, c.macs, c.a_read_bits // a_bits,
                        c.b_read_bits // b_bits, c.out_writes, 0)

    def tile_model(self, op: Any) -> ClosedFormTiles:
        return ClosedFormTiles(self, operand_bits(op))

    private_operand_buffers: ClassVar[bool] = True

    def fetch_streams(self, m: int, n: int, k: int) -> tuple[tuple[str, int, int], ...]:
        """None: BISMO feeds each DPU row and column from its own operand buffer (dm + dn
        buffers, one Dk-bit word per cycle each), so a fold's fetches never meet in a shared
        bank; the scratchpad bank-conflict model does not apply."""
        return ()

    def mac_pj(self, table: Any, op: Any) -> float:
        """One MAC at the op's widths: bit products x ``table.and_popcount_bit_pj()`` (a 1 x 1-bit
        AND with its popcount / adder-tree input) plus the accumulator updates per MAC x
        ``table.add_pj(acc_bits)``. Bit products per MAC: w x a (bismo, stripes), Bit Fusion's
        2 x 2-bit BitBricks 4 ceil(w / 2) ceil(a / 2). Accumulator updates per MAC: each DPU
        accumulates once per issue, ``k_steps x passes`` times per output over the op's K.
        At dk = 64 in bismo mode, w8a8 costs int8_mult + int32_add, the int8 MAC of the
        systolic array; w4a4 a quarter of that."""
        a_bits, b_bits = operand_bits(op)
        if self.mode == "bitfusion":
            products = 4 * math.ceil(a_bits / 2) * math.ceil(b_bits / 2)
        else:
            products = a_bits * b_bits
        k = _reduction_k(op)
        c = self._array.cost(1, 1, k, a_bits, b_bits)
        accumulates = c.k_steps * c.passes / k
        return (products * table.and_popcount_bit_pj()
                + accumulates * table.add_pj(self.acc_bits))


class XnorUnit(_MacUnit):
    """A FINN-style XNOR / popcount array of ``pe`` processing elements with ``simd`` XNOR
    lanes each (``kind: xnor``; the model is ``pysim.units.XnorArray``). Runs binary ops only:
    1-bit (+-1) weights and 1-bit activations. ``acc_bits`` the width of an unthresholded sum
    (default 32); ``sparsity`` none.
    """

    kind: Literal["xnor"]
    name: str = Field(min_length=1)
    pe: Int = Field(ge=1, le=MAX_DIM)
    simd: Int = Field(default=64, ge=1, le=MAX_DIM)
    acc_bits: Bits = 32
    sparsity: Literal["none"] = "none"  # +-1 operands have no zeros

    # XNOR lanes and popcount trees; ``xnor_popcount_bit_pj`` covers their registers.
    rf_accesses_per_mac: ClassVar[int] = 0

    @property
    def pes(self) -> int:
        """Processing elements (pe), for leakage."""
        return self.pe

    @property
    def mac_bits(self) -> int:
        """Width of the partial sums the unit writes (the mapper's psum width)."""
        return self.acc_bits

    @property
    def peak_macs_per_cycle(self) -> int:
        """pe x simd binary MACs (one XNOR-popcount bit each)."""
        return self.pe * self.simd

    @property
    def capability(self) -> str:
        return "binary ops only: 1-bit (+-1) weights and 1-bit activations"

    def build(self) -> XnorArray:
        """The unit model (``pysim.units.xnor.XnorArray``) for this config."""
        return XnorArray(pe=self.pe, simd=self.simd, acc_bits=self.acc_bits)

    @property
    def _array(self) -> XnorArray:
        return _xnor_array(self.pe, self.simd, self.acc_bits)

    # -- the MAC-unit interface (pysim/units/base.py) ------------------------------------------

    def supports(self, op: Any) -> bool:
        """Integer ops with both operands 1 bit wide (+-1)."""
        return op.dtype == "int" and operand_bits(op) == (1, 1)

    def grains(self, op: Any = None) -> tuple[int, int, int]:
        """One input row at a time; pe output channels; simd lanes of K."""
        return 1, self.pe, self.simd

    def tile_cost(self, m: int, n: int, k: int, op: Any) -> TileCost:
        """The closed form ``XnorArray.cost(m, n, k, thresholded)``, thresholded when the op
        writes 1-bit outputs. Operands are 1 bit, so bits read are elements read; a fold is
        one (input row, neuron fold); sums stay in the PE accumulators (no output reads)."""
        return self.tile_cost_of(m, n, k, (op.output_bits == 1,))

    def tile_cost_of(self, m: int, n: int, k: int, key: tuple) -> TileCost:
        """``tile_cost`` with the op reduced to ``key = (thresholded,)``."""
        c = self._array.cost(m, n, k, key[0])
        return TileCost(c.cycles, m * c.neuron_folds, c.macs, c.a_read_bits, c.b_read_bits,
                        c.out_writes, 0)

    def tile_model(self, op: Any) -> ClosedFormTiles:
        return ClosedFormTiles(self, (op.output_bits == 1,))

    private_operand_buffers: ClassVar[bool] = True

    def fetch_streams(self, m: int, n: int, k: int) -> tuple[tuple[str, int, int], ...]:
        """None: as in FINN, each PE reads its weights from its own memory and the input slice
        is broadcast from a stream buffer, so there is no shared-bank conflict to model."""
        return ()

    def mac_pj(self, table: Any, op: Any) -> float:
        """One binary MAC: ``table.xnor_popcount_bit_pj()`` (an XNOR gate and its popcount-tree
        input) plus the PE's accumulator updates (``synapse_folds`` per output) and, when the
        op writes 1-bit outputs, its threshold comparison (one ``acc_bits`` add per output),
        both amortised over the op's K."""
        k = _reduction_k(op)
        c = self._array.cost(1, 1, k, op.output_bits == 1)
        per_output = c.synapse_folds + (1 if op.output_bits == 1 else 0)
        return table.xnor_popcount_bit_pj() + per_output * table.add_pj(self.acc_bits) / k


class RowKernel(BaseModel):
    """A GPU kernel that runs one CTA per row (PyTorch's layer norm; its block softmax, over rows
    of more than 2048 values or 8 KiB; its RMS norm): the first row finishes ``latency_us``
    after the kernel starts (its loads, block reductions and stores: dependent memory round
    trips), and each SM then moves the rows that follow at ``sm_gb_per_s`` (bytes in flight
    per SM over the memory latency, Little's law), rows spread over the SMs a row at a time
    (pysim/gpu/kernels.py, ``row_kernel_s``)."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    latency_us: Float = Field(ge=0, le=1e6)
    sm_gb_per_s: Float = Field(gt=0, le=1e6)


class TensorCoreUnit(_MacUnit):
    """A GPU's streaming multiprocessors as one MAC unit (``kind: tensor_core``): ``sms`` SMs of
    ``tensor_cores_per_sm`` MMA engines of architecture ``arch`` (their shapes and rates per
    input dtype, accumulator and 2:4 sparsity: ``csrc/units/tensor_core.*``), each SM with its
    register file and shared memory (KiB per SM; shared memory ``smem_bandwidth_bytes_per_clk``
    bytes per clock per SM). The memory levels behind the SMs are the hardware's: the
    outermost scratchpad is the L2 (its size, and banks x ports x word bytes per clock its
    bandwidth), ``dram`` the HBM; the clock is the hardware's. An op runs as one kernel
    (pysim/gpu/kernels.py): CTA tiling, waves, split-K and a ``launch_overhead_us`` launch
    (host side; hidden behind longer kernels), ``kernel_latency_us`` between back-to-back
    kernels and ``pipeline_latency_us`` once per GEMM kernel on the device (docs/tensor_cores.md),
    ``stream_latency_us`` once per CUDA-core kernel (its memory round trip);
    ``softmax_rows``, ``norm_rows`` and ``rms_norm_rows`` (``RowKernel``; none: streamed like
    the rest) time the block softmax, layer norm and RMS norm kernels per row;
    ``mma_clock_mhz`` (0: the hardware's clock) the SM clock of tensor-core-bound kernels under
    the board's power limit, ``mma_efficiency`` (1: none) the fraction of the MMA peak at that
    clock a long GEMM's main loop sustains (both measured on the h200);
    ``fusion: epilogue`` runs the elementwise ops after a GEMM in its epilogue, as cuBLASLt,
    TensorRT and torch.compile do; ``fp32_acc_half_rate`` halves the rate of float inputs
    accumulating in fp32 (GeForce parts). ``description`` names the part.
    """

    kind: Literal["tensor_core"]
    name: str = Field(min_length=1)
    description: str = ""
    arch: str
    sms: Int = Field(ge=1, le=1024)
    tensor_cores_per_sm: Int = Field(ge=1, le=64)
    register_file_kib_per_sm: Int = Field(ge=1, le=1 << 20)
    shared_memory_kib_per_sm: Int = Field(ge=1, le=1 << 20)
    smem_bandwidth_bytes_per_clk: Float = Field(default=128.0, gt=0, le=1 << 20)
    launch_overhead_us: Float = Field(default=4.0, ge=0, le=1e6)
    # device-side fixed times (configs/gpu/h200.yaml has those measured on an H200)
    kernel_latency_us: Float = Field(default=0.0, ge=0, le=1e6)
    pipeline_latency_us: Float = Field(default=0.0, ge=0, le=1e6)
    # a CUDA-core kernel's memory round trip beyond kernel_latency_us (first loads, last stores)
    stream_latency_us: Float = Field(default=0.0, ge=0, le=1e6)
    # the SM clock of tensor-core-bound kernels under the board's power limit (0: the clock)
    mma_clock_mhz: Float = Field(default=0.0, ge=0, le=1e5)
    # the fraction of the MMA peak at that clock a long GEMM's main loop sustains (1: none)
    mma_efficiency: Float = Field(default=1.0, gt=0, le=1)
    # one-CTA-per-row kernels (configs/gpu/h200.yaml has them measured on an H200)
    softmax_rows: RowKernel | None = None
    norm_rows: RowKernel | None = None
    rms_norm_rows: RowKernel | None = None
    fusion: Literal["epilogue", "none"] = "epilogue"
    # the fused-attention kernel: FlashAttention-2, or FlashAttention-3 (hopper only)
    attention: Literal["flash2", "flash3"] = "flash2"
    fp32_acc_half_rate: bool = False

    # The MMA reads its operands from registers the kernel model prices with the shared
    # memory; no PE register file of its own.
    rf_accesses_per_mac: ClassVar[int] = 0
    mac_bits: ClassVar[int] = 32

    @field_validator("arch")
    @classmethod
    def _known_arch(cls, value: str) -> str:
        archs = tuple(_core.tc_archs())
        key = value.strip().lower() if isinstance(value, str) else value
        if key not in archs:
            raise ValueError(f"must be one of {list(archs)}")
        return key

    @field_validator("attention")
    @classmethod
    def _flash3_on_hopper(cls, value: str, info: ValidationInfo) -> str:
        if value == "flash3" and info.data.get("arch") != "hopper":
            raise ValueError(f"'flash3' (FlashAttention-3) runs on hopper (sm90) only, not "
                             f"{info.data.get('arch')!r}: use 'flash2'")
        return value

    @property
    def pes(self) -> int:
        """Tensor cores (for leakage)."""
        return self.sms * self.tensor_cores_per_sm

    def dtypes(self, sparse: bool = False) -> tuple[str, ...]:
        """Tensor-core input dtypes of ``arch`` (with 2:4 sparsity if ``sparse``)."""
        return tuple(d for d in _core.tc_dtypes() if _core.tc_supports(self.arch, d, sparse))

    @property
    def peak_macs_per_cycle(self) -> int:
        """Dense fp16 MACs per clock over all SMs (int8 on a part without fp16)."""
        dtype = "fp16" if "fp16" in self.dtypes() else self.dtypes()[0]
        return self.macs_per_cycle(dtype)

    def macs_per_cycle(self, dtype: str, sparse: bool = False) -> int:
        """MACs per clock over all SMs in MMA ``dtype`` (its default accumulator)."""
        return self.sms * _core.tc_macs_per_clk_per_sm(self.arch, dtype, sparse, None,
                                                       self.fp32_acc_half_rate)

    def peak_macs_per_cycle_for(self, op: Any) -> float:
        """The peak of the MMA the op runs on (``pysim.gpu.kernels.mma_of``: an A100's int8
        MMAs do twice its fp16 MACs per clock, 2:4 sparse weights twice again); the fp16 peak
        where no dtype fits."""
        from pysim.gpu.kernels import mma_of

        dtype, sparse = mma_of(op, self.dtypes)
        return float(self.macs_per_cycle(dtype, sparse) if dtype is not None
                     else self.peak_macs_per_cycle)

    @property
    def capability(self) -> str:
        return f"{self.arch} tensor-core dtypes {list(self.dtypes())}"

    def supports(self, op: Any) -> bool:
        """MAC ops whose operand format and width map to a tensor-core dtype of ``arch``
        (pysim/gpu/dtypes.py's ``for_op``: NF4 weights on bf16 / fp16 / tf32 MMAs, NF4
        activations on none)."""
        from pysim.gpu.dtypes import for_op

        return for_op(op, self.dtypes()) is not None

    def mac_pj(self, table: Any, op: Any) -> float:
        """The energy table's MAC at the op's widths and number format; an NF4 weight is
        multiplied as what it is dequantized to, the activations' width (a bf16 MMA)."""
        nf4 = getattr(op, "weight_format", None) == "nf4"
        wbits = op.act_bits if nf4 else op.weight_bits
        if op.dtype != "float":
            return table.mac_pj(wbits, op.act_bits)
        return float_mult_pj(table, op, op.act_bits, wbits, b_as_a=nf4) + table.add_pj(32, "fp")


# The one registry of unit kinds: kind -> model.
UNIT_KINDS: dict[str, type[_MacUnit]] = {
    "systolic_array": SystolicArrayUnit,
    "bit_serial": BitSerialUnit,
    "xnor": XnorUnit,
    "tensor_core": TensorCoreUnit,
}

if TYPE_CHECKING:  # the same union, spelled out for type checkers (keep with UNIT_KINDS)
    Unit = SystolicArrayUnit | BitSerialUnit | XnorUnit | TensorCoreUnit
else:
    Unit = Annotated[Union[tuple(UNIT_KINDS.values())], Field(discriminator="kind")]  # noqa: UP007


class VectorUnit(_Model):
    """The vector unit for elementwise ops, softmax, layernorm and pooling: ``lanes`` lanes,
    each doing ``ops_per_lane_per_cycle`` operations of ``bits``-wide data per cycle."""

    name: str = Field(min_length=1)
    lanes: Int = Field(ge=1, le=1 << 20)
    ops_per_lane_per_cycle: Int = Field(default=1, ge=1, le=64)
    bits: Bits = 16

    @property
    def ops_per_cycle(self) -> int:
        return self.lanes * self.ops_per_lane_per_cycle
