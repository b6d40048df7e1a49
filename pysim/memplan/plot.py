"""The scratchpad over time: address against step, each resident piece a rectangle.

`memory(plan)` draws what issue 13 asks of ``pysim.plot.memory``: one rectangle per piece
(steps start..end, bytes offset..offset + size), a red bar at the end of each piece that spills
(the tensor is needed again later) and a green one at the start of each reload; the budget is
the dashed line. `memory(result)` draws a simulation's kept area the same way
(``Result.kept_area``: the op outputs the mapper keeps between ops, at their addresses; a red
bar where a tensor's stay ends before its last reader, which then reads it from DRAM).
"""

from __future__ import annotations

from typing import Any

from pysim.memplan.plan import Plan


def memory(plan: Any, ax: Any = None, labels: bool = False) -> Any:
    """Draw `plan` (a ``pysim.memplan.plan`` result, or a ``pysim.simulate`` Result's kept
    area) on `ax` (a new figure's axes if None) and return the axes. `labels` writes each
    tensor's name in its rectangle."""
    import matplotlib.pyplot as plt

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    if not isinstance(plan, Plan):
        return _kept_area(plan, ax, labels)
    g = plan.graph
    last: dict[str, int] = {}
    first: dict[str, int] = {}
    for p in plan.pieces:
        last[p.tensor] = max(last.get(p.tensor, -1), p.end)
        first[p.tensor] = min(first.get(p.tensor, 1 << 60), p.start)
    for i, p in enumerate(plan.pieces):
        _piece(ax, i, p.tensor, p.start, p.end, p.offset, g.tensors[p.tensor].bytes, labels,
               spilled=p.end < last[p.tensor], reloaded=p.start > first[p.tensor])
    ax.axhline(plan.budget_bytes, color="black", linestyle="--", linewidth=1)
    ax.set_xlim(-1, len(plan.order))
    ax.set_ylim(0, plan.budget_bytes * 1.05)
    ax.set_xlabel("step (op in plan order)")
    ax.set_ylabel("scratchpad address (bytes)")
    ax.set_title(f"{g.name}: {plan.planner}, {plan.non_compulsory_bytes} B non-compulsory "
                 f"(red: spill, green: reload)")
    return ax


def _kept_area(res: Any, ax: Any, labels: bool) -> Any:
    """A simulation's kept area (``Result.kept_area``) on ``ax``."""

    from pysim.errors import ConfigError

    if not hasattr(res, "kept_area"):
        raise ConfigError(f"pysim.plot.memory draws a pysim.memplan plan or a pysim.simulate "
                          f"Result, got {type(res).__name__}")
    area = res.kept_area
    if area.empty:
        raise ConfigError(f"{res.workload} on {res.hardware}: no kept area with addresses to "
                          "draw (mapper.residency: fifo keeps aggregate bytes, GPUs keep none)")
    ops = list(res.layers["op"])
    for i, b in enumerate(area.itertuples()):  # spilled: later readers read it from DRAM
        _piece(ax, i, b.tensor, b.first_step, b.last_step, b.offset, b.bytes, labels,
               spilled=b.spilled, reloaded=b.reloaded)
    top = int((area["offset"] + area["bytes"]).max())
    ax.set_xlim(-1, len(ops))
    ax.set_ylim(0, top * 1.05)
    ax.set_xlabel("step (op in execution order)")
    ax.set_ylabel("kept-area address (bytes)")
    ax.set_title(f"{res.workload} on {res.hardware}: op outputs kept between ops "
                 "(red: read from DRAM afterwards, green: reloaded)")
    return ax


def _piece(ax: Any, i: int, tensor: str, start: int, end: int, offset: int, size: int,
           labels: bool, spilled: bool, reloaded: bool) -> None:
    """One resident piece: a rectangle over steps start..end and bytes offset..offset + size,
    a red bar at its end if it spills, a green one at its start if it was reloaded."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    cmap = plt.get_cmap("tab20")  # a ListedColormap: cmap(i) is its i-th colour
    ax.add_patch(Rectangle((start - 0.45, offset), end - start + 0.9, size,
                           facecolor=cmap(i % cmap.N), edgecolor="black", linewidth=0.3))
    if spilled:
        ax.plot([end + 0.45] * 2, [offset, offset + size], color="red", linewidth=2)
    if reloaded:
        ax.plot([start - 0.45] * 2, [offset, offset + size], color="green", linewidth=2)
    if labels:
        ax.text(start, offset + size / 2, tensor, fontsize=6, va="center")
