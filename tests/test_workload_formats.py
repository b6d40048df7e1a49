"""Number formats on workload tensors and ops (pysim/workload/number_formats.py): widths and
dtype from the format, scales in every byte count, through DRAM on accelerators and GPUs."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from pydantic import ValidationError

import pysim
from pysim import gpu
from pysim.config import hardware_from_dict
from pysim.gpu.kernels import mac_kernel
from pysim.workload import workload_from_dict
from pysim.workload.number_formats import element_format, storage_bits, storage_ratio
from pysim.workload.tensors import Tensor

ROOT = Path(__file__).resolve().parent.parent
EDGE = ROOT / "configs" / "edge_npu.yaml"
M, N, K = 64, 256, 512


def _gemm(weight_format: str | None, act_format: str | None, **extra: object) -> pysim.Workload:
    op: dict[str, object] = {"name": "fc", "type": "gemm", "inputs": ["x"], "m": M, "n": N,
                             "k": K, **extra}
    x: dict[str, object] = {"name": "x", "shape": [M, K]}
    if weight_format:
        op["weight_format"] = weight_format
    if act_format:
        op["act_format"] = act_format
        x["format"] = act_format
    return workload_from_dict({"name": "fmt", "inputs": [x], "ops": [op]})


# -- the registry's figures --------------------------------------------------------------------


@pytest.mark.parametrize(("name", "bits", "dtype", "group", "scale_bits"), [
    ("int4", 4, "int", 0, 0),
    ("ternary", 2, "int", 0, 0),
    ("fp8_e4m3", 8, "float", 0, 0),
    ("tf32", 32, "float", 0, 0),
    ("mxfp4", 4, "float", 32, 8),  # OCP MX v1.0 Table 1: 32 elements, one E8M0 scale
    ("mxfp6_e3m2", 6, "float", 32, 8),
    ("mxint8", 8, "int", 32, 8),
    ("nf4", 4, "float", 64, 32),  # QLoRA: fp32 absmax per 64
])
def test_element_formats(name, bits, dtype, group, scale_bits):
    f = element_format(name)
    assert (f.bits, f.dtype, f.group, f.scale_bits) == (bits, dtype, group, scale_bits)


def test_storage_counts_scales_per_row_with_nf4s_partial_block_padded():
    assert storage_bits((4, 64), "mxfp4") == 4 * 64 * 4 + 4 * 2 * 8
    assert storage_bits((3, 128), "nf4") == 3 * 128 * 4 + 3 * 2 * 32
    assert storage_bits((2, 80), "nf4") == 2 * 80 * 4 + 2 * 2 * 32  # 80 = 64 + 16: 2 blocks
    assert storage_bits((7, 9), "int4") == 7 * 9 * 4
    assert storage_ratio((1, 4096), "mxfp4") == pytest.approx(4.25 / 4)
    assert storage_ratio((1, 4096), None) == storage_ratio((1, 4096), "fp8_e5m2") == 1.0


# -- tensors -----------------------------------------------------------------------------------


def test_a_tensor_takes_width_and_dtype_from_its_format_and_counts_its_scales():
    t = Tensor(name="x", shape=(4, 64), format="MXFP4")
    assert (t.format, t.bits, t.dtype, t.bytes) == ("mxfp4", 4, "float", 128 + 8)
    assert Tensor(name="x", shape=(4, 64), format="mxfp4", bits=4, dtype="float") == t


def test_a_tensor_format_that_disagrees_or_is_unknown_is_refused():
    with pytest.raises(ValidationError, match=r"format 'mxfp4' stores 4-bit float elements, "
                       r"but bits is 8; leave bits out or set it to 4"):
        Tensor(name="x", shape=(4, 64), format="mxfp4", bits=8)
    with pytest.raises(ValidationError, match=r"but dtype is 'int'"):
        Tensor(name="x", shape=(4, 64), format="fp8_e4m3", dtype="int")
    with pytest.raises(ValidationError, match=r"format must be one of int1, .*mxint8; got 'fp5'"):
        Tensor(name="x", shape=(4, 64), format="fp5")


def test_an_mx_tensor_or_op_needs_whole_blocks_of_32():
    # OCP MX v1.0 Sec. 5: a block is 32 elements; pysim.formats.quantize refuses a partial one
    with pytest.raises(ValidationError, match=r"tensor 'x' of format mxfp8_e4m3: its last axis "
                       r"is 40, but mxfp8_e4m3 scales blocks of 32 .* allowed: a multiple of 32"):
        Tensor(name="x", shape=(2, 40), format="mxfp8_e4m3")
    Tensor(name="x", shape=(2, 40), format="nf4")  # NF4 pads its partial block of 64
    op = {"name": "fc", "type": "linear", "inputs": ["x"], "m": 4, "n": 8, "k": 33}
    for key in ("weight_format", "act_format"):
        with pytest.raises(ValueError, match=rf"{key}.*reduction length K is 33, but mxfp4 "
                           r"scales blocks of 32"):
            workload_from_dict({"name": "w", "inputs": [{"name": "x", "shape": [4, 33]}],
                                "ops": [{**op, key: "mxfp4"}]})


# -- ops ---------------------------------------------------------------------------------------


def test_weight_format_sets_bits_dtype_and_its_scales_as_the_ops_quant():
    op = _gemm("mxfp4", "mxfp8_e4m3").ops[0]
    assert (op.weight_bits, op.act_bits, op.dtype) == (4, 8, "float")
    assert (op.quant.granularity, op.quant.group_size, op.quant.scale_bits) == ("group", 32, 8)
    assert op.weight_bytes == K * N // 2 + K // 32 * N  # values + one byte per 32 along K
    assert op.input_bytes == M * K + M * K // 32
    assert op.output_format == "mxfp8_e4m3" and op.output_bytes == M * N + M * N // 32
    assert op.dequant_work() == M * N * (K // 32)  # one scale product per block's partial sum


def test_mixed_formats_make_a_float_op_and_out_bits_drops_the_output_format():
    op = _gemm("int4", "bf16", out_bits=32).ops[0]
    assert (op.weight_bits, op.act_bits, op.dtype, op.quant) == (4, 16, "float", None)
    assert op.output_format is None and op.output_bits == 32


def test_op_format_conflicts_are_refused_naming_the_fields():
    with pytest.raises(pysim.WorkloadError, match=r"weight_format 'mxfp4' stores 4-bit float "
                       r"elements, but weight_bits is 8"):
        _gemm("mxfp4", None, weight_bits=8)
    with pytest.raises(pysim.WorkloadError, match=r"make it a float op, but dtype is 'int'"):
        _gemm("fp8_e4m3", None, dtype="int")
    with pytest.raises(pysim.WorkloadError, match=r"weight_format 'nf4' brings its own scales "
                       r"\(one 32-bit scale per 64 weights along K\); leave quant out"):
        _gemm("nf4", None, quant={"granularity": "channel"})
    _gemm("nf4", None, quant={"granularity": "group", "group_size": 64, "scale_bits": 32})


def test_a_consumer_must_read_its_producers_format():
    with pytest.raises(pysim.WorkloadError, match=r"ops\[0\]\.act_format \(gemm 'fc'\): reads "
                       r"tensor 'x' in format 'mxfp8_e4m3' .*but act_format is None; set "
                       r"act_format: mxfp8_e4m3"):
        workload_from_dict({"name": "w", "inputs": [{"name": "x", "shape": [M, K],
                                                     "format": "mxfp8_e4m3"}],
                            "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": M,
                                     "n": N, "k": K, "act_bits": 8, "dtype": "float"}]})


def test_formats_survive_a_round_trip_through_yaml(tmp_path):
    wl = _gemm("mxfp4", "mxfp8_e4m3")
    path = tmp_path / "w.yaml"
    pysim.workload.dump_workload(wl, path)
    again = pysim.load_workload(path)
    assert again.ops == wl.ops and again.tensors == wl.tensors


# -- through simulate ----------------------------------------------------------------------------


def _moved(res: pysim.Result) -> int:
    return res.dram_read_bytes + res.dram_write_bytes


def test_scales_cross_dram_on_an_accelerator():
    hw = pysim.load_hardware(EDGE)
    plain = pysim.simulate(hw, _gemm("int8", "int8"))
    mx = pysim.simulate(hw, _gemm("mxint8", "mxint8"))
    scales = K // 32 * N + M * K // 32 + M * N // 32  # weights', input's, output's
    assert mx.compulsory_dram_bytes == plain.compulsory_dram_bytes + scales
    assert _moved(mx) == mx.compulsory_dram_bytes  # one op: everything moves once
    assert mx.layers["vector_ops"].iloc[0] == M * N * (K // 32)


def test_float_formats_need_a_float_mac_array():
    wl = _gemm("mxfp4", "mxfp8_e4m3")
    with pytest.raises(pysim.WorkloadError, match=r"op 'fc' needs float operands, 4-bit weights "
                       r"and 8-bit activations \(weight_format mxfp4, act_format mxfp8_e4m3\) "
                       r"but no unit supports them"):
        pysim.simulate(pysim.load_hardware(EDGE), wl)
    hw = pysim.load_hardware(EDGE).with_overrides({"units.0.float_precisions": [8, 16]})
    res = pysim.simulate(hw, wl)
    assert _moved(res) == res.compulsory_dram_bytes


@pytest.mark.parametrize(("preset", "weight_format", "act_format"), [
    ("h100", "mxfp4", "mxfp8_e4m3"),  # W4 weight-only on fp8 MMAs, E8M0 scales
    ("h100", "nf4", "bf16"),  # fp32 absmax per 64
    ("b200", "mxfp4", "mxfp4"),  # Blackwell's fp4 MMAs
])
def test_scales_cross_hbm_on_a_gpu(preset, weight_format, act_format):
    res = pysim.simulate(gpu.preset(preset), _gemm(weight_format, act_format))
    op = _gemm(weight_format, act_format).ops[0]
    assert res.dram_read_bytes == op.weight_bytes + op.input_bytes
    assert res.dram_write_bytes == op.output_bytes  # an mxfp4 C packed, two values a byte
    assert _moved(res) == res.compulsory_dram_bytes


@pytest.mark.parametrize(("preset", "fmt", "out"), [
    ("a100", "int4", "int4"),  # Ampere's int4 MMAs
    ("a100", "int8", "int4"),  # an int8 GEMM requantizing to int4
    ("b200", "fp4_e2m1", "fp4_e2m1"),
    ("b200", "fp6_e3m2", "fp6_e3m2"),  # 6 bits: three quarters of a byte
    ("b200", "mxfp6_e2m3", "mxfp4"),
])
def test_a_sub_byte_output_crosses_hbm_at_its_real_width(preset, fmt, out):
    wl = _gemm(fmt, fmt, out_format=out)
    op, res = wl.ops[0], pysim.simulate(gpu.preset(preset), wl)
    assert op.output_value_bytes == M * N * op.output_bits // 8
    assert res.dram_write_bytes == op.output_bytes
    assert _moved(res) == res.compulsory_dram_bytes  # one GEMM: each tensor moves once
    rows = res.tensors
    assert rows["dram_read_bytes"].sum() == res.dram_read_bytes
    assert rows["dram_write_bytes"].sum() == res.dram_write_bytes
    assert rows["compulsory_bytes"].sum() == res.compulsory_dram_bytes


def test_a_packed_output_is_stored_faster_and_split_k_writes_it_packed():
    h = gpu.preset("a100")
    kernel = {out: mac_kernel(h, _gemm("int4", "int4", out_format=out).ops[0])
              for out in ("int4", "int8")}
    assert kernel["int4"].hbm_write_bytes * 2 == kernel["int8"].hbm_write_bytes
    assert kernel["int4"].seconds <= kernel["int8"].seconds
    op = {"name": "fc", "type": "gemm", "inputs": ["x"], "m": 16, "n": 256, "k": 16384,
          "weight_format": "int4", "act_format": "int4", "out_format": "int4"}
    wl = workload_from_dict({"name": "w", "inputs": [{"name": "x", "shape": [16, 16384],
                                                      "format": "int4"}], "ops": [op]})
    k = mac_kernel(h, wl.ops[0])
    c = h.gemm_cost(16, 256, 16384, "int4", out_bytes=1)
    assert c.split_k > 1  # partials in int32, then the reduction kernel stores C
    assert k.hbm_write_bytes == c.hbm_write_bytes - 16 * 256 // 2


def test_a_gpu_without_the_format_refuses_it():
    with pytest.raises(pysim.WorkloadError, match=r"op 'fc': 4-bit float operands have no "
                       r"tensor-core dtype on NVIDIA H100"):
        pysim.simulate(gpu.preset("h100"), _gemm("mxfp4", "mxfp4"))


def test_a_weight_formats_scales_ride_in_the_weight_scratchpad():
    # MXINT8: one 8-bit E8M0 scale per 32 weights along K, so the weight buffer reads and is
    # filled with 8.25 / 8 the bytes of int8 weights; on lowp_float_edge a 256 x 512 int8 weight
    # (128 KiB) fills one half of the double-buffered 256 KiB weight buffer exactly, and with
    # its scales it does not fit, so K is tiled
    hw = pysim.load_hardware(ROOT / "configs" / "lowp_float_edge.yaml")

    def run(fmt: str) -> pysim.Result:
        op = {"name": "fc", "type": "linear", "inputs": ["x"], "m": 64, "n": 256, "k": 512,
              "weight_format": fmt}
        return pysim.simulate(hw, workload_from_dict(
            {"name": "g", "inputs": [{"name": "x", "shape": [64, 512]}], "ops": [op]}))

    plain, mx = run("int8"), run("mxint8")
    for way in ("read", "write"):
        assert mx.level_bytes["weight_buf"][way] == plain.level_bytes["weight_buf"][way] * 33 // 32
    assert plain.layers["mapping"].iloc[0].kt == 512 > mx.layers["mapping"].iloc[0].kt


def test_an_activation_formats_scales_ride_in_the_input_scratchpad():
    # the same for A: MXINT8 activations carry one E8M0 scale per 32 values along K, so the
    # array's reads of A from its scratchpad are 33 / 32 of int8's, and A's tiles hold them
    data = yaml.safe_load((ROOT / "configs" / "lowp_float_edge.yaml").read_text())
    act, weights = data["scratchpads"]
    data["scratchpads"] = [{**act, "holds": ["input"]}, weights,
                           {**act, "name": "out_buf", "holds": ["output"]}]
    hw = hardware_from_dict(data)  # A alone in its scratchpad

    def run(fmt: str) -> pysim.Result:
        op = {"name": "fc", "type": "linear", "inputs": ["x"], "m": 64, "n": 256, "k": 512,
              "weight_format": "int8", "act_format": fmt}
        wl = workload_from_dict({"name": "g", "inputs": [
            {"name": "x", "shape": [64, 512], "format": fmt}], "ops": [op]})
        return pysim.simulate(hw, wl)

    plain, mx = run("int8"), run("mxint8")
    for way in ("read", "write"):  # the array's reads of A, and its DMA fills
        assert mx.level_bytes["act_buf"][way] == plain.level_bytes["act_buf"][way] * 33 // 32
    assert mx.dram_read_bytes > plain.dram_read_bytes  # their DRAM reads carry the scales too


def test_a_copied_op_recomputes_its_cached_sizes():
    # sizes are cached on the (immutable) op; a copy with other fields must not inherit them
    op = _gemm(None, None).ops[0]
    assert op.weight_bytes == 256 * 512 and op.weight_sizes == (("fc.weight", 256 * 512),)
    narrow = op.model_copy(update={"weight_bits": 4})
    assert narrow.weight_bytes == 256 * 512 // 2
    assert narrow.weight_sizes == (("fc.weight", 256 * 512 // 2),)
    assert op.model_copy().weight_bytes == op.weight_bytes  # a plain copy keeps them
