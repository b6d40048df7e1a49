"""What the engine did, step by step: the timeline a run records when asked
(``simulate(hw, wl, trace=True)``), kept on the Result for the trace writer and the report."""

from __future__ import annotations

from dataclasses import dataclass

from pysim.engine.simulator import Interval, OpTiming, StepPlan


@dataclass(frozen=True)
class OpTrace:
    """One op as the engine ran it: the queue it ran through (its unit's buffers and DMA
    channels, or a GPU's stream), its start and end cycles (as ``Result.layers``) and its
    steps' DMA transfers and compute intervals."""

    name: str
    unit: str
    queue: str
    start_cycle: float
    end_cycle: float
    intervals: tuple[Interval, ...]


@dataclass(frozen=True)
class Timeline:
    """Every op's trace, in the workload's order; times in cycles of ``clock_hz``."""

    clock_hz: float
    ops: tuple[OpTrace, ...]

    @classmethod
    def from_engine(cls, clock_hz: float, plans: list[StepPlan],
                    timings: list[OpTiming]) -> Timeline:
        return cls(clock_hz, tuple(
            OpTrace(p.name, p.unit, p.queue or p.unit, t.start_cycle, t.end_cycle, t.intervals)
            for p, t in zip(plans, timings, strict=True)))

    @property
    def queues(self) -> list[str]:
        """The queues in order of first use."""
        return list(dict.fromkeys(op.queue for op in self.ops))
