"""Discrete-event engine (SimPy): DMA channels, DRAM bus, compute units, double buffering."""

from pysim.engine.simulator import OpTiming, StepPlan, run_plans

__all__ = ["OpTiming", "StepPlan", "run_plans"]
