"""The keep / drop residency program (pysim/mapping/planned_residency.py) over the zoo's
training graphs: what it costs to solve, and what HiGHS's options change.

Each training step (Adam; int8 on the accelerator configs, mixed_bf16 on edge_npu, eyeriss and
tpu_v1 given bf16 / fp32 PEs) hands the mapper a program per kept-area size; the script
captures every program of at least ``--min-gaps`` gaps and prints, per program: its gaps,
how ``_solve`` settles it as shipped (the LP relaxation rounded, repaired, branched once; or
HiGHS's root node) and in what time, then HiGHS's integer program alone, with its default
heuristics and with ``HIGHS_OPTIONS`` (feasibility jump off): time, status (0: proven within
MIP_REL_GAP) and the bytes the second keeps against the first. Times: the fastest of
``--repeat``.

    python benchmarks/bench_residency_program.py [--repeat 3] [--min-gaps 100] [--llama]

``--llama`` adds LLaMA-2-7B's training graph (1,606 ops; a few seconds a step).
"""

from __future__ import annotations

import argparse
import statistics
import time
from collections.abc import Callable
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

import pysim
from pysim import training
from pysim.errors import ConfigError, WorkloadError
from pysim.mapping import planned_residency as pr

ROOT = Path(__file__).resolve().parent.parent
CONFIGS = ("edge_npu", "eyeriss", "lowp_edge", "tpu_v1")
BF16_CONFIGS = ("edge_npu", "eyeriss", "tpu_v1")


def cases() -> list[tuple[str, Any, str]]:
    """(label, hardware, recipe) of every step."""
    out = [(f"{name} int8", pysim.load_hardware(ROOT / "configs" / f"{name}.yaml"), "int8")
           for name in CONFIGS]
    for name in BF16_CONFIGS:
        hw = pysim.load_hardware(ROOT / "configs" / f"{name}.yaml")
        out.append((f"{name}+bf16 mixed_bf16",
                    hw.with_overrides({"units.0.float_precisions": [16, 32]}), "mixed_bf16"))
    return out


def models(llama: bool) -> list[str]:
    return [n for n, _, _ in pysim.zoo.describe() if llama or n != "llama2_7b"]


def programs(hw: Any, wl: pysim.Workload, recipe: str) -> list[tuple[Any, ...]]:
    """The arguments of each ``_solve`` call of one training step (the plans' cache cleared)."""
    return pr.captured_programs(lambda: training.step(hw, wl, "adam", recipe))


def fastest(run: Callable[[], Any], repeat: int) -> tuple[float, Any]:
    best, out = float("inf"), None
    for _ in range(repeat):
        start = time.perf_counter()
        out = run()
        best = min(best, time.perf_counter() - start)
    return best, out


def integer_program(args: tuple[Any, ...], options: dict[str, Any]) -> tuple[int, float]:
    """(status, bytes kept) of HiGHS's integer program alone with ``options``."""
    gaps, _, save, whole, nbytes = args[:5]
    sol = pr.integer_program(args[:9], args[9], options)
    kept = pr._kept_bytes(sol.x[:len(gaps)] > 0.5, gaps, save, whole, nbytes) \
        if sol.x is not None else 0.0
    return sol.status, kept


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--min-gaps", type=int, default=100)
    parser.add_argument("--llama", action="store_true")
    args = parser.parse_args()
    header = (f"{'hardware':<25} {'workload':<18} {'gaps':>5} {'shipped':<8} {'ms':>7} "
              f"{'HiGHS ms':>9} {'st':>2} {'no FJ ms':>9} {'st':>2} {'x':>6} {'kept':>9}")
    print(header)
    print("-" * len(header))
    ratios, changes, settled = [], [], 0
    for label, hw, recipe in cases():
        for name in models(args.llama):
            params = next(p for n, p, _ in pysim.zoo.describe() if n == name)
            wl = pysim.zoo.load(name, **({"batchnorm": True} if "batchnorm" in params else {}))
            try:
                found = programs(hw, wl, recipe)
            except (ConfigError, WorkloadError):  # a format or a size the hardware refuses
                continue
            for prog in found:
                if len(prog[0]) < args.min_gaps:
                    continue
                t_ship, (_, note) = fastest(partial(pr._solve, *prog), args.repeat)
                how = "LP" if "relaxation" in note else "HiGHS"
                settled += how == "LP"
                t_on, (st_on, kept_on) = fastest(partial(integer_program, prog, {}),
                                                 args.repeat)
                t_off, (st_off, kept_off) = fastest(
                    partial(integer_program, prog, pr.HIGHS_OPTIONS), args.repeat)
                ratios.append(t_on / t_off)
                changes.append(kept_off / kept_on - 1 if kept_on else 0.0)
                print(f"{label:<25} {name:<18} {len(prog[0]):>5} {how:<8} "
                      f"{t_ship * 1e3:>7.1f} {t_on * 1e3:>9.1f} {st_on:>2} "
                      f"{t_off * 1e3:>9.1f} {st_off:>2} {t_on / t_off:>6.2f} "
                      f"{changes[-1]:>+9.4%}", flush=True)
    if ratios:
        print(f"\n{len(ratios)} programs: HiGHS's root without feasibility jump "
              f"{min(ratios):.2f}-{max(ratios):.2f}x faster (median "
              f"{statistics.median(ratios):.2f}x); kept bytes {min(changes):+.4%} to "
              f"{max(changes):+.4%} (MIP_REL_GAP {pr.MIP_REL_GAP:.1%}); "
              f"{int(np.sum(np.array(ratios) < 1))} slower; {settled} settled by the LP "
              f"relaxation (rounded, repaired, branched once) without HiGHS")


if __name__ == "__main__":
    main()
