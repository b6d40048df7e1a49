"""Start-up cost: seconds for `import pysim`, `pysim --help` and `pysim --version`, median (and
fastest) of fresh processes, next to a bare `python -c pass`.

Targets (issue 18): import <= 0.4 s, --help <= 0.3 s on a quiet machine. `python -X importtime
-c "import pysim"` shows where the time goes.

    python benchmarks/bench_import.py [--repeat 7]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import time


def samples(cmd: list[str], repeat: int) -> list[float]:
    """Wall seconds of ``repeat`` fresh runs of ``cmd``."""
    out = []
    for _ in range(repeat):
        start = time.perf_counter()
        subprocess.run(cmd, capture_output=True, check=True)
        out.append(time.perf_counter() - start)
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=7, help="runs per command (default 7)")
    args = parser.parse_args()
    cli = shutil.which("pysim")
    pysim = [cli] if cli else [sys.executable, "-m", "pysim.cli"]
    cases = [("python -c pass", [sys.executable, "-c", "pass"], None),
             ("import pysim", [sys.executable, "-c", "import pysim"], 0.4),
             ("pysim --help", [*pysim, "--help"], 0.3),
             ("pysim --version", [*pysim, "--version"], 0.3)]
    print(f"{'command':<16} {'median s':>9} {'fastest s':>10} {'target s':>9}  "
          f"({args.repeat} runs each)")
    for name, cmd, target in cases:
        times = samples(cmd, args.repeat)
        shown = f"{target:.1f}" if target is not None else "-"
        print(f"{name:<16} {statistics.median(times):>9.3f} {min(times):>10.3f} {shown:>9}")


if __name__ == "__main__":
    main()
