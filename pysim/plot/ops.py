"""Per-op plots of one simulation: energy breakdown, roofline, utilisation."""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.ticker import EngFormatter, NullFormatter, PercentFormatter

from pysim.energy.model import COMPONENTS, RUN_COMPONENTS
from pysim.plot._style import new_axes

COMPONENT_COLORS = {"mac": "#4C72B0", "register_file": "#8172B2", "sram": "#55A868",
                    "dram": "#C44E52", "vector": "#CCB974", "host": "#64B5CD"}


def _layers(res: Any) -> tuple[pd.DataFrame, str]:
    """The per-op frame of a Result (or a frame given directly) and a title suffix."""
    if isinstance(res, pd.DataFrame):
        return res, ""
    layers = getattr(res, "layers", None)
    if not isinstance(layers, pd.DataFrame):
        raise ValueError(f"expected a pysim Result or its layers DataFrame, got "
                         f"{type(res).__name__}")
    return layers, f" — {res.workload} on {res.hardware}"


def _op_ticks(ax: Axes, names: list[str], max_labels: int = 60) -> None:
    """Op names under the bars: all of them when few, else every k-th."""
    step = max(1, int(np.ceil(len(names) / max_labels)))
    ticks = list(range(0, len(names), step))
    ax.set_xticks(ticks, [names[i] for i in ticks], rotation=90,
                  fontsize=7 if len(ticks) > 25 else 8)
    ax.set_xlim(-0.7, len(names) - 0.3)
    ax.set_xlabel(f"op (one in {step} labelled)" if step > 1 else "op")


def energy_breakdown(res: Any, *, top: int | None = None, ax: Axes | None = None) -> Axes:
    """Stacked bars of each op's dynamic energy by component (mac, register_file, sram, dram,
    vector, and host where weights were copied in from host memory; the columns
    ``<component>_j`` of ``res.layers``), ops in execution order.
    ``top``: only the ``top`` ops with the most energy. Leakage is priced for the whole run,
    not per op, and is given in the title. Returns the Axes."""
    layers, suffix = _layers(res)
    # the host link's bar only where a run copied weights in
    shown_parts = [c for c in COMPONENTS
                   if c != "host" or ("host_j" in layers and layers["host_j"].any())]
    missing = [f"{c}_j" for c in shown_parts if f"{c}_j" not in layers.columns]
    if missing:
        raise ValueError(f"layers frame lacks energy columns {missing}")
    if top is not None:
        layers = layers.loc[layers["energy_j"].nlargest(top).index].sort_index()
    n = len(layers)
    ax = new_axes(ax, (max(8.0, min(0.14 * n + 3.5, 16.0)), 5.0))
    x = np.arange(n)
    bottom = np.zeros(n)
    for c in shown_parts:
        values = layers[f"{c}_j"].to_numpy(dtype=float)
        ax.bar(x, values, bottom=bottom, width=0.8, color=COMPONENT_COLORS[c],
               label=c.replace("_", " "), linewidth=0)
        bottom = bottom + values
    ax.set_ylim(0, 1.08 * bottom.max() if n and bottom.max() > 0 else 1)
    _op_ticks(ax, [str(v) for v in layers["op"]])
    ax.yaxis.set_major_formatter(EngFormatter(unit="J"))
    ax.set_ylabel("dynamic energy per op")
    parts = getattr(res, "energy_breakdown_j", {})
    shown = f"top {top} ops by energy" if top is not None else f"{n} ops"
    run = [f"{c} {EngFormatter(unit='J', places=1)(parts[c])}" for c in RUN_COMPONENTS
           if parts.get(c) or (c == "leakage" and c in parts)]
    leak_note = f"; {', '.join(run)} over the run, not per op" if run else ""
    ax.set_title(f"Energy per op{suffix} ({shown}{leak_note})", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0), title="component",
              title_fontsize=8)
    ax.grid(True, axis="y", alpha=0.3)
    return ax


def roofline(res: Any, hw: Any, *, annotate: int = 5, ax: Axes | None = None) -> Axes:
    """Roofline of ``hw`` with each MAC op of ``res`` placed at its operational intensity
    (2 x MACs per DRAM byte read or written) and achieved performance (2 x MACs over the
    op's cycles). The roof is min(peak, bandwidth x intensity), with peak = 2 x the MAC
    units' MACs per cycle x the clock and bandwidth = ``dram.bandwidth_gb_per_s``. On
    hardware of one MAC unit whose ops ran at different peaks (a GPU's int8 and fp16 MMAs:
    the frame's ``peak_macs_per_cycle``), the roof is the highest and each lower one a
    dashed ceiling, as profilers draw one per precision. Ops with no DRAM traffic sit at the
    right edge (open markers); vector ops have no MACs and are not placed. The ``annotate``
    slowest ops are named. Returns the Axes."""
    layers, suffix = _layers(res)
    clock = hw.clock_hz
    peak = 2 * sum(u.peak_macs_per_cycle for u in hw.units) * clock
    bw = hw.dram.bandwidth_bytes_per_s
    ops = layers[layers["macs"] > 0]
    ceilings: dict[float, str] = {}  # lower peaks (ops/s) -> the ops' formats at each
    top = ""  # the formats of the ops at the roof's peak, where the frame says
    if len(layers.attrs.get("unit_peaks", ())) == 1 and "peak_macs_per_cycle" in ops:
        at = ops[ops["peak_macs_per_cycle"] > 0]
        for p, group in at.groupby("peak_macs_per_cycle"):
            ceilings[2 * float(p) * clock] = ", ".join(sorted(
                {f"{d}{b}" for d, b in zip(group["dtype"], group["act_bits"], strict=True)}))
        if ceilings:
            peak = max(ceilings)
            top = ceilings.pop(peak)
    moved = (ops["dram_read_bytes"] + ops["dram_write_bytes"]).to_numpy(dtype=float)
    flops = 2 * ops["macs"].to_numpy(dtype=float)
    perf = flops / (ops["cycles"].to_numpy(dtype=float) / clock)
    with np.errstate(divide="ignore"):
        intensity = np.where(moved > 0, flops / np.maximum(moved, 1), np.inf)
    ridge = peak / bw
    finite = intensity[np.isfinite(intensity)]
    lo = min([ridge, *finite]) / 4 if finite.size else ridge / 100
    hi = max([ridge, *finite]) * 4 if finite.size else ridge * 100
    ax = new_axes(ax, (7.5, 5.5))
    xs = np.geomspace(lo, hi, 200)
    ax.plot(xs, np.minimum(peak, bw * xs), color="black", linewidth=1.5,
            label=f"roof: {EngFormatter(unit='OP/s')(peak)} peak"
                  + (f" ({top} ops)" if top else "")
                  + f", {hw.dram.bandwidth_gb_per_s:g} GB/s")
    for p, formats in sorted(ceilings.items(), reverse=True):
        ax.plot(xs, np.minimum(p, bw * xs), color="black", linewidth=1, linestyle="--",
                label=f"ceiling: {EngFormatter(unit='OP/s')(p)} peak ({formats} ops)")
    ax.axvline(ridge, color="grey", linestyle=":", linewidth=1)
    ax.text(ridge, 0.02, f" ridge: {ridge:.3g} ops/B", transform=ax.get_xaxis_transform(),
            fontsize=7, color="grey")
    placed = np.where(np.isfinite(intensity), intensity, hi / 1.5)
    types = ops["type"].astype(str).to_numpy() if "type" in ops else np.array(["op"] * len(ops))
    for i, kind in enumerate(dict.fromkeys(types)):
        sel = types == kind
        color = f"C{i}"
        on = sel & np.isfinite(intensity)
        ax.scatter(placed[on], perf[on], s=22, color=color, alpha=0.8, label=f"{kind} ops",
                   zorder=3)
        off = sel & ~np.isfinite(intensity)
        if off.any():
            ax.scatter(placed[off], perf[off], s=28, facecolors="none", edgecolors=color,
                       zorder=3, label=f"{kind} ops, no DRAM traffic")
    spots: dict[tuple[float, float], list[str]] = {}  # ops drawn at one spot share a label
    for i in np.argsort(-ops["cycles"].to_numpy(dtype=float))[:annotate]:
        spot = (float(f"{placed[i]:.3g}"), float(f"{perf[i]:.3g}"))
        spots.setdefault(spot, []).append(str(ops["op"].iloc[i]))
    for (sx, sy), names in spots.items():
        more = f" (+{len(names) - 1})" if len(names) > 1 else ""
        ax.annotate(names[0] + more, (sx, sy), xytext=(5, -10), textcoords="offset points",
                    fontsize=7)
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlim(lo, hi)
    ax.yaxis.set_major_formatter(EngFormatter(unit="OP/s"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("operational intensity (ops per DRAM byte; 1 MAC = 2 ops)")
    ax.set_ylabel("achieved performance")
    ax.set_title(f"Roofline{suffix} ({len(ops)} MAC ops)", fontsize=10)
    ax.grid(True, which="major", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return ax


def utilization(res: Any, hw: Any | None = None, *, ax: Axes | None = None) -> Axes:
    """Bars of each op's utilisation of the unit it ran on: MACs over (cycles x the unit's
    MACs per cycle in the op's formats, the frame's ``peak_macs_per_cycle``) for MAC ops,
    vector operations over (cycles x the vector unit's ops per cycle) for the others when
    ``hw`` is given (without ``hw``: MAC ops only). The dashed line is the whole run's MAC
    utilisation. Returns the Axes."""
    layers, suffix = _layers(res)
    cycles = layers["cycles"].to_numpy(dtype=float)
    macs = layers["macs"].to_numpy(dtype=float)
    op_peak = (layers["peak_macs_per_cycle"].to_numpy(dtype=float)
               if "peak_macs_per_cycle" in layers else np.zeros(len(layers)))
    if "peak_macs_per_cycle" in layers:  # each MAC op against its unit's peak in its formats
        vector = hw.vector.ops_per_cycle if hw is not None else 0.0
        per_cycle = np.where(op_peak > 0, op_peak, vector)
        work = np.where(op_peak > 0, macs, layers["vector_ops"].to_numpy(dtype=float))
        keep = (op_peak > 0) | (hw is not None)
    elif hw is not None:
        peaks = {u.name: u.peak_macs_per_cycle for u in hw.units}
        per_cycle = np.array([peaks.get(u, hw.vector.ops_per_cycle) for u in layers["unit"]],
                             dtype=float)
        work = np.where(macs > 0, macs, layers["vector_ops"].to_numpy(dtype=float))
        keep = np.ones(len(layers), dtype=bool)
    else:
        per_cycle = np.full(len(layers), float(layers.attrs.get("peak_macs_per_cycle", 0)))
        work, keep = macs, macs > 0
        if not per_cycle.size or per_cycle[0] <= 0:
            raise ValueError("pass hw: the layers frame does not say the MAC units' peak")
    with np.errstate(divide="ignore", invalid="ignore"):
        util = np.where(cycles > 0, work / (cycles * per_cycle), 0.0)[keep]
    sub = layers[keep]
    is_mac = op_peak[keep] > 0 if "peak_macs_per_cycle" in layers else \
        (sub["macs"] > 0).to_numpy()
    n = len(sub)
    ax = new_axes(ax, (max(8.0, min(0.14 * n + 3.5, 16.0)), 5.0))
    x = np.arange(n)
    ax.bar(x[is_mac], util[is_mac], width=0.8, color="#4C72B0", label="MAC ops (MAC units)")
    if (~is_mac).any():
        ax.bar(x[~is_mac], util[~is_mac], width=0.8, color="#CCB974",
               label="vector ops (vector unit)")
    overall = getattr(res, "utilization", None)
    if overall is not None:
        ax.axhline(overall, color="black", linestyle="--", linewidth=1,
                   label=f"whole run, MAC units: {overall:.1%}")
    _op_ticks(ax, [str(v) for v in sub["op"]])
    ax.set_ylim(0, 1.05)
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylabel("utilisation of the op's unit")
    ax.set_title(f"Utilisation per op{suffix}", fontsize=10)
    ax.legend(fontsize=8, loc="upper left", bbox_to_anchor=(1.005, 1.0))
    ax.grid(True, axis="y", alpha=0.3)
    return ax
