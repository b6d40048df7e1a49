"""Runs per-op step plans on SimPy resources that stand for the hardware.

Each op is a sequence of *steps* (groups of scratchpad tiles; see pysim/mapping/planner.py). For
every step a DMA read channel loads its inputs over the shared DRAM bus into one half of a
double buffer, the op's compute unit processes it, and a DMA write channel stores its results
over the same bus. With two buffer halves the load of step i+1 and the store of step i-1 overlap
the compute of step i; when DRAM cannot keep up the unit waits (stall cycles). Ops wait for their
producers (the workload DAG) and for their unit; ops on different units run concurrently and
share the DRAM bus. Time is in clock cycles; nothing is stepped per cycle.
"""

from __future__ import annotations

from dataclasses import dataclass

import simpy


@dataclass(frozen=True)
class StepPlan:
    """What the engine needs of one op. Byte counts are totals over the op, spread evenly
    over ``steps``; cycles are on the op's unit."""

    name: str
    unit: str
    deps: tuple[int, ...]
    steps: int
    compute_cycles: float
    read_bytes: int
    write_bytes: int
    double_buffered: bool = True


@dataclass(frozen=True)
class OpTiming:
    start_cycle: float
    end_cycle: float
    compute_cycles: float
    dram_busy_cycles: float
    events: int

    @property
    def cycles(self) -> float:
        return self.end_cycle - self.start_cycle

    @property
    def stall_cycles(self) -> float:
        return max(0.0, self.cycles - self.compute_cycles)


class _Counter:
    """Counts the events an op's processes yield (reported as SimPy events per op)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, event: simpy.Event) -> simpy.Event:
        self.n += 1
        return event


def dma_channel(env, steps, step_bytes, dram_bus, bytes_per_cycle, latency, take, give, count,
                busy):
    """A DMA channel: for each step, wait for a buffer half (``take``), move ``step_bytes``
    over the DRAM bus, then hand the half on (``give``). The read channel takes free input
    halves and fills them; the write channel takes finished output halves and frees them."""
    for _ in range(steps):
        yield count(take.get(1))
        if step_bytes > 0:
            with dram_bus.request() as req:
                yield count(req)
                duration = latency + step_bytes / bytes_per_cycle
                busy[0] += duration
                yield count(env.timeout(duration))
        yield count(give.put(1))


def compute_tiles(env, plan, free, full, out_free, out_full, count):
    """The compute unit: process each loaded step into a free output half."""
    per_step = plan.compute_cycles / plan.steps
    for _ in range(plan.steps):
        yield count(full.get(1))
        yield count(out_free.get(1))
        yield count(env.timeout(per_step))
        yield count(free.put(1))
        yield count(out_full.put(1))


def run_op(env, plan, unit, dram_bus, bytes_per_cycle, latency, deps_done, done, out):
    """One op: wait for producers and the unit, then run its three channels to completion."""
    if deps_done:
        yield simpy.AllOf(env, deps_done)
    with unit.request() as req:
        yield req
        start = env.now
        halves = 2 if plan.double_buffered else 1
        free = simpy.Container(env, capacity=halves, init=halves)
        full = simpy.Container(env, capacity=halves, init=0)
        out_free = simpy.Container(env, capacity=halves, init=halves)
        out_full = simpy.Container(env, capacity=halves, init=0)
        count = _Counter()
        busy = [0.0]
        procs = [
            env.process(dma_channel(env, plan.steps, plan.read_bytes / plan.steps, dram_bus,
                                    bytes_per_cycle, latency, free, full, count, busy)),
            env.process(compute_tiles(env, plan, free, full, out_free, out_full, count)),
            env.process(dma_channel(env, plan.steps, plan.write_bytes / plan.steps, dram_bus,
                                    bytes_per_cycle, latency, out_full, out_free, count, busy)),
        ]
        yield simpy.AllOf(env, procs)
        out.append(OpTiming(start, env.now, plan.compute_cycles, busy[0], count.n))
    done.succeed()


def run_plans(
    plans: list[StepPlan],
    bytes_per_cycle: list[float] | float,
    latency_cycles: list[float] | float,
) -> list[OpTiming]:
    """Simulate the ops; ``bytes_per_cycle`` and ``latency_cycles`` are the DRAM bus's achieved
    bandwidth and access latency per op (or one value for all). Returns one timing per op."""
    n = len(plans)
    bpc = bytes_per_cycle if isinstance(bytes_per_cycle, list) else [bytes_per_cycle] * n
    lat = latency_cycles if isinstance(latency_cycles, list) else [latency_cycles] * n
    env = simpy.Environment()
    dram_bus = simpy.Resource(env, capacity=1)
    units = {p.unit: simpy.Resource(env, capacity=1) for p in plans}
    done = [env.event() for _ in plans]
    results: list[list[OpTiming]] = [[] for _ in plans]
    for i, plan in enumerate(plans):
        if plan.steps < 1:
            raise ValueError(f"op {plan.name}: steps must be >= 1, got {plan.steps}")
        deps = [done[d] for d in plan.deps]
        env.process(run_op(env, plan, units[plan.unit], dram_bus, bpc[i], lat[i], deps,
                           done[i], results[i]))
    env.run()
    return [r[0] for r in results]
