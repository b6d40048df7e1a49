"""Runs per-op step plans on a SimPy environment, with semaphores that stand for the hardware.

Each op is a sequence of *steps* (groups of scratchpad tiles; see pysim/mapping/planner.py). Per
unit, a DMA read channel loads each step over the shared DRAM bus into a free half of the unit's
double-buffered input buffer, the unit computes it into a free half of its output buffer, and a
DMA write channel stores the results over the same bus. The halves belong to the unit, not to an
op, so the pipeline runs on across op boundaries: once an op's last step is loaded, the read
channel goes on to the next op on the unit, fetching its first step's weights (and other bytes
no producer writes) while the current op still computes; bytes produced by earlier ops wait for
their producers. When DRAM cannot keep up the unit waits (stall cycles). Ops on different units
run concurrently and share the DRAM bus. Time is in clock cycles; nothing is stepped per cycle.
A run in which no op moves bytes through the engine (a GPU's kernels, whose times hold their
memory traffic) takes one process per op instead (``kernel``: the stream's turn, then its
time), which gives the chain's times.

A device-to-device link (``LinkPlan``: a data-parallel gradient bucket's all-reduce) is one
more resource: each collective asks for it once the ops it follows have ended and the
collective before it has asked (launched in order), holds it for its cycles while the units
go on computing, and the ops that wait for it (the optimizer update) start after it ends.
The link to host memory is another such port (``LinkPlan.port`` "host": weights copied in
for the ops that read them, pysim/config/host.py); each port serves its transfers in order.
"""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass
from typing import NamedTuple

import simpy
from simpy.events import Event


@dataclass(frozen=True)
class StepPlan:
    """What the engine needs of one op. Byte counts are totals over the op, spread evenly
    over ``steps``; cycles are on the op's unit. ``prefetch_read_bytes`` (<= ``read_bytes``)
    is the part of the reads no producer writes (weights, graph inputs): the first step's
    share of it may load before the op's producers finish."""

    name: str
    unit: str
    deps: tuple[int, ...]
    steps: int
    compute_cycles: float
    read_bytes: int
    write_bytes: int
    double_buffered: bool = True
    prefetch_read_bytes: int = 0
    queue: str = ""  # the buffers and channels it runs through ("": the unit's own)


class Interval(NamedTuple):
    """One step of an op on one of its unit's channels, recorded when ``run_plans`` is asked
    to (``record=True``). ``kind`` is "read" or "write" (a DMA transfer: asked for the DRAM
    bus at ``start_cycle``, held it from ``bus_cycle`` to ``end_cycle``) or "compute" (the unit
    busy from ``start_cycle`` = ``bus_cycle`` to ``end_cycle``). A step whose reads wait for
    the op's producers moves in two transfers, so it has two "read" intervals. (A named
    tuple, not a dataclass: thousands are made per run, and this keeps recording cheap.)"""

    step: int
    kind: str
    start_cycle: float
    bus_cycle: float
    end_cycle: float
    nbytes: float


@dataclass(frozen=True)
class OpTiming:
    start_cycle: float
    end_cycle: float
    compute_cycles: float
    dram_busy_cycles: float
    events: int
    intervals: tuple[Interval, ...] = ()  # in the order they ended; empty unless recorded

    @property
    def cycles(self) -> float:
        return self.end_cycle - self.start_cycle

    @property
    def stall_cycles(self) -> float:
        return max(0.0, self.cycles - self.compute_cycles)


class _Slots:
    """A counting semaphore served first come, first served: buffer halves, or the DRAM bus
    (one slot). It does what ``simpy.Container`` (amount 1) and ``simpy.Resource`` do for the
    engine, with a bare ``Event`` per wait and none per hand-back: those classes build two
    event objects per hand-over and schedule both, which was half the engine's time."""

    __slots__ = ("env", "count", "waiting", "granted")

    def __init__(self, env: simpy.Environment, count: int) -> None:
        self.env = env
        self.count = count
        self.waiting: deque[Event] = deque()
        # an event already processed: a process that yields it goes on at once (simpy's
        # Process._resume), with no trip through the event queue
        self.granted = Event(env)
        self.granted._ok = True
        self.granted._value = None
        self.granted.callbacks = None  # type: ignore[assignment]

    def get(self) -> Event:
        """An event that fires once a slot is this caller's: ``granted`` when one is free."""
        if self.count > 0 and not self.waiting:
            self.count -= 1
            return self.granted
        event = Event(self.env)
        self.waiting.append(event)
        return event

    def put(self) -> None:
        """Hand a slot back: to the longest waiter, if any."""
        if self.waiting:
            self.waiting.popleft().succeed()
        else:
            self.count += 1


class _Bus:
    """The DRAM bus: one transfer at a time, first come first served, except that demand
    transfers (an op's steps) go before prefetches (an op's first-step weights loaded while
    its producers still run) and a demand request preempts a prefetch in flight, which
    resumes with what it has left once no demand waits. A DMA engine arbitrates per burst,
    so at the engine's tile granularity a demand load never waits behind a prefetch: a
    prefetch only uses bus time no demand asks for (without this, a unit left idle by a
    faster dispatch prefetched the next op's weights ahead of the running op's own loads, and
    a second array could make a network slower)."""

    __slots__ = ("env", "busy", "demand", "prefetch", "preempt")

    def __init__(self, env: simpy.Environment) -> None:
        self.env = env
        self.busy = False
        self.demand: deque[tuple[Event, float]] = deque()  # (ends, cycles) of each waiter
        self.prefetch: deque[Event] = deque()
        self.preempt: Event | None = None  # fires to preempt the prefetch holding the bus

    def transfer(self, cycles: float) -> Event:
        """A demand transfer: an event that fires once this caller has held the bus for
        ``cycles``, its value the cycle the bus was granted. One event a transfer, not a
        grant and a timeout: the bus schedules the end itself and hands over when it fires."""
        ends = Event(self.env)
        ends.callbacks.append(self._release)  # before the waiting process's own
        if not self.busy:
            self.busy = True
            self._start(ends, cycles)
        else:
            self.demand.append((ends, cycles))
            if self.preempt is not None and not self.preempt.triggered:
                self.preempt.succeed(False)
        return ends

    def get(self) -> Event:
        """A prefetch's turn: an event that fires once the bus is this caller's, with the
        event that ends its turn (``_prefetch``: False when a demand preempts it)."""
        event = Event(self.env)
        if not self.busy:
            self.busy = True
            self._grant(event)
        else:
            self.prefetch.append(event)
        return event

    def put(self) -> None:
        """Hand the bus over: to the longest-waiting demand, else prefetch, if any."""
        if self.demand:
            self.preempt = None
            self._start(*self.demand.popleft())
        elif self.prefetch:
            self._grant(self.prefetch.popleft())
        else:
            self.busy = False
            self.preempt = None

    def _release(self, _: Event) -> None:
        self.put()

    def _start(self, ends: Event, cycles: float) -> None:
        # what Event.succeed does, ``cycles`` later (as simpy's Timeout schedules itself)
        ends._ok = True
        ends._value = self.env.now
        self.env.schedule(ends, delay=cycles)

    def _grant(self, event: Event) -> None:
        self.preempt = Event(self.env)
        event.succeed(self.preempt)


@dataclass(frozen=True)
class LinkPlan:
    """A transfer on a link: it asks for its ``port`` ("link": the device-to-device link a
    collective runs on; "host": the link to host memory) once the ops ``after`` (indices
    into the plans) have ended and the transfer before it on that port has asked, then holds
    it ``cycles``; the ops ``before`` wait for it to end."""

    name: str
    after: tuple[int, ...]
    before: tuple[int, ...]
    cycles: float
    port: str = "link"


class LinkTiming(NamedTuple):
    """When a collective was ready (its ``after`` ops ended), took the link and left it."""

    ready_cycle: float
    start_cycle: float
    end_cycle: float


class _Unit:
    """A unit's buffers and the hand-over events that chain its ops' channels in order."""

    def __init__(self, env: simpy.Environment, halves: int) -> None:
        self.free = _Slots(env, halves)
        self.full = _Slots(env, 0)
        self.out_free = _Slots(env, halves)
        self.out_full = _Slots(env, 0)
        done = env.event()
        done.succeed()
        self.reader = self.computer = self.writer = done  # the previous op's channels


class _Op:
    """One op's bookkeeping: when it was ready (its producers done and its unit free of the
    previous op's compute), when it ended, DRAM bus time, events."""

    def __init__(self, record: bool = False) -> None:
        self.ready = 0.0
        self.end = 0.0
        self.busy = 0.0
        self.events = 0
        self.log: list[tuple] | None = [] if record else None  # Interval fields, if recording

    def count(self, event: Event) -> Event:
        self.events += 1
        return event

    def hand_over(self, slots: _Slots) -> None:
        """Give a slot back (an event of the model, though it needs no object)."""
        self.events += 1
        slots.put()

    def became_ready(self, now: float) -> None:
        self.ready = max(self.ready, now)


def _demand(bus, duration, op):
    """A demand transfer of ``duration`` cycles: its bus time and its two events counted (the
    grant, an event of the model though the bus schedules none for it, and the end); the event
    that fires at its end, its value the cycle the bus was granted."""
    op.busy += duration
    op.events += 2
    return bus.transfer(duration)


def _transfer(env, nbytes, bus, bytes_per_cycle, latency, op, step=0, kind="read"):
    asked = env.now
    granted = yield _demand(bus, latency + nbytes / bytes_per_cycle, op)
    if op.log is not None:
        op.log.append((step, kind, asked, granted, env.now, nbytes))


def _prefetch(env, nbytes, bus, bytes_per_cycle, latency, op, step=0):
    """A prefetch: a transfer that yields the bus to any demand (``_Bus``) and resumes where
    it stopped, so its bus time is the same in pieces (each logged as a read)."""
    whole = latency + nbytes / bytes_per_cycle
    op.busy += whole
    left = whole
    while left > 0:
        asked = env.now
        stop = yield op.count(bus.get())  # fires False when a demand preempts
        granted = env.now
        timer = op.count(env.timeout(left))  # ... or True when the transfer is done
        timer.callbacks.append(lambda _, stop=stop: stop.triggered or stop.succeed(True))
        done = yield stop
        moved = env.now - granted
        left = 0.0 if done else left - moved
        bus.put()
        if op.log is not None:
            op.log.append((step, "read", asked, granted, env.now, nbytes * moved / whole))


def _pending(deps: list[Event] | None) -> bool:
    """Whether any of ``deps`` (an op's producers' ends and the collectives it waits for) has
    not yet been processed (an event's ``callbacks`` is None once it has)."""
    return deps is not None and any(e.callbacks is not None for e in deps)


def _wait_all(deps, op):
    """Wait until every one of ``deps`` has been processed: one event of the op's (as a
    condition over them would be), yielding each still pending in turn. Cheaper than
    ``simpy.AllOf``, which builds a condition with a callback on each event and schedules one
    more event once they have all fired; the process resumes at the same cycle either way."""
    if deps is None:
        return
    if op is not None:
        op.events += 1
    for event in deps:
        if event.callbacks is not None:
            yield event


def reader(env, plan, unit, after, deps, bus, bytes_per_cycle, latency, op):
    """Load each step into a free input half. The first step's prefetchable bytes move as
    soon as the previous op's reads are done and a half is free; the rest waits for the
    op's producers. (The hot loops count their events inline and run a demand transfer as
    ``_demand`` and its log line, not the ``_transfer`` generator: the same events in the
    same order, less Python per step.)"""
    op.events += 1
    yield after
    per_step = plan.read_bytes / plan.steps
    early = min(per_step, plan.prefetch_read_bytes / plan.steps)
    duration = latency + per_step / bytes_per_cycle
    free, full, log = unit.free, unit.full, op.log
    for step in range(plan.steps):
        op.events += 1
        yield free.get()
        pending = step == 0 and _pending(deps)
        if pending and early > 0:
            yield from _prefetch(env, early, bus, bytes_per_cycle, latency, op, step)
            yield from _wait_all(deps, op)
            if per_step - early > 0:
                yield from _transfer(env, per_step - early, bus, bytes_per_cycle, latency, op,
                                     step)
        else:
            if pending:
                yield from _wait_all(deps, op)
            if per_step > 0:  # _transfer, without its generator
                asked = env.now
                granted = yield _demand(bus, duration, op)
                if log is not None:
                    log.append((step, "read", asked, granted, env.now, per_step))
        op.events += 1  # never blocks: a half taken is a half given back
        full.put()


def computer(env, plan, unit, after, op):
    """Process each loaded step into a free output half, after the previous op's compute."""
    op.events += 1
    yield after
    op.became_ready(env.now)
    per_step = plan.compute_cycles / plan.steps
    full, out_free, free, out_full, log = (unit.full, unit.out_free, unit.free, unit.out_full,
                                           op.log)
    for step in range(plan.steps):
        op.events += 3
        yield full.get()
        yield out_free.get()
        began = env.now
        yield env.timeout(per_step)
        if log is not None:
            log.append((step, "compute", began, began, env.now, 0.0))
        op.events += 2
        free.put()
        out_full.put()


def writer(env, plan, unit, after, bus, bytes_per_cycle, latency, op):
    """Store each computed step and free its output half, after the previous op's stores."""
    op.events += 1
    yield after
    per_step = plan.write_bytes / plan.steps
    duration = latency + per_step / bytes_per_cycle
    out_full, out_free, log = unit.out_full, unit.out_free, op.log
    for step in range(plan.steps):
        op.events += 1
        yield out_full.get()
        if per_step > 0:  # _transfer, without its generator
            asked = env.now
            granted = yield _demand(bus, duration, op)
            if log is not None:
                log.append((step, "write", asked, granted, env.now, per_step))
        op.events += 1
        out_free.put()
    op.end = env.now


def kernel(env, plan, after, deps, op):
    """An op that moves no bytes through the engine (a GPU kernel, whose time holds its
    memory traffic) in a run of such ops only: it starts once the op before it on its queue
    has ended and its producers have, and computes. The reader / computer / writer chain gives
    the same times for such a run (no transfer, so every buffer half is free when asked for)
    at a quarter of the events."""
    yield op.count(after)
    op.became_ready(env.now)
    if _pending(deps):
        yield from _wait_all(deps, op)
    began = env.now
    yield op.count(env.timeout(plan.compute_cycles))
    if op.log is not None:
        op.log.append((0, "compute", began, began, env.now, 0.0))
    op.end = env.now


def transfer(env, link, plan, asked_before, deps, asked, finished, times, j):
    """One transfer on a port (a collective, a copy from host memory): wait for its ops, ask
    for the port after the previous transfer on it asked (FIFO, so in launch order), hold
    it, record (ready, start, end)."""
    yield from _wait_all(deps, None)
    ready = env.now
    yield asked_before
    req = link.get()
    asked.succeed()
    yield req
    start = env.now
    yield env.timeout(plan.cycles)
    link.put()
    times[j] = LinkTiming(ready, start, env.now)
    finished.succeed()


def run_plans(
    plans: list[StepPlan],
    bytes_per_cycle: list[float] | float,
    latency_cycles: list[float] | float,
    record: bool = False,
) -> list[OpTiming]:
    """Simulate the ops; ``bytes_per_cycle`` and ``latency_cycles`` are the DRAM bus's achieved
    bandwidth and access latency per op (or one value for all). Returns one timing per op;
    with ``record`` each holds its steps' DMA transfers and compute as ``Interval``s (the
    timing is the same either way)."""
    return run_with_link(plans, (), bytes_per_cycle, latency_cycles, record)[0]


def run_with_link(
    plans: list[StepPlan],
    links: tuple[LinkPlan, ...] | list[LinkPlan],
    bytes_per_cycle: list[float] | float,
    latency_cycles: list[float] | float,
    record: bool = False,
) -> tuple[list[OpTiming], list[LinkTiming]]:
    """``run_plans`` with transfers ``links`` on their ports (each a one-slot ``_Slots``,
    first come first served): returns the ops' timings and the transfers', in order."""
    n = len(plans)
    bpc = bytes_per_cycle if isinstance(bytes_per_cycle, list) else [bytes_per_cycle] * n
    lat = latency_cycles if isinstance(latency_cycles, list) else [latency_cycles] * n
    env = simpy.Environment()
    bus = _Bus(env)
    halves = {p.queue or p.unit: 2 if p.double_buffered else 1 for p in plans}
    units = {name: _Unit(env, h) for name, h in halves.items()}
    done: list[simpy.Event] = []
    ops: list[_Op] = []
    # collectives' end events and which ops wait for them
    link_done = [env.event() for _ in links]
    waits: dict[int, list[int]] = {}
    for j, lp in enumerate(links):
        for i in lp.before:
            waits.setdefault(i, []).append(j)
    streams = all(p.steps == 1 and p.read_bytes == 0 and p.write_bytes == 0 for p in plans)
    for i, plan in enumerate(plans):
        if plan.steps < 1:
            raise ValueError(f"op {plan.name}: steps must be >= 1, got {plan.steps}")
        unit, op = units[plan.queue or plan.unit], _Op(record)
        events = [done[d] for d in plan.deps] + [link_done[j] for j in waits.get(i, ())]
        deps = events or None
        if streams:  # kernels on streams: one process an op
            run = env.process(kernel(env, plan, unit.computer, deps, op))
            unit.reader = unit.computer = unit.writer = run
            done.append(run)
            ops.append(op)
            continue
        read = env.process(reader(env, plan, unit, unit.reader, deps, bus, bpc[i], lat[i], op))
        comp = env.process(computer(env, plan, unit, unit.computer, op))
        write = env.process(writer(env, plan, unit, unit.writer, bus, bpc[i], lat[i], op))
        unit.reader, unit.computer, unit.writer = read, comp, write
        done.append(write)
        ops.append(op)
    timed: list[LinkTiming | None] = [None] * len(links)
    ports: dict[str, tuple[_Slots, Event]] = {}  # the port, and its last transfer's ask
    for j, lp in enumerate(links):
        if lp.port not in ports:
            first = env.event()
            first.succeed()
            ports[lp.port] = (_Slots(env, 1), first)
        port, asked_before = ports[lp.port]
        deps = [done[d] for d in lp.after] or None
        asked = env.event()
        env.process(transfer(env, port, lp, asked_before, deps, asked, link_done[j], timed, j))
        ports[lp.port] = (port, asked)
    env.run()
    stuck = [lp.name for lp, t in zip(links, timed, strict=True) if t is None]
    if stuck:
        raise ValueError(f"collective {stuck[0]!r} never ran: an op it follows waits for it "
                         "(directly or behind another op on its unit)")
    link_end = [t.end_cycle for t in timed if t is not None]
    out = []
    for i, (plan, op) in enumerate(zip(plans, ops, strict=True)):
        op.became_ready(max((ops[d].end for d in plan.deps), default=0.0))
        op.became_ready(max((link_end[j] for j in waits.get(i, ())), default=0.0))
        intervals = tuple(map(Interval._make, op.log)) if op.log is not None else ()
        out.append(OpTiming(min(op.ready, op.end), op.end, plan.compute_cycles, op.busy,
                            op.events, intervals))
    return out, [t for t in timed if t is not None]
