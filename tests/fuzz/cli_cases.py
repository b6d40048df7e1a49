"""Seeded cases for the CLI: ``pysim run``, ``gemm``, ``sweep`` and ``scalesim`` on mutated
files (the API cases' mutations, written out) and hostile arguments, each in its own
``python -m pysim.cli`` subprocess. Outcomes: ``ok`` (exit 0), ``clean`` (exit 2, stderr a
clean message from the command with no traceback), ``failure`` (any other exit code, a
signal, a traceback, an unclear message, or no exit within the timeout)."""

from __future__ import annotations

import random
from dataclasses import dataclass

import yaml

from tests.fuzz.api_cases import (
    ROOT,
    _hardware,
    _hardware_text,
    _workload,
    clean_message,
    mutate_dict,
    mutate_text,
)
from tests.fuzz.values import INT_EDGES

SCALE_CFG = (ROOT / "configs" / "scalesim" / "scale.cfg").read_text()
GEMM_CSV = "Layer, M, N, K,\nqkv, 16, 24, 8,\nout, 8, 8, 16,\n"
CONV_CSV = ("Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, Channels, "
            "Num Filter, Strides,\nc1, 12, 12, 3, 3, 4, 8, 1,\nc2, 10, 10, 1, 1, 8, 8, 2,\n")
SPACE = "units.0.rows: [8, 16]\nscratchpads.0.size_kib: [64, 128]\n"


@dataclass
class CliCase:
    argv: list[str]  # after `python -m pysim.cli`; {dir} is the case's folder
    files: dict[str, str]  # name -> text, written into the folder first
    mutation: str

    def describe(self) -> str:
        return f"pysim {' '.join(self.argv)}   [{self.mutation}]"


def _cell_mutation(rng: random.Random, text: str) -> tuple[str, str]:
    """A CSV or cfg file with one value replaced by a hostile one, or mangled as text."""
    if rng.random() < 0.3:
        return mutate_text(rng, text)
    tokens = [(i, t) for i, t in enumerate(text.replace("\n", ",\n").split(","))]
    numeric = [(i, t) for i, t in tokens if t.strip().lstrip("-").isdigit()]
    if not numeric:
        return mutate_text(rng, text)
    i, old = rng.choice(numeric)
    new = str(rng.choice([0, -1, 10**20, 2**63, 2**31, "nan", "inf", "1e9", "abc", "", "3.5",
                          100000000, 2**40] + INT_EDGES[:8]))
    parts = text.replace("\n", ",\n").split(",")
    parts[i] = " " + new
    return ",".join(parts).replace(",\n", "\n"), f"{old.strip()} -> {new}"


def _cfg_mutation(rng: random.Random) -> tuple[str, str]:
    lines = SCALE_CFG.splitlines()
    assigns = [i for i, ln in enumerate(lines) if "=" in ln and not ln.startswith("#")]
    if rng.random() < 0.25:
        return mutate_text(rng, SCALE_CFG)
    i = rng.choice(assigns)
    key = lines[i].split("=")[0].strip()
    value = rng.choice(["0", "-1", "1e20", "nan", "inf", "abc", "", "100000000", "2.5",
                        "9223372036854775808", "ws", "xx", "True"])
    if rng.random() < 0.15:
        lines.pop(i)
        return "\n".join(lines) + "\n", f"cfg {key} removed"
    lines[i] = f"{key} = {value}"
    return "\n".join(lines) + "\n", f"cfg {key} = {value}"


def make_case(seed: int, index: int) -> CliCase:
    rng = random.Random(seed * 1_000_003 + index + 7)
    cmd = rng.choice(["run", "run", "run", "gemm", "sweep", "scalesim", "scalesim"])
    if cmd == "gemm":
        def num() -> str:
            return str(rng.choice([rng.randint(1, 300), 0, -1, 2**31, 2**63, 10**20, 100000000,
                                   "1.5", "x", 4096]))
        argv = ["gemm", num(), num(), num(), "--rows", num(), "--cols", num(),
                "--dataflow", rng.choice(["os", "ws", "is"]),
                "--timing", rng.choice(["pipelined", "scalesim"])]
        return CliCase(argv, {}, "arguments")
    if cmd == "scalesim":
        gemm = rng.random() < 0.5
        topo = GEMM_CSV if gemm else CONV_CSV
        files = {"scale.cfg": SCALE_CFG, "topo.csv": topo}
        if rng.random() < 0.5:
            files["topo.csv"], mutation = _cell_mutation(rng, topo)
        else:
            files["scale.cfg"], mutation = _cfg_mutation(rng)
        argv = ["scalesim", "-c", "{dir}/scale.cfg", "-t", "{dir}/topo.csv", "-o", "{dir}/out"]
        return CliCase(argv + (["--gemm"] if gemm else []), files, mutation)
    hw_name = rng.choice(["configs/edge_npu.yaml", "configs/eyeriss.yaml"])
    wl_name = rng.choice(["workloads/tiny_cnn.yaml", "gemm:m=64,n=32,k=48"])
    hw_text = _hardware_text(hw_name)
    wl_text = yaml.safe_dump(_workload(wl_name), sort_keys=False)
    target = rng.choice(["hardware", "workload"] + (["space"] if cmd == "sweep" else []))
    as_text = rng.random() < 0.3
    mutation = "none"
    if target == "hardware":
        if as_text:
            hw_text, mutation = mutate_text(rng, hw_text)
        else:
            data, mutation = mutate_dict(rng, _hardware(hw_name), False)
            hw_text = yaml.safe_dump(data, sort_keys=False)
        mutation = f"hardware {mutation}"
    elif target == "workload":
        if as_text:
            wl_text, mutation = mutate_text(rng, wl_text)
        else:
            data, mutation = mutate_dict(rng, _workload(wl_name), True)
            wl_text = yaml.safe_dump(data, sort_keys=False)
        mutation = f"workload {mutation}"
    space = SPACE
    if target == "space":
        space, mutation = mutate_text(rng, SPACE) if as_text else (
            rng.choice(["units.0.rows: [0, -1]\n", "units.0.rows: []\n", "bogus.path: [1]\n",
                        "units.0.rows: {low: 1, high: 1e300}\n", "units.0.rows: 16\n",
                        "units.9.rows: [8]\n", "scratchpads.0.size_kib: [.nan]\n",
                        "[1, 2]\n", "units.0.rows: [8, 8]\n"]), "space")
        mutation = f"space {mutation}" if mutation != "space" else f"space {space.strip()!r}"
    files = {"hw.yaml": hw_text, "wl.yaml": wl_text, "space.yaml": space}
    if cmd == "run":
        argv = ["run", "{dir}/hw.yaml", "{dir}/wl.yaml"]
        if rng.random() < 0.3:
            argv += ["--set", rng.choice(["dram.bandwidth_gb_per_s=nan", "clock_ghz=-1",
                                          "units.0.rows=100000", "bogus=1", "clock_ghz",
                                          "scratchpads.0.size_kib=1e308", "clock_ghz=2"])]
        return CliCase(argv, files, mutation)
    argv = ["sweep", "{dir}/space.yaml", "{dir}/hw.yaml", "{dir}/wl.yaml", "-o",
            "{dir}/runs.parquet", "--no-progress"]
    return CliCase(argv, files, mutation)


def classify_cli(returncode: int, stderr: str, timed_out: bool) -> tuple[str, str]:
    if timed_out:
        return "failure", "no exit within the timeout (a hang)"
    if returncode < 0:
        return "failure", f"killed by signal {-returncode}"
    if "Traceback" in stderr:
        return "failure", "a traceback on stderr: " + stderr.strip().splitlines()[-1][:200]
    if returncode == 0:
        return "ok", ""
    if returncode == 2:
        lines = [ln for ln in stderr.strip().splitlines() if ln.strip()]
        first = lines[0] if lines else ""
        if not first.startswith(("pysim ", "usage: pysim")):
            return "failure", f"exit 2 but stderr starts {first[:120]!r}"
        message = "\n".join(ln for ln in lines if not ln.startswith("usage:"))
        wrong = clean_message(message, ".yaml") if len(lines) > 1 and \
            not lines[0].startswith("usage:") else None
        if wrong and not all(".yaml" in ln or ".csv" in ln or ".cfg" in ln or
                             ln.startswith(("  - ", "pysim ")) for ln in lines):
            return "failure", f"exit 2, message: {wrong}"
        return "clean", first[:200]
    return "failure", f"exit {returncode}: {stderr.strip()[-200:]}"
