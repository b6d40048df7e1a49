"""GPUs as hardware descriptions: the tensor_core unit kind, configs/gpu/*.yaml, and the one
simulate path (map, engine, energy, Result) every hardware takes."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.gpu import PRESETS, GpuPreset
from pysim.gpu.configs import preset_yaml
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parents[1]
NPU = """
name: npu_mma
clock_ghz: 1.0
technology_nm: 16
dispatch: {dispatch}
units:
  - {{kind: systolic_array, name: mac_array, rows: 32, cols: 32, dataflow: ws}}
  - {{kind: tensor_core, name: mma, arch: ampere, sms: 4, tensor_cores_per_sm: 4,
      register_file_kib_per_sm: 64, shared_memory_kib_per_sm: 64, launch_overhead_us: 0}}
vector: {{name: vpu, lanes: 32}}
scratchpads:
  - {{name: unified, size_kib: 512, banks: 16, word_bits: 128, holds: [input, weight, output]}}
dram: {{preset: lpddr4_3200}}
"""


def two_gemms() -> pysim.Workload:
    """An fp16 GEMM and its ReLU, and an independent int8 GEMM."""
    return workload_from_dict({
        "name": "two", "inputs": [{"name": "x", "shape": [512, 512], "bits": 16,
                                   "dtype": "float"},
                                  {"name": "y", "shape": [512, 512], "bits": 8}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 512, "n": 512, "k": 512,
                 "weight_bits": 16, "act_bits": 16, "dtype": "float"},
                {"name": "act", "type": "elementwise", "op": "relu", "inputs": ["fc"],
                 "shape": [512, 512], "act_bits": 16, "dtype": "float"},
                {"name": "q", "type": "gemm", "inputs": ["y"], "m": 512, "n": 512, "k": 512,
                 "weight_bits": 8, "act_bits": 8}]})


@pytest.mark.parametrize("name", list(PRESETS))
def test_every_gpu_config_file_is_its_preset(name: str) -> None:
    path = ROOT / "configs" / "gpu" / f"{name}.yaml"
    gpu = PRESETS[name]
    assert path.read_text() == preset_yaml(gpu), "regenerate: python -m pysim.gpu.configs"
    hw = pysim.load_hardware(path)
    assert hw == gpu.hardware
    assert [u.kind for u in hw.units] == ["tensor_core"]
    # the pins carry the datasheet bandwidth; kernels run at the sustained one
    assert hw.dram.bandwidth_gb_per_s == pytest.approx(gpu.hbm_sustained_gb_per_s)
    assert hw.dram.peak_bandwidth_gb_per_s >= gpu.hbm_bandwidth_gb_per_s
    assert hw.dram.capacity_gib == gpu.hbm_gb
    assert hw.scratchpads[0].bytes_per_cycle == gpu.l2_bandwidth_bytes_per_clk


@pytest.mark.parametrize("name", list(PRESETS))
def test_the_kernel_model_of_a_gpu_hardware_is_its_preset(name: str) -> None:
    gpu = PRESETS[name]
    back = GpuPreset.of(gpu.hardware)
    same = ("arch", "sms", "boost_clock_mhz", "tensor_cores_per_sm", "register_file_kb_per_sm",
            "shared_memory_kb_per_sm", "l2_kb", "hbm_gb", "l2_bandwidth_bytes_per_clk",
            "smem_bandwidth_bytes_per_clk", "launch_overhead_us", "fusion", "fp32_acc_half_rate")
    assert {f: getattr(back, f) for f in same} == {f: getattr(gpu, f) for f in same}
    assert back.hbm_sustained_gb_per_s == pytest.approx(gpu.hbm_sustained_gb_per_s, rel=1e-9)
    dtype = "int8" if "int8" in gpu.supported_dtypes() else gpu.supported_dtypes()[0]
    for shape in ((512, 512, 512), (4096, 1024, 333), (1, 4096, 4096)):
        a, b = gpu.gemm_cost(*shape, dtype), back.gemm_cost(*shape, dtype)
        assert (a.time_s, a.hbm_read_bytes, a.tile_m, a.split_k) == pytest.approx(
            (b.time_s, b.hbm_read_bytes, b.tile_m, b.split_k), rel=1e-9)
    assert back.peak_tflops(dtype) == pytest.approx(gpu.peak_tflops(dtype), rel=1e-12)


def test_a_preset_and_its_yaml_file_simulate_alike_through_the_engine() -> None:
    wl = pysim.zoo.load("bert_base", seq_len=64)
    by_preset = pysim.simulate(pysim.gpu.preset("a100"), wl)
    by_file = pysim.simulate(ROOT / "configs" / "gpu" / "a100.yaml", wl)
    assert by_file.latency_cycles == by_preset.latency_cycles
    assert by_file.energy_j == pytest.approx(by_preset.energy_j, rel=1e-12)
    # through the SimPy engine (a kernel is one process: its stream's turn and its time),
    # kernels back to back on one stream
    assert by_file.sim_events >= 2 * len(wl.ops)
    layers = by_file.layers
    assert (layers["start_cycle"].to_numpy()[1:]
            == pytest.approx(layers["end_cycle"].to_numpy()[:-1]))
    # priced as any hardware: the L2 is a level of level_bytes, static power is charged
    assert by_file.level_bytes["l2"]["read"] > 0
    assert by_file.energy_breakdown_j["leakage"] > 0
    assert by_file.energy_breakdown_j["sram"] > 0


def test_gpu_hardware_takes_overrides_like_any_hardware() -> None:
    hw = pysim.gpu.preset("a100").hardware
    half = hw.with_overrides({"units.0.sms": 54})
    wl = pysim.zoo.load("gemm", m=4096, n=4096, k=4096)
    assert pysim.simulate(half, wl).latency_s > 1.8 * pysim.simulate(hw, wl).latency_s


@settings(max_examples=15, deadline=None)
@given(st.floats(200, 2000), st.floats(1.0, 4.0))
def test_more_hbm_bandwidth_is_never_slower(bw: float, factor: float) -> None:
    base = pysim.gpu.preset("a100").hardware.with_overrides({"dram.bandwidth_gb_per_s": bw})
    fast = base.with_overrides({"dram.channels": 256, "dram.bandwidth_gb_per_s": bw * factor})
    wl = pysim.zoo.load("llama2_7b", phase="decode", batch=1, context_len=256,
                        precision="fp16")
    assert pysim.simulate(fast, wl).latency_s <= pysim.simulate(base, wl).latency_s


def test_an_unknown_tensor_core_arch_names_the_field() -> None:
    text = NPU.format(dispatch="first").replace("arch: ampere", "arch: kepler")
    with pytest.raises(pysim.ConfigError, match=r"units\[1\]\.arch.*ampere.*kepler"):
        pysim.config.loader.hardware_from_dict(__import__("yaml").safe_load(text))


def test_an_accelerator_with_mma_units_dispatches_and_overlaps_them(tmp_path) -> None:
    path = tmp_path / "npu.yaml"
    path.write_text(NPU.format(dispatch="first"))
    res = pysim.simulate(path, two_gemms())
    layers = res.layers.set_index("op")
    # fp16 only the MMA engines run; int8 goes to the array listed first
    assert layers.loc["fc", "unit"] == "mma" and "CTA" in layers.loc["fc", "tiling"]
    assert layers.loc["q", "unit"] == "mac_array"
    assert layers.loc["act", "unit"] == "vpu"
    # independent ops on different units run at once
    assert layers.loc["q", "start_cycle"] < layers.loc["fc", "end_cycle"]
    assert res.energy_j == pytest.approx(sum(res.energy_breakdown_j.values()))


def test_fastest_dispatch_compares_mma_kernels_with_the_array(tmp_path) -> None:
    path = tmp_path / "npu.yaml"
    path.write_text(NPU.format(dispatch="fastest"))
    wl = pysim.zoo.load("gemm", m=2048, n=2048, k=2048)  # int8: both can run it
    hw = pysim.load_hardware(path)
    res = pysim.simulate(hw, wl)
    from pysim.mapping.planner import _dispatch_score

    op = wl.ops[0]
    scores = {u.name: _dispatch_score(hw, u, op, "fastest") for u in hw.units}
    assert res.layers["unit"].iloc[0] == min(scores, key=scores.get)
    # 4 SMs x 1024 int8 MACs per clock against 32 x 32: the MMA engines win a big GEMM
    assert res.layers["unit"].iloc[0] == "mma"


def test_dram_capacity_is_checked_on_accelerators_too() -> None:
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"dram.capacity_gib": 0.01})
    with pytest.raises(pysim.WorkloadError, match=r"needs .* GiB of DRAM.*it has 0\.01 GiB"):
        pysim.simulate(hw, pysim.zoo.load("resnet50"))


def test_cli_runs_a_gpu_yaml_and_sets_its_fields(capsys) -> None:
    from pysim.cli import main

    wl = "zoo:gemm:m=1024,n=1024,k=1024"
    assert main(["run", str(ROOT / "configs" / "gpu" / "h100.yaml"), wl]) == 0
    assert "tensor_cores" in capsys.readouterr().out
    assert main(["run", "gpu:h100", wl, "--set", "units.0.sms=66"]) == 0
    assert "tensor_cores" in capsys.readouterr().out


def _gemm(bits: int, dtype: str) -> pysim.Workload:
    return workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [8192, 8192], "bits": bits,
                                 "dtype": dtype}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 8192, "n": 8192,
                 "k": 8192, "weight_bits": bits, "act_bits": bits, "dtype": dtype}]})


def test_narrow_formats_reach_their_tensor_core_dtypes() -> None:
    b200 = pysim.gpu.preset("b200")
    fp4, fp8 = pysim.simulate(b200, _gemm(4, "float")), pysim.simulate(b200, _gemm(8, "float"))
    assert fp4.layers["tiling"].iloc[0].startswith("fp4_e2m1")
    assert fp4.latency_s < 0.6 * fp8.latency_s  # twice the MMA rate, half the bytes
    assert pysim.simulate(b200, _gemm(6, "float")).layers["tiling"].iloc[0].startswith("fp6")
    # int6 (stored at 6 bits) runs unpacked on the int8 MMA when compute-bound, not as 36 b1
    # passes (pysim/gpu/bitplane.py)
    int6 = pysim.simulate(pysim.gpu.preset("a100"), _gemm(6, "int"))
    assert "unpacked to int8" in int6.layers["tiling"].iloc[0]
    with pytest.raises(pysim.WorkloadError, match="4-bit float operands have no tensor-core "
                       "dtype on NVIDIA A100.*supports fp16"):
        pysim.simulate(pysim.gpu.preset("a100"), _gemm(4, "float"))


def test_a_gpu_is_swept_and_plotted_like_any_hardware(tmp_path) -> None:
    from pysim.cli import main

    space = pysim.Space({"units.0.sms": [54, 108], "dram.bandwidth_gb_per_s": [1000.0, 2039.0]})
    df = pysim.sweep(pysim.gpu.preset("a100"), pysim.zoo.load("gemm", m=2048, n=2048, k=2048),
                     space, jobs=1, progress=False)
    assert df["error"].isna().all() and len(df) == 4
    fast = df[(df["units.0.sms"] == 108) & (df["dram.bandwidth_gb_per_s"] == 2039.0)]
    assert fast["latency_s"].iloc[0] == df["latency_s"].min()
    out = tmp_path / "roofline.png"
    assert main(["plot", "roofline", "gpu:a100", "zoo:gemm:m=512,n=512,k=512",
                 "-o", str(out)]) == 0
    assert out.stat().st_size > 0


def test_the_sustained_hbm_fraction_is_the_fastest_streaming_kernel_measured() -> None:
    """HBM_EFFICIENCY is not typed in from nowhere: the best HBM bandwidth any memory-bound
    (M <= 16) cuBLAS kernel reached in the committed H200 data, over the H200's datasheet."""
    import csv

    from pysim.gpu.presets import HBM_EFFICIENCY

    width = {"fp16": 2, "bf16": 2, "tf32": 4, "fp8_e4m3": 1}
    out_width = {"fp16": 2, "bf16": 2, "tf32": 4, "fp8_e4m3": 2}  # _scaled_mm writes bf16
    h200 = PRESETS["h200"]
    best = (0.0, "")
    with open(ROOT / "benchmarks" / "data" / "gemm_h200_cublas.csv") as fh:
        for row in csv.DictReader(fh):
            m, n, k = int(row["m"]), int(row["n"]), int(row["k"])
            if row["method"] != "graph" or m > 16:
                continue
            moved = (m * k + k * n) * width[row["dtype"]] + m * n * out_width[row["dtype"]]
            frac = moved / float(row["time_s"]) / (h200.hbm_bandwidth_gb_per_s * 1e9)
            best = max(best, (frac, f"{row['dtype']} {m}x{n}x{k}"))
    assert best[1] == "tf32 1x8192x8192"
    assert best[0] == pytest.approx(HBM_EFFICIENCY, abs=0.005)
    assert h200.hbm_efficiency == HBM_EFFICIENCY
