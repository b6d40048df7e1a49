"""Discrete-event engine (SimPy): DMA channels, DRAM bus, compute units, double buffering,
and a device-to-device link for collectives."""

from pysim.engine.simulator import (
    LinkPlan,
    LinkTiming,
    OpTiming,
    StepPlan,
    run_plans,
    run_with_link,
)

__all__ = ["LinkPlan", "LinkTiming", "OpTiming", "StepPlan", "run_plans", "run_with_link"]
