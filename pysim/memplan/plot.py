"""The scratchpad over time: address against step, each resident piece a rectangle.

`memory(plan)` draws what issue 13 asks of ``pysim.plot.memory``: one rectangle per piece
(steps start..end, bytes offset..offset + size), a red bar at the end of each piece that spills
(the tensor is needed again later) and a green one at the start of each reload; the budget is
the dashed line.
"""

from __future__ import annotations

from typing import Any

from pysim.memplan.plan import Plan


def memory(plan: Plan, ax: Any = None, labels: bool = False) -> Any:
    """Draw `plan` on `ax` (a new figure's axes if None) and return the axes. `labels` writes
    each tensor's name in its rectangle."""
    import matplotlib.pyplot as plt
    from matplotlib.patches import Rectangle

    if ax is None:
        _, ax = plt.subplots(figsize=(10, 4))
    g = plan.graph
    last: dict[str, int] = {}
    first: dict[str, int] = {}
    for p in plan.pieces:
        last[p.tensor] = max(last.get(p.tensor, -1), p.end)
        first[p.tensor] = min(first.get(p.tensor, 1 << 60), p.start)
    colors = plt.get_cmap("tab20").colors
    for i, p in enumerate(plan.pieces):
        size = g.tensors[p.tensor].bytes
        ax.add_patch(Rectangle((p.start - 0.45, p.offset), p.end - p.start + 0.9, size,
                               facecolor=colors[i % len(colors)], edgecolor="black",
                               linewidth=0.3))
        if p.end < last[p.tensor]:  # spilled after this piece
            ax.plot([p.end + 0.45] * 2, [p.offset, p.offset + size], color="red", linewidth=2)
        if p.start > first[p.tensor]:  # reloaded for this piece
            ax.plot([p.start - 0.45] * 2, [p.offset, p.offset + size], color="green",
                    linewidth=2)
        if labels:
            ax.text(p.start, p.offset + size / 2, p.tensor, fontsize=6, va="center")
    ax.axhline(plan.budget_bytes, color="black", linestyle="--", linewidth=1)
    ax.set_xlim(-1, len(plan.order))
    ax.set_ylim(0, plan.budget_bytes * 1.05)
    ax.set_xlabel("step (op in plan order)")
    ax.set_ylabel("scratchpad address (bytes)")
    ax.set_title(f"{g.name}: {plan.planner}, {plan.non_compulsory_bytes} B non-compulsory "
                 f"(red: spill, green: reload)")
    return ax
