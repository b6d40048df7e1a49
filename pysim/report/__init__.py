"""Timelines and reports of a simulation: the engine's events as a Chrome/Perfetto trace
(``Result.to_chrome_trace``), and one self-contained HTML page (``pysim.report.html``,
``pysim report HW WL -o report.html``)."""

from __future__ import annotations

from typing import Any

from pysim.report.timeline import OpTrace, Timeline
from pysim.report.trace import chrome_trace, write_chrome_trace


def html(res: Any, *, title: str | None = None) -> str:
    """One self-contained HTML page of ``res`` (a Result): per-op table, latency and energy
    breakdowns, roofline, timeline, memory. Plots are inline PNGs (matplotlib, Agg)."""
    from pysim.report.page import render

    return render(res, title=title)


__all__ = ["OpTrace", "Timeline", "chrome_trace", "html", "write_chrome_trace"]
