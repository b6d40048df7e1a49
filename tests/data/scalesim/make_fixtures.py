#!/usr/bin/env python
"""Regenerate the SCALE-Sim 3.0.0 reference fixtures used by pysim's tests.

Run with the Python of a virtualenv that has SCALE-Sim installed, NOT with the
project's own interpreter:

    python -m venv /tmp/ssvenv
    /tmp/ssvenv/bin/pip install scalesim==3.0.0 numpy==2.3.5
    /tmp/ssvenv/bin/python tests/data/scalesim/make_fixtures.py            # all cases
    /tmp/ssvenv/bin/python tests/data/scalesim/make_fixtures.py -j 1       # serial
    /tmp/ssvenv/bin/python tests/data/scalesim/make_fixtures.py gemm_32x32_os   # some cases

For every case it writes, into cases/<case_name>/ (next to this script):

    config.cfg      SCALE-Sim config (CALC bandwidth mode, no custom layout, no sparsity)
    topology.csv    GEMM ("Layer, M, N, K,") or conv topology
    layout.csv      minimal layout file (SCALE-Sim's loader requires one even
                    though custom layouts are off; its contents are unused)
    COMPUTE_REPORT.csv, DETAILED_ACCESS_REPORT.csv, BANDWIDTH_REPORT.csv
                    copied verbatim from SCALE-Sim's output
    case.json       {"gemm", "dataflow", "rows", "cols", "seconds", ...}

Each case is run in its own subprocess that is equivalent to

    python -m scalesim.scale -c config.cfg -t topology.csv -l layout.csv \
        -p OUTDIR -i gemm|conv -s N

except that it calls the scalesim class directly with save_disk_space=True:
in 3.0.0 scale.py parses "-s" but never uses it (it always passes
save_disk_space=False), so the CLI always writes the large per-layer
*_TRACE.csv files. Traces do not affect the reports. "seconds" is the wall time
of scalesim(...) construction + run_scale() inside that subprocess (interpreter
start-up and imports excluded). The SCALE-Sim output directory is a temporary
directory that is deleted afterwards, so no traces end up in the repo.
"""

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor

HERE = os.path.dirname(os.path.abspath(__file__))
CASES_DIR = os.path.join(HERE, "cases")
REPORTS = ["COMPUTE_REPORT.csv", "DETAILED_ACCESS_REPORT.csv", "BANDWIDTH_REPORT.csv"]
DATAFLOWS = ["os", "ws", "is"]

# Generous SRAM: every operand of every layer below fits in half of its SRAM
# (SCALE-Sim double-buffers with active_buf_frac = 0.5, word size 1 byte).
BIG_SRAM = (512, 512, 256)      # ifmap, filter, ofmap (KB)
SMALL_SRAM = (2, 2, 1)

# ---------------------------------------------------------------------------
# Topologies. GEMM layers are (name, M, N, K); SCALE-Sim maps them to a conv
# with ifmap MxK, filter 1xK, 1 channel, N filters, stride 1, so that
# ofmap pixels = M, window = K, filters = N.
# Conv layers are (name, ifmap_h, ifmap_w, filt_h, filt_w, channels,
# num_filters, stride).  Names containing "DP" are depthwise: SCALE-Sim splits
# them into <channels> layers "<name>Channel_<i>" with 1 channel each.
# ---------------------------------------------------------------------------
GEMM_32 = [
    ("g64_64_64", 64, 64, 64),
    ("g256_128_256", 256, 128, 256),
    ("g1_100_300", 1, 100, 300),        # M = 1
    ("g100_37_1", 100, 37, 1),          # K = 1
    ("g33_65_17", 33, 65, 17),          # partial folds
    ("g31_29_45", 31, 29, 45),
]
GEMM_SMALL_ARRAY = [                    # for 8x16 and 16x8 arrays
    ("g10_20_30", 10, 20, 30),
    ("g17_5_9", 17, 5, 9),
    ("g3_33_7", 3, 33, 7),
    ("g24_16_40", 24, 16, 40),
    ("g9_9_1", 9, 9, 1),
    ("g1_1_1", 1, 1, 1),                # degenerate
]
GEMM_SINGLE = [("g256_128_256", 256, 128, 256)]   # timing reference
CONV_16 = [
    ("conv3x3_s1", 14, 14, 3, 3, 8, 16, 1),
    ("conv3x3_s2", 15, 15, 3, 3, 4, 8, 2),
    ("conv1x1_s1", 8, 8, 1, 1, 16, 32, 1),
    ("conv5x5_s2", 11, 11, 5, 5, 3, 8, 2),
    ("DP_conv", 10, 10, 3, 3, 3, 1, 1),   # depthwise, 3 channels -> 3 layers
]
CONV_128x64 = [
    ("conv28_c64_k128_3x3", 28, 28, 3, 3, 64, 128, 1),
    ("conv56_c32_k64_3x3_s2", 56, 56, 3, 3, 32, 64, 2),
    ("conv14_c128_k256_1x1", 14, 14, 1, 1, 128, 256, 1),
]
# Operands do NOT fit in the 2 KB / 2 KB / 1 KB SRAMs (half = 1024 / 1024 / 512 words).
GEMM_SMALL_SRAM = [
    ("g64_48_96", 64, 48, 96),          # ifmap 6144 words, filter 4608 words
    ("g100_40_50", 100, 40, 50),        # ifmap 5000 words, filter 2000 words
]


def build_cases():
    cases = []

    def add(prefix, gemm, rows, cols, layers, sram=BIG_SRAM, note=""):
        for df in DATAFLOWS:
            cases.append(dict(name=f"{prefix}_{df}", gemm=gemm, dataflow=df,
                              rows=rows, cols=cols, sram=sram, layers=layers,
                              note=note))

    add("gemm_32x32", True, 32, 32, GEMM_32,
        note="32x32 array, GEMM shapes incl. M=1, K=1, partial folds")
    add("gemm_32x32_single", True, 32, 32, GEMM_SINGLE,
        note="single 256x128x256 GEMM (M=256,N=128,K=256); timing reference")
    add("gemm_8x16", True, 8, 16, GEMM_SMALL_ARRAY,
        note="non-square 8 rows x 16 cols array, small odd GEMMs")
    add("gemm_16x8", True, 16, 8, GEMM_SMALL_ARRAY,
        note="non-square 16 rows x 8 cols array, small odd GEMMs")
    add("conv_16x16", False, 16, 16, CONV_16,
        note="16x16 array, small convs (1x1/3x3/5x5, stride 1/2) + depthwise")
    add("conv_128x64", False, 128, 64, CONV_128x64,
        note="128 rows x 64 cols array, mid-size convs")
    add("small_sram", True, 16, 16, GEMM_SMALL_SRAM, sram=SMALL_SRAM,
        note="16x16 array, 2KB/2KB/1KB SRAM: operands do not fit")
    return cases


def config_text(case):
    ifm, flt, ofm = case["sram"]
    return f"""[general]
run_name = {case['name']}

[run_presets]
InterfaceBandwidth = CALC
UseRamulatorTrace = False

[architecture_presets]
ArrayHeight = {case['rows']}
ArrayWidth = {case['cols']}
ifmapsramszkB = {ifm}
filtersramszkB = {flt}
ofmapsramszkB = {ofm}
IfmapOffset = 0
FilterOffset = 10000000
OfmapOffset = 20000000
Dataflow = {case['dataflow']}
Bandwidth = 10
ReadRequestBuffer = 32
WriteRequestBuffer = 32

[layout]
IfmapCustomLayout = False
IfmapSRAMBankBandwidth = 10
IfmapSRAMBankNum = 10
IfmapSRAMBankPort = 2
FilterCustomLayout = False
FilterSRAMBankBandwidth = 10
FilterSRAMBankNum = 10
FilterSRAMBankPort = 2

[sparsity]
SparsitySupport = false
SparseRep = ellpack_block
OptimizedMapping = false
BlockSize = 8
RandomNumberGeneratorSeed = 40
"""


def topology_text(case):
    if case["gemm"]:
        lines = ["Layer, M, N, K,"]
        lines += [f"{n}, {m}, {nn}, {k}," for (n, m, nn, k) in case["layers"]]
    else:
        lines = ["Layer name, IFMAP Height, IFMAP Width, Filter Height, Filter Width, "
                 "Channels, Num Filter, Strides,"]
        lines += [", ".join(str(x) for x in layer) + "," for layer in case["layers"]]
    return "\n".join(lines) + "\n"


LAYOUT_HEADER = ("Layer name, IFMAP Height Intraline Factor, IFMAP Width Intraline Factor, "
                 "Filter Height Intraline Factor, Filter Width Intraline Factor, "
                 "Channel Intraline Factor, Num Filter Intraline Factor, "
                 "IFMAP Height Intraline Order, IFMAP Width Intraline Order, "
                 "Channel Intraline Order, IFMAP Height Interline Order, "
                 "IFMAP Width Interline Order, Channel Interline Order, "
                 "Num Filter Intraline Order, Channel Intraline Order, "
                 "Filter Height Intraline Order, Filter Width Intraline Order, "
                 "Num Filter Interline Order, Channel Interline Order, "
                 "Filter Height Interline Order, Filter Width Interline Order,")


def layout_text(case):
    # layout_utils.load_layout_conv: header line, then per layer the name and
    # 20 ints, trailing comma. It is parsed (never used with custom layouts
    # off). Quirk: for names containing "DP" the loader splits the row into
    # int(column 5) layers (column 5 = "Channel Intraline Factor"), so for
    # depthwise rows we put the channel count there to keep the layout's layer
    # count equal to the topology's.
    lines = [LAYOUT_HEADER]
    for layer in case["layers"]:
        name = layer[0]
        ch_factor = layer[5] if (not case["gemm"] and "DP" in name) else 1
        vals = [1, 1, 1, 1, ch_factor, 1,      # intraline factors
                0, 1, 2, 0, 1, 2,              # ifmap intra/inter orders
                0, 1, 2, 3, 0, 1, 2, 3]        # filter intra/inter orders
        lines.append(name + ", " + ", ".join(str(v) for v in vals) + ",")
    return "\n".join(lines) + "\n"


# Code run in the child process (keeps SCALE-Sim's imports/state isolated and
# lets us run 2 cases in parallel).
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


def run_case(case):
    cdir = os.path.join(CASES_DIR, case["name"])
    if os.path.isdir(cdir):
        shutil.rmtree(cdir)
    os.makedirs(cdir)
    paths = {}
    for fname, text in (("config.cfg", config_text(case)),
                        ("topology.csv", topology_text(case)),
                        ("layout.csv", layout_text(case))):
        paths[fname] = os.path.join(cdir, fname)
        with open(paths[fname], "w") as f:
            f.write(text)

    tmp = tempfile.mkdtemp(prefix="scalesim_" + case["name"] + "_")
    try:
        t0 = time.perf_counter()
        proc = subprocess.run(
            [sys.executable, "-c", CHILD, paths["config.cfg"], paths["topology.csv"],
             paths["layout.csv"], tmp, "1" if case["gemm"] else "0"],
            capture_output=True, text=True, cwd=tmp)
        proc_seconds = time.perf_counter() - t0
        seconds = None
        for line in proc.stdout.splitlines():
            if line.startswith("@@SECONDS@@"):
                seconds = json.loads(line[len("@@SECONDS@@"):])
        if proc.returncode != 0 or seconds is None:
            shutil.rmtree(cdir)
            return case["name"], False, proc.stdout[-2000:] + proc.stderr[-4000:]
        rdir = os.path.join(tmp, case["name"])
        for rep in REPORTS:
            shutil.copy(os.path.join(rdir, rep), os.path.join(cdir, rep))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)

    meta = {
        "gemm": case["gemm"],
        "dataflow": case["dataflow"],
        "rows": case["rows"],
        "cols": case["cols"],
        "seconds": round(seconds, 3),
        "process_seconds": round(proc_seconds, 3),
        "ifmap_sram_kb": case["sram"][0],
        "filter_sram_kb": case["sram"][1],
        "ofmap_sram_kb": case["sram"][2],
        "note": case["note"],
        "scalesim_version": "3.0.0",
    }
    with open(os.path.join(cdir, "case.json"), "w") as f:
        json.dump(meta, f, indent=2)
        f.write("\n")
    return case["name"], True, f"{seconds:.2f}s"


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cases", nargs="*", help="case names to (re)generate (default: all)")
    ap.add_argument("-j", "--jobs", type=int, default=2, help="parallel SCALE-Sim runs")
    args = ap.parse_args()

    cases = build_cases()
    if args.cases:
        wanted = set(args.cases)
        unknown = wanted - {c["name"] for c in cases}
        if unknown:
            sys.exit(f"unknown cases: {sorted(unknown)}")
        cases = [c for c in cases if c["name"] in wanted]
    os.makedirs(CASES_DIR, exist_ok=True)

    t0 = time.perf_counter()
    failed = []
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as ex:
        for name, ok, msg in ex.map(run_case, cases):
            print(f"{'ok  ' if ok else 'FAIL'} {name}: {msg}", flush=True)
            if not ok:
                failed.append(name)
    print(f"total {time.perf_counter() - t0:.1f}s, {len(cases) - len(failed)} ok, "
          f"{len(failed)} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
