"""Dynamic computation: early exit.

A backbone has exit points after some of its ops; at exit i a small head (a classifier) runs,
and the sample leaves with *conditional* probability ``q_i`` (given it reached exit i). The
probability of leaving at exit i is ``p_i = q_i x prod_{j<i} (1 - q_j)``; samples that pass
every exit run the whole backbone. A sample that leaves at exit i paid the backbone up to the
exit's op and every head up to and including head i. Backbone costs come from one simulation of
the backbone (cumulative latency = the exit op's end cycle; cumulative energy = dynamic energy
of every op that ended by then plus leakage over that time); each head is simulated on its own.
The result is a discrete distribution of latency and energy: mean, median (p50) and p99 are
probability-weighted quantiles over it.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from pysim.energy import ON_CHIP
from pysim.errors import WorkloadError
from pysim.simulate import simulate
from pysim.workload import Workload, workload_from_dict

if TYPE_CHECKING:
    import pandas as pd


@dataclass(frozen=True)
class ExitPoint:
    """An exit after op ``after`` with conditional exit probability ``probability`` and a head
    workload (reading a graph input with the shape of ``after``'s output), or None for the
    default head: global average pool (images) or the first token (sequences) + a linear layer
    to ``classes`` outputs."""

    after: str
    probability: float
    head: Workload | None = None
    classes: int = 1000


@dataclass(frozen=True)
class EarlyExitResult:
    outcomes: pd.DataFrame  # one row per way out: exit, probability, latency_s, energy_j
    full: Any  # the backbone's Result

    def _quantile(self, column: str, q: float) -> float:
        df = self.outcomes.sort_values(column)
        cdf = np.cumsum(df["probability"].to_numpy())
        return float(df[column].to_numpy()[np.searchsorted(cdf, q - 1e-12)])

    def stats(self) -> dict[str, float]:
        """mean, p50 and p99 of latency (s) and energy (J)."""
        p = self.outcomes["probability"]
        out = {}
        for col in ("latency_s", "energy_j"):
            out[f"{col}_mean"] = float((p * self.outcomes[col]).sum())
            out[f"{col}_p50"] = self._quantile(col, 0.50)
            out[f"{col}_p99"] = self._quantile(col, 0.99)
        return out


def default_head(wl: Workload, after: str, classes: int) -> Workload:
    """Global average pool (NHWC feature maps) or first-token (sequence) + linear layer."""
    tensor = wl.tensors.get(after)
    if tensor is None:
        raise WorkloadError(f"exit after {after!r}: no such tensor; ops: "
                            f"{', '.join(op.name for op in wl.ops[:8])}, ...")
    shape = tensor.shape
    ops: list[dict[str, Any]] = []
    if len(shape) == 4:
        b, h, w, c = shape
        ops.append({"name": "gap", "type": "pool", "mode": "avg", "inputs": ["x"], "batch": b,
                    "in_h": h, "in_w": w, "channels": c, "global_pool": True})
        ops.append({"name": "fc", "type": "gemm", "inputs": ["gap"], "m": b, "n": classes,
                    "k": c, "bias": True})
    else:
        rows, feat = (shape[0], shape[-1]) if len(shape) >= 2 else (1, shape[0])
        ops.append({"name": "fc", "type": "gemm", "inputs": ["x"], "m": rows, "n": classes,
                    "k": math.prod(shape) // rows, "bias": True})
        del feat
    return workload_from_dict({
        "name": f"exit_head_{after}",
        "inputs": [{"name": "x", "shape": list(shape), "bits": tensor.bits}],
        "ops": ops,
    })


def simulate_early_exit(hw: Any, wl: Workload, exits: list[ExitPoint]) -> EarlyExitResult:
    """Latency and energy distribution of ``wl`` with early exits on ``hw``.

    Raises WorkloadError if an exit names no op of ``wl``, a probability is outside [0, 1], or
    exits are not in execution order.
    """
    order = {op.name: i for i, op in enumerate(wl.ops)}
    last = -1
    for e in exits:
        if e.after not in order:
            raise WorkloadError(f"exit after {e.after!r}: the workload has no such op")
        if not 0.0 <= e.probability <= 1.0:
            raise WorkloadError(f"exit after {e.after!r}: probability must be in [0, 1], "
                                f"got {e.probability}")
        if order[e.after] <= last:
            raise WorkloadError(f"exit after {e.after!r}: exits must follow execution order")
        last = order[e.after]
    full = simulate(hw, wl)
    layers = full.layers
    # the run-level parts from the backbone's own result, so any hardware (a GPU preset has
    # none): leakage and clock power, and control per joule of on-chip energy and clock
    parts = full.energy_breakdown_j
    seconds = full.latency_s if full.latency_s > 0 else math.inf
    clock_w = parts.get("clock", 0.0) / seconds
    timed_w = parts.get("leakage", 0.0) / seconds + clock_w
    base = sum(parts.get(c, 0.0) for c in ON_CHIP) + parts.get("clock", 0.0)
    control_per_j = parts.get("control", 0.0) / base if base > 0 else 0.0
    rows = []
    reach = 1.0
    head_latency = head_energy = 0.0
    for e in exits:
        head = e.head or default_head(wl, wl.ops[order[e.after]].output, e.classes)
        hres = simulate(hw, head)
        head_latency += hres.latency_s
        head_energy += hres.energy_j
        end = float(layers.loc[order[e.after], "end_cycle"])
        done = layers["end_cycle"] <= end
        dynamic = float(layers.loc[done, "energy_j"].sum())
        # leakage and clock of the backbone's prefix up to the exit, control its share
        on_chip = float(layers.loc[done, [f"{c}_j" for c in ON_CHIP]].to_numpy().sum())
        timed = timed_w * end / full.clock_hz
        energy = dynamic + timed + control_per_j * (on_chip + clock_w * end / full.clock_hz) \
            + head_energy
        p = reach * e.probability
        rows.append({"exit": e.after, "probability": p, "latency_s": end / full.clock_hz
                     + head_latency, "energy_j": energy, "head_latency_s": hres.latency_s,
                     "head_energy_j": hres.energy_j})
        reach -= p
    rows.append({"exit": "final", "probability": reach, "latency_s": full.latency_s
                 + head_latency, "energy_j": full.energy_j + head_energy,
                 "head_latency_s": 0.0, "head_energy_j": 0.0})
    import pandas as pd

    return EarlyExitResult(pd.DataFrame(rows), full)
