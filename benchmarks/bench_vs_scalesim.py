"""pysim's SCALE-Sim runner against SCALE-Sim 3.0.0 itself, layer by layer, in one run.

Each layer becomes a one-layer topology; SCALE-Sim runs it in its own interpreter (a separate
virtualenv, since it needs numpy < 2.4) and reports the wall time of its simulation inside that
process (imports and start-up excluded); pysim computes the same report rows with
``pysim.scalesim.runner.simulate_layer`` (median over many repetitions). The table prints both
times and the ratio, then the whole ResNet-50 topology through ``pysim scalesim`` (parse,
simulate, write the three CSVs).

    python -m venv /tmp/ssvenv && /tmp/ssvenv/bin/pip install scalesim==3.0.0 numpy==2.3.5
    python benchmarks/bench_vs_scalesim.py --scalesim-python /tmp/ssvenv/bin/python

Without SCALE-Sim, the SCALE-Sim column shows the times recorded in the committed fixtures
(tests/data/scalesim/cases/*/case.json), marked "rec".
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pysim.scalesim.config import load_config
from pysim.scalesim.reports import write_reports
from pysim.scalesim.runner import run, simulate_layer
from pysim.scalesim.topology import load_topology

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "scalesim"
CONFIG = ROOT / "configs" / "scalesim" / "scale.cfg"
RESNET50 = ROOT / "workloads" / "scalesim" / "resnet50.csv"

# (name, gemm?, topology row after the name). The first is the reference GEMM.
LAYERS = [
    ("gemm_256x128x256", True, (256, 128, 256)),
    ("gemm_64x64x64", True, (64, 64, 64)),
    ("conv3x3_28x28x64", False, (30, 30, 3, 3, 64, 64, 1)),
    ("conv1x1_56x56x64", False, (56, 56, 1, 1, 64, 256, 1)),
    ("conv7x7_s2_stem", False, (230, 230, 7, 7, 3, 64, 2)),
]

CHILD = r"""
import json, sys, time
cfg, topo, layout, outdir, gemm = sys.argv[1:6]
from scalesim.scale_sim import scalesim
t0 = time.perf_counter()
s = scalesim(save_disk_space=True, verbose=False, config=cfg, topology=topo,
             layout=layout, input_type_gemm=(gemm == "1"))
s.run_scale(top_path=outdir)
print("@@SECONDS@@" + json.dumps(time.perf_counter() - t0))
"""


def _topology(gemm: bool, name: str, row: tuple[int, ...]) -> str:
    head = ("Layer, M, N, K," if gemm else
            "Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,")
    return f"{head}\n{name}, {', '.join(map(str, row))},\n"


def _layout(name: str) -> str:
    header = "Layer name, " + ", ".join(f"c{i}" for i in range(20)) + ","
    values = [1, 1, 1, 1, 1, 1, 0, 1, 2, 0, 1, 2, 0, 1, 2, 3, 0, 1, 2, 3]
    return f"{header}\n{name}, {', '.join(map(str, values))},\n"


def scalesim_seconds(python: str, cfg: Path, gemm: bool, name: str, row: tuple[int, ...]) -> float:
    with tempfile.TemporaryDirectory(prefix="bench_scalesim_") as tmp:
        topo, layout = Path(tmp, "topology.csv"), Path(tmp, "layout.csv")
        topo.write_text(_topology(gemm, name, row))
        layout.write_text(_layout(name))
        proc = subprocess.run(
            [python, "-c", CHILD, str(cfg), str(topo), str(layout), tmp, "1" if gemm else "0"],
            capture_output=True, text=True, cwd=tmp, check=False)
        for line in proc.stdout.splitlines():
            if line.startswith("@@SECONDS@@"):
                return float(json.loads(line[len("@@SECONDS@@"):]))
        raise RuntimeError(f"SCALE-Sim failed on {name}: {proc.stderr[-2000:]}")


def recorded_seconds() -> float | None:
    case = FIXTURES / "cases" / "gemm_32x32_single_os" / "case.json"
    return json.loads(case.read_text())["seconds"] if case.exists() else None


def pysim_seconds(cfg, layer, repeat: int = 200) -> float:
    samples = []
    for _ in range(5):
        start = time.perf_counter()
        for _ in range(repeat):
            simulate_layer(cfg, layer)
        samples.append((time.perf_counter() - start) / repeat)
    return statistics.median(samples)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scalesim-python", default=os.environ.get("SCALESIM_PYTHON"),
                        help="interpreter of a virtualenv with scalesim==3.0.0")
    parser.add_argument("--config", type=Path, default=CONFIG)
    args = parser.parse_args()
    python = args.scalesim_python
    if python and not Path(python).exists():
        sys.exit(f"--scalesim-python: {python} does not exist")
    cfg = load_config(args.config, warn=False)
    print(f"array {cfg.rows}x{cfg.cols} {cfg.dataflow.upper()}, config {args.config.name}")
    header = f"{'layer':<20} {'M':>6} {'N':>5} {'K':>6} {'SCALE-Sim s':>12} {'pysim us':>9} " \
             f"{'ratio':>9}"
    print(header)
    print("-" * len(header))
    with tempfile.TemporaryDirectory() as tmp:
        for name, gemm, row in LAYERS:
            topo = Path(tmp, f"{name}.csv")
            topo.write_text(_topology(gemm, name, row))
            layer = load_topology(topo, gemm=gemm)[0]
            ours = pysim_seconds(cfg, layer)
            if python:
                theirs, tag = scalesim_seconds(python, args.config, gemm, name, row), ""
            elif name == "gemm_256x128x256" and cfg.rows == cfg.cols == 32:
                theirs, tag = recorded_seconds(), " rec"
            else:
                theirs, tag = None, ""
            shown = f"{theirs:.3f}{tag}" if theirs is not None else "n/a"
            ratio = f"{theirs / ours:,.0f}x" if theirs is not None else "n/a"
            print(f"{name:<20} {layer.m:>6} {layer.n:>5} {layer.k:>6} {shown:>12} "
                  f"{ours * 1e6:>9.1f} {ratio:>9}")
        layers = load_topology(RESNET50)
        start = time.perf_counter()
        write_reports(Path(tmp, "resnet50"), run(cfg, layers))
        whole = time.perf_counter() - start
    print(f"\nResNet-50 topology ({len(layers)} layers) through pysim scalesim "
          f"(parse + simulate + 3 CSVs): {whole * 1e3:.1f} ms")


if __name__ == "__main__":
    main()
