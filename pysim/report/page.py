"""One self-contained HTML page of a simulation: totals, per-op table, latency and energy
breakdowns, roofline, timeline and memory. Plots are matplotlib figures (Agg, no pyplot)
inlined as base64 PNG; the page loads nothing from outside itself and runs no script."""

from __future__ import annotations

import base64
import html as _html
import io
from dataclasses import dataclass
from typing import Any

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import EngFormatter

from pysim import quantity_format as fmt
from pysim.plot import ops as op_plots
from pysim.report.timeline import Timeline

# the page's sections, in order: (id, heading)
SECTIONS = (
    ("summary", "Summary"),
    ("ops", "Per-op table"),
    ("latency", "Latency breakdown"),
    ("energy", "Energy breakdown"),
    ("roofline", "Roofline"),
    ("timeline", "Timeline"),
    ("memory", "Memory"),
)

_CSS = """
body{font-family:system-ui,sans-serif;margin:1.5em auto;max-width:1200px;color:#222}
h1{font-size:1.4em} h2{font-size:1.15em;border-bottom:1px solid #ccc;margin-top:1.6em}
table{border-collapse:collapse;font-size:12px} td,th{padding:2px 8px;border-bottom:1px solid #eee}
th{background:#f4f4f4;position:sticky;top:0}
td.n{text-align:right;font-variant-numeric:tabular-nums}
.scroll{max-height:480px;overflow:auto;border:1px solid #ddd} img{max-width:100%}
nav a{margin-right:1em} p.note{color:#555;font-size:13px}
"""


def _esc(value: Any) -> str:
    return _html.escape(str(value), quote=True)


def _png(fig: Figure) -> str:
    """The figure as an inline <img> (base64 PNG, no timestamp in its metadata)."""
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight", metadata={"Software": None})
    data = base64.b64encode(buf.getvalue()).decode("ascii")
    return f'<img alt="plot" src="data:image/png;base64,{data}">'


def _table(header: list[str], rows: list[list[Any]], numeric: set[int]) -> str:
    head = "".join(f"<th>{_esc(h)}</th>" for h in header)
    body = "".join(
        "<tr>" + "".join(f'<td class="n">{_esc(v)}</td>' if i in numeric else f"<td>{_esc(v)}</td>"
                         for i, v in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _summary_rows(res: Any) -> list[list[Any]]:
    hit = res.dram_row_hit_rate
    rows = [
        ["hardware", res.hardware],
        ["workload", f"{res.workload} ({res.macs:,} MACs, {len(res.layers)} ops)"],
        ["latency", f"{fmt.seconds(res.latency_s)} ({res.latency_cycles:,} cycles at "
                    f"{EngFormatter(unit='Hz')(res.clock_hz)})"],
        ["energy", f"{fmt.joules(res.energy_j)} ("
                   + ", ".join(f"{k} {v / res.energy_j:.1%}" for k, v in
                               res.energy_breakdown_j.items()) + ")" if res.energy_j else "0 J"],
        ["DRAM", f"read {fmt.nbytes(res.dram_read_bytes)}, write "
                 f"{fmt.nbytes(res.dram_write_bytes)}, compulsory "
                 f"{fmt.nbytes(res.compulsory_dram_bytes)}, row-hit rate "
                 + ("n/a" if hit != hit else f"{hit:.1%}")],
        ["utilization", f"{res.utilization:.1%}"],
        ["engine events", f"{res.sim_events:,}"],
    ]
    return rows


def _ops_table(res: Any, top: int | None = None) -> str:
    L = res.layers
    if top is not None:
        L = L.loc[L["cycles"].nlargest(top, keep="first").index].sort_index()
    header = ["op", "type", "unit", "start (cycle)", "cycles", "compute", "stall", "MACs",
              "DRAM read", "DRAM write", "energy", "steps"]
    rows = [[r.op, r.type, r.unit, f"{r.start_cycle:,.0f}", f"{r.cycles:,.0f}",
             f"{r.compute_cycles:,.0f}", f"{r.stall_cycles:,.0f}", f"{r.macs:,}",
             fmt.nbytes(r.dram_read_bytes), fmt.nbytes(r.dram_write_bytes),
             fmt.joules(r.energy_j), r.steps] for r in L.itertuples(index=False)]
    return _table(header, rows, set(range(3, 12)))


def _latency_figure(res: Any) -> Figure:
    """Per op: compute and stall cycles stacked; beside it each op type's share of the ops'
    cycles."""
    L = res.layers
    fig = Figure(figsize=(12, 4.2))
    ax, share = fig.subplots(1, 2, gridspec_kw={"width_ratios": [3, 1]})
    x = np.arange(len(L))
    compute = L["compute_cycles"].to_numpy(dtype=float)
    stall = L["stall_cycles"].to_numpy(dtype=float)
    ax.bar(x, compute, width=0.85, color="#4C72B0", label="compute", linewidth=0)
    ax.bar(x, stall, bottom=compute, width=0.85, color="#C44E52", label="stall (waiting)",
           linewidth=0)
    op_plots._op_ticks(ax, [str(v) for v in L["op"]])
    ax.yaxis.set_major_formatter(EngFormatter())
    ax.set_ylabel("cycles (start to last store)")
    ax.set_title(f"Cycles per op, {len(L)} ops; latency {res.latency_cycles:,} cycles "
                 "(ops on different units overlap)", fontsize=10)
    ax.legend(fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    by_type = L.groupby("type", sort=True)["cycles"].sum().sort_values()
    share.barh([str(t) for t in by_type.index], by_type.to_numpy(dtype=float), color="#55A868")
    share.xaxis.set_major_formatter(EngFormatter())
    share.set_xlabel("cycles, summed over ops")
    share.set_title("By op type", fontsize=10)
    share.tick_params(axis="y", labelsize=8)
    return fig


def _energy_figure(res: Any) -> Figure:
    fig = Figure(figsize=(12, 4.2))
    total, per_op = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 3]})
    parts = dict(res.energy_breakdown_j)
    names = list(parts)
    values = np.array([parts[n] for n in names], dtype=float)
    colors = [op_plots.COMPONENT_COLORS.get(n, "#999999") for n in names]
    total.barh(names, values, color=colors)
    for i, v in enumerate(values):
        share = v / values.sum() if values.sum() else 0.0
        total.text(v, i, f" {share:.1%}", va="center", fontsize=8)
    total.xaxis.set_major_formatter(EngFormatter(unit="J"))
    total.set_title(f"Total {fmt.joules(res.energy_j)} by component", fontsize=10)
    total.invert_yaxis()
    op_plots.energy_breakdown(res, top=min(40, len(res.layers)), ax=per_op)
    return fig


@dataclass(frozen=True)
class _Unit:
    peak_macs_per_cycle: float


@dataclass(frozen=True)
class _Dram:
    bandwidth_bytes_per_s: float

    @property
    def bandwidth_gb_per_s(self) -> float:
        return self.bandwidth_bytes_per_s / 1e9


@dataclass(frozen=True)
class _Roof:
    """What pysim.plot.ops.roofline reads of a hardware description, from a Result's
    ``layers.attrs`` (the MAC units' peak and the DRAM bandwidth that simulate stores)."""

    clock_hz: float
    units: tuple[_Unit, ...]
    dram: _Dram


def _roofline_figure(res: Any) -> Figure | None:
    peak = res.layers.attrs.get("peak_macs_per_cycle")
    bw = res.layers.attrs.get("dram_bytes_per_s")
    if not peak or not bw or not (res.layers["macs"] > 0).any():
        return None
    fig = Figure(figsize=(8, 5.5))
    op_plots.roofline(res, _Roof(res.clock_hz, (_Unit(peak),), _Dram(bw)), ax=fig.subplots())
    return fig


def _gantt_rows(res: Any, timeline: Timeline | None) -> list[tuple[str, list, list]]:
    """(track, op spans [(start, width) in cycles], stall spans) per track."""
    if timeline is None:  # no engine record: each op's span on its unit
        rows = []
        for unit, ops in res.layers.groupby("unit", sort=False):
            spans = list(zip(ops["start_cycle"], ops["cycles"], strict=True))
            rows.append((str(unit), spans, []))
        return rows
    tracks: dict[str, tuple[list, list]] = {}
    for q in timeline.queues:
        for name in (q, f"{q} DMA read", f"{q} DMA write"):
            tracks[name] = ([], [])
    tracks["DRAM bus"] = ([], [])
    for op in timeline.ops:
        free_at = op.start_cycle
        for iv in op.intervals:
            width = iv.end_cycle - iv.start_cycle
            if iv.kind == "compute":
                tracks[op.queue][0].append((iv.start_cycle, width))
                if iv.start_cycle > free_at:
                    tracks[op.queue][1].append((free_at, iv.start_cycle - free_at))
                free_at = iv.end_cycle
            else:
                tracks[f"{op.queue} DMA {iv.kind}"][0].append((iv.start_cycle, width))
                tracks["DRAM bus"][0].append((iv.bus_cycle, iv.end_cycle - iv.bus_cycle))
    return [(name, spans, stalls) for name, (spans, stalls) in tracks.items() if spans]


def _timeline_figure(res: Any) -> Figure:
    timeline: Timeline | None = getattr(res, "timeline", None)
    rows = _gantt_rows(res, timeline)
    us = 1e6 / res.clock_hz
    fig = Figure(figsize=(12, 0.55 * len(rows) + 1.6))
    ax = fig.subplots()
    for i, (_, spans, stalls) in enumerate(rows):
        y = len(rows) - 1 - i
        ax.broken_barh([(s * us, w * us) for s, w in spans], (y - 0.35, 0.7),
                       facecolors=[f"C{k % 10}" for k in range(len(spans))], linewidth=0)
        if stalls:
            ax.broken_barh([(s * us, w * us) for s, w in stalls], (y - 0.12, 0.24),
                           facecolors="#C44E52", linewidth=0)
    ax.set_yticks(range(len(rows)), [name for name, _, _ in reversed(rows)], fontsize=8)
    ax.set_xlim(0, max(res.latency_cycles, 1) * us)
    ax.set_xlabel("time (µs)")
    what = ("steps of each op (colours); stalls on a unit in red" if timeline is not None
            else "each op from start to last store (simulated without a timeline)")
    ax.set_title(f"Timeline: {what}", fontsize=10)
    ax.grid(True, axis="x", alpha=0.3)
    return fig


def _staged_bytes(timeline: Timeline) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per queue, the DMA-staged bytes in its buffers over time (cycles): a step's inputs from
    the start of their load to the end of its compute, its outputs from the start of its
    compute to the end of their store."""
    out = {}
    for q in timeline.queues:
        deltas: list[tuple[float, float]] = []
        for op in timeline.ops:
            if op.queue != q:
                continue
            loads: dict[int, list] = {}
            for iv in op.intervals:
                loads.setdefault(iv.step, []).append(iv)
            for ivs in loads.values():
                reads = [iv for iv in ivs if iv.kind == "read"]
                writes = [iv for iv in ivs if iv.kind == "write"]
                comp = [iv for iv in ivs if iv.kind == "compute"]
                if not comp:
                    continue
                if reads:
                    n = sum(iv.nbytes for iv in reads)
                    deltas += [(reads[0].start_cycle, n), (comp[0].end_cycle, -n)]
                if writes:
                    n = sum(iv.nbytes for iv in writes)
                    deltas += [(comp[0].start_cycle, n), (writes[-1].end_cycle, -n)]
        if deltas:
            deltas.sort(key=lambda d: (d[0], d[1]))
            t = np.array([d[0] for d in deltas])
            out[q] = (t, np.maximum(np.cumsum([d[1] for d in deltas]), 0.0))
    return out


def _memory_figure(res: Any) -> Figure:
    timeline: Timeline | None = getattr(res, "timeline", None)
    staged = _staged_bytes(timeline) if timeline is not None else {}
    fig = Figure(figsize=(12, 4.2))
    levels, over_time = fig.subplots(1, 2) if staged else (fig.subplots(), None)
    names = list(res.level_bytes)
    x = np.arange(len(names))
    reads = np.array([res.level_bytes[n]["read"] for n in names], dtype=float)
    writes = np.array([res.level_bytes[n]["write"] for n in names], dtype=float)
    levels.bar(x - 0.2, reads, width=0.4, label="read", color="#4C72B0")
    levels.bar(x + 0.2, writes, width=0.4, label="written", color="#DD8452")
    levels.set_xticks(x, names, fontsize=8)
    levels.yaxis.set_major_formatter(EngFormatter(unit="B"))
    levels.set_title("Bytes read and written at each memory level, whole run", fontsize=10)
    levels.legend(fontsize=8)
    levels.grid(True, axis="y", alpha=0.3)
    if over_time is not None:
        us = 1e6 / res.clock_hz
        for q, (t, b) in staged.items():
            over_time.step(t * us, b, where="post", label=q, linewidth=1)
        over_time.yaxis.set_major_formatter(EngFormatter(unit="B"))
        over_time.set_xlabel("time (µs)")
        over_time.set_title("DMA-staged bytes in each unit's buffers over time", fontsize=10)
        over_time.legend(fontsize=8)
        over_time.grid(True, alpha=0.3)
    return fig


def _levels_table(res: Any) -> str:
    """Per memory level: bytes read and written, and its transfers to and from other
    memories split into compulsory and non-compulsory bytes (pysim/mapping/level_flows.py)."""
    rows = []
    for name, v in res.level_bytes.items():
        moved = v["read"] + v["write"] if name == "dram" else v["in"] + v["out"]
        rows.append([name, fmt.nbytes(v["read"]), fmt.nbytes(v["write"]), fmt.nbytes(moved),
                     fmt.nbytes(v["compulsory"]), fmt.nbytes(v["non_compulsory"])])
    return _table(["level", "read", "written", "transfers", "compulsory", "non-compulsory"],
                  rows, {1, 2, 3, 4, 5})


def _section(sid: str, heading: str, body: str) -> str:
    return f'<section id="{sid}"><h2>{_esc(heading)}</h2>\n{body}\n</section>\n'


def render(res: Any, *, title: str | None = None) -> str:
    """The report page of ``res`` (a Result) as one HTML string; see the module docstring."""
    title = title or f"pysim: {res.workload} on {res.hardware}"
    roof = _roofline_figure(res)
    has_timeline = getattr(res, "timeline", None) is not None
    bodies = {
        "summary": _table(["", ""], _summary_rows(res), set()),
        "ops": f'<div class="scroll">{_ops_table(res)}</div>',
        "latency": _png(_latency_figure(res)),
        "energy": _png(_energy_figure(res)),
        "roofline": (_png(roof) if roof is not None else
                     '<p class="note">No MAC ops, or no peak and DRAM bandwidth recorded: '
                     "no roofline.</p>"),
        "timeline": _png(_timeline_figure(res)) + (
            '<p class="note">Each track is a unit (or queue), its DMA read and write channels '
            "and the shared DRAM bus. For the same timeline in the Perfetto UI: "
            "<code>res.to_chrome_trace(\"run.json\")</code>.</p>" if has_timeline else
            '<p class="note">Simulated without <code>trace=True</code>: op spans only.</p>'),
        "memory": _png(_memory_figure(res)) + _levels_table(res),
    }
    nav = "".join(f'<a href="#{sid}">{_esc(h)}</a>' for sid, h in SECTIONS)
    sections = "".join(_section(sid, h, bodies[sid]) for sid, h in SECTIONS)
    return ("<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
            f"<title>{_esc(title)}</title><link rel=\"icon\" href=\"data:,\">"
            f"<style>{_CSS}</style></head>\n<body><h1>{_esc(title)}</h1><nav>{nav}</nav>\n"
            f"{sections}</body></html>\n")


def summary_html(res: Any, top: int = 10) -> str:
    """A compact view for notebooks (``Result._repr_html_``): the totals and the ``top``
    longest ops, no plots."""
    return (f"<div><strong>{_esc(res.workload)} on {_esc(res.hardware)}</strong>"
            + _table(["", ""], _summary_rows(res), set())
            + f"<p>{min(top, len(res.layers))} longest of {len(res.layers)} ops</p>"
            + _ops_table(res, top=top) + "</div>")
