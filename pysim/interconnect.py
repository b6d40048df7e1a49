"""The link between identical devices (a hardware description's ``interconnect``: a GPU
preset's NVLink) and the cost of the collectives that cross it, shared by multi-device
serving (pysim/serving/parallel.py) and data-parallel training (pysim/training/data_parallel.py).

Ring all-reduce of B bytes over n devices: a reduce-scatter then an all-gather, n - 1 steps
each, every step moving B / n bytes per device (Patarasuk & Yuan, "Bandwidth optimal
all-reduce algorithms for clusters of workstations", JPDC 2009; NCCL's ring; nccl-tests'
doc/PERFORMANCE.md relates its bus bandwidth to the algorithm's by the same 2 (n - 1) / n):

    t = call + 2 (n - 1) / n x B / bandwidth + 2 (n - 1) x latency

and each device sends (and receives) 2 (n - 1) / n x B bytes. An all-gather is half of it.
``call`` is paid once per collective whatever the ring length: NCCL's launch and protocol
set-up, the base latency its cost model adds before the per-step ones (src/graph/tuning.cc:
latency = baseLat[algo][proto] + nsteps x hwLat[link][algo][proto]).

``Collective`` is one such transfer scheduled in ``pysim.simulate``'s engine: it waits for the
ops that produce its bytes and holds the link while later ops keep computing.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Link:
    """A device-to-device link: bytes per second one device sends per direction, the time
    of one ring step (seconds) and the fixed cost of one collective call (seconds, once per
    call however many steps its ring takes)."""

    bytes_per_s: float
    latency_s: float
    call_s: float = 0.0

    def allreduce_s(self, nbytes: float, devices: int) -> float:
        """Ring all-reduce of ``nbytes`` over ``devices``: call + 2 (n-1)/n x bytes /
        bandwidth + 2 (n-1) x latency; 0 on one device (no call)."""
        if devices <= 1:
            return 0.0
        n = devices
        return (self.call_s + 2 * (n - 1) / n * nbytes / self.bytes_per_s
                + 2 * (n - 1) * self.latency_s)

    def allgather_s(self, nbytes: float, devices: int) -> float:
        """Ring all-gather of ``nbytes`` in total: call + (n-1)/n x bytes / bandwidth +
        (n-1) x latency; 0 on one device."""
        if devices <= 1:
            return 0.0
        n = devices
        return self.call_s + (n - 1) / n * nbytes / self.bytes_per_s + (n - 1) * self.latency_s

    def p2p_s(self, nbytes: float) -> float:
        """One point-to-point transfer of ``nbytes``: call + bytes / bandwidth + latency."""
        return self.call_s + nbytes / self.bytes_per_s + self.latency_s


def allreduce_bytes_per_device(nbytes: float, devices: int) -> float:
    """Bytes each device sends in a ring all-reduce of ``nbytes``: 2 (n-1)/n x bytes."""
    return 2 * (devices - 1) / devices * nbytes if devices > 1 else 0.0


def link_of(hw: Any) -> Link | None:
    """The hardware's ``interconnect`` (a GPU preset's NVLink, configs/gpu/*.yaml) as a Link;
    None when it states none."""
    from pysim.gpu.presets import GpuPreset

    if isinstance(hw, GpuPreset):
        hw = hw.hardware
    ic = getattr(hw, "interconnect", None)
    if ic is None:
        return None
    return Link(float(ic.bandwidth_gb_per_s) * 1e9, float(ic.latency_us) / 1e6,
                float(ic.call_overhead_us) / 1e6)


@dataclass(frozen=True)
class Collective:
    """A transfer on the device-to-device link, run by ``pysim.simulate(...,
    collectives=...)``: it may start once the ops named in ``after`` have ended and every
    collective listed before it has started (launched in order, as NCCL's stream runs them),
    then holds the link for ``seconds``; the ops named in ``before`` wait for it to end.
    ``nbytes``: what each device sends (reported, not timed)."""

    name: str
    after: tuple[str, ...]
    before: tuple[str, ...]
    seconds: float
    nbytes: float = 0.0


@dataclass(frozen=True)
class CollectiveTiming:
    """When a collective ran (``Result.collectives``): ``ready_cycle`` when its producers had
    ended, ``start_cycle`` when it took the link, ``end_cycle`` when it left it."""

    name: str
    nbytes: float
    ready_cycle: float
    start_cycle: float
    end_cycle: float

    @property
    def cycles(self) -> float:
        return self.end_cycle - self.start_cycle


__all__ = ["Collective", "CollectiveTiming", "Link", "allreduce_bytes_per_device", "link_of"]
