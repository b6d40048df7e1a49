"""Plots of serving runs (matplotlib, loaded when this module is; ``pysim.serving.plot`` is
imported on first use). As pysim.plot, each draws into the Axes given, else into a new Figure
made without pyplot, and returns its Axes: ``kv_occupancy(res).figure.savefig("kv.png")``.

- ``latency_percentiles(results)``: TTFT and TPOT p50 / p90 / p99 against arrival rate, one
  point per run (two Axes side by side);
- ``kv_occupancy(result)``: the share of the KV cache's blocks in use after each iteration.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from pysim.plot._style import format_axis, new_axes, wants_log
from pysim.serving.metrics import ServingResult

PERCENTILES = (50, 90, 99)


def arrival_rate(result: ServingResult) -> float:
    """Requests per second offered: (n - 1) over the span from first to last arrival (for a
    Poisson stream, the rate's unbiased estimate)."""
    t = result.requests["arrival_s"].to_numpy()
    span = float(t.max() - t.min())
    if len(t) < 2 or span <= 0:
        raise ValueError("arrival rate needs at least two requests arriving at different "
                         "times; pass rates=")
    return (len(t) - 1) / span


def latency_percentiles(results: Sequence[ServingResult], rates: Sequence[float] | None = None,
                        *, axes: tuple[Axes, Axes] | None = None) -> tuple[Axes, Axes]:
    """TTFT (left) and TPOT (right) p50 / p90 / p99 of each run in ``results`` against its
    arrival rate (``rates``, default: each run's measured ``arrival_rate``); points sorted by
    rate. Returns the two Axes. Raises ValueError on no runs or a rate per run missing."""
    if not results:
        raise ValueError("latency_percentiles needs at least one ServingResult")
    x = [arrival_rate(r) for r in results] if rates is None else [float(v) for v in rates]
    if len(x) != len(results):
        raise ValueError(f"rates has {len(x)} values for {len(results)} results")
    if axes is None:
        fig = Figure(figsize=(11.0, 4.5), layout="constrained")
        ax_ttft, ax_tpot = fig.subplots(1, 2)
    else:
        ax_ttft, ax_tpot = (new_axes(a, (5.5, 4.5)) for a in axes)
    order = np.argsort(x, kind="stable")
    xs = np.asarray(x)[order]
    sums = [results[i].summary() for i in order]
    for ax, metric, title in ((ax_ttft, "ttft", "time to first token"),
                              (ax_tpot, "tpot", "time per output token")):
        ys = []
        for q, style in zip(PERCENTILES, ("-", "--", ":"), strict=True):
            y = np.array([getattr(s, f"{metric}_p{q}_s") for s in sums])
            ys.append(y)
            ax.plot(xs, y, style, marker="o", markersize=4, color="C0" if q == 50 else
                    "C1" if q == 90 else "C3", label=f"{metric.upper()} p{q}")
        ax.set_xlabel("arrival rate (requests/s)")
        ax.set_ylabel(title)
        format_axis(ax.yaxis, "s", wants_log(np.concatenate(ys)))
        ax.grid(True, alpha=0.3)
        ax.legend(frameon=False)
    ax_ttft.set_title(f"{results[0].model}, {results[0].scheduler}", loc="left")
    return ax_ttft, ax_tpot


def kv_occupancy(result: ServingResult, *, ax: Axes | None = None) -> Axes:
    """The share of the KV cache's blocks held after each iteration (a step at each
    iteration's end: ``iterations.start_s + seconds`` against ``kv_utilisation``), with the
    queue of waiting requests on a second axis. Returns the Axes."""
    ax = new_axes(ax, (10.0, 4.5))
    it = result.iterations
    t = (it["start_s"] + it["seconds"]).to_numpy()
    ax.plot(t, it["kv_utilisation"].to_numpy(), drawstyle="steps-post", color="C0",
            label=f"KV blocks in use (of {result.kv_blocks} x {result.block_size} tokens)")
    ax.axhline(1.0, color="0.5", linewidth=0.8, linestyle="--")
    ax.set_ylim(0, 1.05)
    ax.set_xlabel("time")
    ax.set_ylabel("KV-cache occupancy")
    format_axis(ax.xaxis, "s", False)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    queue = ax.twinx()
    queue.plot(t, it["queued"].to_numpy(), drawstyle="steps-post", color="C1", alpha=0.6,
               linewidth=0.8, label="queued requests")
    queue.set_ylabel("queued requests")
    lines = ax.get_lines()[:1] + queue.get_lines()
    ax.legend(lines, [ln.get_label() for ln in lines], frameon=False, loc="upper left")
    ax.set_title(f"{result.model}, {result.scheduler}", loc="left")
    return ax


__all__ = ["arrival_rate", "kv_occupancy", "latency_percentiles"]
