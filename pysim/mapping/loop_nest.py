"""A MAC op's mapping as a typed object, printable as a loop nest (as Timeloop prints one).

A GEMM view ``count x C[M, N] = A[M, K] x B[K, N]`` is cut into DRAM-level tiles
``Mt x Nt x Kt`` walked in ``order`` (outermost first); inside a tile, the unit's spatial
unrolling places two dimensions on its rows and columns (``spatial``: the tile grain of each
dimension, e.g. K on the 256 rows and N on the 256 columns of a weight-stationary array) and
streams the rest.
"""

from __future__ import annotations

from dataclasses import dataclass

from pysim.mapping.tile_model import SPATIAL


@dataclass(frozen=True)
class GemmMapping:
    count: int
    m: int
    n: int
    k: int
    mt: int
    nt: int
    kt: int
    order: str  # DRAM-level loop order over tiles, outermost first, e.g. "nkm"
    dataflow: str  # the unit's dataflow ("os", "ws", "is", "rs"), "" without one
    grains: tuple[int, int, int]  # (m, n, k) spatial grains of the unit
    objective: str
    resident: str = ""  # operands ("A", "B", "C") their buffer keeps across the loop they ignore
    output_level: str = ""  # the scratchpad holding C's tile when not the innermost output level
    c_subtile: tuple[int, ...] = ()  # (m', n'): C's sub-tile at the innermost output level
    inner_level: str = ""  # that level
    # (dimension on the rows, on the columns[, the one split over several arrays if not the
    # columns']) if not the preset's
    spatial: tuple[str, ...] = ()
    folds: int = 0  # passes of the unit over the op's tiles (SCALE-Sim's folds), all tiles

    @property
    def trips(self) -> dict[str, int]:
        return {"m": -(-self.m // self.mt), "n": -(-self.n // self.nt),
                "k": -(-self.k // self.kt)}

    def loop_nest(self) -> str:
        """The mapping as nested loops: DRAM-level tile loops, then the on-chip temporal and
        spatial loops of one tile."""
        rows = [(f"for g in [0:{self.count})", "independent GEMMs (groups, heads)")] \
            if self.count > 1 else []
        tile = {"m": self.mt, "n": self.nt, "k": self.kt}
        ignores = {"A": "n", "B": "m", "C": "k"}
        for d in self.order:
            kept = [x for x in self.resident if ignores[x] == d]
            note = f"DRAM -> buffers, {d} step {tile[d]}"
            if kept:
                note += f"; {', '.join(kept)} kept in its buffer across {d}"
            rows.append((f"for {d}{d} in [0:{self.trips[d]})", note))
        if self.c_subtile:
            sm, sn = self.c_subtile
            rows.append((f"for m' in [0:{-(-self.mt // sm)}), n' in [0:{-(-self.nt // sn)})",
                         f"C sub-tiles {sm}x{sn} kept in {self.inner_level} across k"))
            tile = {"m": sm, "n": sn, "k": self.kt}
        if self.dataflow in SPATIAL:
            on_rows, on_cols = self.spatial[:2] or SPATIAL[self.dataflow][:2]
            (streamed,) = set("mnk") - {on_rows, on_cols}
            grain = dict(zip("mnk", self.grains, strict=True))
            if len(self.spatial) > 2:  # a dimension split over several arrays
                split = self.spatial[2]
                arrays = grain[split] if split == streamed else 0
                if arrays:
                    rows.append((f"spatial_for {split}a in [0:{arrays})",
                                 f"{split} split over {arrays} arrays"))
                    tile = {**tile, split: -(-tile[split] // arrays)}
                    grain = {**grain, split: 1}
            rows += [(f"for {d}f in [0:{-(-tile[d] // grain[d])})", f"folds of {grain[d]}")
                     for d in (on_cols, on_rows) if tile[d] > grain[d]]
            rows.append((f"for {streamed} in [0:{tile[streamed]})",
                         f"streamed through the array ({self.dataflow.upper()})"))
            used = {d: min(tile[d], grain[d]) for d in (on_rows, on_cols)}
            rows.append((f"spatial_for {on_rows} in [0:{used[on_rows]}), "
                         f"{on_cols} in [0:{used[on_cols]})",
                         f"on {grain[on_rows]} PE rows x {grain[on_cols]} columns"))
        elif self.dataflow == "rs":
            rows.append((f"for m in [0:{self.mt}) by {self.grains[0]}, n in [0:{self.nt}), "
                         f"k in [0:{self.kt}) by {self.grains[2]}",
                         "row-stationary passes: strips of output rows x filters x channels"))
            rows.append(("spatial_for r in [0:R), e in [0:E strip)",
                         "filter rows on the PE rows, output rows on the columns (RS)"))
        else:
            lanes = [min(t, g) for t, g in zip((self.mt, self.nt, self.kt), self.grains,
                                                strict=True)]
            rows.append((f"spatial_for m in [0:{lanes[0]}), n in [0:{lanes[1]}), "
                         f"k in [0:{lanes[2]})", "unit lanes {} x {} x {}".format(*self.grains)))
        width = max(2 * i + len(code) for i, (code, _) in enumerate(rows)) + 2
        lines = [f"{self} ({self.objective} objective"
                 + (f", C's tile in {self.output_level})" if self.output_level else ")")]
        lines += [f"{'  ' * i + code:<{width}}# {note}" for i, (code, note) in enumerate(rows)]
        return "\n".join(lines)

    def __str__(self) -> str:
        return (f"{self.count}x[{self.m},{self.n},{self.k}] tile {self.mt}x{self.nt}x{self.kt} "
                f"order {self.order}")
