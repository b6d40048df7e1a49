"""Plots of sweeps and simulations (matplotlib). Each function draws into ``ax`` if given,
else into a new Figure made without pyplot (no GUI, no global state; it renders with Agg),
and returns the Axes: ``pysim.plot.pareto(df).figure.savefig("pareto.png")``.

- ``pareto(df, front=None, x="latency_s", y="energy_j")`` — design points, front highlighted
  and labelled;
- ``energy_breakdown(res)`` — stacked bars of each op's energy by component;
- ``roofline(res, hw)`` — the hardware's roofline with each MAC op placed;
- ``utilization(res, hw)`` — each op's utilisation of its unit;
- ``memory(plan)`` — a scratchpad plan (``pysim.memplan.plan``) over time: address against
  step, each resident piece a rectangle, spills and reloads marked.
"""

from pysim.memplan.plot import memory
from pysim.plot.ops import energy_breakdown, roofline, utilization
from pysim.plot.pareto import pareto

__all__ = ["energy_breakdown", "memory", "pareto", "roofline", "utilization"]
