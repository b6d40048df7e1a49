"""The workload layer: tensors, op counts (MACs, GEMM views, vector work, bytes), the validated
graph (DAG, chaining, topological order) and the YAML round trip."""

from __future__ import annotations

import copy
import dataclasses
import math
import pickle
import random
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.errors import WorkloadError
from pysim.workload import (
    ELEMENTWISE_OPS,
    OP_TYPES,
    Conv2d,
    Elementwise,
    Gemm,
    GemmView,
    LayerNorm,
    Matmul,
    Pool,
    Softmax,
    Tensor,
    Workload,
    conv_out,
    dump_workload,
    load_workload,
    workload_from_dict,
)

ROOT = Path(__file__).resolve().parent.parent
TINY = ROOT / "workloads" / "tiny_cnn.yaml"


# --- tensors ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("shape", "bits", "nbytes"),
    [((2, 3), 8, 6), ((3,), 4, 2), ((3,), 5, 2), ((7,), 1, 1), ((9,), 1, 2), ((2, 2), 32, 16)],
)
def test_tensor_bytes_are_packed_and_rounded_up(shape, bits, nbytes):
    t = Tensor(name="t", shape=shape, bits=bits)
    assert t.elements == math.prod(shape)
    assert t.bytes == nbytes == math.ceil(t.elements * bits / 8)


def test_tensor_is_immutable():
    t = Tensor(name="t", shape=(2,))
    with pytest.raises(Exception):  # noqa: B017 - pydantic's frozen-instance error
        t.bits = 4  # type: ignore[misc]
    assert hash(t) == hash(Tensor(name="t", shape=(2,)))


# --- conv2d -------------------------------------------------------------------------------


def _windows(size: int, k: int, s: int, p: int, d: int) -> int:
    """Brute force: window positions whose dilated extent fits the padded input."""
    extent = d * (k - 1) + 1
    return len(range(0, size + 2 * p - extent + 1, s))


@settings(max_examples=200, deadline=None)
@given(
    size=st.integers(1, 40), k=st.integers(1, 7), s=st.integers(1, 4), p=st.integers(0, 3),
    d=st.integers(1, 3),
)
def test_conv_output_size_matches_brute_force(size, k, s, p, d):
    assert max(conv_out(size, k, s, p, d), 0) == _windows(size, k, s, p, d)


@settings(max_examples=100, deadline=None)
@given(
    batch=st.integers(1, 3), hw=st.integers(7, 20), groups=st.sampled_from([1, 2, 4]),
    cin=st.integers(1, 4), cout=st.integers(1, 4), k=st.integers(1, 3), s=st.integers(1, 3),
)
def test_conv_macs_equal_im2col_gemm_view(batch, hw, groups, cin, cout, k, s):
    conv = Conv2d(name="c", inputs=("x",), batch=batch, in_h=hw, in_w=hw + 1,
                  in_c=cin * groups, out_c=cout * groups, kernel=k, stride=s, padding=k // 2,
                  groups=groups)
    oh, ow = conv.out_h, conv.out_w
    assert conv.macs == batch * oh * ow * cout * groups * cin * k * k
    view = conv.gemm_view()
    assert view == GemmView(groups, batch * oh * ow, cout, k * k * cin)
    assert view.count * view.m * view.n * view.k == conv.macs
    assert conv.vector_work() == 0
    assert conv.output_shape == (batch, oh, ow, cout * groups)


def test_resnet_stem_conv_shape_and_bytes():
    conv = Conv2d(name="conv1", inputs=("image",), in_h=224, in_w=224, in_c=3, out_c=64,
                  kernel=7, stride=2, padding=3, bias=True)
    assert conv.output_shape == (1, 112, 112, 64)
    assert conv.macs == 112 * 112 * 64 * 3 * 49 == 118_013_952
    assert conv.input_bytes == 224 * 224 * 3
    assert conv.output_bytes == 112 * 112 * 64
    w, b = conv.weight_tensors()
    assert (w.name, w.shape, w.role) == ("conv1.weight", (64, 7, 7, 3), "weight")
    assert (b.name, b.shape, b.bits) == ("conv1.bias", (64,), 32)
    assert conv.weight_bytes == 64 * 49 * 3 + 64 * 4


def test_depthwise_conv_is_one_gemm_per_channel():
    dw = Conv2d(name="dw", inputs=("x",), in_h=56, in_w=56, in_c=96, out_c=96, kernel=3,
                stride=2, padding=1, groups=96)
    assert dw.gemm_view() == GemmView(96, 28 * 28, 1, 9)
    assert dw.macs == 28 * 28 * 96 * 9
    assert dw.weight_tensors()[0].shape == (96, 3, 3, 1)


def test_dilated_conv_output():
    conv = Conv2d(name="c", inputs=("x",), in_h=32, in_w=32, in_c=8, out_c=8, kernel=3,
                  padding=2, dilation=2)
    assert conv.output_shape == (1, 32, 32, 8)


def test_sub_byte_bits_in_bytes():
    conv = Conv2d(name="c", inputs=("x",), in_h=4, in_w=4, in_c=3, out_c=5, kernel=1,
                  weight_bits=4, act_bits=2, out_bits=3)
    assert conv.weight_bytes == math.ceil(15 * 4 / 8)
    assert conv.input_bytes == math.ceil(48 * 2 / 8)
    assert conv.output_bytes == math.ceil(80 * 3 / 8)
    assert conv.output_tensor().bits == 3


# --- gemm, matmul, vector ops -------------------------------------------------------------


def test_gemm_and_matmul_views():
    fc = Gemm(name="fc", inputs=("x",), m=4, n=10, k=16, bias=True)
    assert fc.gemm_view() == (1, 4, 10, 16) and fc.macs == 640
    assert [t.shape for t in fc.weight_tensors()] == [(16, 10), (10,)]
    assert fc.output == "fc"  # output defaults to the op name
    mm = Matmul(name="qk", inputs=("q", "k"), batch=(2, 12), m=128, n=128, k=64)
    assert mm.gemm_view() == (24, 128, 128, 64)
    assert mm.macs == 24 * 128 * 128 * 64
    assert mm.input_shapes() == ((2, 12, 128, 64), (2, 12, 64, 128))
    assert mm.weight_tensors() == () and mm.weight_bytes == 0
    assert Matmul(name="mm", inputs=("a", "b"), m=2, n=3, k=4).gemm_view() == (1, 2, 3, 4)


@pytest.mark.parametrize("name", sorted(ELEMENTWISE_OPS))
def test_elementwise_work_per_element(name):
    kind = ELEMENTWISE_OPS[name]
    op = Elementwise(name="e", op=name, inputs=("x",) * kind.arity, shape=(2, 3, 5))
    assert op.vector_work() == kind.ops_per_element * 30
    assert op.macs == 0 and op.gemm_view() is None
    assert op.input_bytes == 30 * kind.arity and op.output_bytes == 30


def test_softmax_layernorm_pool_work():
    assert Softmax(name="s", inputs=("x",), rows=12, cols=128).vector_work() == 5 * 12 * 128
    ln = LayerNorm(name="ln", inputs=("x",), rows=128, cols=768)
    assert ln.vector_work() == 7 * 128 * 768 + 3 * 128
    assert ln.weight_tensors()[0].shape == (2, 768)
    plain = LayerNorm(name="ln", inputs=("x",), rows=4, cols=8, affine=False)
    assert plain.vector_work() == 5 * 32 + 3 * 4 and plain.weight_tensors() == ()
    mp = Pool(name="p", inputs=("x",), mode="max", in_h=112, in_w=112, channels=64, kernel=3,
              stride=2, padding=1)
    assert mp.output_shape == (1, 56, 56, 64)
    assert mp.vector_work() == 56 * 56 * 64 * 9
    gap = Pool(name="g", inputs=("x",), mode="avg", batch=2, in_h=7, in_w=7, channels=2048,
               global_pool=True)
    assert gap.output_shape == (2, 1, 1, 2048)
    assert gap.vector_work() == 2 * 2048 * 49
    assert Pool(name="p", inputs=("x",), mode="avg", in_h=8, in_w=8, channels=1,
                kernel=2).output_shape == (1, 4, 4, 1)  # stride defaults to the kernel


def test_registry_has_one_class_per_type():
    assert OP_TYPES["linear"] is OP_TYPES["gemm"] is Gemm
    for name, cls in OP_TYPES.items():
        assert cls.model_fields["type"].default == ("gemm" if name == "linear" else name)


# --- the graph ----------------------------------------------------------------------------


def test_tiny_cnn_example():
    wl = load_workload(TINY)
    assert wl.name == "tiny_cnn"
    assert wl.macs == 442_368 + 2_359_296 + 160 == 2_801_824
    assert [op.type for op in wl.ops] == [
        "conv2d", "elementwise", "conv2d", "elementwise", "elementwise", "pool", "pool", "gemm"]
    assert wl.producers["add"] == "add"
    assert wl.consumers["stem.relu"] == ("conv", "add")
    assert wl.outputs == ("fc",)
    assert wl.topological_order() == wl.ops
    assert wl.op("fc").gemm_view() == (1, 1, 10, 16)
    assert wl.weight_bytes == sum(op.weight_bytes for op in wl.ops) == 3064
    assert wl.vector_work() == sum(op.vector_work() for op in wl.ops)
    assert set(wl.tensors) == {"image", *(op.output for op in wl.ops),
                               *(t.name for op in wl.ops for t in op.weight_tensors())}
    assert wl.tensors["image"].role == "input"
    assert wl.tensors["stem.weight"].role == "weight"
    assert wl.tensors["gap"].shape == (1, 1, 1, 16)
    with pytest.raises(KeyError):
        wl.op("nope")


def test_workload_is_immutable_and_hashable():
    wl = load_workload(TINY)
    with pytest.raises(dataclasses.FrozenInstanceError):
        wl.name = "x"  # type: ignore[misc]
    with pytest.raises(TypeError):
        wl.tensors["x"] = wl.tensors["image"]  # type: ignore[index]
    assert hash(wl) == hash(load_workload(TINY))


def test_workload_pickles_and_copies():
    wl = load_workload(TINY)
    again = pickle.loads(pickle.dumps(wl))
    assert again == wl and again.source == wl.source and again.consumers == wl.consumers
    assert copy.deepcopy(wl) == wl


def test_ops_in_any_order_are_sorted_topologically():
    wl = load_workload(TINY)
    shuffled = list(wl.ops)
    random.Random(0).shuffle(shuffled)
    again = Workload(name=wl.name, ops=tuple(shuffled), inputs=wl.inputs)
    assert again == wl and again.ops == wl.ops


def test_declared_weight_tensor_feeds_a_matmul():
    wl = Workload(
        name="w",
        inputs=({"name": "x", "shape": [4, 8]}, {"name": "w", "shape": [8, 2], "role": "weight"}),
        ops=({"name": "mm", "type": "matmul", "inputs": ["x", "w"], "m": 4, "n": 2, "k": 8},),
    )
    assert wl.weight_bytes == 16 and wl.macs == 64


def _two_ops(**second: object) -> dict:
    """x (2, 8) -> relu 'a' -> op 'b' (a relu unless `second` says otherwise)."""
    first = {"name": "a", "type": "elementwise", "op": "relu", "inputs": ["x"], "shape": [2, 8]}
    op = {"name": "b", "type": "elementwise", "op": "relu", "inputs": ["a"], "shape": [2, 8]}
    if second.get("type") == "gemm":
        op = {"name": "b", "inputs": ["a"]}
    op.update(second)
    return {"name": "g", "inputs": [{"name": "x", "shape": [2, 8]}], "ops": [first, op]}


def test_chain_shape_mismatch_names_file_op_field_and_shapes():
    with pytest.raises(WorkloadError) as err:
        workload_from_dict(_two_ops(shape=[4, 4]), "net.yaml")
    msg = str(err.value)
    for part in ("net.yaml", "ops[1].inputs[0]", "'b'", "(2, 8)", "(4, 4)", "ops[0] 'a'"):
        assert part in msg


def test_chain_element_count_for_matrix_ops():
    ok = workload_from_dict(_two_ops(type="gemm", m=1, n=3, k=16))
    assert ok.macs == 48  # (2, 8) viewed as (1, 16)
    with pytest.raises(WorkloadError, match=r"16 elements.*\(1, 8\).*8 elements"):
        workload_from_dict(_two_ops(type="gemm", m=1, n=3, k=8))


def test_chain_bits_mismatch():
    with pytest.raises(WorkloadError, match=r"ops\[1\]\.act_bits.*of 8 bits.*act_bits is 4"):
        workload_from_dict(_two_ops(act_bits=4))
    ok = workload_from_dict(_two_ops(op="quantize", act_bits=8, out_bits=4))
    assert ok.tensors["b"].bits == 4 and ok.op("b").output_bytes == 8


@pytest.mark.parametrize(
    ("second", "match"),
    [
        ({"inputs": ["aa"]}, r"ops\[1\]\.inputs\[0\].*'aa' is not written.*did you mean 'a'"),
        ({"name": "a"}, r"ops\[1\]\.name.*'a' is already used by ops\[0\]"),
        ({"output": "x"}, r"ops\[1\]\.output.*'x' is already defined by inputs\[0\]"),
        ({"output": "a"}, r"tensor 'a' is already defined by ops\[0\]"),
        ({"inputs": ["b"]}, r"cycle: 'b' \(ops\[1\]\) -> 'b' \(ops\[1\]\)"),
    ],
)
def test_graph_errors(second, match):
    with pytest.raises(WorkloadError, match=match):
        workload_from_dict(_two_ops(**second))


def test_cycle_between_two_ops():
    data = _two_ops()
    data["ops"][0]["inputs"] = ["b"]
    with pytest.raises(WorkloadError, match=r"cycle: 'a' \(ops\[0\]\) -> 'b' \(ops\[1\]\) -> 'a'"):
        workload_from_dict(data)


# --- YAML round trip ----------------------------------------------------------------------


def test_yaml_round_trip(tmp_path):
    wl = load_workload(TINY)
    path = tmp_path / "tiny.yaml"
    dump_workload(wl, path, header="a header\nover two lines")
    text = path.read_text()
    assert text.startswith("# a header\n# over two lines\nname: tiny_cnn\n")
    assert load_workload(path) == wl
    assert workload_from_dict(wl.to_dict()) == wl
    assert wl.to_yaml() == load_workload(path).to_yaml()  # deterministic text


@pytest.mark.parametrize("name", ["resnet50", "mobilenet_v2", "bert_base"])
def test_a_batched_zoo_model_survives_a_round_trip(name):
    # a convolution's, pooling's or attention's batch is an int, a matmul's a tuple
    wl = pysim.zoo.load(name, batch=32)
    assert workload_from_dict(wl.to_dict()) == wl


def test_round_trip_keeps_non_default_fields(tmp_path):
    wl = Workload(
        name="odd",
        inputs=(Tensor(name="x", shape=(1, 9, 9, 4), bits=16, dtype="float"),),
        ops=(
            Conv2d(name="c", inputs=("x",), output="y", in_h=9, in_w=9, in_c=4, out_c=4,
                   kernel=(3, 1), stride=(2, 1), padding=(1, 0), dilation=(2, 1), groups=2,
                   weight_bits=4, act_bits=16, out_bits=8, dtype="float"),
            Pool(name="p", inputs=("y",), mode="max", in_h=4, in_w=9, channels=4, kernel=(2, 3),
                 stride=(1, 2)),
        ),
    )
    path = tmp_path / "odd.yaml"
    dump_workload(wl, path)
    assert load_workload(path) == wl
    assert "kernel: [3, 1]" in path.read_text()
