"""ONNX reductions and data movement (Reduce*, Concat, Slice, Split, Pad, Expand, Tile) and the
pysim ops they become (`reduce`, `copy`), from YAML too: counts, layouts, traffic, errors.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import pysim
from pysim.errors import WorkloadError
from pysim.workload import Copy, Reduce, dump_workload, load_workload, workload_from_dict
from pysim.workload.onnx_import import SUPPORTED_OPS

HW = "configs/edge_npu.yaml"


def const(name: str, value: object, dtype: type = np.float32) -> onnx.TensorProto:
    return nh.from_array(np.asarray(value, dtype), name)


def save(tmp_path: Path, nodes: list[onnx.NodeProto], inputs: list[onnx.ValueInfoProto],
         inits: list[onnx.TensorProto], name: str, opset: int = 17) -> Path:
    graph = h.make_graph(nodes, name, inputs,
                         [h.make_tensor_value_info(nodes[-1].output[0], T.FLOAT, None)], inits)
    path = tmp_path / f"{name}.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", opset)]), path)
    return path


def test_decomposed_layernorm_as_older_exporters_write_it(tmp_path: Path) -> None:
    """LayerNorm as PyTorch exports it below opset 17: ReduceMean, Sub, Pow, ReduceMean, Add,
    Sqrt, Div, Mul, Add over (batch 2, seq 16, hidden 64)."""
    nodes = [
        h.make_node("ReduceMean", ["x"], ["mu"], name="mean", axes=[-1]),
        h.make_node("Sub", ["x", "mu"], ["d"], name="center"),
        h.make_node("Pow", ["d", "two"], ["d2"], name="square"),
        h.make_node("ReduceMean", ["d2"], ["var"], name="variance", axes=[-1]),
        h.make_node("Add", ["var", "eps"], ["ve"], name="add_eps"),
        h.make_node("Sqrt", ["ve"], ["sd"], name="sqrt"),
        h.make_node("Div", ["d", "sd"], ["n"], name="normalize"),
        h.make_node("Mul", ["n", "gamma"], ["ng"], name="scale"),
        h.make_node("Add", ["ng", "beta"], ["y"], name="shift"),
    ]
    inits = [const("two", 2.0), const("eps", 1e-5), const("gamma", np.ones(64)),
             const("beta", np.zeros(64))]
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 16, 64])
    wl = pysim.load_workload(save(tmp_path, nodes, [x], inits, "ln", opset=13))
    assert wl.unsupported == ()
    kinds = [(op.name, op.type, getattr(op, "op", getattr(op, "mode", None))) for op in wl.ops]
    assert kinds == [
        ("mean", "reduce", "mean"), ("center", "elementwise", "add_const"),
        ("square", "elementwise", "pow"), ("variance", "reduce", "mean"),
        ("add_eps", "elementwise", "add_const"), ("sqrt", "elementwise", "sqrt"),
        ("normalize", "elementwise", "mul_const"), ("scale", "elementwise", "mul_const"),
        ("shift", "elementwise", "add_const")]
    mean = wl.op("mean")
    assert isinstance(mean, Reduce) and (mean.rows, mean.cols) == (32, 64)
    assert mean.output_shape == (2, 16, 1)  # keepdims
    # 32 rows x 64: the mean costs 64 adds and one multiply per row.
    assert mean.vector_work() == 32 * 64 + 32
    # Reductions feed only broadcast operands (not read): their outputs are small graph outputs.
    full = 2 * 16 * 64
    assert sum(op.vector_work() for op in wl.ops) == 2 * (full + 32) + 5 * full + 2 * 32
    result = pysim.simulate(pysim.load_hardware(HW), wl)
    assert result.layers.loc[result.layers.op == "mean", "vector_ops"].item() == 32 * 64 + 32


def inception(tmp_path: Path) -> Path:
    """Two branches (1x1 conv 8 ch, 3x3 conv 16 ch) concatenated along channels, then a 1x1
    conv reading the joined (N, 24, 8, 8) tensor; a squeeze-excite style ReduceMean over H, W
    (keepdims) into a 1x1 conv."""
    nodes = [
        h.make_node("Conv", ["x", "w1"], ["b1"], name="branch1"),
        h.make_node("Conv", ["x", "w3"], ["b3"], name="branch3", pads=[1, 1, 1, 1]),
        h.make_node("Concat", ["b1", "b3"], ["cat"], name="cat", axis=1),
        h.make_node("Conv", ["cat", "wj"], ["j"], name="join"),
        h.make_node("ReduceMean", ["j"], ["se"], name="squeeze", axes=[2, 3], keepdims=1),
        h.make_node("Conv", ["se", "we"], ["e"], name="excite"),
    ]
    inits = [const("w1", np.zeros((8, 4, 1, 1))), const("w3", np.zeros((16, 4, 3, 3))),
             const("wj", np.zeros((12, 24, 1, 1))), const("we", np.zeros((12, 12, 1, 1)))]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4, 8, 8])
    return save(tmp_path, nodes, [x], inits, "inception")


def test_concat_of_branches_and_squeeze_excite_reduce(tmp_path: Path) -> None:
    wl = pysim.load_workload(inception(tmp_path), quantize_bits=8)
    cat, squeeze = wl.op("cat"), wl.op("squeeze")
    assert isinstance(cat, Copy) and cat.mode == "concat"
    assert cat.inputs == ("b1", "b3") and cat.shapes == ((1, 8, 8, 8), (1, 8, 8, 16))
    assert cat.output_shape == (1, 8, 8, 24) and cat.vector_work() == 64 * 24
    # The joined tensor is laid out NHWC, as the next conv reads it; the SE reduction's output
    # is (N, 1, 1, C) for the 1x1 conv after it.
    assert wl.op("join").inputs == ("cat",) and wl.tensors["cat"].shape == (1, 8, 8, 24)
    assert isinstance(squeeze, Reduce) and (squeeze.rows, squeeze.cols) == (12, 64)
    assert squeeze.output_shape == (1, 1, 1, 12) and wl.op("excite").inputs == ("se",)
    r = pysim.simulate(pysim.load_hardware(HW), wl)
    row = r.layers.set_index("op").loc["cat"]
    assert row.unit == "vpu" and row.vector_ops == 64 * 24


def test_split_of_a_qkv_projection_reads_a_third_each(tmp_path: Path) -> None:
    """A fused QKV tensor (16 tokens x 192, a graph input, so in DRAM) split into Q, K, V."""
    nodes = [
        h.make_node("Split", ["qkv", "sizes"], ["q", "k", "v"], name="split", axis=-1),
        h.make_node("MatMul", ["q", "wq"], ["qo"], name="q_out"),
        h.make_node("MatMul", ["k", "wq"], ["ko"], name="k_out"),
        h.make_node("Add", ["qo", "ko"], ["y"], name="join"),
    ]
    inits = [const("sizes", [64, 64, 64], np.int64), const("wq", np.zeros((64, 8)))]
    qkv = h.make_tensor_value_info("qkv", T.FLOAT, [16, 192])
    wl = pysim.load_workload(save(tmp_path, nodes, [qkv], inits, "split"), quantize_bits=8)
    slices = [op for op in wl.ops if op.type == "copy"]
    assert [(op.name, op.output, op.mode) for op in slices] == [
        ("split", "q", "slice"), ("split.1", "k", "slice"), ("split.2", "v", "slice")]
    assert all(op.read_fraction() == pytest.approx(1 / 3) for op in slices)
    assert wl.op("q_out").inputs == ("q",) and wl.op("k_out").inputs == ("k",)
    # Each slice reads its third of the int8 tensor from DRAM, not all of it; V, read by
    # nothing, is a graph output and written back.
    rows = pysim.simulate(pysim.load_hardware(HW), wl).layers.set_index("op")
    assert [rows.loc[n, "dram_read_bytes"] for n in ("split", "split.1", "split.2")] == \
        [16 * 64] * 3
    assert rows.loc["split.2", "dram_write_bytes"] == 16 * 64


def test_slice_pad_expand_tile(tmp_path: Path) -> None:
    nodes = [
        h.make_node("Slice", ["x", "starts", "ends", "axes"], ["s"], name="crop"),
        h.make_node("Pad", ["s", "pads"], ["p"], name="pad", mode="reflect"),
        h.make_node("Expand", ["p", "shape"], ["e"], name="expand"),
        h.make_node("Tile", ["e", "reps"], ["t"], name="tile"),
        h.make_node("Relu", ["t"], ["y"], name="relu"),
    ]
    inits = [const("starts", [2, 2], np.int64), const("ends", [10, 10], np.int64),
             const("axes", [2, 3], np.int64), const("pads", [0, 0, 1, 1, 0, 0, 1, 1], np.int64),
             const("shape", [2, 3, 10, 10], np.int64), const("reps", [1, 1, 2, 1], np.int64)]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 3, 12, 12])
    wl = pysim.load_workload(save(tmp_path, nodes, [x], inits, "spet"))
    got = {op.name: (op.mode, op.shapes, op.output_shape) for op in wl.ops if op.type == "copy"}
    assert got == {
        "crop": ("slice", ((1, 12, 12, 3),), (1, 8, 8, 3)),
        "pad": ("pad", ((1, 8, 8, 3),), (1, 10, 10, 3)),
        "expand": ("broadcast", ((1, 10, 10, 3),), (2, 10, 10, 3)),
        "tile": ("broadcast", ((2, 10, 10, 3),), (2, 20, 10, 3)),
    }
    assert wl.op("crop").read_fraction() == pytest.approx(64 / 144)
    assert pysim.simulate(pysim.load_hardware(HW), wl).latency_cycles > 0


@pytest.mark.parametrize("mode, taps", [("nearest", 1), ("linear", 4), ("cubic", 16)])
def test_resize_upsampling_as_in_fpn_and_unet(tmp_path: Path, mode: str, taps: int) -> None:
    """2x upsampling of (1, 8, 10, 12) over H and W: 2-D, so linear reads 4 taps, cubic 16."""
    nodes = [h.make_node("Resize", ["x", "", "scales"], ["u"], name="up", mode=mode),
             h.make_node("Relu", ["u"], ["y"], name="relu")]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 8, 10, 12])
    path = save(tmp_path, nodes, [x], [const("scales", [1.0, 1.0, 2.0, 2.0])], f"up_{mode}")
    up = pysim.load_workload(path).op("up")
    assert isinstance(up, Copy) and (up.mode, up.taps) == ("resize", taps)
    assert up.shapes == ((1, 10, 12, 8),) and up.output_shape == (1, 20, 24, 8)
    assert up.vector_work() == 20 * 24 * 8 * (2 * taps - 1)
    assert up.read_fraction() == 1.0


def test_slice_with_activation_bounds_is_unsupported(tmp_path: Path) -> None:
    nodes = [
        h.make_node("Shape", ["x"], ["shp"], name="shape"),
        h.make_node("ReduceMax", ["x"], ["mx"], name="max", keepdims=0),
        h.make_node("Cast", ["mx"], ["end"], name="cast", to=T.INT64),
        h.make_node("Unsqueeze", ["end", "zero"], ["ends"], name="unsq"),
        h.make_node("Slice", ["x", "starts", "ends"], ["y"], name="dyn"),
    ]
    inits = [const("starts", [0], np.int64), const("zero", [0], np.int64)]
    x = h.make_tensor_value_info("x", T.FLOAT, [16])
    path = save(tmp_path, nodes, [x], inits, "dyn")
    with pytest.raises(WorkloadError, match="Slice 'dyn'"):
        pysim.load_workload(path)


def test_new_ops_listed() -> None:
    for op in ("Concat", "Slice", "Split", "Pad", "Expand", "Tile", "Resize", "Upsample",
               "ReduceMean", "ReduceSum",
               "ReduceMax", "ReduceL2", "ReduceSumSquare", "ReduceLogSumExp"):
        assert op in SUPPORTED_OPS


# -- the pysim ops, from YAML ------------------------------------------------------------------
def yaml_workload(ops: list[dict[str, object]]) -> dict[str, object]:
    return {"name": "w", "inputs": [{"name": "x", "shape": [128, 768], "bits": 8},
                                    {"name": "y", "shape": [128, 256], "bits": 8}], "ops": ops}


GOOD = [
    {"name": "m", "type": "reduce", "mode": "l2", "inputs": ["x"], "rows": 128, "cols": 768,
     "out_shape": [128, 1]},
    {"name": "c", "type": "copy", "mode": "concat", "inputs": ["x", "y"],
     "shapes": [[128, 768], [128, 256]], "out_shape": [128, 1024]},
    {"name": "s", "type": "copy", "mode": "slice", "inputs": ["c"], "shapes": [[128, 1024]],
     "out_shape": [128, 512]},
]


def test_downsampling_resize_reads_its_taps_only() -> None:
    down = Copy(name="d", inputs=("x",), mode="resize", shapes=((1, 64, 64, 8),),
                out_shape=(1, 16, 16, 8), taps=4)
    assert down.read_fraction() == pytest.approx(16 * 16 * 4 / (64 * 64))
    assert down.vector_work() == 16 * 16 * 8 * 7


def test_reduce_and_copy_from_yaml_round_trip(tmp_path: Path) -> None:
    wl = workload_from_dict(yaml_workload(GOOD))
    m, c, s = wl.ops
    assert m.vector_work() == 2 * 128 * 768 + 128  # multiply and add; a sqrt per row
    assert c.vector_work() == 128 * 1024 and s.vector_work() == 128 * 512
    assert s.read_fraction() == 0.5 and c.read_fraction() == 1.0
    path = tmp_path / "w.yaml"
    dump_workload(wl, path)
    assert load_workload(path) == wl
    r = pysim.simulate(pysim.load_hardware(HW), wl)
    rows = r.layers.set_index("op")
    # The concat reads both inputs whole; the slice's input is still on chip.
    assert rows.loc["c", "dram_read_bytes"] == 128 * 1024
    assert rows.loc["s", "dram_read_bytes"] == 0
    hw = pysim.load_hardware(HW)
    cycles = math.ceil(128 * 1024 / hw.vector.ops_per_cycle)
    assert rows.loc["c", "compute_cycles"] == cycles


@pytest.mark.parametrize("op, match", [
    ({"name": "m", "type": "reduce", "mode": "median", "inputs": ["x"], "rows": 128,
      "cols": 768}, r"ops\[0\]\.mode .*unknown reduction 'median'; known: sum, mean"),
    ({"name": "m", "type": "reduce", "mode": "sum", "inputs": ["x"], "rows": 128, "cols": 768,
      "out_shape": [64, 1]}, r"ops\[0\]\.out_shape .*\(64, 1\) has 64 elements, but rows is 128"),
    ({"name": "m", "type": "reduce", "mode": "sum", "inputs": ["x"], "rows": 0, "cols": 768},
     r"ops\[0\]\.rows"),
    ({"name": "c", "type": "copy", "mode": "concat", "inputs": ["x", "y"],
      "shapes": [[128, 768], [128, 256]], "out_shape": [128, 1000]},
     r"ops\[0\]\.out_shape .*a concat writes at least the 131072 elements it reads"),
    ({"name": "c", "type": "copy", "mode": "slice", "inputs": ["x"], "shapes": [[128, 768]],
      "out_shape": [128, 1024]}, r"a slice writes at most the 98304 elements"),
    ({"name": "c", "type": "copy", "mode": "pad", "inputs": ["x", "y"],
      "shapes": [[128, 768], [128, 256]], "out_shape": [128, 2048]},
     r"ops\[0\]\.shapes .*a pad reads one tensor, got 2 shapes"),
    ({"name": "c", "type": "copy", "mode": "concat", "inputs": ["x"],
      "shapes": [[128, 768], [128, 256]], "out_shape": [128, 1024]},
     r"ops\[0\]\.inputs .*a copy op reads 2 tensor\(s\), got 1"),
    ({"name": "c", "type": "copy", "mode": "slice", "inputs": ["x"], "shapes": [[128, 768]],
      "out_shape": [128, 7], "taps": 4}, r"ops\[0\]\.taps .*only a resize combines"),
    ({"name": "c", "type": "copy", "mode": "gather", "inputs": ["x"], "shapes": [[128, 768]],
      "out_shape": [128, 768]}, r"ops\[0\]\.mode"),
    ({"name": "c", "type": "copy", "mode": "slice", "inputs": ["x"], "shapes": [[100, 768]],
      "out_shape": [100, 768]}, r"tensor 'x' has shape \(128, 768\) = 98304 elements"),
])
def test_bad_reduce_and_copy_ops_name_the_field(op: dict[str, object], match: str) -> None:
    with pytest.raises(WorkloadError, match=match):
        workload_from_dict(yaml_workload([op]))
