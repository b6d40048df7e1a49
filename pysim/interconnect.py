"""The link between identical devices (a hardware description's ``interconnect``: a GPU
preset's NVLink) and the cost of the collectives that cross it, shared by multi-device
serving (pysim/serving/parallel.py) and data-parallel training (pysim/training/data_parallel.py).

Ring all-reduce of B bytes over n devices: a reduce-scatter then an all-gather, n - 1 steps
each, every step moving B / n bytes per device (Patarasuk & Yuan, "Bandwidth optimal
all-reduce algorithms for clusters of workstations", JPDC 2009; NCCL's ring; nccl-tests'
doc/PERFORMANCE.md relates its bus bandwidth to the algorithm's by the same 2 (n - 1) / n):

    t = call + 2 (n - 1) / n x B / bandwidth + 2 (n - 1) x latency

and each device sends (and receives) 2 (n - 1) / n x B bytes. An all-gather (or a
reduce-scatter) is half of it.
``call`` is paid once per collective whatever the ring length: NCCL's launch and protocol
set-up, the base latency its cost model adds before the per-step ones (src/graph/tuning.cc:
latency = baseLat[algo][proto] + nsteps x hwLat[link][algo][proto]).

``collectives: nccl`` (the GPU presets) prices each call as NCCL does when it chooses a
protocol: for every protocol p, ``baseLat[p] + nsteps x hwLat[link][p] + bytes / algBw[p]``,
the fastest taken (NVIDIA/nccl src/graph/tuning.cc, ``ncclTopoTuneModel`` and
``ncclTopoGetAlgoTime``, commit b647562, NCCL 2.19; single node, ring algorithm):

    protocol  base (us)  step NVLink / PCI (us)  bus bandwidth
    LL          6.6        0.6 / 1.0             1/4 of the link (1/3 for an all-gather),
                                                 at most 87.7 GB/s (llMaxBws, Ampere / Hopper)
    LL128      14.0        1.9 / -               0.92 of the link (NVLink only)
    Simple      8.4        3.4 / 5.7             the link

LL sends 8-byte stores, half of them flags, and polls with no fence: the least latency, a
quarter of the bandwidth; Simple fences each chunk: the full bandwidth, the most latency. So
a small all-reduce (a tensor-parallel decode step's activations) runs LL and a gradient bucket
Simple. Omitted: the tree algorithm (slower than the ring on one node in this model), the
per-channel LL128 cap (NCCL's channel count is not in a datasheet). A point-to-point transfer
takes the same table with one step, LL up to NCCL's 16 KiB ``NCCL_P2P_LL_THRESHOLD`` and
Simple above.

``Collective`` is one such transfer scheduled in ``pysim.simulate``'s engine: it waits for the
ops that produce its bytes and holds the link while later ops keep computing.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Protocol:
    """One of NCCL's protocols (module docstring): its base latency per call and per ring
    step (seconds), the share of the link's bandwidth it moves for an all-reduce and for an
    all-gather, and a cap on that bandwidth (bytes per second)."""

    name: str
    base_s: float
    step_s: float
    share_allreduce: float
    share_gather: float
    cap_bytes_per_s: float = math.inf

    def bandwidth(self, link_bytes_per_s: float, gather: bool) -> float:
        share = self.share_gather if gather else self.share_allreduce
        return min(link_bytes_per_s * share, self.cap_bytes_per_s)


LL_MAX_BYTES_PER_S = 87.7e9  # tuning.cc llMaxBws, one node, Ampere and Hopper (Volta: 39.0)
P2P_LL_THRESHOLD = 16384  # NCCL_P2P_LL_THRESHOLD's default (bytes)
# tuning.cc baseLat[Ring] and hwLat[link][Ring] (us), the protocols' bandwidth shares.
NCCL_PROTOCOLS: dict[str, tuple[Protocol, ...]] = {
    "nvlink": (Protocol("LL", 6.6e-6, 0.6e-6, 1 / 4, 1 / 3, LL_MAX_BYTES_PER_S),
               Protocol("LL128", 14.0e-6, 1.9e-6, 0.92, 0.92),
               Protocol("Simple", 8.4e-6, 3.4e-6, 1.0, 1.0)),
    # LL128 is enabled on NVLink only (tuning.cc: typeIntra <= PATH_NVB)
    "pci": (Protocol("LL", 6.6e-6, 1.0e-6, 1 / 4, 1 / 3, LL_MAX_BYTES_PER_S),
            Protocol("Simple", 8.4e-6, 5.7e-6, 1.0, 1.0)),
}


@dataclass(frozen=True)
class Link:
    """A device-to-device link: bytes per second one device sends per direction, the time
    of one ring step (seconds) and the fixed cost of one collective call (seconds, once per
    call however many steps its ring takes). With ``protocols`` (NCCL's, module docstring)
    each call takes the fastest of them, ``latency_s`` unused and ``call_s`` added on top."""

    bytes_per_s: float
    latency_s: float
    call_s: float = 0.0
    protocols: tuple[Protocol, ...] = ()

    def _ring(self, nbytes: float, devices: int, steps: int, gather: bool) -> tuple[float, str]:
        """(seconds, protocol) of a ring collective of ``steps`` steps, each device sending
        steps / n x ``nbytes``."""
        moved = steps / devices * nbytes
        if not self.protocols:
            return (self.call_s + moved / self.bytes_per_s + steps * self.latency_s, "ring")
        return min((self.call_s + p.base_s + steps * p.step_s
                    + moved / p.bandwidth(self.bytes_per_s, gather), p.name)
                   for p in self.protocols)

    def allreduce_s(self, nbytes: float, devices: int) -> float:
        """Ring all-reduce of ``nbytes`` over ``devices``: call + 2 (n-1)/n x bytes /
        bandwidth + 2 (n-1) x latency (per protocol, the fastest, with ``protocols``); 0 on
        one device (no call)."""
        if devices <= 1:
            return 0.0
        return self._ring(nbytes, devices, 2 * (devices - 1), gather=False)[0]

    def allreduce_protocol(self, nbytes: float, devices: int) -> str:
        """The protocol ``allreduce_s`` prices (``ring`` without ``protocols``)."""
        return self._ring(nbytes, max(2, devices), 2 * (max(2, devices) - 1), False)[1]

    def allgather_s(self, nbytes: float, devices: int) -> float:
        """Ring all-gather of ``nbytes`` in total: call + (n-1)/n x bytes / bandwidth +
        (n-1) x latency (the fastest protocol with ``protocols``); 0 on one device."""
        if devices <= 1:
            return 0.0
        return self._ring(nbytes, devices, devices - 1, gather=True)[0]

    def reduce_scatter_s(self, nbytes: float, devices: int) -> float:
        """Ring reduce-scatter of ``nbytes`` (each device ends with its reduced 1 / n): the
        first half of an all-reduce, priced as an all-gather (NCCL's tuning.cc gives
        ReduceScatter and AllGather the same n - 1 steps and the same LL bandwidth share);
        0 on one device."""
        return self.allgather_s(nbytes, devices)

    def p2p_s(self, nbytes: float) -> float:
        """One point-to-point transfer of ``nbytes``: call + bytes / bandwidth + latency;
        with ``protocols`` one step of LL up to 16 KiB, else of Simple."""
        if not self.protocols:
            return self.call_s + nbytes / self.bytes_per_s + self.latency_s
        name = "LL" if nbytes <= P2P_LL_THRESHOLD else "Simple"
        p = next(q for q in self.protocols if q.name == name)
        return self.call_s + p.base_s + p.step_s + nbytes / p.bandwidth(self.bytes_per_s, True)


def allreduce_bytes_per_device(nbytes: float, devices: int) -> float:
    """Bytes each device sends in a ring all-reduce of ``nbytes``: 2 (n-1)/n x bytes."""
    return 2 * (devices - 1) / devices * nbytes if devices > 1 else 0.0


def gather_bytes_per_device(nbytes: float, devices: int) -> float:
    """Bytes each device sends in a ring all-gather or reduce-scatter of ``nbytes``:
    (n-1)/n x bytes."""
    return (devices - 1) / devices * nbytes if devices > 1 else 0.0


def link_of(hw: Any) -> Link | None:
    """The hardware's ``interconnect`` (a GPU preset's NVLink, configs/gpu/*.yaml) as a Link;
    None when it states none."""
    from pysim.gpu.presets import GpuPreset

    if isinstance(hw, GpuPreset):
        hw = hw.hardware
    ic = getattr(hw, "interconnect", None)
    if ic is None:
        return None
    protocols = NCCL_PROTOCOLS[ic.link] if ic.collectives == "nccl" else ()
    return Link(float(ic.bandwidth_gb_per_s) * 1e9, float(ic.latency_us) / 1e6,
                float(ic.call_overhead_us) / 1e6, protocols)


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


__all__ = ["NCCL_PROTOCOLS", "Collective", "CollectiveTiming", "Link", "Protocol",
           "allreduce_bytes_per_device", "gather_bytes_per_device", "link_of"]
