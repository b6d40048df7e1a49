"""pysim against ZigZag 3.9.1, layer by layer, on ZigZag's own example accelerators.

ZigZag (KU Leuven, pip package zigzag-dse) runs in its own interpreter: the shipped TPU-like and
Eyeriss-like accelerators (zigzag/inputs/hardware/*.yaml; mappings tpu_like.yaml and
default.yaml), the shipped ResNet-18 (zigzag/inputs/workload/resnet18.onnx) and single layers
(a GEMM, a 3x3 conv, and the weight gradients of a 3x3 and a depthwise 3x3 conv as
``pysim.training`` derives them), through ``zigzag.api.get_hardware_performance_zigzag``
(LOMA search, opt=latency, lpf_limit=6). pysim runs each ZigZag layer as a one-op workload
(no inter-layer reuse, as ZigZag's per-layer evaluation) on configs/validation/zigzag_*.yaml,
which describe the same hardware in pysim's format (their headers list every approximation).
Last, the 3x3 weight gradient on the Eyeriss-like accelerator with its global buffer shrunk
(``SMALL_BUFFERS_KIB``), both tools at least energy: DRAM bytes side by side.

    python -m venv /tmp/zzvenv && /tmp/zzvenv/bin/pip install zigzag-dse==3.9.1 six
    python benchmarks/validate_zigzag.py --zigzag-python /tmp/zzvenv/bin/python [--record]

(zigzag-dse 3.9.1 imports ``six`` without declaring it.) Without ZigZag the ZigZag columns
come from the committed fixtures tests/data/zigzag/*.json (written by ``--record``), marked
"rec". Ratios are pysim / ZigZag. Energy levels: ZigZag's memories named rf_* are compared
with pysim's register_file, sram_* with sram, dram with dram.
"""

from __future__ import annotations

import argparse
import json
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import pysim
from pysim.workload import Workload, workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "zigzag"
CONFIGS = ROOT / "configs" / "validation"
ZIGZAG_VERSION = "3.9.1"

# accelerator -> (ZigZag hardware yaml, ZigZag mapping yaml), relative to zigzag/inputs/
ACCELERATORS = {
    "tpu_like": ("hardware/tpu_like.yaml", "mapping/tpu_like.yaml"),
    "eyeriss_like": ("hardware/eyeriss_like.yaml", "mapping/default.yaml"),
}
PRECISION = {"W": 8, "I": 8, "O": 16, "O_final": 8}  # ZigZag's ONNX defaults
WEIGHT_GRAD = "conv3x3_dW_56x56_c64_k64"
DEPTHWISE_GRAD = "dwconv3x3_dW_56x56_g96"
WEIGHT_GRADS = (WEIGHT_GRAD, DEPTHWISE_GRAD)
SINGLE_LAYERS: dict[str, list[dict[str, Any]]] = {
    "gemm_256x256x256": [{
        "id": 0, "name": "gemm_256x256x256", "operator_type": "Gemm",
        "equation": "O[d][k]+=W[k][c]*I[d][c]", "loop_dims": ["D", "K", "C"],
        "loop_sizes": [256, 256, 256], "operand_precision": PRECISION,
    }],
    "conv3x3_56x56_c64_k128": [{
        "id": 0, "name": "conv3x3_56x56_c64_k128", "operator_type": "Conv",
        "equation": "O[b][g][k][oy][ox]+=W[g][k][c][fy][fx]*I[b][g][c][iy][ix]",
        "dimension_relations": ["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
        "loop_dims": ["B", "K", "G", "OX", "OY", "C", "FX", "FY"],
        "loop_sizes": [1, 128, 1, 56, 56, 64, 3, 3], "operand_precision": PRECISION,
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [56, 56], "padding": [[1, 1], [1, 1]],
    }],
    # a 3x3 convolution's weight gradient (dW = X^T dY, as pysim.training derives it): ZigZag
    # reads X (its I) through the sliding-window relations, pysim's GEMM (M = taps x C, K =
    # positions) its feature map (pysim/mapping/planner.py, _patches_map)
    WEIGHT_GRAD: [{
        "id": 0, "name": WEIGHT_GRAD, "operator_type": "Conv",
        "equation": "O[k][c][fy][fx]+=W[b][k][oy][ox]*I[b][c][iy][ix]",
        "dimension_relations": ["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
        "loop_dims": ["B", "K", "C", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, 64, 64, 56, 56, 3, 3], "operand_precision": PRECISION,
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [56, 56], "padding": [[1, 1], [1, 1]],
    }],
    # ... and a depthwise one's (MobileNetV2's 96-channel 3x3: a GEMM per channel group)
    DEPTHWISE_GRAD: [{
        "id": 0, "name": DEPTHWISE_GRAD, "operator_type": "Conv",
        "equation": "O[g][fy][fx]+=W[b][g][oy][ox]*I[b][g][iy][ix]",
        "dimension_relations": ["ix=1*ox+1*fx", "iy=1*oy+1*fy"],
        "loop_dims": ["B", "G", "OY", "OX", "FY", "FX"],
        "loop_sizes": [1, 96, 56, 56, 3, 3], "operand_precision": PRECISION,
        "pr_loop_dims": ["IX", "IY"], "pr_loop_sizes": [56, 56], "padding": [[1, 1], [1, 1]],
    }],
}
WORKLOADS = ("resnet18", *SINGLE_LAYERS)

CHILD = r"""
import json, os, sys, time, logging
import zigzag
from zigzag.api import get_hardware_performance_zigzag
from zigzag.mapping.data_movement import DataDirection
from zigzag.stages.mapping.spatial_mapping_generation import SpatialMappingGeneratorStage as S
spec = json.loads(sys.argv[1])
inputs = os.path.join(os.path.dirname(zigzag.__file__), "inputs")
search = []
run = S.run
def timed(self):
    t0 = time.perf_counter(); out = list(run(self)); search.append(time.perf_counter() - t0)
    yield from out
S.run = timed
logging.disable(logging.WARNING)
wl = spec["workload"]
wl = wl if isinstance(wl, list) else os.path.join(inputs, wl)
t0 = time.perf_counter()
_, _, out = get_hardware_performance_zigzag(
    wl, os.path.join(inputs, spec["hardware"]), os.path.join(inputs, spec["mapping"]),
    opt=spec.get("opt", "latency"), dump_folder=spec["dump"], loma_show_progress_bar=False)
total = time.perf_counter() - t0
layers = []
cmes = [c for c, _ in out[0][1]]
assert len(cmes) == len(search), (len(cmes), len(search))
for cme, s in zip(cmes, search):
    L, hier = cme.layer, cme.accelerator.memory_hierarchy
    pr = L.pr_layer_dim_sizes
    mem, acc, dram = {}, {}, {"read": 0.0, "write": 0.0}
    for op, energies in cme.mem_energy_breakdown.items():
        mop = cme.memory_operand_links.layer_to_mem_op(op)
        levels = hier.get_memory_levels(mem_op=mop)
        mem[str(op)] = {lv.name: e for lv, e in zip(levels, energies)}
        acc[str(op)] = {lv.name: {d.name: a.get(d) for d in DataDirection}
                        for lv, a in zip(levels, cme.memory_word_access[op])}
        top, a = levels[-1], cme.memory_word_access[op][len(levels) - 1]
        word = top.get_max_bandwidth(mop, DataDirection.RD_OUT_TO_LOW) / 8
        dram["read"] += a.get(DataDirection.RD_OUT_TO_LOW) * word
        dram["write"] += a.get(DataDirection.WR_IN_BY_LOW) * word
    layers.append({
        "name": L.name, "type": L.type,
        "loop_dims": {str(k): int(v) for k, v in L.layer_dim_sizes.data.items()},
        "dimension_relations": [str(r) for r in L.dimension_relations],
        "padding": {str(k): list(v) for k, v in L.padding.data.items()},
        "pr_loop_sizes": {str(k): int(v) for k, v in getattr(pr, "data", {}).items()},
        "precision": {str(k): int(v) for k, v in L.operand_precision.data.items()},
        "macs": int(L.total_mac_count),
        "spatial_mapping": str(cme.spatial_mapping), "temporal_mapping": str(cme.temporal_mapping),
        "cycles": float(cme.latency_total2), "ideal_cycles": float(cme.ideal_cycle),
        "ideal_temporal_cycles": float(cme.ideal_temporal_cycle),
        "stall_slack_cycles": float(cme.stall_slack_comb),
        "onloading_cycles": float(cme.data_onloading_cycle),
        "offloading_cycles": float(cme.data_offloading_cycle),
        "systolic_drain_cycles": float(cme.systolic_drain_cycle),
        "energy_pj": float(cme.energy_total), "mac_energy_pj": float(cme.mac_energy),
        "mem_energy_pj": mem, "word_accesses": acc,
        "dram_read_bytes": dram["read"], "dram_write_bytes": dram["write"],
        "search_s": s,
    })
print("@@RESULT@@" + json.dumps({"total_s": total, "layers": layers}))
"""


def zigzag_live(python: str, accel: str, workload: str, opt: str = "latency",
                global_buffer_kib: int | None = None) -> dict[str, Any]:
    """Run ZigZag in its own interpreter; returns the fixture record. ``global_buffer_kib``:
    the Eyeriss-like accelerator with its sram_1M (input and output) that size."""
    hw, mapping = ACCELERATORS[accel]
    wl: Any = SINGLE_LAYERS.get(workload, "workload/resnet18.onnx")
    with tempfile.TemporaryDirectory(prefix="zigzag_") as tmp:
        spec = {"hardware": hw, "mapping": mapping, "workload": wl, "dump": tmp, "opt": opt}
        if global_buffer_kib is not None:
            spec["hardware"] = str(Path(tmp) / "eyeriss_like_small.yaml")
            Path(spec["hardware"]).write_text(
                small_buffer_yaml(python, hw, global_buffer_kib))
        proc = subprocess.run([python, "-c", CHILD, json.dumps(spec)], capture_output=True,
                              text=True, cwd=tmp, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("@@RESULT@@"):
            out = json.loads(line[len("@@RESULT@@"):])
            break
    else:
        raise RuntimeError(f"ZigZag failed on {accel}/{workload}: {proc.stderr[-3000:]}")
    return {
        "zigzag_version": ZIGZAG_VERSION, "accelerator": f"zigzag/inputs/{hw}" + (
            f" with sram_1M.size {global_buffer_kib} KiB" if global_buffer_kib else ""),
        "mapping": f"zigzag/inputs/{mapping}", "opt": opt,
        "workload": wl if isinstance(wl, str) else f"inline, SINGLE_LAYERS[{workload!r}]",
        "command": "get_hardware_performance_zigzag(workload, accelerator, mapping, "
                   f"opt={opt!r}, loma_show_progress_bar=False) [lpf_limit=6, loma, uneven]; "
                   "via: python benchmarks/validate_zigzag.py --zigzag-python PY --record",
        **out,
    }


def fixture_path(accel: str, workload: str) -> Path:
    return FIXTURES / f"{accel}__{workload}.json"


def _stride(relations: list[str], dim: str) -> int:
    for rel in relations:
        m = re.search(rf"(\d+)\s*\*\s*{dim}\b", rel)
        if m:
            return int(m.group(1))
    return 1


def pysim_op(layer: dict[str, Any]) -> dict[str, Any]:
    """One pysim op with the ZigZag layer's shape (no bias: ZigZag has none)."""
    d, name = layer["loop_dims"], layer["name"]
    if name in WEIGHT_GRADS:  # dW[(g,) k, c, fy, fx] = sum over b, oy, ox of X dY, per group
        ih, iw = layer["pr_loop_sizes"]["IY"], layer["pr_loop_sizes"]["IX"]
        g, c, k = d.get("G", 1), d.get("C", 1), d.get("K", 1)
        return {"name": name, "type": "weight_grad", "inputs": ["in", "dy"],
                "m": d["FY"] * d["FX"] * c, "n": k, "k": d["B"] * d["OY"] * d["OX"],
                "count": g, "x_shape": [d["B"], ih, iw, g * c],
                "dy_shape": [d["B"], d["OY"], d["OX"], g * k],
                "out_bits": layer["precision"].get("O_final", 8)}
    if "OX" not in d:  # Gemm: O[d][k] += I[d][c] W[c][k]
        return {"name": name, "type": "gemm", "inputs": ["in"], "m": d.get("D", 1) * d.get("B", 1),
                "n": d["K"], "k": d["C"]}
    pad = layer["padding"]
    return {"name": name, "type": "conv2d", "inputs": ["in"], "batch": d["B"],
            "in_h": layer["pr_loop_sizes"]["IY"], "in_w": layer["pr_loop_sizes"]["IX"],
            "in_c": d["C"], "out_c": d["K"], "kernel": [d["FY"], d["FX"]],
            "stride": [_stride(layer["dimension_relations"], "OY"),
                       _stride(layer["dimension_relations"], "OX")],
            "padding": [pad.get("IY", [0])[0], pad.get("IX", [0])[0]], "groups": d["G"]}


def one_op_workload(op: dict[str, Any]) -> Workload:
    if op["type"] == "weight_grad":  # a training op: not in the YAML registry
        from pysim.training.ops import WeightGrad
        from pysim.workload import Tensor

        fields = {k: v for k, v in op.items() if k not in ("type", "inputs")}
        dw = WeightGrad(output=op["name"], inputs=tuple(op["inputs"]), act_bits=8, dtype="int",
                        **fields)
        return Workload(name=op["name"], ops=(dw,), inputs=tuple(
            Tensor(name=t, shape=tuple(shape), bits=8)
            for t, shape in zip(op["inputs"], (op["x_shape"], op["dy_shape"]), strict=True)))
    if op["type"] == "gemm":
        shape = [op["m"], op["k"]]
    else:
        shape = [op["batch"], op["in_h"], op["in_w"], op["in_c"]]
    return workload_from_dict({"name": op["name"], "inputs": [{"name": "in", "shape": shape}],
                               "ops": [op]})


def zoo_name(zigzag_name: str) -> str:
    """'/layer2/layer2.0/downsample/downsample.0/Conv' -> 'layer2.0.downsample'."""
    parts = zigzag_name.strip("/").split("/")
    return ".".join(parts[1:3]) if len(parts) > 2 else parts[0]


def check_zoo_shapes(layers: list[dict[str, Any]]) -> list[str]:
    """Differences between ZigZag's ResNet-18 layers and pysim.zoo's, by layer name."""
    zoo = {op.name: op for op in pysim.zoo.load("resnet18").ops}
    problems = []
    for layer in layers:
        ours = pysim_op(layer)
        ref = zoo.get(zoo_name(layer["name"]))
        if ref is None:
            problems.append(f"{layer['name']}: no zoo op {zoo_name(layer['name'])}")
            continue
        view = one_op_workload(ours).ops[0].gemm_view()
        if (view, ref.macs) != (ref.gemm_view(), layer["macs"]):
            problems.append(f"{layer['name']}: ZigZag {view} / {layer['macs']} MACs, zoo "
                            f"{ref.gemm_view()} / {ref.macs} MACs")
    return problems


def run_pysim(hw: Any, layer: dict[str, Any], repeat: int) -> tuple[Any, float]:
    wl = one_op_workload(pysim_op(layer))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        res = pysim.simulate(hw, wl)
        times.append(time.perf_counter() - t0)
    return res, statistics.median(times)


def zigzag_levels(layer: dict[str, Any]) -> dict[str, float]:
    """ZigZag energy (pJ) grouped as pysim's components."""
    out = {"mac": layer["mac_energy_pj"], "register_file": 0.0, "sram": 0.0, "dram": 0.0}
    for per_level in layer["mem_energy_pj"].values():
        for level, pj in per_level.items():
            kind = ("register_file" if level.startswith("rf") else
                    "dram" if level.startswith("dram") else "sram")
            out[kind] += pj
    return out


def _ratio(a: float, b: float) -> str:
    return f"{a / b:.2f}" if b else "n/a"


COLS = (f"{'layer':<34} {'ZZ cyc':>10} {'pysim cyc':>10} {'r':>5} {'ZZ uJ':>8} {'pysim uJ':>8} "
        f"{'r':>5} {'rf r':>5} {'sram r':>6} {'dram r':>6} {'ZZ KB':>8} {'pysim KB':>8} {'r':>5} "
        f"{'ZZ s':>7} {'pysim ms':>8}")


def report(accel: str, workload: str, rec: dict[str, Any], tag: str, repeat: int) -> None:
    hw = pysim.load_hardware(CONFIGS / f"zigzag_{accel}.yaml")
    print(f"\n== {accel} / {workload}: ZigZag {rec['zigzag_version']}{tag}, "
          f"{rec['accelerator']}, {rec['mapping']}")
    if workload == "resnet18":
        problems = check_zoo_shapes(rec["layers"])
        print("layer shapes vs pysim.zoo resnet18: " + (
            "all {} match (GEMM view and MACs)".format(len(rec["layers"])) if not problems
            else "; ".join(problems)))
    print(COLS)
    print("-" * len(COLS))
    tot: dict[str, float] = dict.fromkeys(
        ("zc", "pc", "ze", "pe", "zd", "pd", "zs", "ps"), 0.0)
    lv_z = dict.fromkeys(("mac", "register_file", "sram", "dram"), 0.0)
    lv_p = dict(lv_z)
    for layer in rec["layers"]:
        res, secs = run_pysim(hw, layer, repeat)
        row = res.layers.iloc[0]
        zl = zigzag_levels(layer)
        pl = {k: row[f"{k}_j"] * 1e12 for k in lv_z}
        zd = layer["dram_read_bytes"] + layer["dram_write_bytes"]
        pd_ = res.dram_read_bytes + res.dram_write_bytes
        vals = (layer["cycles"], res.latency_cycles, layer["energy_pj"], res.energy_j * 1e12,
                zd, pd_, layer["search_s"], secs)
        for key, v in zip(tot, vals, strict=True):
            tot[key] += v
        for k in lv_z:
            lv_z[k] += zl[k]
            lv_p[k] += pl[k]
        _row(zoo_name(layer["name"]), vals, zl, pl, tag)
    print("-" * len(COLS))
    _row("TOTAL", tuple(tot.values()), lv_z, lv_p, tag)
    print("energy by level, uJ (ZigZag / pysim / ratio): " + ", ".join(
        f"{k} {lv_z[k] / 1e6:.2f} / {lv_p[k] / 1e6:.2f} / {_ratio(lv_p[k], lv_z[k])}"
        for k in lv_z))
    if len(rec["layers"]) > 1:
        a = agreement(accel, rec)
        print(f"pysim / ZigZag: cycles {a['cycles']:.3f} ({a['cycles_without_degenerate']:.3f} "
              f"without {', '.join(DEGENERATE)}), energy {a['energy']:.3f}; per-layer median: "
              f"cycles {a['median_layer_cycles']:.3f}, energy {a['median_layer_energy']:.3f} "
              "(targets: cycles and per-layer median within 10 %, energy within 15 %)")


# Layers where ZigZag's fixed spatial mapping is degenerate: the stem conv (C = 3 input
# channels) unrolls only C over the 32 (TPU-like) / 12 (Eyeriss-like) reduction PEs, so
# ZigZag keeps 3 of them busy where pysim's im2col spreads C x FX x FY = 147 terms over all
# rows (docs/validation.md).
DEGENERATE = ("conv1",)


def agreement(accel: str, rec: dict[str, Any]) -> dict[str, float]:
    """pysim / ZigZag over a fixture's layers: total cycles and energy, total cycles without
    the degenerate layers, and the median per-layer cycle and energy ratios."""
    hw = pysim.load_hardware(CONFIGS / f"zigzag_{accel}.yaml")
    rows = []
    for layer in rec["layers"]:
        res = pysim.simulate(hw, one_op_workload(pysim_op(layer)))
        rows.append((zoo_name(layer["name"]), layer["cycles"], res.latency_cycles,
                     layer["energy_pj"], res.energy_j * 1e12))
    kept = [r for r in rows if r[0] not in DEGENERATE]
    return {
        "cycles": sum(r[2] for r in rows) / sum(r[1] for r in rows),
        "cycles_without_degenerate": sum(r[2] for r in kept) / sum(r[1] for r in kept),
        "energy": sum(r[4] for r in rows) / sum(r[3] for r in rows),
        "median_layer_cycles": statistics.median(r[2] / r[1] for r in rows),
        "median_layer_energy": statistics.median(r[4] / r[3] for r in rows),
    }


def _row(name: str, v: tuple[float, ...], zl: dict[str, float], pl: dict[str, float],
         tag: str) -> None:
    zc, pc, ze, pe, zd, pd_, zs, ps = v
    lv = " ".join(f"{_ratio(pl[k], zl[k]):>{w}}" for k, w in
                  (("register_file", 5), ("sram", 6), ("dram", 6)))
    print(f"{name[:34]:<34} {zc:>10,.0f} {pc:>10,.0f} {_ratio(pc, zc):>5} {ze / 1e6:>8.2f} "
          f"{pe / 1e6:>8.2f} {_ratio(pe, ze):>5} {lv} {zd / 1e3:>8.1f} {pd_ / 1e3:>8.1f} "
          f"{_ratio(pd_, zd):>5} {zs:>7.2f}{tag[1:2] or ' '} {ps * 1e3:>8.1f}")


# The 3x3 convolution's weight gradient on the Eyeriss-like accelerator with its global buffer
# (sram_1M: input and output) shrunk until pysim's dW row tile is narrower than M = taps x C,
# the channel-major rows (pysim/mapping/planner.py, _patches_map). Both tools minimise energy
# (DRAM dominates it), so each one's DRAM bytes are its least-energy mapping's. ZigZag counts
# DRAM in its 64-bit port's words, with no data layout; pysim reads NHWC tensors in DRAM
# bursts (64 B on the config's DDR4: a slice of an int8 pixel's 64 channels costs the whole
# pixel), so it runs twice: layout-free (8-byte bursts, the port's words) and as configured.
SMALL_BUFFERS_KIB = (128, 64, 32)


def small_buffer_yaml(python: str, hw: str, kib: int) -> str:
    """ZigZag's shipped ``hw`` (its inputs folder, found by ``python``) with sram_1M's size
    set to ``kib`` KiB (ZigZag sizes are bits)."""
    import yaml

    where = subprocess.run([python, "-c", "import zigzag, os; print(os.path.dirname("
                            "zigzag.__file__))"], capture_output=True, text=True, check=True)
    spec = yaml.safe_load((Path(where.stdout.strip()) / "inputs" / hw).read_text())
    spec["memories"]["sram_1M"]["size"] = kib * 1024 * 8
    spec["name"] = f"{spec['name']}_gb{kib}k"
    return str(yaml.safe_dump(spec, sort_keys=False))


def small_buffer_fixture(kib: int) -> Path:
    return FIXTURES / f"eyeriss_like__{WEIGHT_GRAD}_gb{kib}k_energy.json"


def small_buffer_pysim(kib: int, burst_bytes: int | None) -> Any:
    """pysim's run of the weight gradient on zigzag_eyeriss_like with sram_1M ``kib`` KiB (in
    whole 48-byte words), least energy, DRAM bursts of ``burst_bytes`` (None: the config's)."""
    layer = json.loads(fixture_path("eyeriss_like", WEIGHT_GRAD).read_text())["layers"][0]
    hw = pysim.load_hardware(CONFIGS / "zigzag_eyeriss_like.yaml").with_overrides({
        "scratchpads.0.size_kib": f"{kib * 1024 // 48 * 48} B", "mapper.objective": "energy",
        **({"dram.burst_bytes": burst_bytes} if burst_bytes else {})})
    return pysim.simulate(hw, one_op_workload(pysim_op(layer)))


def zigzag_dram(layer: dict[str, Any]) -> tuple[float, float, float, float]:
    """ZigZag's DRAM bytes: X read (its I), dY read (its W), dW's partial sums read back, and
    everything read and written."""
    acc = layer["word_accesses"]
    x, dy, dw = (acc[op]["dram"]["RD_OUT_TO_LOW"] * 8 for op in ("I", "W", "O"))
    return x, dy, dw, layer["dram_read_bytes"] + layer["dram_write_bytes"]


def pysim_dram(res: Any, name: str) -> tuple[float, float, float, float]:
    """pysim's, the same four."""
    reads = res.tensors.set_index("tensor")["dram_read_bytes"]
    return (float(reads.get("in", 0)), float(reads.get("dy", 0)), float(reads.get(name, 0)),
            float(res.dram_read_bytes + res.dram_write_bytes))


def small_buffer_report(records: dict[int, tuple[dict[str, Any], str]]) -> None:
    print(f"\n== eyeriss_like / {WEIGHT_GRAD}, sram_1M shrunk (both: least energy): DRAM KB "
          "read and written (X / dY / dW partial sums read); ratios pysim / ZigZag")
    cols = (f"{'sram_1M':>8} {'ZigZag':>22} {'pysim, 8-B words':>22} {'r':>5} "
            f"{'pysim, 64-B bursts':>22} {'r':>5}  {'pysim tile (64-B)':<21} ZZ uJ  "
            "pysim uJ (8-B)")
    print(cols)
    print("-" * len(cols))

    def cell(x: float, dy: float, dw: float, total: float) -> str:
        return f"{total / 1e3:>6.0f} ({x / 1e3:.0f}/{dy / 1e3:.0f}/{dw / 1e3:.0f})"

    for kib, (rec, tag) in records.items():
        z = zigzag_dram(rec["layers"][0])
        runs = {b: small_buffer_pysim(kib, b) for b in (8, None)}
        p8, p64 = (pysim_dram(runs[b], WEIGHT_GRAD) for b in (8, None))
        tile = runs[None].layers.iloc[0].tiling.split(" tile ")[1]
        print(f"{kib:>6}Ki {cell(*z):>22} {cell(*p8):>22} {_ratio(p8[3], z[3]):>5} "
              f"{cell(*p64):>22} {_ratio(p64[3], z[3]):>5}  {tile:<21} "
              f"{rec['layers'][0]['energy_pj'] / 1e6:>6.1f}{tag[1:2] or ' '} "
              f"{runs[8].energy_j * 1e6:>8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--zigzag-python", help="interpreter of a virtualenv with zigzag-dse")
    parser.add_argument("--record", action="store_true",
                        help="with --zigzag-python: write the results as the fixtures")
    parser.add_argument("--accelerators", nargs="+", choices=list(ACCELERATORS),
                        default=list(ACCELERATORS))
    parser.add_argument("--workloads", nargs="+", choices=WORKLOADS, default=list(WORKLOADS))
    parser.add_argument("--repeat", type=int, default=3, help="pysim timing repetitions")
    args = parser.parse_args()
    if args.zigzag_python and not Path(args.zigzag_python).exists():
        sys.exit(f"--zigzag-python: {args.zigzag_python} does not exist")
    print("ratios are pysim / ZigZag; cycles are ZigZag latency_total2; 'r' after ZZ s: "
          "recorded fixture")
    for accel in args.accelerators:
        for workload in args.workloads:
            if args.zigzag_python:
                rec, tag = zigzag_live(args.zigzag_python, accel, workload), ""
                if args.record:
                    FIXTURES.mkdir(parents=True, exist_ok=True)
                    fixture_path(accel, workload).write_text(json.dumps(rec, indent=1) + "\n")
            else:
                path = fixture_path(accel, workload)
                if not path.exists():
                    print(f"\n== {accel} / {workload}: no fixture {path}; run with "
                          "--zigzag-python")
                    continue
                rec, tag = json.loads(path.read_text()), " rec"
            report(accel, workload, rec, tag, args.repeat)
    if "eyeriss_like" in args.accelerators and WEIGHT_GRAD in args.workloads:
        small: dict[int, tuple[dict[str, Any], str]] = {}
        for kib in SMALL_BUFFERS_KIB:
            if args.zigzag_python:
                rec = zigzag_live(args.zigzag_python, "eyeriss_like", WEIGHT_GRAD, "energy", kib)
                small[kib] = (rec, "")
                if args.record:
                    small_buffer_fixture(kib).write_text(json.dumps(rec, indent=1) + "\n")
            elif small_buffer_fixture(kib).exists():
                small[kib] = (json.loads(small_buffer_fixture(kib).read_text()), " rec")
        if small:
            small_buffer_report(small)


if __name__ == "__main__":
    main()
