"""LLM.int8() (pysim/formats/llm_int8.py): the NumPy decomposition against int32 and fp32
references, the workload transform's kernels and bytes on accelerators and GPUs, and its
errors."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

import pysim
from pysim import gpu
from pysim.formats import llm_int8
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
M, N, K = 64, 256, 1024


def _data(seed: int = 0, m: int = 48, k: int = 300, n: int = 40, cols: tuple[int, ...] = (7, 99)):
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(m, k)).astype(np.float32)
    x[:, list(cols)] *= 25  # systematic outlier features (the paper's Sec. 4)
    w = (rng.normal(size=(k, n)) * 0.05).astype(np.float32)
    return x, w


# -- the functional reference --------------------------------------------------------------


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_int8_part_is_bit_exact_against_an_int32_reference(seed):
    x, w = _data(seed)
    p = llm_int8.llm_int8_matmul(x, w)
    inliers = np.setdiff1d(np.arange(x.shape[1]), p.outliers)
    ref = np.einsum("mk,kn->mn", p.x_int8.astype(np.int32), p.w_int8[inliers].astype(np.int32),
                    dtype=np.int32)
    assert p.acc.dtype == np.int32 and np.array_equal(p.acc, ref)
    # the codes are round(v * 127 / absmax) of the inliers' rows and W's columns
    assert np.array_equal(p.x_int8, np.rint(x[:, inliers] * 127 / p.x_scale[:, None]))
    assert np.array_equal(p.w_int8, np.rint(w * 127 / p.w_scale))
    assert np.abs(p.x_int8).max() == 127


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_the_total_stays_within_its_stated_bound_of_fp32(seed):
    x, w = _data(seed)
    p = llm_int8.llm_int8_matmul(x, w)
    assert set(p.outliers) == {7, 99}
    err = np.abs(p.out.astype(np.float64) - x.astype(np.float64) @ w)
    assert (err <= llm_int8.error_bound(x, w)).all()
    ref = x @ w
    assert np.linalg.norm(p.out - ref) / np.linalg.norm(ref) < 0.02
    # without the decomposition the outliers set the rows' scales: far worse
    no_split = llm_int8.llm_int8_matmul(x, w, threshold=1e9).out
    assert np.linalg.norm(no_split - ref) > 3 * np.linalg.norm(p.out - ref)


def test_all_outliers_or_none_and_zero_rows():
    x, w = _data(3, cols=())
    x[5] = 0
    none = llm_int8.llm_int8_matmul(x, w, threshold=100.0)
    assert none.outliers.size == 0 and np.all(none.out[5] == 0)
    every = llm_int8.llm_int8_matmul(x, w, threshold=1e-9)
    assert every.outliers.size == x.shape[1] and every.acc.shape == (x.shape[0], w.shape[1])
    assert np.allclose(every.out, x @ w, atol=float(llm_int8.error_bound(x, w, 1e-9).max()))


def test_functional_bad_input():
    x, w = _data()
    with pytest.raises(ValueError, match=r"x must be m x k and w k x n, got x \(48, 300\), "
                       r"w \(40, 40\)"):
        llm_int8.llm_int8_matmul(x, w[:40])
    x[2, 3] = np.nan
    with pytest.raises(ValueError, match=r"x\[2, 3\] = nan: allowed: finite values"):
        llm_int8.llm_int8_matmul(x, w)
    with pytest.raises(pysim.WorkloadError, match=r"threshold must be a finite number > 0"):
        llm_int8.llm_int8_matmul(w.T, w, threshold=0)


# -- the workload transform ---------------------------------------------------------------


def _linear(m: int = M, bias: bool = True) -> pysim.Workload:
    return workload_from_dict({
        "name": "lin", "inputs": [{"name": "x", "shape": [m, K], "bits": 16, "dtype": "float"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": N, "k": K,
                 "act_bits": 16, "weight_bits": 16, "dtype": "float", "bias": bias,
                 "bias_bits": 16},
                {"name": "act", "type": "elementwise", "op": "relu", "inputs": ["fc"],
                 "shape": [m, N], "act_bits": 16, "dtype": "float"}]})


def test_decompose_writes_the_papers_kernels_with_their_bytes():
    wl = llm_int8.decompose(_linear(), outlier_fraction=0.01)
    # 11 of 1024 columns, rounded up to 16 so the int8 part's rows stay 16-byte aligned
    k_out = 16
    assert math.ceil(0.01 * K) == 11
    ops = {op.name: op for op in wl.ops}
    assert [op.name for op in wl.ops] == ["fc.absmax", "fc.xq", "fc.int8", "fc.x_outliers",
                                          "fc.w_outliers", "fc.fp16", "fc", "act"]
    assert ops["fc.int8"].gemm_view() == (1, M, N, K - k_out)
    assert ops["fc.fp16"].gemm_view() == (1, M, N, k_out)
    assert ops["fc.int8"].macs + ops["fc.fp16"].macs == M * N * K
    assert ops["fc.xq"].output_bytes == M * (K - k_out)  # int8
    assert ops["fc.x_outliers"].output_bytes == M * k_out * 2  # gathered in fp16
    assert ops["fc.w_outliers"].output_bytes == k_out * N * 2
    assert ops["fc.int8"].output_bytes == M * N * 4  # int32 accumulators
    assert ops["fc"].output_bytes == M * N * 2 and ops["fc"].inputs == (
        "fc.int8", "fc.absmax", "fc.fp16", "fc.weight.scales")
    assert ops["fc"].input_value_bytes == M * N * 4 + M * 4 + M * N * 2 + N * 4
    # W stored int8 with fp32 column scales; the bias stays with the output op
    assert wl.weight_bytes == K * N + 4 * N + 2 * N
    assert wl.consumers["fc"] == ("act",)


@pytest.mark.parametrize(("frac", "names"), [
    (0.0, ["fc.absmax", "fc.xq", "fc.int8", "fc"]),
    (1.0, ["fc.x_outliers", "fc.w_outliers", "fc.fp16", "fc"]),
])
def test_no_outliers_or_no_int8_part(frac, names):
    wl = llm_int8.decompose(_linear(bias=False), outlier_fraction=frac)
    assert [op.name for op in wl.ops][:-1] == names
    assert sum(op.macs for op in wl.ops) == M * N * K


@pytest.mark.parametrize(("k", "frac", "k_out"), [
    (14336, 0.001, 16), (1000, 0.001, 8), (1024, 0.0, 0), (1024, 1.0, 1024), (12, 0.1, 2),
    (4096, 0.004, 32)])
def test_outlier_columns_leave_the_int8_rows_aligned(k, frac, k_out):
    # BLOOM-176B's 14336: ceil(14.3) = 15 -> 16, 14320 int8 columns; below 16 columns, as is
    assert llm_int8._outlier_columns(k, frac) == k_out
    assert k_out >= math.ceil(round(frac * k, 9))
    assert k_out in (0, k) or (k - k_out) % 16 == 0 or k - k_out < 16


def test_a_shared_matmul_weight_is_stored_once_and_other_ops_stay():
    wl = workload_from_dict({
        "name": "shared",
        "inputs": [{"name": "a", "shape": [4, K], "bits": 16, "dtype": "float"},
                   {"name": "b", "shape": [4, K], "bits": 16, "dtype": "float"},
                   {"name": "W", "shape": [K, N], "bits": 16, "dtype": "float",
                    "role": "weight"}],
        "ops": [{"name": "p", "type": "matmul", "inputs": ["a", "W"], "m": 4, "n": N, "k": K,
                 "act_bits": 16, "dtype": "float"},
                {"name": "q", "type": "matmul", "inputs": ["b", "W"], "m": 4, "n": N, "k": K,
                 "act_bits": 16, "dtype": "float"},
                {"name": "s", "type": "elementwise", "op": "add", "inputs": ["p", "q"],
                 "shape": [4, N], "act_bits": 16, "dtype": "float"}]})
    out = llm_int8.decompose(wl)
    assert "W" not in out.tensors and out.weight_bytes == K * N + 4 * N
    assert out.consumers["W.int8"] == ("p.int8", "q.int8")
    only_p = llm_int8.decompose(wl, ops=["p"])
    assert "W" in only_p.tensors and only_p.op("q").type == "matmul"


def _moved(res: pysim.Result) -> int:
    return res.dram_read_bytes + res.dram_write_bytes


@pytest.mark.parametrize("preset", ["a100", "h100"])
def test_decomposed_layer_runs_on_gpu_presets_and_rows_sum(preset):
    fp16 = _linear(m=8)
    wl = llm_int8.decompose(fp16, outlier_fraction=0.01)
    res = pysim.simulate(gpu.preset(preset), wl)
    rows = res.layers.set_index("op")
    assert rows.loc["fc.int8", "tiling"].startswith("int8")
    assert rows.loc["fc.fp16", "tiling"].startswith("fp16")
    k_out = 16  # ceil(0.01 x 1024) = 11, rounded up to keep the int8 rows 16-byte aligned
    assert rows.loc["fc.x_outliers", "dram_read_bytes"] == 8 * k_out * 2  # only its columns
    t = res.tensors
    assert t["dram_read_bytes"].sum() == res.dram_read_bytes
    assert t["dram_write_bytes"].sum() == res.dram_write_bytes
    assert t["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    # a 0.5 MB layer is launch-bound: seven kernels take longer than one (the paper's
    # slow-down at small sizes); the seed test holds BLOOM-176B's layers faster
    base = pysim.simulate(gpu.preset(preset), fp16)
    assert res.latency_s > base.latency_s
    assert wl.weight_bytes < fp16.weight_bytes / 1.9


def test_decomposed_layer_runs_on_an_accelerator_with_a_float_array():
    wl = llm_int8.decompose(_linear(), outlier_fraction=0.01)
    hw = pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml").with_overrides(
        {"units.0.float_precisions": [16]})
    res = pysim.simulate(hw, wl)
    units = dict(zip(res.layers["op"], res.layers["unit_kind"] if "unit_kind" in res.layers
                     else res.layers["unit"], strict=True))
    assert units["fc.int8"] == units["fc.fp16"] != units["fc.xq"]
    assert res.layers["vector_ops"].sum() == sum(op.vector_work() for op in wl.ops)
    t = res.tensors
    assert t["dram_read_bytes"].sum() == res.dram_read_bytes
    assert t["compulsory_bytes"].sum() == res.compulsory_dram_bytes
    with pytest.raises(pysim.WorkloadError, match=r"op 'fc.fp16' needs float operands"):
        pysim.simulate(pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml"), wl)


def test_yaml_round_trip(tmp_path):
    wl = llm_int8.decompose(_linear())
    path = tmp_path / "w.yaml"
    pysim.workload.dump_workload(wl, path)
    assert pysim.load_workload(path).ops == wl.ops


# -- bad input -------------------------------------------------------------------------------


@pytest.mark.parametrize(("kwargs", "message"), [
    ({"outlier_fraction": -0.1}, r"^outlier_fraction must be a number in \[0, 1\] .*got -0.1$"),
    ({"outlier_fraction": 1.5}, r"^outlier_fraction must be .*got 1.5$"),
    ({"outlier_fraction": float("nan")}, r"^outlier_fraction must be .*got nan$"),
    ({"outlier_fraction": "0.1"}, r"^outlier_fraction must be .*got '0.1'$"),
    ({"threshold": 0.0}, r"^threshold must be a finite number > 0 .*got 0.0$"),
    ({"threshold": float("inf")}, r"^threshold must be .*got inf$"),
    ({"ops": ["nope"]}, r"^ops: workload 'lin' has no op named 'nope'$"),
    ({"ops": ["act"]}, r"^ops: elementwise 'act' cannot be decomposed by LLM.int8\(\): a linear "
                       r"layer is a gemm, or a matmul"),
])
def test_bad_input_names_the_field_and_what_is_allowed(kwargs, message):
    with pytest.raises(pysim.WorkloadError, match=message):
        llm_int8.decompose(_linear(), **kwargs)


def test_ops_it_cannot_decompose():
    int8 = workload_from_dict({"name": "q", "inputs": [{"name": "x", "shape": [4, 8]}],
                               "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 4,
                                        "n": 4, "k": 8}]})
    with pytest.raises(pysim.WorkloadError, match=r"^workload 'q' has no 16-bit float linear "
                       r"layer"):
        llm_int8.decompose(int8)
    with pytest.raises(pysim.WorkloadError, match=r"its activations are 8-bit int; allowed: "
                       r"16-bit float"):
        llm_int8.decompose(int8, ops=["fc"])


# -- the ops it adds (pysim/workload/quant_ops.py) ------------------------------------------


def test_new_ops_check_each_inputs_width_and_their_fields():
    base = {"name": "w", "inputs": [{"name": "x", "shape": [4, 8], "bits": 16, "dtype": "float"},
                                    {"name": "s", "shape": [4], "bits": 16, "dtype": "float"}],
            "ops": [{"name": "q", "type": "row_quantize", "inputs": ["x", "s"], "rows": 4,
                     "cols": 8, "outlier_cols": 1, "act_bits": 16, "out_bits": 8,
                     "dtype": "float"}]}
    with pytest.raises(pysim.WorkloadError, match=r"reads tensor 's' of 16 bits \(written by a "
                       r"graph input\), but row_quantize 'q' reads inputs\[1\] at 32 bits"):
        workload_from_dict(base)
    base["inputs"][1]["bits"] = 32
    q = workload_from_dict(base).op("q")
    assert q.output_shape == (4, 7) and q.output_tensor().dtype == "int"
    assert q.vector_work() == 4 * 8 + 3 * 4 * 7 + 4
    base["ops"][0]["outlier_cols"] = 8
    with pytest.raises(pysim.WorkloadError, match=r"outlier_cols must leave at least one of the "
                       r"8 columns in int8, got 8"):
        workload_from_dict(base)
    from pysim.workload import DequantAdd

    with pytest.raises(ValueError, match=r"at least one of int8_part and fp16_part"):
        DequantAdd(name="d", inputs=("s",), m=4, n=4, int8_part=False, fp16_part=False)
