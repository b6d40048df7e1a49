"""Every column of SCALE-Sim 3.0.0's three reports, per layer, in closed form.

SCALE-Sim builds per-cycle demand matrices and pushes them through its memory models; pysim
derives the same numbers from the fold geometry (docs/scalesim_compat.md has every formula):

* cycles, utilisation and SRAM counts come from ``pysim._core`` (``systolic_cost`` and
  ``scalesim_fold_averages``);
* SRAM start/stop cycles are the first and last demand rows holding a real address, found from
  the demand-matrix layouts of systolic_compute_{os,ws,is}.py;
* ifmap/filter DRAM columns follow ReadBufferEstimateBw (CALC mode) when the operand fits in the
  active half of its SRAM; otherwise pysim reports the compulsory traffic (see the docs);
* ofmap DRAM columns replay write_buffer.py drain by drain (an event per drain, not per cycle).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from math import isqrt

from pysim import _core
from pysim.errors import WorkloadError
from pysim.scalesim.config import ScaleSimConfig
from pysim.scalesim.topology import Layer

# ReadBufferEstimateBw constants: 100 sets, half of them active, 10 words/cycle prefetch.
NUM_SETS = 100
ACTIVE_SETS = 50
PREFETCH_BW = 10


@dataclass(frozen=True)
class LayerReport:
    """One layer's row in each of SCALE-Sim's three reports (cycles as floats where SCALE-Sim
    prints them as floats)."""

    layer_id: int
    name: str
    # COMPUTE_REPORT.csv
    total_cycles_incl_prefetch: int
    total_cycles: int
    stall_cycles: int
    overall_util: float
    mapping_efficiency: float
    compute_util: float
    # DETAILED_ACCESS_REPORT.csv
    sram_ifmap_start: float
    sram_ifmap_stop: float
    sram_ifmap_reads: int
    sram_filter_start: float
    sram_filter_stop: float
    sram_filter_reads: int
    sram_ofmap_start: float
    sram_ofmap_stop: float
    sram_ofmap_writes: int
    dram_ifmap_start: float
    dram_ifmap_stop: float
    dram_ifmap_reads: int
    dram_filter_start: float
    dram_filter_stop: float
    dram_filter_reads: int
    dram_ofmap_start: float
    dram_ofmap_stop: float
    dram_ofmap_writes: int
    # BANDWIDTH_REPORT.csv
    avg_ifmap_sram_bw: float
    avg_filter_sram_bw: float
    avg_ofmap_sram_bw: float
    avg_ifmap_dram_bw: float
    avg_filter_dram_bw: float
    avg_ofmap_dram_bw: float
    # False: the operand does not fit in half its SRAM, and the DRAM read columns are pysim's
    # compulsory figures rather than SCALE-Sim's (docs/scalesim_compat.md).
    ifmap_fits: bool = True
    filter_fits: bool = True


@dataclass(frozen=True)
class _Folds:
    R: int
    C: int
    sr: int
    sc: int
    row_folds: int
    col_folds: int
    fold_len: int  # demand rows (cycles) per fold

    @property
    def folds(self) -> int:
        return self.row_folds * self.col_folds

    def rows_used(self, fr: int) -> int:
        return min(self.R, self.sr - fr * self.R)

    def cols_used(self, fc: int) -> int:
        return min(self.C, self.sc - fc * self.C)

    def start(self, fc: int, fr: int) -> int:
        """First demand row of fold (fc, fr); SCALE-Sim runs column folds outermost."""
        return (fc * self.row_folds + fr) * self.fold_len


def _max_of(values: Sequence[int | None]) -> int | None:
    present = [v for v in values if v is not None]
    return max(present) if present else None


def _sram_rows(df: str, g: _Folds, geo: Layer, m: int, n: int, k: int):
    """Demand rows (not yet serviced cycles) of the first and last real request, per operand:
    ((ifmap_first, ifmap_last), (filter_first, filter_last), (ofmap_first, ofmap_last))."""
    R = g.R
    last_fc, last_fr = g.col_folds - 1, g.row_folds - 1
    last = g.start(last_fc, last_fr)
    ifmap_last: int | None = None
    if df == "os":  # ifmap[tap t, PE row c] at row t + c; pixel = fr*R + c (same for every fc)
        for fr in range(last_fr, -1, -1):
            best = _max_of(
                [
                    None if (t := geo.last_tap_of_pixel(fr * R + c)) is None else t + c
                    for c in range(g.rows_used(fr))
                ]
            )
            if best is not None:
                ifmap_last = g.start(last_fc, fr) + best
                break
        ifmap = (0, ifmap_last)
        filt = (0, last + (k - 1) + g.cols_used(last_fc) - 1)
        ofmap = ((k - 1) + R - g.rows_used(0), last + (k - 1) + (R - 1) + g.cols_used(last_fc) - 1)
    elif df == "ws":  # ifmap[pixel p, PE row j] at row R + p + j; tap = fr*R + j
        best = max(j + geo.last_pixel_of_tap(last_fr * R + j) for j in range(g.rows_used(last_fr)))
        ifmap = (R, last + R + best)
        filt = (R - g.rows_used(0), last + R - 1)  # flipped, not skewed
        ofmap = (2 * R - 1, last + 2 * R - 1 + (m - 1) + g.cols_used(last_fc) - 1)
    else:  # is: ifmap[tap fr*R + i, pixel fc*C + j] at row R - 1 - i (flipped, not skewed)
        for f in range(g.folds - 1, -1, -1):
            fc, fr = divmod(f, g.row_folds)
            p0 = fc * g.C
            p1 = p0 + g.cols_used(fc) - 1
            taps = range(fr * R, fr * R + g.rows_used(fr))
            hit = next((t - fr * R for t in taps if geo.tap_on_ifmap_for_any(t, p0, p1)), None)
            if hit is not None:
                ifmap_last = g.start(fc, fr) + R - 1 - hit
                break
        ifmap = (R - g.rows_used(0), ifmap_last)  # pixel 0 reads every tap
        filt = (R, last + R + (n - 1) + g.rows_used(last_fr) - 1)
        ofmap = (2 * R - 1, last + 2 * R - 1 + (n - 1) + g.cols_used(last_fc) - 1)
    if ifmap[1] is None:  # cannot happen: pixel 0 always reads the ifmap
        raise AssertionError("no ifmap request found")
    return ifmap, filt, ofmap


def _tri(v: int) -> int:
    return v * (v + 1) // 2 if v > 0 else 0


def _diagonal_prefix(a: int, b: int, v: int) -> int:
    """#{(x, y): 0 <= x < a, 0 <= y < b, x + y < v}: the writes of a skewed a x b block in its
    first v rows."""
    return _tri(v) - _tri(v - a) - _tri(v - b) + _tri(v - a - b)


def _diagonal_row(a: int, b: int, v: int) -> int:
    """Row of the v-th write (1-based) of a skewed a x b block: the smallest y with
    _diagonal_prefix(a, b, y + 1) >= v. Rows ramp up 1, 2, .., p (p = min(a, b)), stay at p
    until row max(a, b) - 1, then ramp down."""
    p, q = min(a, b), max(a, b)
    ramp = p * (p + 1) // 2
    if v <= ramp:  # smallest t with t(t+1)/2 >= v, row t - 1
        t = (isqrt(8 * v + 1) - 1) // 2
        return t - 1 if t * (t + 1) // 2 >= v else t
    if v <= ramp + (q - p) * p:
        return p - 1 + -(-(v - ramp) // p)
    after = a * b - v  # writes after the v-th one, all in the last rows
    j = (isqrt(8 * after + 1) - 1) // 2 + 1  # smallest j with j(j+1)/2 > after
    return a + b - 1 - j


@dataclass(frozen=True)
class _OfmapDemand:
    """Ofmap writes per demand row. In every fold the writes form an a x b block, skewed one
    row per array column, starting `offset` rows into the fold:
    os: a = rows used, b = cols used, offset = K - 1 + R - a (flipped, after K - 1 idle rows);
    ws: a = M, is: a = N, b = cols used, offset = 2R - 1."""

    df: str
    g: _Folds
    m: int
    n: int
    k: int

    @property
    def total(self) -> int:
        """All ofmap writes (ws/is: partial sums, every K fold writes its block again)."""
        if self.df == "os":
            return self.m * self.n
        a = self.m if self.df == "ws" else self.n
        return a * self.g.row_folds * self.g.sc

    def _block(self, f: int) -> tuple[int, int, int, int]:
        """(a, b, offset, writes before fold f) of fold f."""
        g = self.g
        fc, fr = divmod(f, g.row_folds)
        b = g.cols_used(fc)
        if self.df == "os":
            a = g.rows_used(fr)
            return a, b, self.k - 1 + g.R - a, fc * g.C * self.m + fr * g.R * b
        a = self.m if self.df == "ws" else self.n
        return a, b, 2 * g.R - 1, (fc * g.C * g.row_folds + fr * b) * a

    def cumulative(self, row: int) -> int:
        """Writes in demand rows 0..row-1."""
        g = self.g
        if row <= 0:
            return 0
        if row >= g.folds * g.fold_len:
            return self.total
        f, u = divmod(row, g.fold_len)
        a, b, offset, before = self._block(f)
        return before + _diagonal_prefix(a, b, u - offset)

    def row_of(self, w: int) -> int:
        """Demand row of the w-th write (1-based, w <= total), in O(1)."""
        g = self.g
        a = self.m if self.df in ("os", "ws") else self.n  # ws/is: rows of every block
        per_col_fold = g.C * (a if self.df == "os" else a * g.row_folds)
        fc = min((w - 1) // per_col_fold, g.col_folds - 1)
        rest = w - fc * per_col_fold
        b = g.cols_used(fc)
        if self.df == "os":
            fr = min((rest - 1) // (g.R * b), g.row_folds - 1)
        else:
            fr = (rest - 1) // (a * b)
        f = fc * g.row_folds + fr
        a, b, offset, before = self._block(f)
        return f * g.fold_len + offset + _diagonal_row(a, b, w - before)


def _write_buffer(words: int, bw: int, demand: _OfmapDemand, n_rows: int) -> tuple[int, int, int]:
    """Replay SCALE-Sim's write_buffer (CALC mode: drains `bw` = array-width words per line,
    latency 0) one drain at a time. Returns (DRAM writes, first drain cycle, last drain cycle).

    The buffer stores lines of `bw` words. When more than floor(words / 2) words are waiting
    and no drain is in flight, it pads the partial line, then drains ceil(floor(words/2) / bw)
    lines, one per cycle, counting `bw` words per line except for the padding of the chunk's
    last line: a padded line drained in the middle of a chunk counts in full (the "C - 1"
    quirk). At the end everything left drains from the last demand row on, chunk after chunk.
    """
    active = -(-words // 2)  # int(math.ceil(words * 0.5))
    lines_per_drain = -(-(words - active) // bw)
    total = demand.total
    free, written, line_fill, n_lines, drained_lines = words, 0, 0, 0, 0
    padded: dict[int, int] = {}  # line index -> real words, for padded lines
    drain_end, accesses = 0, 0
    first: int | None = None
    last = 0

    def close_line() -> None:
        nonlocal n_lines, line_fill
        if line_fill:
            padded[n_lines] = line_fill
            n_lines += 1
            line_fill = 0

    def drain(cycle: int) -> None:
        nonlocal drained_lines, accesses, free, drain_end, first, last
        end = min(drained_lines + lines_per_drain, n_lines)
        count = (end - drained_lines) * bw - (bw - padded.get(end - 1, bw))
        accesses += count
        free += count
        drain_end = cycle + (end - drained_lines) - 1
        first = cycle if first is None else first
        last = max(last, drain_end)
        drained_lines = end

    def store(upto: int) -> None:
        nonlocal free, written, line_fill, n_lines
        fill = line_fill + upto - written
        free -= upto - written
        n_lines += fill // bw
        line_fill = fill % bw
        written = upto

    while True:
        # the next drain: free space below `active` and no drain in flight
        nxt = max(written + max(1, free - active + 1), demand.cumulative(drain_end) + 1)
        if nxt > total:
            break
        store(nxt)
        close_line()
        drain(demand.row_of(nxt))
    store(total)
    close_line()
    cycle = n_rows - 1
    while drained_lines < n_lines:
        drain(cycle)
        cycle = drain_end + 1
    assert first is not None
    return accesses, first, last


def _dram_reads(
    unique: int, sram_words: int, first_row: int, last_row: int
) -> tuple[float, float, int, bool]:
    """(start, stop, reads, fits) of ReadBufferEstimateBw for an operand of `unique` words."""
    per_set = sram_words // NUM_SETS
    if unique < ACTIVE_SETS * per_set:
        # Everything fits in the active half: one prefetch of ceil(U/s) sets at 10 words/cycle,
        # ending at cycle -1 (complete_all_prefetches).
        sets = -(-unique // per_set)
        cycles = -(-(sets * per_set) // PREFETCH_BW)
        return float(-cycles), -1.0, unique, True
    # Does not fit: SCALE-Sim re-fetches evicted sets. Its first prefetch (50 sets) starts
    # ceil(50 s / 10) cycles before the first request, which pysim keeps; pysim then reports the
    # compulsory traffic (every distinct word once), streamed in until the operand's last read
    # is serviced (one cycle after its request).
    cycles = -(-(ACTIVE_SETS * per_set) // PREFETCH_BW)
    return float(first_row - cycles), float(last_row + 1), unique, False


def simulate_layer(cfg: ScaleSimConfig, layer: Layer, layer_id: int = 0) -> LayerReport:
    """All report columns for one layer."""
    R, C, df = cfg.rows, cfg.cols, cfg.dataflow
    m, n, k = layer.m, layer.n, layer.k
    spec = _core.SystolicSpec(R, C, df, "scalesim")
    shape = _core.GemmShape(m, n, k)
    cost = _core.systolic_cost(spec, shape)
    mapping_eff, compute_util = _core.scalesim_fold_averages(spec, shape)
    sr, sc = {"os": (m, n), "ws": (k, n), "is": (k, m)}[df]
    g = _Folds(R, C, sr, sc, cost.row_folds, cost.col_folds, cost.cycles // cost.folds)
    n_rows = cost.cycles  # demand rows; SCALE-Sim reports the last row's index
    total = n_rows - 1
    if total == 0:
        raise ValueError("a 1-cycle layer on a 1x1 array: SCALE-Sim divides by Total Cycles = 0")
    (if0, if1), (fi0, fi1), (of0, of1) = _sram_rows(df, g, layer, m, n, k)

    ifmap_reads, filter_reads = cost.ifmap_reads, cost.filter_reads
    ofmap_writes = cost.ofmap_writes  # ws/is: partial sums, one write per K fold
    sram_ofmap_writes = ofmap_writes + (cost.folds * (R + C) if df == "os" else 0)

    ifmap_words, filter_words, ofmap_words = cfg.sram_words
    d_if = _dram_reads(layer.unique_ifmap_words, ifmap_words, if0, if1)
    d_fi = _dram_reads(layer.unique_filter_words, filter_words, fi0, fi1)
    demand = _OfmapDemand(df, g, m, n, k)
    assert demand.total == ofmap_writes
    ofmap_dram, of_start, of_stop = _write_buffer(ofmap_words, C, demand, n_rows)
    of_start_f, of_stop_f = float(of_start), float(of_stop)

    def dram_bw(count: int, start: float, stop: float) -> float:
        return count / (stop - start + 1)

    return LayerReport(
        layer_id=layer_id,
        name=layer.name,
        total_cycles_incl_prefetch=int(of_stop_f - min(d_if[0], d_fi[0])),
        total_cycles=total,
        stall_cycles=0,  # CALC mode never stalls (docs/scalesim_compat.md)
        overall_util=(layer.macs * 100) / (total * (R * C)),
        mapping_efficiency=mapping_eff,
        compute_util=compute_util,
        sram_ifmap_start=float(if0 + 1),  # reads are serviced one cycle after the request
        sram_ifmap_stop=float(if1 + 1),
        sram_ifmap_reads=ifmap_reads,
        sram_filter_start=float(fi0 + 1),
        sram_filter_stop=float(fi1 + 1),
        sram_filter_reads=filter_reads,
        sram_ofmap_start=float(of0),
        sram_ofmap_stop=float(of1),
        sram_ofmap_writes=sram_ofmap_writes,
        dram_ifmap_start=d_if[0],
        dram_ifmap_stop=d_if[1],
        dram_ifmap_reads=d_if[2],
        dram_filter_start=d_fi[0],
        dram_filter_stop=d_fi[1],
        dram_filter_reads=d_fi[2],
        dram_ofmap_start=of_start_f,
        dram_ofmap_stop=of_stop_f,
        dram_ofmap_writes=ofmap_dram,
        avg_ifmap_sram_bw=ifmap_reads / total,
        avg_filter_sram_bw=filter_reads / total,
        avg_ofmap_sram_bw=sram_ofmap_writes / total,
        avg_ifmap_dram_bw=dram_bw(d_if[2], d_if[0], d_if[1]),
        avg_filter_dram_bw=dram_bw(d_fi[2], d_fi[0], d_fi[1]),
        avg_ofmap_dram_bw=dram_bw(ofmap_dram, of_start_f, of_stop_f),
        ifmap_fits=d_if[3],
        filter_fits=d_fi[3],
    )


def run(
    cfg: ScaleSimConfig,
    layers: Sequence[Layer],
    progress: Callable[[LayerReport], None] | None = None,
) -> list[LayerReport]:
    """Simulate every layer (LayerID = position). Raises WorkloadError naming the layer if
    the core rejects its shape."""
    reports = []
    for i, layer in enumerate(layers):
        try:
            report = simulate_layer(cfg, layer, i)
        except WorkloadError:
            raise
        except ValueError as exc:
            if layer.source:
                raise WorkloadError(f"{layer.source}:{layer.line}: layer {i} ({layer.name!r}): "
                                    f"{exc}") from None
            where = f"line {layer.line}, " if layer.line else ""
            raise WorkloadError(f"layer {i} ({where}{layer.name!r}): {exc}") from None
        reports.append(report)
        if progress is not None:
            progress(report)
    return reports
