"""Systolic array unit: an R x C grid of MAC PEs running OS, WS or IS dataflow.

A thin Python face over ``pysim._core``: the closed-form cost (``cost``), the cycle-stepped
reference (``simulate``) and convolution lowering. Timing modes and formulas are in
docs/systolic_timing.md.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from pysim import _core
from pysim.errors import ConfigError

DATAFLOWS = ("os", "ws", "is")
TIMINGS = ("scalesim", "pipelined")
MAX_DIM = 4096


@dataclass(frozen=True)
class SystolicArray:
    """An array of ``rows`` x ``cols`` PEs (each 1..4096).

    ``dataflow`` is "os" (output stationary), "ws" (weight stationary) or "is" (input
    stationary); ``timing`` is "scalesim" (folds back to back, SCALE-Sim 3.0.0's model) or
    "pipelined" (the next fold's stationary tile loads while the current one streams).

    Raises ConfigError if a field is out of range.
    """

    rows: int
    cols: int
    dataflow: str = "os"
    timing: str = "scalesim"

    def __post_init__(self) -> None:
        for field in ("rows", "cols"):
            value = getattr(self, field)
            if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
                raise ConfigError(f"{field} must be an integer in 1..{MAX_DIM}, got {value!r}")
            if not 1 <= value <= MAX_DIM:
                raise ConfigError(f"{field} must be in 1..{MAX_DIM}, got {value}")
        if str(self.dataflow).lower() not in DATAFLOWS:
            raise ConfigError(f"dataflow must be one of {DATAFLOWS}, got {self.dataflow!r}")
        if str(self.timing).lower() not in TIMINGS:
            raise ConfigError(f"timing must be one of {TIMINGS}, got {self.timing!r}")
        object.__setattr__(self, "dataflow", str(self.dataflow).lower())
        object.__setattr__(self, "timing", str(self.timing).lower())

    @property
    def spec(self) -> _core.SystolicSpec:
        return _core.SystolicSpec(int(self.rows), int(self.cols), self.dataflow, self.timing)

    @property
    def pes(self) -> int:
        return self.rows * self.cols

    def cost(self, m: int, n: int, k: int) -> _core.SystolicCost:
        """Closed-form cost of C[m, n] = A[m, k] x B[k, n]. Raises ValueError on bad dims."""
        return _core.systolic_cost(self.spec, gemm_shape(m, n, k))

    def cost_conv(self, conv: _core.Conv2dShape) -> _core.SystolicCost:
        """Cost of a convolution lowered by im2col (M = batch x output pixels)."""
        return _core.systolic_cost(self.spec, _core.conv2d_to_gemm(conv))

    def simulate_cycles(self, m: int, n: int, k: int) -> _core.SystolicCost:
        """Cycle-stepped reference run without data (counts only)."""
        return _core.systolic_simulate_cycles(self.spec, gemm_shape(m, n, k))

    def simulate(
        self, a: np.ndarray, b: np.ndarray
    ) -> tuple[np.ndarray, _core.SystolicCost, int]:
        """Cycle-stepped reference with data: returns (a @ b, counted cost, PE updates).

        int8 operands accumulate in int32, int16 in int64, float32 in float32.
        """
        return _core.systolic_simulate_gemm(self.spec, np.asarray(a), np.asarray(b))


def gemm_shape(m: int, n: int, k: int) -> _core.GemmShape:
    """Validated GEMM shape; raises ValueError naming the bad dimension."""
    for name, value in (("M", m), ("N", n), ("K", k)):
        if isinstance(value, bool) or not isinstance(value, (int, np.integer)):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if value < 1:
            raise ValueError(f"{name} must be >= 1, got {value}")
    return _core.GemmShape(int(m), int(n), int(k))
