"""``search(hw, wl, space, n_trials=...)``: multi-objective optimisation over a design space
with Optuna's NSGA-II sampler, for spaces too large to grid.

Trials are asked a generation at a time (``population_size`` of them), evaluated together
(in this process, a local pool, an Executor or on Dask, like ``sweep``), then told in order;
so the same ``seed`` gives the same trials whatever runs them. List axes are categorical;
``(low, high)`` ranges are ints (both bounds ints) or floats. A point seen before is not
simulated again; an invalid point is a failed trial (and a row with its error).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from concurrent.futures import Executor
from os import PathLike
from typing import TYPE_CHECKING, Any

from pysim.config import Hardware
from pysim.errors import require
from pysim.sweep._worker import METRICS
from pysim.sweep.runner import Evaluator, as_space, load_inputs
from pysim.sweep.space import Space
from pysim.workload import Workload

if TYPE_CHECKING:
    import pandas as pd

DIRECTIONS = ("minimize", "maximize")


def _objectives(objectives: Sequence[str] | Mapping[str, str]) -> dict[str, str]:
    if isinstance(objectives, str):
        objectives = [objectives]
    pairs = (dict(objectives) if isinstance(objectives, Mapping)
             else dict.fromkeys(objectives, "minimize"))
    if not pairs:
        raise ValueError("give at least one objective, e.g. objectives=['latency_s', 'energy_j']")
    unknown = [k for k in pairs if k not in METRICS]
    if unknown:
        raise ValueError(f"objectives not in the frame: {unknown}; metrics: {list(METRICS)}")
    bad = {k: v for k, v in pairs.items() if v not in DIRECTIONS}
    if bad:
        raise ValueError(f"objective directions must be 'minimize' or 'maximize', got {bad}")
    return pairs


def _suggest(trial: Any, key: str, axis: Any) -> Any:
    if isinstance(axis, list):
        return trial.suggest_categorical(key, axis)
    low, high = axis
    if isinstance(low, int) and isinstance(high, int):
        return trial.suggest_int(key, low, high)
    return trial.suggest_float(key, float(low), float(high))


def search(hw: Hardware | str | PathLike, wl: Workload | str | PathLike, space: Space | dict,
           *, n_trials: int, objectives: Sequence[str] | Mapping[str, str] = ("latency_s",
                                                                              "energy_j"),
           seed: int | None = 0, population_size: int = 20, jobs: int | None = None,
           executor: Executor | None = None, scheduler: str | None = None,
           out: str | PathLike | None = None, progress: bool | None = None,
           training: Mapping[str, Any] | None = None) -> pd.DataFrame:
    """Run ``n_trials`` NSGA-II trials over ``space`` for one workload; a frame like
    ``sweep``'s with a leading ``trial`` column, one row per trial in trial order.

    ``objectives``: metric names to minimise, or a mapping name -> "minimize" / "maximize".
    ``seed`` makes the run deterministic; ``population_size`` trials form a generation (and
    run in parallel). ``jobs``, ``executor``, ``scheduler``, ``out``, ``progress`` and
    ``training`` (trials of one training step) are as for ``sweep``. ``pysim.pareto(df,
    ...)`` then gives the front of the trials.

    Raises ValueError for unknown objectives, ``n_trials`` < 1, ``population_size`` < 2 or
    a list of workloads; ConfigError for a space key that is not a parameter of ``hw``.
    """
    optuna = require("optuna", "pysim.search", "search")
    goals = _objectives(objectives)
    if isinstance(n_trials, bool) or not isinstance(n_trials, int) or n_trials < 1:
        raise ValueError(f"n_trials must be an int >= 1, got {n_trials!r}")
    if isinstance(population_size, bool) or not isinstance(population_size, int) \
            or population_size < 2:
        raise ValueError(f"population_size must be an int >= 2, got {population_size!r}")
    if not isinstance(wl, (Workload, str, PathLike)):
        raise ValueError("search optimises one workload; run one search per workload")
    hw, wls = load_inputs(hw, wl, training is not None)
    space = as_space(space)
    space.check(hw)

    sampler = optuna.samplers.NSGAIISampler(population_size=population_size, seed=seed)
    verbosity = optuna.logging.get_verbosity()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    try:
        study = optuna.create_study(directions=list(goals.values()), sampler=sampler)
        rows: list[dict[str, Any]] = []
        numbers: list[int] = []
        settings = {"search": {"n_trials": n_trials, "seed": seed, "objectives": goals,
                               "population_size": population_size}}
        with Evaluator(hw, wls, space, jobs=jobs, executor=executor, scheduler=scheduler,
                       out=out, progress=progress, desc="search", settings=settings,
                       training=training) as ev:
            while len(rows) < n_trials:
                batch = [study.ask() for _ in range(min(population_size, n_trials - len(rows)))]
                points = [{k: _suggest(t, k, axis) for k, axis in space.params.items()}
                          for t in batch]
                results = ev.run([ev.task(p, 0) for p in points])
                for trial, row in zip(batch, results, strict=True):
                    values = [row[k] for k in goals]
                    if row["error"] is not None or any(v != v for v in values):  # NaN
                        study.tell(trial, state=optuna.trial.TrialState.FAIL)
                    else:
                        study.tell(trial, values)
                    numbers.append(trial.number)
                rows.extend(results)
            df = ev.frame(rows, leading={"trial": numbers})
            ev.close(df.drop(columns="trial").drop_duplicates("point_id"))
    finally:
        optuna.logging.set_verbosity(verbosity)
    return df
