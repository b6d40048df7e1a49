"""The simulator's kept area (pysim/mapping/kept_area.py): what fragmentation costs the planned
residency, and what placing it costs, with the first four placement orders (TFLite's greedy
by size and the three pysim.memplan also tries) against all of ``ORDERS`` (four more from a
stay's own shape).

Per training graph and kept-area size: the keep / drop program's bytes between ops before
addresses (``aggregate``), the bytes fragmentation adds to them with each set of orders (the
kept tensors no order found an address for, read back from DRAM) and the placement's time
(the fastest of ``--repeat``). The graphs: the zoo's CNN training graphs (int8 or bf16, Adam)
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


def graph(name: str, recipe: str) -> pysim.Workload:
    wl = pysim.zoo.load(name, batchnorm=True)
    return build_training_graph(wl, get_recipe(recipe), {}, get_optimizer("adam")).workload


def measure(wl: pysim.Workload, budget: int, orders: tuple, repeat: int) -> tuple[int, int,
                                                                                  float]:
    """(aggregate bytes, bytes fragmentation adds, placement seconds) with ``orders``."""
    stays: list = []
    real = planned_residency.place

    def capture(s: list, b: int) -> tuple:
        stays[:] = [list(s), b]
        return real(s, b)

    with mock.patch.object(kept_area, "ORDERS", orders), \
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
    print(f"{'graph':<22} {'area KiB':>9} {'aggregate MB':>13} {'frag 4 MB':>10} "
          f"{'frag all MB':>12} {'ms 4':>6} {'ms all':>7}")
    totals = [0, 0]
    for name, recipe in GRAPHS:
        wl = graph(name, recipe)
        for grow in GROWTH_KIB:
            budget = (spad.size_bytes + grow * 1024) // 4
            agg, frag4, t4 = measure(wl, budget, kept_area.ORDERS[:FIRST], args.repeat)
            _, frag, t = measure(wl, budget, kept_area.ORDERS, args.repeat)
            totals[0] += frag4
            totals[1] += frag
            print(f"{name + ' ' + recipe:<22} {budget // 1024:>9,} {agg / 1e6:>13.2f} "
                  f"{frag4 / 1e6:>10.3f} {frag / 1e6:>12.3f} {t4 * 1e3:>6.1f} {t * 1e3:>7.1f}")
    print(f"{'total':<22} {'':>9} {'':>13} {totals[0] / 1e6:>10.2f} {totals[1] / 1e6:>12.2f}")


if __name__ == "__main__":
    main()
