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

The same for fused attention ops (``--attention``): each unit's blocks mapped
(pysim/mapping/attention.py).

Second, ``dispatch: earliest_finish`` against ``fastest`` on random graphs of independent
and dependent GEMMs (2-10 ops, each reading the graph input or an earlier op's output) on
hardware with two identical arrays (edge_npu and tpu_v1, each with a copy of its array) and
on lowp_edge: how many run faster, how many slower, and the extremes. fastest sends every op
to the unit whose mapping finishes it first on its own, so a second identical array idles;
earliest_finish spreads independent ops over units by the schedule the estimates give
(``planner.Timeline``).

``--objective`` sets the mapper's tiling objective (lowp_edge's is ``latency``; under
``energy`` and ``edp`` the tilings, and so the units' figures, differ).

    python benchmarks/validate_dispatch.py [--cases 300] [--attention 100] [--graphs 200]
                                           [--seed 5] [--objective latency]
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


def attention_case(rng: random.Random, base: Any) -> tuple[Any, dict[str, Any]]:
    """A one-op fused attention workload spec (1-8 heads, 16-256 queries, 16-512 keys, head
    dimension 32-128, operands 8, 4 or 2 bits) on ``base``."""
    bits = rng.choice([8, 4, 2])
    heads, q, kv = rng.choice([1, 4, 8]), rng.randint(16, 256), rng.randint(16, 512)
    d = rng.choice([32, 64, 128])
    inputs = [{"name": t, "shape": [1, n, heads * d], "bits": bits}
              for t, n in (("q", q), ("k", kv), ("v", kv))]
    return base, {"name": "a", "inputs": inputs, "ops": [
        {"name": "att", "type": "attention", "inputs": ["q", "k", "v"], "batch": 1,
         "heads": heads, "q_len": q, "kv_len": kv, "head_dim": d, "weight_bits": bits,
         "act_bits": bits, "out_bits": bits}]}


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


def tally(policy: str, cases: int, seed: int, objective: str = "latency",
          attention: bool = False) -> dict[str, Tally]:
    """Per rule ("closed form", "mapped"), how its choices fare against pinning, over
    ``cases`` random GEMMs (or, with ``attention``, fused attention ops; those at least two
    units run), the mapper minimising ``objective``."""
    base = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml").with_overrides(
        {"dispatch": policy, "mapper.objective": objective})
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {"closed form": [], "mapped": []}
    for _ in range(cases):
        hw, spec = (attention_case if attention else case)(rng, base)
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


def twin(config: str, policy: str) -> Any:
    """``config`` with a second copy of its first MAC unit, dispatching by ``policy``."""
    from pysim.config import hardware_from_dict

    data = pysim.load_hardware(ROOT / "configs" / f"{config}.yaml").to_dict()
    data["units"].append({**data["units"][0], "name": data["units"][0]["name"] + "_twin"})
    data["dispatch"] = policy
    return hardware_from_dict(data)


def random_graph(rng: random.Random, bits: int) -> Any:
    """2-10 GEMMs, each reading the input or an earlier output (branches and chains)."""
    shapes = {"x": (rng.randint(8, 256), rng.randint(8, 512))}
    ops = []
    for i in range(rng.randint(2, 10)):
        src = rng.choice(list(shapes))
        m, k = shapes[src]
        n = rng.randint(8, 512)
        ops.append({"name": f"g{i}", "type": "gemm", "inputs": [src], "m": m, "n": n, "k": k,
                    "weight_bits": bits, "act_bits": bits, "out_bits": bits})
        shapes[f"g{i}"] = (m, n)
    return workload_from_dict({"name": "graph", "ops": ops, "inputs": [
        {"name": "x", "shape": list(shapes["x"]), "bits": bits}]})


def balance(graphs: int, seed: int) -> dict[str, list[float]]:
    """Per hardware, earliest_finish's latency over fastest's on ``graphs`` random graphs."""
    lowp = pysim.load_hardware(ROOT / "configs" / "lowp_edge.yaml")
    hardware = {name: {p: twin(name, p) for p in ("fastest", "earliest_finish")}
                for name in ("edge_npu", "tpu_v1")}
    hardware["lowp_edge"] = {p: lowp.with_overrides({"dispatch": p})
                             for p in ("fastest", "earliest_finish")}
    rng = random.Random(seed)
    ratios: dict[str, list[float]] = {name: [] for name in hardware}
    for _ in range(graphs):
        name = rng.choice(sorted(hardware))
        wl = random_graph(rng, rng.choice([8, 8, 4, 1]) if name == "lowp_edge" else 8)
        fast, spread = (pysim.simulate(hardware[name][p], wl).latency_cycles
                        for p in ("fastest", "earliest_finish"))
        ratios[name].append(spread / fast)
    return ratios


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=300)
    parser.add_argument("--seed", type=int, default=5)
    parser.add_argument("--objective", default="latency", choices=("latency", "energy", "edp"))
    parser.add_argument("--attention", type=int, default=100,
                        help="random fused attention ops (a second table)")
    parser.add_argument("--graphs", type=int, default=200,
                        help="random graphs for earliest_finish against fastest")
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
    print(f"\n{args.attention} random fused attention ops on lowp_edge, the same way")
    for policy in ("fastest", "lowest_energy"):
        for rule, t in tally(policy, args.attention, args.seed, args.objective,
                             attention=True).items():
            print(f"{policy:<14} {rule:<12} {t.cases:>5} {t.beaten:>6} {t.worst:>6.3f} "
                  f"{t.mean:>6.4f}")
    print(f"\nearliest_finish over fastest, latency, {args.graphs} random graphs (seed "
          f"{args.seed}; edge_npu and tpu_v1 with a second copy of their array)")
    print(f"{'hardware':<10} {'graphs':>6} {'faster':>6} {'slower':>6} {'best':>6} "
          f"{'worst':>6} {'mean':>6}")
    for name, r in balance(args.graphs, args.seed).items():
        print(f"{name:<10} {len(r):>6} {sum(x < 1 - 1e-9 for x in r):>6} "
              f"{sum(x > 1 + 1e-9 for x in r):>6} {min(r, default=1):>6.3f} "
              f"{max(r, default=1):>6.3f} {sum(r) / max(1, len(r)):>6.4f}")


if __name__ == "__main__":
    main()
