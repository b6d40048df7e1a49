"""Design-space exploration: spaces of hardware parameters, sweeps over them (local
processes, any Executor, Dask) with checkpointing, Pareto fronts, and NSGA-II search.

    space = pysim.Space({"units.0.rows": [16, 32, 64], "dram.bandwidth_gb_per_s": [12.8, 25.6]})
    df = pysim.sweep(hw, wl, space, jobs=2, out="runs.parquet")
    front = pysim.pareto(df, minimize=["latency_s", "energy_j"])
    found = pysim.search(hw, wl, space, n_trials=60, objectives=["latency_s", "energy_j"])

docs/sweeps.md describes the frame, checkpointing and the area model.
"""

from pysim.sweep._worker import METRICS
from pysim.sweep.pareto import non_dominated, pareto
from pysim.sweep.runner import connect, sweep
from pysim.sweep.search import search
from pysim.sweep.space import Space

__all__ = ["METRICS", "Space", "connect", "non_dominated", "pareto", "search", "sweep"]
