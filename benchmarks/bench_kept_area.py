"""The simulator's kept area (pysim/mapping/kept_area.py): what fragmentation costs the planned
residency, and what placing it costs, three ways: best fit in the first four placement orders
(TFLite's greedy by size and the three pysim.memplan also tries), best fit in all of
``ORDERS`` (four more from a stay's own shape), and ``PLACEMENTS`` (each order with best fit,
then first fit: what ``place`` runs).

Per training graph and kept-area size: the keep / drop program's bytes between ops before
addresses (``aggregate``), the bytes fragmentation adds to them each way (the kept tensors no
placement found an address for, read back from DRAM) and the placement's time (the fastest of
``--repeat``). The graphs: the zoo's CNN training graphs (int8 or bf16, Adam)
on tpu_v1, whose saved activations outlive hundreds of ops; the kept area is a quarter of the
input scratchpad, at its size and 64 KiB to 2 MiB larger.

    python benchmarks/bench_kept_area.py [--repeat 3]
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path
from unittest import mock

import pysim
from pysim.mapping import kept_area, planned_residency
from pysim.training.formats import get_recipe
from pysim.training.graph import build_training_graph
from pysim.training.optim import get_optimizer

ROOT = Path(__file__).resolve().parent.parent
GRAPHS = (("resnet50", "int8"), ("resnet50", "mixed_bf16"), ("mobilenet_v2", "int8"),
          ("resnet18", "int8"))
GROWTH_KIB = (0, 64, 256, 1024, 2048)
FIRST = len(kept_area.PLACEMENT_ORDERS)  # the orders pysim.memplan's placement shares
WAYS = {"4 best": tuple((o, False) for o in kept_area.ORDERS[:FIRST]),
        "8 best": tuple((o, False) for o in kept_area.ORDERS),
        "8 best+first": kept_area.PLACEMENTS}


def graph(name: str, recipe: str) -> pysim.Workload:
    wl = pysim.zoo.load(name, batchnorm=True)
    return build_training_graph(wl, get_recipe(recipe), {}, get_optimizer("adam")).workload


def measure(wl: pysim.Workload, budget: int, placements: tuple, repeat: int) -> tuple[int, int,
                                                                                      float]:
    """(aggregate bytes, bytes fragmentation adds, placement seconds) with ``placements``."""
    stays: list = []
    real = planned_residency.place

    def capture(s: list, b: int) -> tuple:
        stays[:] = [list(s), b]
        return real(s, b)

    with mock.patch.object(kept_area, "PLACEMENTS", placements), \
            mock.patch.object(planned_residency, "place", capture):
        planned_residency._plan.cache_clear()
        plan = planned_residency.plan_residency_optimal(wl, budget, 10.0)
        best = float("inf")
        for _ in range(repeat):
            if not stays:
                break
            start = time.perf_counter()
            kept_area.place(*stays)
            best = min(best, time.perf_counter() - start)
    planned_residency._plan.cache_clear()
    return plan.aggregate_bytes, plan.bytes_between_ops - plan.aggregate_bytes, \
        best if stays else 0.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    hw = pysim.load_hardware(ROOT / "configs" / "tpu_v1.yaml")
    spad = next(s for s in hw.scratchpads if "input" in s.holds)
    print(f"{'graph':<22} {'area KiB':>9} {'aggregate MB':>13}  fragmentation MB / ms: "
          + "  ".join(f"{way:>17}" for way in WAYS))
    totals = dict.fromkeys(WAYS, 0)
    for name, recipe in GRAPHS:
        wl = graph(name, recipe)
        for grow in GROWTH_KIB:
            budget = (spad.size_bytes + grow * 1024) // 4
            cells = []
            for way, placements in WAYS.items():
                agg, frag, t = measure(wl, budget, placements, args.repeat)
                totals[way] += frag
                cells.append(f"{frag / 1e6:>10.3f} {t * 1e3:>6.1f}")
            print(f"{name + ' ' + recipe:<22} {budget // 1024:>9,} {agg / 1e6:>13.2f}  "
                  f"{'':>22}" + "  ".join(cells))
    print(f"{'total MB':<22} {'':>9} {'':>13}  {'':>22}"
          + "  ".join(f"{totals[way] / 1e6:>10.2f} {'':>6}" for way in WAYS))


if __name__ == "__main__":
    main()
