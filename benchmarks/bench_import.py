"""Start-up cost: seconds for `import pysim` and for `pysim --help`, median of fresh processes.

Targets (issue 18): import <= 0.4 s, --help <= 0.3 s on a quiet machine.

    python benchmarks/bench_import.py [--repeat 5]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def seconds(cmd: list[str], repeat: int) -> float:
    samples = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        samples.append(time.perf_counter() - start)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    cli = shutil.which("pysim")
    cases = [("python -c pass", [sys.executable, "-c", "pass"]),
             ("import pysim", [sys.executable, "-c", "import pysim"]),
             ("pysim --help", [cli, "--help"] if cli else
              [sys.executable, "-m", "pysim.cli", "--help"])]
    print(f"{'command':<16} {'seconds':>8}")
    for name, cmd in cases:
        print(f"{name:<16} {seconds(cmd, args.repeat):>8.3f}")


if __name__ == "__main__":
    main()
