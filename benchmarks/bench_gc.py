"""What Python's cyclic garbage collector costs a run, and what pausing it (pysim/gcpause.py:
``simulate`` and ``training.step`` run with it off) saves.

Per hardware, workload and call (a forward ``pysim.simulate``, a ``training.step``): the mean
and the fastest of ``--runs`` calls, warm (the same hardware each time: the memo caches hit)
and over a sweep (a new hardware point each call, as bench_training.py's "sweep" makes them),
with the collector paused during each call as pysim does, and with it left running (the pause
made a no-op). The collector's full passes walk every long-lived object, and the memo caches
hold ~120,000 of them after a few runs: a pass lands in some calls and not others, so the means
move and the minima barely do.

    python benchmarks/bench_gc.py [--runs 20]
"""

from __future__ import annotations

import argparse
import gc
import statistics
import time
from collections.abc import Callable
from types import SimpleNamespace
from typing import Any
from unittest import mock

import bench_training as bt

import pysim
from pysim import gcpause, training

CASES = (("tpu_v1", "bert_base"), ("tpu_v1", "resnet50"), ("gpu:a100", "bert_base"))


def timed(call: Callable[[Any], object], points: list[Any]) -> tuple[float, float]:
    """(mean, fastest) seconds of ``call`` at each point in turn."""
    spent = []
    for hw in points:
        start = time.perf_counter()
        call(hw)
        spent.append(time.perf_counter() - start)
    return statistics.mean(spent), min(spent)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    args = parser.parse_args()
    running = SimpleNamespace(isenabled=gc.isenabled, disable=lambda: None, enable=gc.enable)
    print(f"{'hardware':<10} {'workload':<10} {'call':<8} {'points':<6} "
          f"{'paused mean':>11} {'min':>6} {'running mean':>12} {'min':>6} {'saved':>6}")
    for hw_name, wl_name in CASES:
        hw, recipe = bt.hardware()[hw_name]
        wl = bt.workload(wl_name)

        def forward(h: Any, wl: pysim.Workload = wl) -> object:
            return pysim.simulate(h, wl)

        def step(h: Any, wl: pysim.Workload = wl, r: str = recipe) -> object:
            return training.step(h, wl, "adam", r)

        calls: dict[str, Callable[[Any], object]] = {"forward": forward, "step": step}
        for name, call in calls.items():
            call(hw)  # warm-up
            for points_name in ("warm", "sweep"):
                fresh = iter(bt.new_points(hw, 4 * args.runs))
                figures: dict[str, tuple[float, float]] = {}
                for mode in ("paused", "running", "paused", "running"):  # interleaved
                    points = ([hw] * args.runs if points_name == "warm"
                              else [next(fresh) for _ in range(args.runs)])
                    patch = (mock.patch.object(gcpause, "gc", running) if mode == "running"
                             else mock.patch.object(gcpause, "gc", gc))
                    with patch:
                        mean, fastest = timed(call, points)
                    old = figures.get(mode, (0.0, float("inf")))
                    figures[mode] = (old[0] + mean / 2, min(old[1], fastest))
                paused, running_ = figures["paused"], figures["running"]
                print(f"{hw_name:<10} {wl_name:<10} {name:<8} {points_name:<6} "
                      f"{paused[0] * 1e3:>9.1f}ms {paused[1] * 1e3:>6.1f} "
                      f"{running_[0] * 1e3:>10.1f}ms {running_[1] * 1e3:>6.1f} "
                      f"{1 - paused[0] / running_[0]:>6.1%}")


if __name__ == "__main__":
    main()
