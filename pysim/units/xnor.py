"""XNOR / popcount array unit: binary (+-1) GEMMs and convolutions on bit-packed 64-bit words,
FINN-style (Umuroglu et al., FPGA 2017; Blott et al., FINN-R, 2018).

PE processing elements each compute one output channel with SIMD XNOR lanes and a SIMD-bit
popcount tree; threshold units fold batch norm and the sign into one comparison per output. A
thin face over ``pysim._core``: closed-form cost (``cost``, FINN's cycles per frame as
``compute_cycles``) and the cycle-stepped reference (``simulate``). Formulas:
docs/low_precision_units.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim import _core
from pysim.units._args import as_array, check_field
from pysim.units.systolic_array import gemm_shape

MAX_DIM = 4096


@dataclass(frozen=True)
class XnorArray:
    """``pe`` processing elements (1..4096) with ``simd`` XNOR lanes each (1..4096, the width of
    each popcount tree in bits); ``acc_bits`` (1..64) is the width of an unthresholded result.

    A GEMM C[M, N] = A[M, K] x B[K, N] of +-1 values takes M x ceil(N / pe) x ceil(K / simd)
    cycles plus the pipeline fill. Raises ConfigError if a field is out of range.
    """

    pe: int
    simd: int = 64
    acc_bits: int = 32

    def __post_init__(self) -> None:
        object.__setattr__(self, "pe", check_field("pe", self.pe, 1, MAX_DIM))
        object.__setattr__(self, "simd", check_field("simd", self.simd, 1, MAX_DIM))
        object.__setattr__(self, "acc_bits", check_field("acc_bits", self.acc_bits, 1, 64))

    @property
    def spec(self) -> _core.XnorSpec:
        return _core.XnorSpec(self.pe, self.simd, self.acc_bits)

    def cost(self, m: int, n: int, k: int, thresholded: bool = True) -> _core.XnorCost:
        """Closed-form cost of a +-1 GEMM (O(1)); ``thresholded``: outputs go through threshold
        units (1 bit each) rather than being written as acc_bits-bit sums."""
        return _core.xnor_cost(self.spec, gemm_shape(m, n, k), bool(thresholded))

    def cost_conv(self, conv: _core.Conv2dShape, thresholded: bool = True) -> _core.XnorCost:
        """Cost of a binary convolution lowered by im2col (M = batch x output pixels)."""
        return _core.xnor_cost(self.spec, _core.conv2d_to_gemm(conv), bool(thresholded))

    def simulate_cycles(
        self, m: int, n: int, k: int, thresholded: bool = True
    ) -> _core.XnorCost:
        """Cycle-stepped reference run without data (counts only)."""
        return _core.xnor_simulate_cycles(self.spec, gemm_shape(m, n, k), bool(thresholded))

    def simulate(
        self, a: np.ndarray, b: np.ndarray, thresholds: np.ndarray | None = None
    ) -> tuple[np.ndarray, _core.XnorCost, int]:
        """Cycle-stepped reference with int8 +-1 operands: (output, counted cost, PE updates).

        Without ``thresholds`` the output is a @ b (int32); with one integer threshold per output
        column it is +1 where a @ b >= threshold and -1 elsewhere (int8). Raises ValueError on a
        value other than +-1, a wrong dtype or mismatched shapes.
        """
        out, cost, updates = _core.xnor_simulate_gemm(
            self.spec, as_array(a, "a"), as_array(b, "b"),
            None if thresholds is None else as_array(thresholds, "thresholds"),
        )
        return (out if thresholds is None else out.astype(np.int8)), cost, updates

    def simulate_conv(
        self,
        x: np.ndarray,
        w: np.ndarray,
        conv: _core.Conv2dShape,
        thresholds: np.ndarray | None = None,
        pad_value: int = -1,
    ) -> tuple[np.ndarray, _core.XnorCost, int]:
        """A binary convolution through the reference: ``x`` is NHWC (batch, in_h, in_w, in_c)
        and ``w`` HWIO (filter_h, filter_w, in_c, filters), both int8 +-1. Padding, which +-1
        cannot express as zero, reads ``pad_value`` (+1 or -1). Returns the NHWC output (int32
        sums, or int8 +-1 with thresholds), the counted cost and the PE updates."""
        if pad_value not in (1, -1) or isinstance(pad_value, bool):
            raise ValueError(f"pad_value must be +1 or -1, got {pad_value!r}")
        x = as_array(x, "x")
        w = as_array(w, "w")
        expect = (conv.filter_h, conv.filter_w, conv.in_c, conv.filters)
        if w.shape != expect:
            raise ValueError(f"w must have shape (filter_h, filter_w, in_c, filters) = {expect}, "
                             f"got {w.shape}")
        if x.dtype != np.int8 or w.dtype != np.int8:
            raise ValueError(f"x and w must have dtype int8 (+-1 values), got {x.dtype} and "
                             f"{w.dtype}")
        cols = _core.im2col(conv, x)  # zeros where the window covers padding
        cols[cols == 0] = pad_value
        out, cost, updates = self.simulate(cols, w.reshape(-1, conv.filters), thresholds)
        return out.reshape(conv.batch, conv.out_h, conv.out_w, conv.filters), cost, updates

    def peak_binary_ops_per_s(self, clock_hz: float) -> float:
        """2 x pe x simd x clock (one XNOR and one popcount add per lane per cycle)."""
        return 2.0 * self.pe * self.simd * float(clock_hz)
