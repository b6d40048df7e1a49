"""pysim against published silicon: Google TPU v1 and Eyeriss v1, side by side with ratios.

    python benchmarks/validate_silicon.py            # both chips
    python benchmarks/validate_silicon.py --chip tpu_v1
    python benchmarks/validate_silicon.py --chip eyeriss

Published figures are fixtures, each with its source (paper, table / figure, page):

- tests/data/silicon/tpu_v1.yaml: N. P. Jouppi et al., "In-Datacenter Performance Analysis of
  a Tensor Processing Unit", ISCA 2017 (peak 92 TOPS, 34 GB/s weight DRAM, the roofline of
  Figure 5, the six applications of Table 1 and their measured TOPS from Table 3).
- tests/data/silicon/eyeriss_v1.yaml: Y.-H. Chen et al., "Eyeriss: An Energy-Efficient
  Reconfigurable Accelerator for Deep Convolutional Neural Networks", IEEE JSSC 52(1), 2017,
  and ISSCC 2016 paper 14.5 (AlexNet CONV1-CONV5, batch 4: 34.7 frames/s, 278 mW, and the
  per-layer table).

pysim runs configs/tpu_v1.yaml and configs/eyeriss.yaml. The TPU sections are compute-bound
int8 GEMMs (16384 x 2048 x 2048 and 16384 x 4096 x 4096), a roofline sweep of int8 GEMMs over
the batch (operational intensity), and the six applications. The paper gives no layer shapes, so the
applications are *representative* stacks built from Table 1's layer counts, weight totals and
batch sizes (labelled as such; CNN1 is not modelled). Eyeriss runs workloads/alexnet_conv.yaml
(AlexNet's exact conv shapes, grouped CONV2 / CONV4 / CONV5, 16-bit, batch 4).

Ratios are pysim / paper. Nothing here asserts that pysim meets the figures: the script only
reports (tests/test_silicon_fixtures.py checks the fixtures and that ``main`` runs). Runs in a
few seconds.

The paper's roofline intensity ("TPU ops / weight byte", Table 1 and Figure 5) counts one
operation per MAC (for an MLP it equals the batch size), while TOPS counts two per MAC; the
roofline is therefore min(92, 2 x 34 GB/s x intensity), with its ridge at 92 / 0.068 = 1353.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

import pysim
from pysim.energy import ON_CHIP, RUN_COMPONENTS, overhead_pj
from pysim.workload import Workload, workload_from_dict
from pysim.workload.sparsity import Sparsity

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "tests" / "data" / "silicon"
TPU_FIXTURE = FIXTURES / "tpu_v1.yaml"
EYERISS_FIXTURE = FIXTURES / "eyeriss_v1.yaml"
TPU_CONFIG = ROOT / "configs" / "tpu_v1.yaml"
EYERISS_CONFIG = ROOT / "configs" / "eyeriss.yaml"
ALEXNET = ROOT / "workloads" / "alexnet_conv.yaml"

# m, n, k: the brief's GEMM, and one whose compulsory DRAM traffic leaves room for peak
COMPUTE_BOUND_GEMMS = ((16384, 2048, 2048), (16384, 4096, 4096))
COMPUTE_BOUND_TARGET = 0.85  # of peak (reported, not asserted)
SWEEP_NK = 2048  # roofline sweep: C[M, 2048] = A[M, 2048] x W[2048, 2048], int8
SWEEP_BATCHES = (16, 64, 128, 200, 512, 1024, 1350, 2048, 4096, 8192)


def load_fixture(path: Path) -> dict[str, Any]:
    """One chip's published figures (a YAML mapping)."""
    with open(path, encoding="utf-8") as f:
        data = yaml.safe_load(f)
    if not isinstance(data, dict):
        raise ValueError(f"{path}: expected a mapping at the top level")
    return data


def roofline_tops(peak_tops: float, bandwidth_gb_per_s: float, intensity: float) -> float:
    """The paper's roofline: ``intensity`` in MACs per weight byte, two ops per MAC."""
    return min(peak_tops, 2.0 * bandwidth_gb_per_s * intensity / 1000.0)


# -- formatting --------------------------------------------------------------------------------


def ratio(model: float | None, paper: float | None) -> str:
    """pysim / paper as 'x.xx', or '-' when either is missing or the paper's is zero."""
    if model is None or paper is None or paper == 0:
        return "-"
    return f"{model / paper:.2f}"


def fmt(value: float | int | str | None, digits: int = 1) -> str:
    if value is None:
        return "-"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return f"{value:,}"
    return f"{value:,.{digits}f}"


def table(title: str, headers: Sequence[str], rows: Sequence[Sequence[str]],
          notes: Sequence[str] = (), left: Sequence[int] = (0,)) -> str:
    """A plain text table: the ``left`` columns (default the first) left-aligned, the others
    right-aligned; ``notes`` are printed under it."""
    widths = [max(len(h), *(len(r[i]) for r in rows)) if rows else len(h)
              for i, h in enumerate(headers)]

    def line(cells: Sequence[str]) -> str:
        return "  ".join(c.ljust(w) if i in left else c.rjust(w)
                         for i, (c, w) in enumerate(zip(cells, widths, strict=True))).rstrip()

    out = [title, "=" * len(title), line(headers), line(["-" * w for w in widths])]
    out += [line(r) for r in rows]
    out += [f"  {n}" for n in notes]
    return "\n".join(out) + "\n"


# -- TPU v1 ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Run:
    """What the tables need from one pysim run."""

    macs: int
    latency_s: float
    dram_bytes: int
    compulsory_bytes: int
    compute_cycles: float
    cycles: float
    tiling: str

    @property
    def tops(self) -> float:
        return 2.0 * self.macs / self.latency_s / 1e12


def run(hw: Any, wl: Workload) -> Run:
    r = pysim.simulate(hw, wl)
    layers = r.layers
    return Run(
        macs=int(r.macs),
        latency_s=float(r.latency_s),
        dram_bytes=int(r.dram_read_bytes + r.dram_write_bytes),
        compulsory_bytes=int(r.compulsory_dram_bytes),
        compute_cycles=float(layers["compute_cycles"].sum()),
        cycles=float(r.latency_cycles),
        tiling="; ".join(dict.fromkeys(str(t) for t in layers["tiling"] if t)),
    )


# Compute-bound GEMMs as the TPU runs them: layers of an MLP whose activations stay in the
# 24 MiB Unified Buffer (the paper's roofline counts weight bytes only). (batch, width, layers)
RESIDENT_MLPS = ((2048, 2048, 6), (1024, 2048, 6), (2048, 1024, 6))


def resident_layers_tops(hw: Any, batch: int, width: int, layers: int) -> tuple[float, str]:
    """TOPS of an MLP's middle layers (inputs produced on chip, outputs consumed on chip),
    from the first middle layer's start to the last one's end; and their resident inputs."""
    r = pysim.simulate(hw, fc_stack("mlp", batch, [width] * (layers + 1)))
    mid = r.layers.iloc[1:-1]
    seconds = (mid["end_cycle"].max() - mid["start_cycle"].min()) / hw.clock_hz
    resident = ",".join(t for t in mid["resident_inputs"] if t) or "none"
    return 2.0 * float(mid["macs"].sum()) / seconds / 1e12, resident


def gemm(m: int, n: int, k: int) -> Workload:
    return pysim.zoo.load("gemm", m=m, n=n, k=k, bits=8)


def fc_stack(name: str, batch: int, widths: Sequence[int]) -> Workload:
    """Chained int8 FC layers: widths[i] -> widths[i + 1], batch rows."""
    ops = []
    prev = "x"
    for i, (k, n) in enumerate(zip(widths[:-1], widths[1:], strict=False)):
        ops.append({"name": f"fc{i}", "type": "gemm", "inputs": [prev], "m": batch, "n": n,
                    "k": k})
        prev = f"fc{i}"
    return workload_from_dict({"name": name, "inputs": [
        {"name": "x", "shape": [batch, widths[0]], "bits": 8}], "ops": ops})


def conv_stack(name: str, batch: int, hw_size: int, channels: int, layers: int) -> Workload:
    """Chained int8 3x3 'same' convolutions on hw_size x hw_size maps."""
    ops = []
    prev = "x"
    for i in range(layers):
        ops.append({"name": f"conv{i}", "type": "conv2d", "inputs": [prev], "batch": batch,
                    "in_h": hw_size, "in_w": hw_size, "in_c": channels, "out_c": channels,
                    "kernel": 3, "padding": 1})
        prev = f"conv{i}"
    return workload_from_dict({"name": name, "inputs": [
        {"name": "x", "shape": [batch, hw_size, hw_size, channels], "bits": 8}], "ops": ops})


# Representative stacks for Table 1's applications (the paper gives no layer shapes): the
# layer count, total weights and batch are the paper's; the layers are square.
def tpu_applications() -> dict[str, tuple[Workload, str]]:
    """name -> (workload, how it was built)."""
    return {
        "MLP0": (fc_stack("mlp0", 200, [2000] * 6),
                 "representative: 5 FC 2000x2000 (20.0 M weights), batch 200"),
        "MLP1": (fc_stack("mlp1", 168, [1120] * 5),
                 "representative: 4 FC 1120x1120 (5.0 M weights), batch 168"),
        "LSTM0": (fc_stack("lstm0", 64, [1472] * 25),
                  "representative: 24 FC 1472x1472 (52.0 M weights), batch 64; "
                  "34 vector layers and recurrence omitted"),
        "LSTM1": (fc_stack("lstm1", 96, [960] * 38),
                  "representative: 37 FC 960x960 (34.1 M weights), batch 96; "
                  "19 vector layers and recurrence omitted"),
        "CNN0": (conv_stack("cnn0", 8, 19, 236, 16),
                 "representative: 16 conv 3x3 236->236 on 19x19 (8.0 M weights), batch 8; "
                 "19x19 inferred from 2888 / 8 = 361"),
    }


def tpu_report(fx: dict[str, Any]) -> str:
    hw = pysim.load_hardware(TPU_CONFIG)
    peak = float(fx["peak"]["tops"])
    bw = float(fx["memory"]["weight_dram_gb_per_s"])
    unit = hw.units[0]
    model_peak = 2.0 * unit.rows * unit.cols * hw.clock_ghz * 1e9 / 1e12
    model_bw = float(hw.dram.peak_bandwidth_gb_per_s)
    ridge = float(fx["roofline"]["ridge_ops_per_weight_byte"])
    out = []

    rows = [
        ["peak int8 TOPS", fmt(peak), fmt(model_peak, 2), ratio(model_peak, peak)],
        ["MACs", fmt(int(fx["peak"]["macs"])), fmt(unit.rows * unit.cols),
         ratio(unit.rows * unit.cols, fx["peak"]["macs"])],
        ["clock (MHz)", fmt(int(fx["peak"]["clock_mhz"])), fmt(hw.clock_ghz * 1000, 0),
         ratio(hw.clock_ghz * 1000, fx["peak"]["clock_mhz"])],
        ["weight DRAM (GB/s)", fmt(bw), fmt(model_bw, 2), ratio(model_bw, bw)],
        ["ridge (MAC / weight B)", fmt(ridge, 0), fmt(model_peak / (2 * model_bw) * 1000, 0),
         ratio(model_peak / (2 * model_bw) * 1000, ridge)],
    ]
    out.append(table("TPU v1: configuration vs paper (configs/tpu_v1.yaml)",
                     ["figure", "paper", "pysim", "ratio"], rows,
                     [f"source: {fx['peak']['source']}", f"source: {fx['roofline']['source']}"]))

    rows = []
    notes = []
    for m, n, k in COMPUTE_BOUND_GEMMS:
        g = run(hw, gemm(m, n, k))
        ideal = g.macs / (unit.rows * unit.cols)
        target = peak * COMPUTE_BOUND_TARGET
        # What 34 GB/s allows if pysim moved only the compulsory bytes (A, W, C once each).
        dram_bound = min(peak, 2.0 * g.macs * model_bw / g.compulsory_bytes / 1000.0)
        rows.append([f"{m} x {n} x {k}", fmt(target), fmt(g.tops, 2), fmt(100 * g.tops / peak),
                     ratio(g.tops, target), fmt(g.latency_s * 1e3, 3),
                     fmt(g.compute_cycles / ideal, 2), fmt(g.dram_bytes / 1e6, 1),
                     fmt(g.compulsory_bytes / 1e6, 1), fmt(dram_bound, 1),
                     g.tiling.split(" tile ")[-1]])
    notes += [
        "target: >= 85% of the 92 TOPS peak (reported, not asserted); ratio = pysim / target",
        "array x ideal: pysim's array cycles / (MACs / 65536)",
        "compulsory roof: min(92, 2 x MACs x 34 GB/s / compulsory bytes): pysim moves A, W "
        "and C through DRAM, so for 2048 x 2048 layers even compulsory traffic caps the "
        "GEMM below 85%; the 4096 x 4096 row is the same check with room to reach it",
    ]
    out.append(table(
        "TPU v1: compute-bound int8 GEMMs (target >= 85% of peak)",
        ["GEMM m x n x k", "target TOPS", "pysim TOPS", "% peak", "ratio", "ms",
         "array x ideal", "DRAM MB", "compulsory MB", "compulsory roof", "pysim tile / order"],
        rows, notes, left=(0, 10)))

    rows = []
    for batch, width, layers in RESIDENT_MLPS:
        tops, resident = resident_layers_tops(hw, batch, width, layers)
        roof = roofline_tops(peak, bw, float(batch))
        rows.append([f"{batch} x {width} x {width}, {layers} layers", fmt(batch, 0),
                     fmt(roof, 1), fmt(tops, 2), fmt(100 * tops / peak), ratio(tops, roof),
                     resident])
    out.append(table(
        "TPU v1: GEMMs with activations in the Unified Buffer (target: >= 85% of peak when "
        "compute-bound)",
        ["MLP layer m x n x k", "MAC/wB", "roof TOPS", "pysim TOPS", "% peak", "vs roof",
         "inputs found on chip"], rows, left=(0, 6),
        notes=["the middle layers of an int8 MLP: their inputs are produced on chip and kept in "
               "the Unified Buffer (pysim's inter-layer reuse), weights stream from DRAM, as "
               "in the paper's applications; TOPS from the first middle layer's start to the "
               "last one's end",
               "activations larger than a quarter of the Unified Buffer (6 MiB) are not kept "
               "(pysim's fixed reuse budget, issue 13), so batch 4096 x 2048 falls back to DRAM"]))

    rows = []
    for batch in SWEEP_BATCHES:
        r = run(hw, gemm(batch, SWEEP_NK, SWEEP_NK))
        intensity = float(batch)  # MACs per weight byte: m n k / (n k)
        roof = roofline_tops(peak, bw, intensity)
        traffic_roof = min(peak, 2.0 * r.macs * bw / r.dram_bytes / 1000.0)
        rows.append([fmt(batch), fmt(intensity, 0), fmt(roof, 2), fmt(r.tops, 2),
                     ratio(r.tops, roof), fmt(r.dram_bytes / 1e6, 1), fmt(traffic_roof, 2),
                     ratio(r.tops, traffic_roof), r.tiling.split(" tile ")[-1]])
    out.append(table(
        f"TPU v1: roofline sweep, int8 GEMM M x {SWEEP_NK} x {SWEEP_NK} (M = batch)",
        ["batch M", "MAC/wB", "roof TOPS", "pysim TOPS", "ratio", "DRAM MB", "traffic roof",
         "ratio", "pysim tile / order"], rows, left=(0, 8),
        notes=["roof: min(92, 2 x 34 GB/s x MACs per weight byte), the paper's Figure 5 roofline "
         "(weights only cross DRAM)",
         "traffic roof: min(92, 2 x MACs x 34 GB/s / pysim's DRAM bytes): the roofline for "
         "the bytes pysim actually moves (A, W and C)",
         "shapes: representative (a 2048 x 2048 int8 layer), not from the paper"]))

    rows = []
    apps = tpu_applications()
    for app in fx["applications"]:
        name = app["name"]
        roof = roofline_tops(peak, bw, float(app["ops_per_weight_byte"]))
        built = apps.get(name)
        if built is None:
            rows.append([name, fmt(int(app["batch"])), fmt(int(app["ops_per_weight_byte"])),
                         fmt(float(app["measured_tops"])), fmt(roof), "-", "-", "-", "-",
                         "not modelled: no shapes in the paper (4 FC, 72 conv, 13 pool)"])
            continue
        wl, note = built
        r = run(hw, wl)
        wbytes = wl.weight_bytes
        rows.append([name, fmt(int(app["batch"])), fmt(int(app["ops_per_weight_byte"])),
                     fmt(float(app["measured_tops"])), fmt(roof), fmt(r.macs / wbytes, 0),
                     fmt(r.tops, 2), ratio(r.tops, float(app["measured_tops"])),
                     ratio(r.tops, roof), note])
    out.append(table(
        "TPU v1: the six applications (Table 1, Table 3, Figure 5) vs representative pysim "
        "stacks",
        ["app", "batch", "MAC/wB", "paper TOPS", "roof", "pysim MAC/wB", "pysim TOPS",
         "vs paper", "vs roof", "pysim workload"], rows, left=(0, 9),
        notes=[f"source: {fx['applications_source']}",
         f"paper mean of the six: {fx['mean_measured_tops']} TOPS"]))
    return "\n".join(out)


# -- Eyeriss v1 --------------------------------------------------------------------------------


# Eyeriss's run-length code: 5-bit runs of zeros before each 16-bit value (three pairs per
# 64-bit word, JSSC 2017 Sec. V-A).
RLC_RUN_BITS = 5


def alexnet_with_measured_zeros(wl: Workload, layers: Sequence[dict[str, Any]]) -> Workload:
    """AlexNet's conv layers with the paper's measured ifmap zeros: each layer reads its ifmap
    at that density and writes its ofmap at the next layer's (exact through CONV3 -> CONV4 ->
    CONV5, which no pooling separates; after CONV1 and CONV2 a max pool only removes zeros, so
    the next layer's ifmap density is an upper bound on the ofmap's); CONV5's ofmap, whose
    zeros the paper does not give, is written dense."""
    def rle(zeros_pct: float) -> Sparsity:
        return Sparsity(density=1.0 - zeros_pct / 100.0, format="rle", run_bits=RLC_RUN_BITS)

    zeros = {lay["name"]: float(lay["ifmap_zeros_pct"]) for lay in layers}
    names = [lay["name"] for lay in layers]
    after = dict(zip(names, names[1:], strict=False))
    ops = tuple(op.model_copy(update={
        "act_sparsity": rle(zeros[op.name]),
        "out_sparsity": rle(zeros[after[op.name]]) if op.name in after else None})
        if op.name in zeros else op for op in wl.ops)
    return Workload(name=wl.name, ops=ops, inputs=wl.inputs)


def eyeriss_report(fx: dict[str, Any]) -> str:
    hw = pysim.load_hardware(EYERISS_CONFIG)
    wl = alexnet_with_measured_zeros(pysim.load_workload(ALEXNET), fx["alexnet"]["layers"])
    r = pysim.simulate(hw, wl)
    ax = fx["alexnet"]
    spec = fx["chip_spec"]
    clock_hz = hw.clock_ghz * 1e9
    unit = hw.units[0]
    pes = unit.rows * unit.cols
    chip_j = r.energy_j - r.energy_breakdown_j.get("dram", 0.0)
    dram_mb = (r.dram_read_bytes + r.dram_write_bytes) / 1e6
    glb_mb = sum(r.level_bytes.get("global_buffer", {}).values()) / 1e6
    batch = int(ax["batch"])
    out = []

    fps = batch / r.latency_s
    paper_mj = ax["power_mw"] * ax["total_latency_ms"] / 1e3  # derived: P x t
    rows = [
        ["PEs", fmt(int(spec["pes"])), fmt(pes), ratio(pes, spec["pes"])],
        ["clock (MHz)", fmt(int(spec["clock_mhz"])), fmt(hw.clock_ghz * 1000, 0),
         ratio(hw.clock_ghz * 1000, spec["clock_mhz"])],
        ["frames/s (batch 4)", fmt(ax["frames_per_s"]), fmt(fps), ratio(fps, ax["frames_per_s"])],
        ["latency, 4 frames (ms)", fmt(ax["total_latency_ms"]), fmt(r.latency_s * 1e3),
         ratio(r.latency_s * 1e3, ax["total_latency_ms"])],
        ["MACs (M)", fmt(int(ax["total_macs_m"])), fmt(r.macs / 1e6, 0),
         ratio(r.macs / 1e6, ax["total_macs_m"])],
        ["chip power (mW)", fmt(int(ax["power_mw"])), fmt(chip_j / r.latency_s * 1e3),
         ratio(chip_j / r.latency_s * 1e3, ax["power_mw"])],
        ["chip energy, 4 frames (mJ)", fmt(paper_mj, 2), fmt(chip_j * 1e3, 2),
         ratio(chip_j * 1e3, paper_mj)],
        ["power incl. DRAM (mW)", "-", fmt(r.energy_j / r.latency_s * 1e3), "-"],
        ["DRAM (MB)", fmt(ax["total_dram_mb"]), fmt(dram_mb), ratio(dram_mb, ax["total_dram_mb"])],
        ["global buffer accesses (MB)", fmt(ax["total_glb_mb"]), fmt(glb_mb),
         ratio(glb_mb, ax["total_glb_mb"])],
        ["DRAM access / MAC", fmt(ax["dram_accesses_per_mac"], 4),
         fmt(dram_mb * 1e6 / 2 / r.macs, 4),
         ratio(dram_mb * 1e6 / 2 / r.macs, ax["dram_accesses_per_mac"])],
    ]
    out.append(table(
        "Eyeriss v1: AlexNet CONV1-CONV5, batch 4, 16-bit (configs/eyeriss.yaml, "
        "workloads/alexnet_conv.yaml)",
        ["figure", "paper", "pysim", "ratio"], rows,
        [f"source: {ax['source']}",
         "chip power: pysim energy without DRAM (MAC, RF, SRAM, leakage, clock network, "
         "control) / latency; the paper's 278 mW excludes DRAM; paper energy = 278 mW x "
         "115.3 ms (derived)",
         "run-level parts: " + ", ".join(
             f"{c} {fmt(r.energy_breakdown_j[c] / r.latency_s * 1e3, 1)} mW"
             for c in RUN_COMPONENTS) + " (clock network and control: CNNergy's Eyeriss "
         "model, NeuPart, TVLSI 2020; configs/eyeriss.yaml); without clock and control "
         + fmt((chip_j - sum(r.energy_breakdown_j[c] for c in ("clock", "control")))
               / r.latency_s * 1e3, 0) + " mW",
         "DRAM access: one 16-bit word (2 B); global buffer: bytes read and written, DMA "
         "fills and drains included",
         "pysim runs the paper's measured ifmap zeros (fixture ifmap_zeros_pct): zero gating "
         "in the PEs, run-length coded ifmaps / ofmaps on the link"]))

    layers = {str(row["op"]): row for _, row in r.layers.iterrows()}
    rows = []
    for lay in ax["layers"]:
        row = layers[lay["name"]]
        lat_ms = float(row["cycles"]) / clock_hz * 1e3
        # the layer's dynamic on-chip energy plus its share of leakage, clock and control
        on_chip_j = sum(float(row[f"{c}_j"]) for c in ON_CHIP)
        run_j = sum(overhead_pj(hw, float(row["cycles"]), on_chip_j * 1e12).values()) * 1e-12
        chip_mw = (float(row["energy_j"]) - float(row["dram_j"]) + run_j) / (lat_ms / 1e3) * 1e3
        dram = (float(row["dram_read_bytes"]) + float(row["dram_write_bytes"])) / 1e6
        paper_util = lay["macs_m"] * 1e6 / (lay["latency_ms"] / 1e3 * clock_hz * spec["pes"])
        util = float(row["macs"]) / (float(row["cycles"]) * pes)
        paper_lmj = lay["power_mw"] * lay["latency_ms"] / 1e3
        model_lmj = chip_mw * lat_ms / 1e3
        rows.append([lay["name"], fmt(lay["latency_ms"]), fmt(lat_ms),
                     ratio(lat_ms, lay["latency_ms"]), fmt(int(lay["power_mw"])), fmt(chip_mw, 0),
                     ratio(chip_mw, lay["power_mw"]), fmt(paper_lmj, 2), fmt(model_lmj, 2),
                     ratio(model_lmj, paper_lmj), fmt(lay["dram_mb"]), fmt(dram),
                     ratio(dram, lay["dram_mb"]), f"{lay['active_pes']}/{spec['pes']}",
                     fmt(100 * paper_util, 0), fmt(100 * util, 0), str(row["tiling"])])
    out.append(table(
        "Eyeriss v1: AlexNet per layer (latency and DRAM for the batch of 4)",
        ["layer", "ms paper", "ms pysim", "ratio", "mW paper", "mW pysim", "ratio",
         "mJ paper", "mJ pysim", "ratio", "DRAM MB paper", "pysim", "ratio", "active PEs",
         "MAC util % paper", "pysim", "pysim tiling"], rows, left=(0, 16),
        notes=
[f"source: {ax['layers_source']}",
         "MAC util: MACs / (latency x 168 PEs x 200 MHz); 'active PEs' is the paper's "
         "spatial mapping (row stationary), pysim's is the same PE-set folding "
         "(pysim/mapping/tile_model.py)",
         "modelled: AlexNet's grouped CONV2 / CONV4 / CONV5 (groups = 2), each layer's "
         "ifmap read from and ofmap written to DRAM, no pool / LRN / ReLU ops"]))
    return "\n".join(out)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chip", choices=("all", "tpu_v1", "eyeriss"), default="all")
    args = parser.parse_args(argv)
    if args.chip in ("all", "tpu_v1"):
        print(tpu_report(load_fixture(TPU_FIXTURE)))
    if args.chip in ("all", "eyeriss"):
        print(eyeriss_report(load_fixture(EYERISS_FIXTURE)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
