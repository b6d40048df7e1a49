"""Number formats as typed, immutable objects, and the registry that names them.

Four kinds share one small interface (``name``, ``bits``: the packed width of one element in
memory, ``max_abs``: the largest finite magnitude, ``emax``: floor(log2(max_abs)), the exponent
MX v1.0 Section 6.3 subtracts to form a shared scale):

- ``IntFormat``: two's complement or unsigned integers of 1..16 bits, and ternary {-1, 0, +1}
  (stored in 2 bits); ``frac_bits`` gives an implied fixed-point scale (MXINT8's 2^-6).
- ``FloatFormat``: sign, ``ebits`` exponent, ``mbits`` mantissa, ``bias``, and which special
  values the encoding keeps: ``"ieee"`` (inf and NaN at the all-ones exponent: fp32, tf32, bf16,
  fp16, OCP FP8 E5M2), ``"fn"`` (no inf; only S.1111.111 is NaN: OCP FP8 E4M3) or ``"none"``
  (every code is finite: the MX FP6 / FP4 element types, MX v1.0 Section 5.3).
  A float format without mantissa bits (``mbits`` 0) holds signed powers of two: ``pow2``
  (DeepShift's weights, sign x 2^p, zero at the all-zeros exponent; ``is_pow2``).
- ``CodebookFormat``: a 2^bits-entry table of values (NF4, QLoRA's NormalFloat).
- ``MXFormat``: an OCP Microscaling block format: 32 elements of ``element`` sharing one E8M0
  scale (MX v1.0 Section 5, Table 1).

``get(name)`` looks a format up; ``names()`` lists them. Scale data types (the dtype a scale is
stored in) are ``SCALE_DTYPES``.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Literal

__all__ = [
    "FORMATS",
    "NF4_CODEBOOK",
    "SCALE_DTYPES",
    "CodebookFormat",
    "FloatFormat",
    "Format",
    "IntFormat",
    "MXFormat",
    "get",
    "names",
]


@dataclass(frozen=True)
class IntFormat:
    """Integers ``qmin..qmax`` stored in ``bits``; a code c means c * 2^-frac_bits."""

    name: str
    bits: int
    qmin: int
    qmax: int
    frac_bits: int = 0
    kind: Literal["int"] = "int"

    @property
    def signed(self) -> bool:
        return self.qmin < 0

    @property
    def max_abs(self) -> float:
        """The magnitude an absmax scale maps to: qmax (symmetric), or -qmin when qmax is 0."""
        return (self.qmax if self.qmax > 0 else -self.qmin) * 2.0**-self.frac_bits

    @property
    def emax(self) -> int:
        # MX v1.0 Section 5.3.4: the INT8 element (implied scale 2^-6) has emax 0.
        return math.floor(math.log2(self.max_abs))


@dataclass(frozen=True)
class FloatFormat:
    """Binary floating point: 1 sign bit, ``ebits`` exponent bits with ``bias``, ``mbits``
    mantissa bits, subnormals, and the special values ``specials`` names. ``bits`` is the
    width in memory (tf32's 19 bits live in a 32-bit word)."""

    name: str
    ebits: int
    mbits: int
    bias: int
    specials: Literal["ieee", "fn", "none"]
    storage: int = 0  # bits in memory when wider than the encoding (tf32)
    kind: Literal["float"] = "float"

    @property
    def encoding_bits(self) -> int:
        return 1 + self.ebits + self.mbits

    @property
    def bits(self) -> int:
        return self.storage or self.encoding_bits

    @property
    def emin(self) -> int:
        """Exponent of the smallest normal number (also of the subnormals' quantum + mbits)."""
        return 1 - self.bias

    @property
    def max_code(self) -> int:
        """Largest finite code without the sign bit."""
        top = (1 << (self.ebits + self.mbits)) - 1  # all ones: NaN ("fn"), finite ("none")
        if self.specials == "ieee":
            return top - (1 << self.mbits)  # exponent all ones is inf / NaN
        return top - 1 if self.specials == "fn" else top

    @property
    def max_abs(self) -> float:
        e, m = divmod(self.max_code, 1 << self.mbits)
        return (1 + m / (1 << self.mbits)) * 2.0 ** (e - self.bias)

    @property
    def emax(self) -> int:
        return self.max_code // (1 << self.mbits) - self.bias

    @property
    def is_pow2(self) -> bool:
        """Whether every value is zero or a signed power of two (no mantissa bits): a product
        with it is a shift (DeepShift, ShiftAddNet)."""
        return self.mbits == 0


@dataclass(frozen=True)
class CodebookFormat:
    """A table of 2^bits values, sorted ascending; a code is an index into ``values``."""

    name: str
    bits: int
    values: tuple[float, ...]
    source: str
    kind: Literal["codebook"] = "codebook"

    @property
    def max_abs(self) -> float:
        return max(abs(v) for v in self.values)

    @property
    def emax(self) -> int:
        return math.floor(math.log2(self.max_abs))


@dataclass(frozen=True)
class MXFormat:
    """OCP MX v1.0 block format: ``block_size`` elements of ``element`` share one scale of
    ``scale_dtype`` (E8M0 for every concrete MX format, Section 5 Table 1)."""

    name: str
    element: IntFormat | FloatFormat
    block_size: int = 32
    scale_dtype: str = "e8m0"
    kind: Literal["mx"] = "mx"

    @property
    def bits(self) -> int:
        return self.element.bits

    @property
    def max_abs(self) -> float:
        return self.element.max_abs

    @property
    def emax(self) -> int:
        return self.element.emax


Format = IntFormat | FloatFormat | CodebookFormat | MXFormat

# QLoRA (Dettmers et al. 2023, "QLoRA: Efficient Finetuning of Quantized LLMs", Appendix E):
# the NormalFloat-4 values, quantiles of N(0, 1) normalised to [-1, 1] with an exact zero; the
# same table as bitsandbytes' NF4 code book.
NF4_CODEBOOK: tuple[float, ...] = (
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453,
    -0.28444138169288635, -0.18477343022823334, -0.09105003625154495, 0.0,
    0.07958029955625534, 0.16093020141124725, 0.24611230194568634, 0.33791524171829224,
    0.44070982933044434, 0.5626170039176941, 0.7229568362236023, 1.0,
)


def _floats() -> list[FloatFormat]:
    return [
        FloatFormat("fp32", 8, 23, 127, "ieee"),
        FloatFormat("tf32", 8, 10, 127, "ieee", storage=32),  # NVIDIA A100 whitepaper
        FloatFormat("bf16", 8, 7, 127, "ieee"),
        FloatFormat("fp16", 5, 10, 15, "ieee"),  # IEEE 754 binary16
        FloatFormat("fp8_e4m3", 4, 3, 7, "fn"),  # OCP OFP8 v1.0 / MX v1.0 Section 5.3.1
        FloatFormat("fp8_e5m2", 5, 2, 15, "ieee"),
        FloatFormat("fp6_e2m3", 2, 3, 1, "none"),  # MX v1.0 Section 5.3.2
        FloatFormat("fp6_e3m2", 3, 2, 3, "none"),
        FloatFormat("fp4_e2m1", 2, 1, 1, "none"),  # MX v1.0 Section 5.3.3
        # Powers of two for shift weights: DeepShift (Elhoushi et al. 2019, "DeepShift: Towards
        # Multiplication-Less Neural Networks", abstract: "only 5 bits (or less) to represent
        # the weights") as sign x 2^p: 1 sign bit and a 4-bit exponent, bias 15, no mantissa.
        # Exponent code 0 is zero (a subnormal with no mantissa bits); codes 1..15 are
        # 2^-14 .. 2^0, so max_abs 1 (a weight scaled by its absmax maps to p <= 0, as
        # DeepShift's right shifts). Every code is finite ("none"). Rounding is to the nearest
        # value (the registry's rule; DeepShift-Q rounds log2|w|, i.e. splits at sqrt(2) 2^p
        # where this splits at 1.5 x 2^p); ties go to the even significand: 1.5 x 2^p up to
        # 2^(p+1), 2^-15 down to 0. Past 1 it saturates.
        FloatFormat("pow2", 4, 0, 15, "none"),
    ]


def _build() -> dict[str, Format]:
    out: dict[str, Format] = {}
    for b in range(1, 17):
        out[f"int{b}"] = IntFormat(f"int{b}", b, -(1 << (b - 1)), (1 << (b - 1)) - 1)
        out[f"uint{b}"] = IntFormat(f"uint{b}", b, 0, (1 << b) - 1)
    out["ternary"] = IntFormat("ternary", 2, -1, 1)  # 3 values need 2 bits packed
    floats = {f.name: f for f in _floats()}
    out.update(floats)
    out["nf4"] = CodebookFormat("nf4", 4, NF4_CODEBOOK, "QLoRA (Dettmers et al. 2023), App. E")
    # MX v1.0 Section 5 Table 1: the concrete MX-compliant formats. MXINT8's element is an
    # 8-bit two's complement integer with an implied scale of 2^-6 (Section 5.3.4).
    mxint8_elem = IntFormat("mxint8_element", 8, -128, 127, frac_bits=6)
    for name, elem in (("mxfp8_e4m3", floats["fp8_e4m3"]), ("mxfp8_e5m2", floats["fp8_e5m2"]),
                       ("mxfp6_e2m3", floats["fp6_e2m3"]), ("mxfp6_e3m2", floats["fp6_e3m2"]),
                       ("mxfp4", floats["fp4_e2m1"]), ("mxint8", mxint8_elem)):
        out[name] = MXFormat(name, elem)
    return out


FORMATS: dict[str, Format] = _build()

# Scale data types: the dtype a scale is stored in (its width counts in storage_bits). E8M0 is
# MX v1.0 Section 5.4.1's unsigned power of two 2^(e - 127), e in 0..254, 255 = NaN.
SCALE_DTYPES: tuple[str, ...] = ("fp32", "fp16", "bf16", "fp8_e4m3", "e8m0")
SCALE_BITS: dict[str, int] = {"fp32": 32, "fp16": 16, "bf16": 16, "fp8_e4m3": 8, "e8m0": 8}


def names() -> tuple[str, ...]:
    """Every registered format name."""
    return tuple(FORMATS)


def get(fmt: str | Format) -> Format:
    """The format named ``fmt`` (a Format passes through). Raises ValueError naming the known
    formats if there is none."""
    if isinstance(fmt, IntFormat | FloatFormat | CodebookFormat | MXFormat):
        return fmt
    if isinstance(fmt, str) and fmt.lower() in FORMATS:
        return FORMATS[fmt.lower()]
    raise ValueError(f"format must be one of {', '.join(FORMATS)}; got {fmt!r}")
