"""Achieved DRAM bandwidth and access latency for an op's tile transfers.

The transfers of a tile are runs of contiguous bytes (a tile row) separated by the tensor's row
pitch. Their achieved bandwidth and latency come from the C++ DRAM model driven by that address
stream (banks, row buffers, refresh; csrc/memory/dram.*), as a fraction of the preset's pin
bandwidth. The configured ``dram.bandwidth_gb_per_s`` caps it: a stream moves at
``min(bandwidth, max(bandwidth, pin) x efficiency)``, so a link or controller narrower than the
pins (Eyeriss's 0.48 GB/s link to a 12.8 GB/s DDR3) runs at its own rate unless the DRAM
itself falls below it, while a bandwidth above the pins (more channels of the device) scales
with the achieved fraction.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

import numpy as np

from pysim import _core

STREAM_RUNS = 64  # runs simulated per pattern: enough for steady-state row-buffer behaviour
STREAM_BYTES = 1 << 19  # ... but no more than this many bytes (a sequential stream converges)
MAX_RUN = 1 << 16  # longer contiguous runs behave like this one
_RUNS = np.arange(STREAM_RUNS, dtype=np.int64)  # run indices of a sample
_READS = np.zeros(STREAM_RUNS, bool)  # a sample's runs are all reads
_RUNS.flags.writeable = _READS.flags.writeable = False


@lru_cache(maxsize=64)
def _spec(dram_key: tuple) -> Any:
    return _core.DramSpec(**dict(dram_key))


@lru_cache(maxsize=64)
def _sampler(dram_key: tuple) -> tuple[Any, dict[str, Any]]:
    """The DRAM model to sample streams with (refresh off: charged at its expected cost,
    ``_efficiency``) and the timings, once per DRAM."""
    timings = dict(dram_key)
    return _spec(tuple((k, 0.0 if k == "tREFI_ns" else v) for k, v in dram_key)), timings


@lru_cache(maxsize=1024)
def _efficiency(dram_key: tuple, run_bytes: int, pitch_bytes: int) -> tuple[float, float]:
    """(achieved / pin bandwidth, row-hit rate) of a long stream of runs of this shape.

    The sample stream runs without refresh and refresh is charged at its expected cost,
    ``refresh_availability``: the sample is a few microseconds of a stream that runs for
    much longer, and where in it a refresh deadline happens to fall is an accident of the
    sample's length (simulated in the sample, a faster tRP could land a refresh mid-row and
    lower the figure by 0.1 %: not monotone in the timings)."""
    if run_bytes >= pitch_bytes or run_bytes >= MAX_RUN:  # contiguous
        run_bytes = pitch_bytes = min(run_bytes, MAX_RUN)
    return _sampled(dram_key, run_bytes, pitch_bytes)


@lru_cache(maxsize=1024)
def _sampled(dram_key: tuple, run_bytes: int, pitch_bytes: int) -> tuple[float, float]:
    """``_efficiency`` of a shape already folded to the stream it samples (every run of
    ``MAX_RUN`` bytes or more is one stream: a sixth of a cold ResNet-50's samples)."""
    spec, timings = _sampler(dram_key)
    n = max(2, min(STREAM_RUNS, STREAM_BYTES // run_bytes))
    addresses = _RUNS[:n] * pitch_bytes
    stats = _core.dram_simulate_stream(spec, addresses, np.full(n, run_bytes, dtype=np.int64),
                                       _READS[:n])
    eff = stats.achieved_bandwidth_gb_per_s / stats.peak_bandwidth_gb_per_s
    return eff * refresh_availability(timings, stats.row_hit_rate), stats.row_hit_rate


def refresh_availability(timings: dict[str, Any], row_hit_rate: float) -> float:
    """Share of a channel's time left to a stream by all-bank refresh. Every tREFI a refresh
    holds the channel for tRFC after precharging the open rows (tRP), and the stream's next
    access re-opens its row (tRCD): a stream that hits its open row (``row_hit_rate``) loses
    tRFC + tRP + tRCD per refresh, one that misses anyway only tRFC (JESD79-4 sec. 4.27:
    REF needs every bank precharged; the C++ model's ``refresh``, csrc/memory/dram.cpp,
    issues it so). Decreasing in every timing, so faster timings are never slower; the
    hardware file requires tREFI > tRFC + tRP + tRCD (``Dram``)."""
    refi = float(timings["tREFI_ns"])
    if refi <= 0.0:
        return 1.0
    lost = timings["tRFC_ns"] + row_hit_rate * (timings["tRP_ns"] + timings["tRCD_ns"])
    return 1.0 - lost / refi


def run_efficiency(key: tuple, run_bytes: int, pitch_bytes: int, headroom: float = 1.0) -> float:
    """Achieved / configured bandwidth of a stream of ``run_bytes`` runs at ``pitch_bytes``,
    as ``transfer_timing`` applies it: one DRAM-model run per distinct shape, cached.
    ``headroom`` is the DRAM's pin bandwidth over the configured one when the configured one is
    narrower (``Dram.headroom``). The mapping search prices candidate tilings with it."""
    run = max(1, run_bytes)
    return min(1.0, headroom * _efficiency(key, run, max(run, pitch_bytes, 1))[0])


def stream_efficiency(key: tuple, run_bytes: np.ndarray, pitch_bytes: int,
                      headroom: float = 1.0) -> np.ndarray:
    """``run_efficiency`` of each of an array of run lengths."""
    runs = np.asarray(run_bytes, np.int64)
    eff = {r: run_efficiency(key, r, int(pitch_bytes), headroom)
           for r in set(runs.ravel().tolist())}
    return np.array([eff[r] for r in runs.ravel().tolist()], dtype=float).reshape(runs.shape)


def dram_key(dram: Any) -> tuple:
    """The DRAM model's parameters from a config ``dram`` section, hashable for caching."""
    return dram.model_key()


@dataclass(frozen=True)
class TransferTiming:
    bytes_per_cycle: float  # achieved, over all of the op's streams
    latency_cycles: float  # first access to a closed bank: tRCD + tCL
    row_hit_rate: float  # byte-weighted over the op's streams


def transfer_timing(hw: Any, streams: tuple[tuple[int, int, int], ...]) -> TransferTiming:
    """DRAM timing of an op's traffic. ``streams`` holds (bytes, run bytes, pitch bytes) per
    operand. Each stream's bandwidth is the fraction of the pin bandwidth the DRAM model
    achieves for its pattern, capped by the configured bandwidth (module docstring); the op's
    is the byte-weighted harmonic mean (the time to move all its bytes)."""
    key = dram_key(hw.dram)
    total = seconds = hits = 0.0
    for nbytes, run, pitch in streams:
        if nbytes <= 0:
            continue
        eff, hit_rate = _efficiency(key, max(1, run), max(1, run, pitch))
        eff = min(1.0, hw.dram.headroom * eff)
        total += nbytes
        seconds += nbytes / (hw.dram.bandwidth_bytes_per_s * eff)
        hits += nbytes * hit_rate
    bytes_per_s = total / seconds if seconds > 0 else hw.dram.bandwidth_bytes_per_s
    return TransferTiming(
        bytes_per_cycle=bytes_per_s / hw.clock_hz,
        latency_cycles=hw.dram.row_miss_latency_ns * 1e-9 * hw.clock_hz,
        row_hit_rate=hits / total if total else 0.0,
    )
