"""Dispatch on heterogeneous hardware against the run itself: does the unit ``dispatch`` picks
for an op finish it first (``fastest``) or spend the least (``lowest_energy``) among every
unit that can run it?

For random single GEMMs on configs/lowp_edge.yaml (an int8 systolic array, a bit-serial array
and an XNOR array sharing two scratchpads and an LPDDR4 channel; operand widths w1a1 .. w8a8,
M up to 300, N up to 600, K up to 1200; half the cases with a smaller activation buffer, a
third with a slower DRAM), the script simulates the op as dispatched and pinned to each unit
that supports it (``unit:``), and counts the cases where a pinned unit beats the dispatched
one in the run, with the worst ratio. It does so for two rules: the closed form scored before
any mapping (``planner._pick_unit``: the fewest closed-form cycles of the whole GEMM, or the
least MAC energy; pysim's dispatch until session 36) and the mapped dispatch (each unit's
mapping, ``planner._best_mapped``: pysim's now). The run, not a peer tool, is the reference:
both rules are judged by the engine that times and prices every op (Stream, Symons et al.,
arXiv 2212.10612, allocates layers to cores by the same kind of per-core mapped cost).

``--objective`` sets the mapper's tiling objective (lowp_edge's is ``latency``; under
``energy`` and ``edp`` the tilings, and so the units' figures, differ).

    python benchmarks/validate_dispatch.py [--cases 300] [--seed 5] [--objective latency]
"""

from __future__ import annotations

import argparse
import random
from pathlib import Path
from typing import Any, NamedTuple

import pysim
from pysim.mapping.planner import _pick_unit
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
WIDTHS = ((1, 1), (8, 8), (4, 8), (4, 4), (1, 8), (2, 2))


def case(rng: random.Random, base: Any) -> tuple[Any, dict[str, Any]]:
    """A hardware point and a one-GEMM workload spec."""
    w, a = rng.choice(WIDTHS)
    m, n, k = rng.randint(1, 300), rng.randint(1, 600), rng.randint(1, 1200)
    overrides: dict[str, Any] = {}
    if rng.random() < 0.5:
        overrides["scratchpads.0.size_kib"] = rng.choice([16, 32, 64, 128, 256])
    if rng.random() < 0.3:
        overrides["dram.bandwidth_gb_per_s"] = rng.choice([1.0, 3.2, 25.6, 51.2])
    hw = base.with_overrides(overrides) if overrides else base
    spec = {"name": "g", "inputs": [{"name": "x", "shape": [m, k], "bits": a}],
            "ops": [{"name": "g", "type": "gemm", "inputs": ["x"], "m": m, "n": n, "k": k,
                     "weight_bits": w, "act_bits": a}]}
    return hw, spec


def pinned(spec: dict[str, Any], unit: str) -> Any:
    return workload_from_dict({**spec, "ops": [{**spec["ops"][0], "unit": unit}]})


def figure(result: Any, policy: str) -> float:
    return float(result.latency_cycles if policy == "fastest" else result.energy_j)


class Tally(NamedTuple):
    """Cases, those a pinned unit beat, the worst and the mean ratio of the dispatched unit's
    figure (latency or energy) over the best pinned unit's."""

    cases: int
    beaten: int
    worst: float
    mean: float


def tally(policy: str, cases: int, seed: int,
          objective: str = "latency") -> dict[str, Tally]:
    """Per rule ("closed form", "mapped"), how its choices fare against pinning, over
    ``cases`` random GEMMs (those at least two units run), the mapper minimising
    ``objective``."""
    base = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml").with_overrides(
        {"dispatch": policy, "mapper.objective": objective})
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {"closed form": [], "mapped": []}
    for _ in range(cases):
        hw, spec = case(rng, base)
        wl = workload_from_dict(spec)
        op = wl.ops[0]
        units = [u.name for u in hw.units if u.supports(op)]
        if len(units) < 2:
            continue
        each = {u: figure(pysim.simulate(hw, pinned(spec, u)), policy) for u in units}
        best = min(each.values())
        ratios["closed form"].append(each[_pick_unit(hw, op).name] / best)
        ratios["mapped"].append(figure(pysim.simulate(hw, wl), policy) / best)
    return {rule: Tally(len(r), sum(x > 1 + 1e-9 for x in r), max(r, default=1.0),
                        sum(r) / max(1, len(r)))
            for rule, r in ratios.items()}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"))
    args = parser.parse_args()
    print(f"{args.cases} random GEMMs on lowp_edge (seed {args.seed}, the {args.objective} "
          "objective): the dispatched unit against the op pinned to each unit that runs it, "
          "in the run")
    print(f"{'policy':<14} {'rule':<12} {'cases':>5} {'beaten':>6} {'worst':>6} "
          f"{'mean':>6}   (beaten: a pinned unit finishes first / spends less)")
    for policy in ("fastest", "lowest_energy"):
        for rule, t in tally(policy, args.cases, args.seed, args.objective).items():
            print(f"{policy:<14} {rule:<12} {t.cases:>5} {t.beaten:>6} {t.worst:>6.3f} "
                  f"{t.mean:>6.4f}")


if __name__ == "__main__":
    main()
