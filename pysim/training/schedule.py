"""Precision schedules over epochs and ``pysim.training.run``: a sequence of training steps
whose cost changes as the schedule does (AdaPT: per-layer fixed-point word lengths chosen per
epoch, Kummer et al., "AdaPT: Fast Training of Deep Neural Networks with Adaptive Precision",
2021).

A schedule maps epoch ranges to ``{layer: format}`` (a format name or a fixed-point word
length in bits). A range is ``(start, stop)`` or the string ``"start-stop"``, epochs counted
from 0, ``stop`` excluded, and must end by the run's last epoch (``stop <= epochs``);
``"*"`` as a layer means every MAC layer. Later ranges override earlier ones where they
overlap, layer by layer (so ``{"0-10": {"*": 8}, "5-10": {"fc": 16}}`` widens one layer for
the last five epochs); epochs no range covers train in the base recipe. An empty schedule or
an empty assignment is an error (``schedule=None`` trains every epoch in the recipe). Each distinct
assignment is simulated once (a step is deterministic) and its time and energy multiplied by
the steps per epoch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from pysim.errors import WorkloadError
from pysim.training.formats import Format, get_format
from pysim.training.step import TrainingStep, step
from pysim.workload import Workload

if TYPE_CHECKING:
    import pandas as pd

EpochRange = tuple[int, int] | str


def _range(given: EpochRange) -> tuple[int, int]:
    key = given
    if isinstance(key, str):
        m = re.fullmatch(r"\s*(\d+)\s*-\s*(\d+)\s*", key)
        if not m:
            raise WorkloadError(f"schedule: epoch range {key!r} must read 'start-stop' "
                                f"(0-based, stop excluded) or be a (start, stop) pair")
        key = (int(m.group(1)), int(m.group(2)))
    if (not isinstance(key, tuple) or len(key) != 2
            or not all(isinstance(k, int) and not isinstance(k, bool) for k in key)
            or not 0 <= key[0] < key[1]):
        raise WorkloadError(f"schedule: epoch range {given!r} must be (start, stop) with "
                            f"0 <= start < stop")
    return key


@dataclass(frozen=True)
class Schedule:
    """Validated ``{(start, stop): {layer: format}}`` (see the module docstring)."""

    ranges: tuple[tuple[tuple[int, int], tuple[tuple[str, Format], ...]], ...]

    @classmethod
    def of(cls, data: Mapping[EpochRange, Mapping[str, Any]] | None, wl: Workload,
           epochs: int | None = None) -> Schedule:
        """The schedule ``data`` for ``wl``; with ``epochs``, every range must end by then.
        Raises WorkloadError (one line) on an empty schedule or assignment, a bad or too long
        range, an unknown layer or format."""
        if data is None:
            return cls(())
        if not isinstance(data, Mapping):
            raise WorkloadError(f"schedule must be a mapping {{epoch_range: {{layer: bits}}}}, "
                                f"got {data!r}")
        if not data:
            raise WorkloadError("schedule is empty: give at least one {epoch_range: {layer: "
                                "format}}, or schedule=None to train every epoch in the recipe")
        layers = [op.name for op in wl.ops if op.runs_on == "mac"]
        out = []
        for key, assign in data.items():
            span = _range(key)
            if epochs is not None and span[1] > epochs:
                raise WorkloadError(
                    f"schedule: epoch range {key!r} runs to epoch {span[1] - 1} but the run has "
                    f"{epochs} epochs (0-{epochs - 1}); ranges are 'start-stop', 0-based, stop "
                    f"excluded, with 0 <= start < stop <= {epochs}")
            if not isinstance(assign, Mapping):
                raise WorkloadError(f"schedule[{key!r}] must map layers to formats, got "
                                    f"{assign!r}")
            if not assign:
                raise WorkloadError(f"schedule[{key!r}] is empty: map a layer (or '*') to a "
                                    f"format, or leave the range out to train it in the recipe")
            fmts: dict[str, Format] = {}
            for layer, fmt in assign.items():
                f = get_format(fmt, f"schedule[{key!r}][{layer!r}]")
                if layer == "*":
                    fmts.update({name: f for name in layers})
                elif layer in layers:
                    fmts[layer] = f
                else:
                    shown = ", ".join(layers[:8]) + (", ..." if len(layers) > 8 else "")
                    raise WorkloadError(f"schedule[{key!r}]: {layer!r} is not a MAC layer of "
                                        f"workload {wl.name!r}; use '*' or one of: {shown}")
            out.append((span, tuple(fmts.items())))
        return cls(tuple(out))

    def at(self, epoch: int) -> dict[str, Format]:
        """The layer formats in force at ``epoch``."""
        fmts: dict[str, Format] = {}
        for (start, stop), assign in self.ranges:
            if start <= epoch < stop:
                fmts.update(assign)
        return fmts


@dataclass(frozen=True)
class RunReport:
    """Per-epoch and total time and energy of a training run; ``steps`` holds the simulated
    step of each distinct layer-format assignment, ``epochs`` one row per epoch."""

    epochs: pd.DataFrame
    steps: tuple[TrainingStep, ...]

    @property
    def time_s(self) -> float:
        return float(self.epochs["time_s"].sum())

    @property
    def energy_j(self) -> float:
        return float(self.epochs["energy_j"].sum())


def run(hw: Any, wl: Workload | str, epochs: int, steps_per_epoch: int,
        schedule: Mapping[EpochRange, Mapping[str, Any]] | None = None,
        **step_options: Any) -> RunReport:
    """Train ``wl`` on ``hw`` for ``epochs`` epochs of ``steps_per_epoch`` steps under the
    precision ``schedule``; ``step_options`` go to `pysim.training.step` (optimizer, recipe,
    checkpoint, ...). Raises WorkloadError on a bad schedule or count."""
    for field, value in (("epochs", epochs), ("steps_per_epoch", steps_per_epoch)):
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise WorkloadError(f"{field} must be an int >= 1, got {value!r}")
    if isinstance(wl, str):
        from pysim import zoo
        wl = zoo.load(wl)
    sched = Schedule.of(schedule, wl, epochs)
    cache: dict[tuple[tuple[str, str], ...], TrainingStep] = {}
    rows = []
    for epoch in range(epochs):
        fmts = sched.at(epoch)
        key = tuple(sorted((k, f.name) for k, f in fmts.items()))
        if key not in cache:
            cache[key] = step(hw, wl, layer_formats=fmts or None, **step_options)
        s = cache[key]
        rows.append({"epoch": epoch, "formats": ",".join(f"{k}={v}" for k, v in key) or "base",
                     "step_s": s.latency_s, "time_s": s.latency_s * steps_per_epoch,
                     "energy_j": s.energy_j * steps_per_epoch,
                     "peak_memory_bytes": s.memory.peak})
    import pandas as pd

    return RunReport(pd.DataFrame(rows), tuple(cache.values()))
