"""Row-stationary array unit: Eyeriss's PE array (Y.-H. Chen, J. Emer, V. Sze, ISCA 2016;
Chen et al., JSSC 2017), filter rows on the PE rows and output rows on the columns.

A thin Python face over ``pysim._core``: the closed-form cost of a tile (``cost``, equal to
``pysim.mapping.tile_model.RowStationaryTiles.evaluate``) and the cycle-stepped reference
(``reference``). Formulas: csrc/units/row_stationary.hpp.
"""

from __future__ import annotations

from dataclasses import dataclass

from pysim import _core
from pysim.mapping.tile_model import ConvWindow
from pysim.units._args import check_field, is_int

MAX_DIM = 4096
MAX_ARRAYS = 256
INT64_MAX = 2**63 - 1


@dataclass(frozen=True)
class RowStationaryArray:
    """``rows`` x ``cols`` PEs (each 1..4096), ``pe_weights`` filter-spad words per PE
    (1..4096) and ``arrays`` identical arrays (1..256) sharing the work.

    A tile is m output positions (whole output rows of the window's images, or a GEMM's m
    rows), n filters and k = channels x R x S reduction elements. Raises ConfigError if a field
    is out of range.
    """

    rows: int
    cols: int
    pe_weights: int = 1
    arrays: int = 1

    def __post_init__(self) -> None:
        for field, hi in (("rows", MAX_DIM), ("cols", MAX_DIM), ("pe_weights", MAX_DIM),
                          ("arrays", MAX_ARRAYS)):
            object.__setattr__(self, field, check_field(field, getattr(self, field), 1, hi))

    @property
    def spec(self) -> _core.RowStationarySpec:
        return _core.RowStationarySpec(self.rows, self.cols, self.pe_weights, self.arrays)

    @property
    def pes(self) -> int:
        return self.rows * self.cols * self.arrays

    def cost(self, m: int, n: int, k: int, window: ConvWindow | None = None
             ) -> _core.RowStationaryCost:
        """Closed-form cost of an m x n x k tile (O(1)); ``window`` defaults to a GEMM.
        Raises ValueError naming a bad dimension or window field."""
        return _core.row_stationary_cost(self.spec, window_spec(window), *_dims(m, n, k))

    def reference(self, m: int, n: int, k: int, window: ConvWindow | None = None
                  ) -> _core.RowStationaryCost:
        """Cycle-stepped reference run of the same tile (counts only); Ctrl-C stops it. Raises
        ValueError for tiles over its budget of 2^32 PE updates."""
        return _core.row_stationary_reference(self.spec, window_spec(window), *_dims(m, n, k))


def window_spec(window: ConvWindow | None) -> _core.ConvWindowSpec:
    """The C++ window of a ``ConvWindow`` (None: a GEMM); ValueError naming a bad field."""
    if window is None:
        window = ConvWindow()
    if not isinstance(window, ConvWindow):
        raise ValueError(f"window must be a ConvWindow, got {type(window).__name__}")
    fields = {"out_h": window.out_h, "out_w": window.out_w}
    for name in ("kernel", "stride", "dilation"):
        pair = getattr(window, name)
        if not isinstance(pair, (tuple, list)) or len(pair) != 2:
            raise ValueError(f"window.{name} must be a pair of integers, got {pair!r}")
        fields[f"{name}_h"], fields[f"{name}_w"] = pair
    for name, value in fields.items():
        if not is_int(value) or not -INT64_MAX <= value <= INT64_MAX:
            raise ValueError(f"window {name} must be a 64-bit integer, got {value!r}")
    return _core.ConvWindowSpec(**{name: int(value) for name, value in fields.items()})


def _dims(m: int, n: int, k: int) -> tuple[int, int, int]:
    for name, value in (("M", m), ("N", n), ("K", k)):
        if not is_int(value):
            raise ValueError(f"{name} must be a positive integer, got {value!r}")
        if not 1 <= value <= INT64_MAX:
            raise ValueError(f"{name} must be in 1..2**63 - 1, got {value}")
    return int(m), int(n), int(k)
