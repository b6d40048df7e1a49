"""Bit-serial array unit: Dm x Dn dot-product units, Dk lanes each, computing low-precision
integer GEMMs bit plane by bit plane.

Three modes: "bismo" (both operands bit-serial, cycles ~ a_bits x b_bits; Umuroglu et al., FPL
2018), "stripes" (activations bit-serial, cycles ~ a_bits; Judd et al., MICRO 2016) and
"bitfusion" (fusible 2-bit BitBricks, pf = floor(8/max(a,2)) x floor(8/max(b,2)) products per
lane per cycle; Sharma et al., ISCA 2018). A thin face over ``pysim._core``: the closed-form cost
(``cost``) and the cycle-stepped reference (``simulate``). Formulas: docs/low_precision_units.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim import _core
from pysim.errors import ConfigError
from pysim.units._args import as_array, check_bits, check_field, signed_pair
from pysim.units.systolic_array import gemm_shape

MODES = ("bismo", "stripes", "bitfusion")
MAX_DIM = 4096


@dataclass(frozen=True)
class BitSerialArray:
    """``dm`` x ``dn`` dot-product units (each 1..4096), ``dk`` lanes each (1..4096).

    A GEMM C[M, N] = A[M, K] x B[K, N] runs in output tiles of dm x dn; A holds ``a_bits``-bit
    activations and B ``b_bits``-bit weights (1..32 bits). ``mode`` is "bismo", "stripes" or
    "bitfusion"; ``acc_bits`` (1..64) is the width of each written result.

    Raises ConfigError if a field is out of range.
    """

    dm: int
    dn: int
    dk: int
    mode: str = "bismo"
    acc_bits: int = 32

    def __post_init__(self) -> None:
        for field in ("dm", "dn", "dk"):
            object.__setattr__(self, field, check_field(field, getattr(self, field), 1, MAX_DIM))
        object.__setattr__(self, "acc_bits", check_field("acc_bits", self.acc_bits, 1, 64))
        if str(self.mode).lower() not in MODES:
            raise ConfigError(f"mode must be one of {MODES}, got {self.mode!r}")
        object.__setattr__(self, "mode", str(self.mode).lower())

    @property
    def spec(self) -> _core.BitSerialSpec:
        return _core.BitSerialSpec(self.dm, self.dn, self.dk, self.mode, self.acc_bits)

    def cost(
        self, m: int, n: int, k: int, a_bits: int = 8, b_bits: int = 8
    ) -> _core.BitSerialCost:
        """Closed-form cost of C[m, n] = A[m, k] x B[k, n] (O(1)). Raises ValueError on bad
        dims or widths."""
        return _core.bit_serial_cost(
            self.spec, gemm_shape(m, n, k), check_bits("a_bits", a_bits),
            check_bits("b_bits", b_bits),
        )

    def cost_conv(
        self, conv: _core.Conv2dShape, a_bits: int = 8, b_bits: int = 8
    ) -> _core.BitSerialCost:
        """Cost of a convolution lowered by im2col (M = batch x output pixels)."""
        return _core.bit_serial_cost(
            self.spec, _core.conv2d_to_gemm(conv), check_bits("a_bits", a_bits),
            check_bits("b_bits", b_bits),
        )

    def simulate_cycles(
        self, m: int, n: int, k: int, a_bits: int = 8, b_bits: int = 8
    ) -> _core.BitSerialCost:
        """Cycle-stepped reference run without data (counts only)."""
        return _core.bit_serial_simulate_cycles(
            self.spec, gemm_shape(m, n, k), check_bits("a_bits", a_bits),
            check_bits("b_bits", b_bits),
        )

    def simulate(
        self, a: np.ndarray, b: np.ndarray, a_bits: int, b_bits: int, signed: object = True
    ) -> tuple[np.ndarray, _core.BitSerialCost, int]:
        """Cycle-stepped reference with integer operands: (a @ b as int64, counted cost, DPU
        updates). ``signed`` is a bool for both operands or a pair (a_signed, b_signed); values
        must fit their widths (two's complement when signed). Raises ValueError otherwise."""
        a_signed, b_signed = signed_pair(signed)
        return _core.bit_serial_simulate_gemm(
            self.spec, as_array(a, "a"), as_array(b, "b"), check_bits("a_bits", a_bits),
            check_bits("b_bits", b_bits), a_signed, b_signed,
        )

    def peak_macs_per_cycle(self, a_bits: int = 1, b_bits: int = 1) -> float:
        """Peak MACs per cycle at these widths: bismo dm dn dk / (a b), stripes dm dn dk / a,
        bitfusion dm dn dk pf / passes."""
        return _core.bit_serial_peak_macs_per_cycle(
            self.spec, check_bits("a_bits", a_bits), check_bits("b_bits", b_bits)
        )

    def peak_ops_per_s(self, clock_hz: float, a_bits: int = 1, b_bits: int = 1) -> float:
        """Peak ops/s (2 per MAC) at ``clock_hz``. At 1 x 1 bit in bismo mode this is BISMO's
        binary ops/s, 2 dm dn dk f."""
        return 2.0 * self.peak_macs_per_cycle(a_bits, b_bits) * float(clock_hz)
