"""Serving simulation speed: simulated requests per wall second (issue 16 asks 10,000 requests
of LLaMA-2-7B on an A100 preset in <= 30 s on one core).

    python benchmarks/bench_serving.py            # the table
    python benchmarks/bench_serving.py --quick    # fewer requests per point

Each point runs with a fresh cost model, so its time includes the simulations that fill the
shape cache (the "simulations" column).
"""

from __future__ import annotations

import argparse
import time

import pysim
import pysim.serving as sv

POINTS = [("a100", "llama2_7b", 2.0), ("a100", "llama2_7b", 8.0), ("a100", "llama2_7b", 32.0),
          ("h100", "llama2_13b", 8.0), ("h100", "mixtral_8x7b", 4.0)]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--requests", type=int, default=10_000)
    ap.add_argument("--quick", action="store_true", help="1,000 requests per point")
    args = ap.parse_args()
    n = 1000 if args.quick else args.requests
    print(f"{'hardware':<8} {'model':<13} {'rate/s':>6} {'sched':<10} {'requests':>8} "
          f"{'iters':>7} {'sims':>5} {'wall s':>7} {'req/wall-s':>10} {'sim tok/s':>9}")
    for gpu, name, rate in POINTS:
        for sched in ("continuous", "chunked"):
            spec = sv.model(name, precision="int8" if name.startswith("mixtral") else "fp16")
            reqs = sv.poisson(rate, n=n, prompt_tokens=("uniform", 64, 1024),
                              output_tokens=("uniform", 16, 512), seed=0)
            t0 = time.perf_counter()
            res = sv.serve(pysim.gpu.preset(gpu), spec, reqs, scheduler=sched)
            wall = time.perf_counter() - t0
            s = res.summary()
            print(f"{gpu:<8} {name:<13} {rate:>6g} {sched:<10} {n:>8} {s.iterations:>7} "
                  f"{res.cost.calls:>5} {wall:>7.2f} {n / wall:>10.0f} "
                  f"{s.throughput_tokens_per_s:>9.0f}")


if __name__ == "__main__":
    main()
