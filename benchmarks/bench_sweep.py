"""Sweep throughput: design points per second of ResNet-50 on the edge NPU, over DRAM
bandwidth x clock x array rows x scratchpad size (5 x 5 x 5 x 8 = 1,000 points).

Prints points per second and the time of the 1,000-point sweep for: 2 local worker processes
(the whole grid, checkpointed to a Parquet file as users run it), 1 job (this process; a
random subset, ``--one-job-points``), and a 2-worker Dask LocalCluster (another random
subset, ``--dask-points``). Target (issue 7): the 1,000 points in <= 2 minutes on 2 cores.

    python benchmarks/bench_sweep.py [--one-job-points 200] [--dask-points 300] [--skip-dask]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

import pysim
from pysim.sweep import Space, sweep

ROOT = Path(__file__).resolve().parent.parent
SPACE = Space({
    "dram.bandwidth_gb_per_s": [6.4, 12.8, 25.6, 51.2, 102.4],
    "clock_ghz": [0.5, 0.75, 1.0, 1.5, 2.0],
    "units.0.rows": [8, 16, 32, 64, 128],
    "scratchpads.0.size_kib": [128, 256, 384, 512, 1024, 1536, 2048, 4096],
})


def run(label: str, space: Space, **kwargs: object) -> tuple[str, int, float, int]:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")
    wl = pysim.zoo.load("resnet50")
    start = time.perf_counter()
    df = sweep(hw, wl, space, progress=False, **kwargs)
    elapsed = time.perf_counter() - start
    return label, len(df), elapsed, int(df["error"].notna().sum())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--one-job-points", type=int, default=200)
    parser.add_argument("--dask-points", type=int, default=300)
    parser.add_argument("--skip-dask", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        rows.append(run("2 jobs, checkpointed", SPACE, jobs=2, out=Path(tmp) / "runs.parquet"))
    rows.append(run("1 job", SPACE.random(args.one_job_points, seed=1), jobs=1))
    if not args.skip_dask:
        from distributed import Client, LocalCluster

        with LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                          dashboard_address=None) as cluster, Client(cluster) as client:
            rows.append(run("Dask LocalCluster, 2 workers",
                            SPACE.random(args.dask_points, seed=2),
                            executor=client.get_executor()))
    header = (f"{'mode':<30} {'points':>7} {'invalid':>8} {'seconds':>8} {'points/s':>9} "
              f"{'1,000 points':>13}")
    print(f"ResNet-50 on edge_npu, {len(SPACE)}-point space")
    print(header)
    print("-" * len(header))
    for label, n, elapsed, invalid in rows:
        rate = n / elapsed
        print(f"{label:<30} {n:>7} {invalid:>8} {elapsed:>8.1f} {rate:>9.1f} "
              f"{1000 / rate:>12.0f}s")


if __name__ == "__main__":
    main()
