"""ONNX import: small models built with onnx.helper (a conv net, transposed convolutions, an
attention block, a quantized MLP, unsupported ops) are imported and their ops, MACs,
precisions and DAG checked exactly; dynamic dimensions, bad files and bad options raise
WorkloadError. No model is downloaded."""

from __future__ import annotations

import pickle
import random

import numpy as np
import onnx
import pytest
from onnx import TensorProto as T
from onnx import helper as h
from onnx import numpy_helper as nh

import pysim
from pysim.errors import WorkloadError
from pysim.workload.onnx_import import SUPPORTED_OPS

HW = "configs/edge_npu.yaml"


def const(name, value, dtype=np.float32):
    return nh.from_array(np.asarray(value, dtype), name)


def zeros(name, shape, dtype=np.float32):
    return nh.from_array(np.zeros(shape, dtype), name)


def save(tmp_path, nodes, inputs, inits, name="model", opset=17, domains=()):
    graph = h.make_graph(nodes, name, inputs,
                         [h.make_tensor_value_info(nodes[-1].output[0], T.FLOAT, None)], inits)
    opsets = [h.make_opsetid("", opset), *(h.make_opsetid(d, 1) for d in domains)]
    path = tmp_path / f"{name}.onnx"
    onnx.save(h.make_model(graph, opset_imports=opsets), path)
    return path


def conv_net(tmp_path):
    """image (N, 3, 32, 32) -> conv 3x3/2 with asymmetric pads -> ReLU -> depthwise 3x3,
    dilation 2 -> BatchNorm (folded) -> conv 3x3/2 SAME_UPPER -> max pool 3/2 ceil mode ->
    global average pool -> Flatten -> Gemm (transB) 10."""
    nodes = [
        h.make_node("Conv", ["image", "w1", "b1"], ["c1"], name="conv1", kernel_shape=[3, 3],
                    strides=[2, 2], pads=[0, 0, 1, 1]),
        h.make_node("Relu", ["c1"], ["r1"], name="relu1"),
        h.make_node("Conv", ["r1", "w2"], ["c2"], name="dw", group=16, pads=[2, 2, 2, 2],
                    dilations=[2, 2]),
        h.make_node("BatchNormalization", ["c2", "s", "sh", "mu", "var"], ["bn"], name="bn"),
        h.make_node("Conv", ["bn", "w3"], ["c3"], name="conv3", strides=[2, 2],
                    auto_pad="SAME_UPPER"),
        h.make_node("MaxPool", ["c3"], ["p"], name="pool", kernel_shape=[3, 3], strides=[2, 2],
                    ceil_mode=1),
        h.make_node("GlobalAveragePool", ["p"], ["gap"], name="gap"),
        h.make_node("Flatten", ["gap"], ["flat"], name="flatten"),
        h.make_node("Gemm", ["flat", "wfc", "bfc"], ["logits"], name="fc", transB=1),
    ]
    inits = [zeros("w1", (16, 3, 3, 3)), zeros("b1", (16,)), zeros("w2", (16, 1, 3, 3)),
             *(zeros(n, (16,)) for n in ("s", "sh", "mu", "var")), zeros("w3", (32, 16, 3, 3)),
             zeros("wfc", (10, 32)), zeros("bfc", (10,))]
    image = h.make_tensor_value_info("image", T.FLOAT, ["N", 3, 32, 32])
    return save(tmp_path, nodes, [image], inits, "conv_net")


def test_conv_net(tmp_path):
    wl = pysim.load_workload(conv_net(tmp_path), batch=2)
    assert wl.name == "conv_net" and wl.unsupported == ()
    assert [op.name for op in wl.ops] == ["conv1", "relu1", "dw", "conv3", "pool", "gap", "fc"]
    conv1, _, dw, conv3, pool, gap, fc = wl.ops
    # conv1: out floor((32 + 0 + 1 - 3) / 2) + 1 = 16; symmetric padding 1 gives the same size.
    assert (conv1.output_shape, conv1.padding, conv1.bias) == ((2, 16, 16, 16), (1, 1), True)
    assert conv1.macs == 2 * 16 * 16 * 16 * 3 * 9                        # 221,184
    # depthwise, dilation 2, pads 2: out 16 + 4 - 4 = 16; BN folded into its bias.
    assert (dw.groups, dw.dilation, dw.padding, dw.bias) == (16, (2, 2), (2, 2), True)
    assert dw.macs == 2 * 16 * 16 * 16 * 1 * 9                           # 73,728
    # SAME_UPPER stride 2: out ceil(16 / 2) = 8, total padding 1 -> symmetric 1.
    assert (conv3.output_shape, conv3.padding) == ((2, 8, 8, 32), (1, 1))
    assert conv3.macs == 2 * 8 * 8 * 32 * 16 * 9                         # 589,824
    # ceil mode: out ceil((8 - 3) / 2) + 1 = 4, as floor mode with padding 1.
    assert (pool.output_shape, pool.padding) == ((2, 4, 4, 32), (1, 1))
    assert pool.vector_work() == 2 * 4 * 4 * 32 * 9
    assert gap.global_pool and gap.vector_work() == 2 * 32 * 16
    assert fc.gemm_view() == (1, 2, 10, 32) and fc.bias
    assert wl.macs == 221_184 + 73_728 + 589_824 + 640 == 885_376
    # DAG: ONNX tensor names; BN and Flatten are views of their inputs.
    assert wl.op("conv3").inputs == ("c2",) and wl.op("fc").inputs == ("gap",)
    assert wl.consumers["r1"] == ("dw",) and wl.producers["logits"] == "fc"
    assert wl.inputs[0].shape == (2, 32, 32, 3) and wl.inputs[0].bits == 32
    assert wl.outputs == ("logits",)
    # A float model stays float32; quantize_bits=8 imports it for an int8 accelerator.
    assert {(op.dtype, op.act_bits, op.weight_bits) for op in wl.ops if op.macs} == {
        ("float", 32, 32)}
    wl8 = pysim.load_workload(conv_net(tmp_path), batch=2, quantize_bits=8)
    assert {(op.dtype, op.act_bits, op.weight_bits) for op in wl8.ops if op.macs} == {
        ("int", 8, 8)}
    res = pysim.simulate(pysim.load_hardware(HW), wl8)
    assert res.macs == 885_376 and res.latency_s > 0


def test_conv_transpose(tmp_path):
    """Each ConvTranspose counts as the direct convolution over the zero-inserted input:
    N * OH * OW * M * (C / g) * kh * kw MACs (4x the scatter form's N*H*W*C*M*kh*kw here)."""
    nodes = [
        h.make_node("ConvTranspose", ["x", "w1"], ["u1"], name="up1", strides=[2, 2],
                    pads=[1, 1, 1, 1]),
        h.make_node("ConvTranspose", ["u1", "w2", "b2"], ["u2"], name="up2", strides=[2, 2]),
    ]
    inits = [zeros("w1", (8, 4, 4, 4)), zeros("w2", (4, 2, 2, 2)), zeros("b2", (2,))]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 8, 5, 5])
    wl = pysim.load_workload(save(tmp_path, nodes, [x], inits, "deconv"))
    up1, up2 = wl.ops
    # up1: out 2 * (5 - 1) + 4 - 2 = 10; a stride-1 4x4 conv with padding 4 gives 10 too.
    assert (up1.output_shape, up1.stride, up1.padding) == ((1, 10, 10, 4), (1, 1), (4, 4))
    assert up1.macs == 10 * 10 * 4 * 8 * 16 == 4 * (5 * 5 * 8 * 4 * 16)   # 51,200
    # up2: 2x2 stride 2: out 20; odd total padding needs dilation 2 (MACs do not change).
    assert (up2.output_shape, up2.dilation, up2.bias) == ((1, 20, 20, 2), (2, 2), True)
    assert up2.macs == 20 * 20 * 2 * 4 * 4                                 # 12,800
    assert up2.inputs == ("u1",)


def attention(tmp_path, dims=("batch", "seq")):
    """Pre-norm attention block, hidden 64, 4 heads of 16: LayerNormalization, Q/K/V MatMul +
    bias Add, Reshape + Transpose into heads, Q K^T, / sqrt(16), Softmax, P V, Transpose +
    Reshape back, output MatMul, residual Add."""
    nodes = [h.make_node("LayerNormalization", ["x", "g", "b"], ["ln"], name="ln", axis=-1)]
    for p in "qkv":
        nodes += [h.make_node("MatMul", ["ln", f"W{p}"], [f"{p}0"], name=f"{p}_proj"),
                  h.make_node("Add", [f"{p}0", f"b{p}"], [f"{p}1"], name=f"{p}_bias"),
                  h.make_node("Reshape", [f"{p}1", "split"], [f"{p}2"], name=f"{p}_split")]
    nodes += [
        h.make_node("Transpose", ["q2"], ["q3"], name="q_t", perm=[0, 2, 1, 3]),
        h.make_node("Transpose", ["k2"], ["k3"], name="k_t", perm=[0, 2, 3, 1]),
        h.make_node("Transpose", ["v2"], ["v3"], name="v_t", perm=[0, 2, 1, 3]),
        h.make_node("MatMul", ["q3", "k3"], ["scores"], name="qk"),
        h.make_node("Div", ["scores", "sqrt_d"], ["scaled"], name="scale"),
        h.make_node("Softmax", ["scaled"], ["probs"], name="softmax", axis=-1),
        h.make_node("MatMul", ["probs", "v3"], ["ctx"], name="pv"),
        h.make_node("Transpose", ["ctx"], ["ctx_t"], name="ctx_t", perm=[0, 2, 1, 3]),
        h.make_node("Reshape", ["ctx_t", "merge"], ["ctx_m"], name="merge"),
        h.make_node("MatMul", ["ctx_m", "Wo"], ["o"], name="o_proj"),
        h.make_node("Add", ["o", "x"], ["y"], name="residual"),
    ]
    inits = [zeros("g", (64,)), zeros("b", (64,)), const("split", [0, 0, 4, 16], np.int64),
             const("merge", [0, 0, 64], np.int64), const("sqrt_d", 4.0), zeros("Wo", (64, 64))]
    inits += [zeros(f"{w}{p}", (64, 64) if w == "W" else (64,)) for p in "qkv" for w in "Wb"]
    x = h.make_tensor_value_info("x", T.FLOAT, [*dims, 64])
    return save(tmp_path, nodes, [x], inits, "attention")


def test_attention_block(tmp_path):
    wl = pysim.load_workload(attention(tmp_path), batch=2, seq=8)
    assert [(op.name, op.type) for op in wl.ops] == [
        ("ln", "layernorm"), ("q_proj", "gemm"), ("k_proj", "gemm"), ("v_proj", "gemm"),
        ("qk", "matmul"), ("scale", "elementwise"), ("softmax", "softmax"), ("pv", "matmul"),
        ("o_proj", "gemm"), ("residual", "elementwise")]
    ln, q, k, _, qk, scale, sm, pv, o, res = wl.ops
    assert (ln.rows, ln.cols) == (16, 64)
    # Projections: 16 tokens x 64 -> 64, the bias Add folded in: 3 x 65,536 MACs.
    assert q.gemm_view() == (1, 16, 64, 64) and q.bias and not o.bias
    # Scores over (batch 2, heads 4): 8 x (8 x 16) @ (16 x 8) = 8,192; context the same.
    assert qk.gemm_view() == (8, 8, 8, 16) and pv.gemm_view() == (8, 8, 16, 8)
    assert scale.op == "mul_const" and (sm.rows, sm.cols) == (64, 8)
    assert res.op == "add" and res.inputs == ("o", "x")
    assert wl.macs == 4 * 16 * 64 * 64 + 2 * 8 * 8 * 8 * 16 == 278_528
    # Views (Reshape, Transpose) leave the DAG on the ONNX tensors that hold the data.
    assert qk.inputs == ("q0", "k0") and pv.inputs == ("probs", "v0") and o.inputs == ("ctx",)
    assert wl.consumers["x"] == ("ln", "residual")
    # The dynamic dims take their values: seq=128 scales the score MACs quadratically.
    big = pysim.load_workload(attention(tmp_path), batch=1, seq=128)
    assert big.macs == 4 * 128 * 64 * 64 + 2 * 4 * 128 * 128 * 16
    assert pysim.load_workload(attention(tmp_path), x=(2, 8, 64)) == wl


def quantized_mlp(tmp_path):
    """x float -> QuantizeLinear int8 -> QLinearMatMul (32 -> 64, int8) -> DequantizeLinear ->
    Relu -> QuantizeLinear -> MatMulInteger (64 -> 16, int32 out) -> Cast float -> MatMul with
    DequantizeLinear(int4 weights) (16 -> 8)."""
    nodes = [
        h.make_node("QuantizeLinear", ["x", "sc", "zp"], ["xq"], name="quant_in"),
        h.make_node("QLinearMatMul", ["xq", "sc", "zp", "W1", "sc", "zp", "sc", "zp"], ["h1"],
                    name="fc1"),
        h.make_node("DequantizeLinear", ["h1", "sc", "zp"], ["h1f"], name="dq1"),
        h.make_node("Relu", ["h1f"], ["r1"], name="relu1"),
        h.make_node("QuantizeLinear", ["r1", "sc", "zp"], ["r1q"], name="q1"),
        h.make_node("MatMulInteger", ["r1q", "W2"], ["acc"], name="fc2"),
        h.make_node("Cast", ["acc"], ["accf"], name="to_float", to=T.FLOAT),
        h.make_node("DequantizeLinear", ["W3q", "sc"], ["W3"], name="dq_w3"),
        h.make_node("MatMul", ["accf", "W3"], ["out"], name="fc3"),
    ]
    inits = [const("sc", 0.1), const("zp", 0, np.int8), zeros("W1", (32, 64), np.int8),
             zeros("W2", (64, 16), np.int8), h.make_tensor("W3q", T.INT4, [16, 8], [0] * 128)]
    x = h.make_tensor_value_info("x", T.FLOAT, ["batch", 32])
    return save(tmp_path, nodes, [x], inits, "qmlp", opset=21)


def test_quantized_mlp_precisions(tmp_path):
    wl = pysim.load_workload(quantized_mlp(tmp_path), batch=4)
    assert [op.name for op in wl.ops] == ["fc1", "relu1", "fc2", "fc3"]
    fc1, relu, fc2, fc3 = wl.ops
    bits = {op.name: (op.weight_bits, op.act_bits, op.output_bits) for op in wl.ops if op.macs}
    assert bits == {"fc1": (8, 8, 8), "fc2": (8, 8, 32), "fc3": (4, 32, 32)}
    assert {op.dtype for op in wl.ops} == {"int"}  # Cast of the int32 sums is a view
    assert (relu.act_bits, relu.output_bits, relu.dtype) == (8, 8, "int")
    # The float input a QuantizeLinear reads is imported at its quantized width.
    assert (wl.inputs[0].shape, wl.inputs[0].bits) == ((4, 32), 8)
    assert fc1.gemm_view() == (1, 4, 64, 32) and fc2.gemm_view() == (1, 4, 16, 64)
    assert wl.macs == 4 * 64 * 32 + 4 * 16 * 64 + 4 * 8 * 16 == 12_800
    assert fc3.weight_bytes == 16 * 8 // 2  # int4, packed
    assert relu.inputs == ("h1",) and fc2.inputs == ("r1",) and fc3.inputs == ("acc",)


def test_qdq_conv_runs_in_int8(tmp_path):
    """QuantizeLinear -> DequantizeLinear -> Conv(DequantizeLinear(int8 weights), int32 bias)
    with a float output: the conv computes on int8 operands (dtype int), writes 32 bits."""
    nodes = [
        h.make_node("QuantizeLinear", ["x", "sc", "zp"], ["xq"], name="q"),
        h.make_node("DequantizeLinear", ["xq", "sc", "zp"], ["xd"], name="dq"),
        h.make_node("DequantizeLinear", ["wq", "sc"], ["w"], name="dq_w"),
        h.make_node("DequantizeLinear", ["bq", "sc"], ["b"], name="dq_b"),
        h.make_node("Conv", ["xd", "w", "b"], ["y"], name="conv", pads=[1, 1, 1, 1]),
    ]
    inits = [const("sc", 0.05), const("zp", 0, np.int8), zeros("wq", (8, 4, 3, 3), np.int8),
             zeros("bq", (8,), np.int32)]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4, 6, 6])
    wl = pysim.load_workload(save(tmp_path, nodes, [x], inits, "qdq", opset=19))
    (conv,) = wl.ops
    assert (conv.dtype, conv.weight_bits, conv.act_bits, conv.output_bits) == ("int", 8, 8, 32)
    assert (conv.bias, conv.bias_bits, wl.inputs[0].bits) == (True, 32, 8)
    assert conv.macs == 6 * 6 * 8 * 4 * 9
    assert pysim.simulate(pysim.load_hardware(HW), wl).macs == conv.macs


def test_batched_matmul_broadcast_and_constant_operand(tmp_path):
    """A (2, 3, 5, 4) @ B (4, 6) activations: B broadcast over the batch, so the batch
    folds into m; a constant left operand is declared as a weight tensor."""
    nodes = [h.make_node("Relu", ["b"], ["br"], name="relu"),
             h.make_node("MatMul", ["a", "br"], ["ab"], name="mm"),
             h.make_node("MatMul", ["W", "a"], ["wa"], name="wa")]
    a = h.make_tensor_value_info("a", T.INT8, [2, 3, 5, 4])
    b = h.make_tensor_value_info("b", T.INT8, [4, 6])
    graph = h.make_graph(nodes, "mm", [a, b], [h.make_tensor_value_info(n, T.INT8, None)
                                               for n in ("ab", "wa")],
                         [zeros("W", (3, 7, 5), np.int8)])
    path = tmp_path / "mm.onnx"
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    wl = pysim.load_workload(path)
    assert wl.op("mm").gemm_view() == (1, 2 * 3 * 5, 6, 4)
    # W (3, 7, 5) @ a (2, 3, 5, 4): batch dims (1, 3) vs (2, 3) -> 3 shared, 2 folds into n.
    assert wl.op("wa").gemm_view() == (3, 7, 2 * 4, 5)
    assert wl.tensors["W"].role == "weight" and wl.weight_bytes == 3 * 7 * 5
    res = pysim.simulate(pysim.load_hardware(HW), wl)
    assert res.macs == 2 * 3 * 5 * 6 * 4 + 3 * 7 * 8 * 5


def unsupported_model(tmp_path):
    """conv -> custom FooBar -> Relu -> Einsum -> Relu; GridSample(conv out) to 16x16 -> Relu."""
    nodes = [
        h.make_node("Conv", ["x", "w"], ["c"], name="conv", pads=[1, 1, 1, 1]),
        h.make_node("FooBar", ["c"], ["f"], name="foo", domain="custom.ops"),
        h.make_node("Relu", ["f"], ["r"], name="relu1"),
        h.make_node("Einsum", ["r"], ["e"], name="ein", equation="nchw->nchw"),
        h.make_node("Relu", ["e"], ["r3"], name="relu3"),
        h.make_node("GridSample", ["c", "grid"], ["cat"], name="cat"),
        h.make_node("Relu", ["cat"], ["out"], name="relu2"),
    ]
    x = h.make_tensor_value_info("x", T.FLOAT, [1, 4, 8, 8])
    return save(tmp_path, nodes, [x], [zeros("w", (4, 4, 3, 3)),
                                       zeros("grid", (1, 16, 16, 2))], "unsup",
                domains=("custom.ops",))


def test_unsupported_ops_listed_then_skipped(tmp_path):
    path = unsupported_model(tmp_path)
    with pytest.raises(WorkloadError) as err:
        pysim.load_workload(path)
    msg = str(err.value)
    assert msg.startswith(f"{path}: 3 ONNX node(s) cannot be mapped")
    assert "(op types: Einsum, GridSample, custom.ops.FooBar)" in msg
    for line in ("custom.ops.FooBar 'foo': op type not supported",
                 "Einsum 'ein': op type not supported",
                 "GridSample 'cat': op type not supported"):
        assert line in msg
    assert "allow_unsupported=True" in msg
    wl = pysim.load_workload(path, allow_unsupported=True)
    assert [(u.op_type, u.name) for u in wl.unsupported] == [
        ("custom.ops.FooBar", "foo"), ("Einsum", "ein"), ("GridSample", "cat")]
    assert [op.name for op in wl.ops] == ["conv", "relu1", "relu3", "relu2"]
    assert wl.macs == 8 * 8 * 4 * 4 * 9
    # Skipped ops keep the chain when the output has the input's size (or an unknown one:
    # FooBar, Einsum); otherwise (GridSample) the output becomes a graph input of its own shape.
    assert wl.op("relu1").inputs == ("c",) and wl.op("relu3").inputs == ("r",)
    assert wl.op("relu2").inputs == ("cat",) and wl.tensors["cat"].shape == (1, 16, 16, 4)
    assert pickle.loads(pickle.dumps(wl)).unsupported == wl.unsupported
    assert pysim.simulate(pysim.load_hardware(HW), pysim.load_workload(
        path, allow_unsupported=True, quantize_bits=8)).macs == wl.macs


def external(name, shape):
    """An initializer whose data lives in a file that is never written: the importer needs
    only shapes (large models keep their weights outside the .onnx file)."""
    t = onnx.TensorProto(name=name, data_type=T.FLOAT, dims=shape)
    t.data_location = T.EXTERNAL
    t.external_data.add(key="location", value="weights.bin")
    return t


def zoo_as_onnx(wl, path):
    """Write zoo CNN `wl` (NHWC) as an NCHW ONNX model with the same op and tensor names."""
    nodes, inits = [], []
    for op in wl.ops:
        x = list(op.inputs)
        if op.type == "conv2d":
            kh, kw = op.kernel
            inits += [external(f"{op.name}.w", [op.out_c, op.in_c // op.groups, kh, kw]),
                      external(f"{op.name}.b", [op.out_c])]
            nodes.append(h.make_node("Conv", [*x, f"{op.name}.w", f"{op.name}.b"], [op.output],
                                     name=op.name, kernel_shape=[kh, kw], strides=op.stride,
                                     pads=[*op.padding, *op.padding], group=op.groups))
        elif op.type == "elementwise" and op.op == "relu6":
            nodes.append(h.make_node("Clip", [*x, "zero", "six"], [op.output], name=op.name))
        elif op.type == "elementwise":
            nodes.append(h.make_node(op.op.capitalize(), x, [op.output], name=op.name))
        elif op.type == "pool" and op.global_pool:
            nodes.append(h.make_node("GlobalAveragePool", x, [op.output], name=op.name))
        elif op.type == "pool":
            nodes.append(h.make_node("MaxPool", x, [op.output], name=op.name,
                                     kernel_shape=op.kernel, strides=op.stride,
                                     pads=[*op.padding, *op.padding]))
        else:
            inits += [external(f"{op.name}.w", [op.n, op.k]), external(f"{op.name}.b", [op.n])]
            nodes += [h.make_node("Flatten", x, [f"{op.name}.flat"], name=f"{op.name}.flatten"),
                      h.make_node("Gemm", [f"{op.name}.flat", f"{op.name}.w", f"{op.name}.b"],
                                  [op.output], name=op.name, transB=1)]
    inits += [const("zero", 0.0), const("six", 6.0)]
    image = h.make_tensor_value_info("image", T.FLOAT, ["N", 3, 224, 224])
    graph = h.make_graph(nodes, wl.name, [image],
                         [h.make_tensor_value_info(wl.outputs[0], T.FLOAT, None)], inits)
    onnx.save(h.make_model(graph, opset_imports=[h.make_opsetid("", 17)]), path)
    return path


@pytest.mark.parametrize("name", ["resnet18", "mobilenet_v2"])
def test_zoo_cnn_exported_to_onnx_imports_the_same(tmp_path, name):
    """The zoo's ResNet-18 and MobileNetV2 written as ONNX (NCHW, Conv/Relu/Clip/Add/MaxPool/
    GlobalAveragePool/Flatten/Gemm, weights external and absent) import with the same ops,
    MACs, vector work and weights, and simulate to the same latency and DRAM traffic."""
    zoo_wl = pysim.zoo.load(name, batch=2)
    wl = pysim.load_workload(zoo_as_onnx(zoo_wl, tmp_path / f"{name}.onnx"), batch=2,
                             quantize_bits=8)
    assert [op.name for op in wl.ops] == [op.name for op in zoo_wl.ops]
    assert wl.macs == zoo_wl.macs and wl.vector_work() == zoo_wl.vector_work()
    assert wl.weight_bytes == zoo_wl.weight_bytes
    assert wl.inputs[0].shape == (2, 224, 224, 3)
    hw = pysim.load_hardware(HW)
    a, b = pysim.simulate(hw, wl), pysim.simulate(hw, zoo_wl)
    assert (a.latency_cycles, a.dram_read_bytes) == (b.latency_cycles, b.dram_read_bytes)


def test_erf_gelu_ffn_and_activations(tmp_path):
    """A BERT-export FFN: MatMul + bias, GELU as x * 0.5 * (1 + erf(x / sqrt 2)), MatMul;
    then HardSwish, LeakyRelu, Clip, Sqrt, Pow(x, 2) and Sigmoid on the result."""
    nodes = [
        h.make_node("MatMul", ["x", "W1"], ["f0"], name="fc1"),
        h.make_node("Add", ["b1", "f0"], ["f"], name="fc1.bias"),
        h.make_node("Div", ["f", "sqrt2"], ["d"], name="div"),
        h.make_node("Erf", ["d"], ["e"], name="erf"),
        h.make_node("Add", ["e", "one"], ["e1"], name="plus1"),
        h.make_node("Mul", ["f", "e1"], ["m"], name="mul"),
        h.make_node("Mul", ["m", "half"], ["g"], name="half"),
        h.make_node("MatMul", ["g", "W2"], ["y"], name="fc2"),
        h.make_node("HardSwish", ["y"], ["a1"], name="hswish"),
        h.make_node("LeakyRelu", ["a1"], ["a2"], name="leaky"),
        h.make_node("Clip", ["a2", "", "six"], ["a3"], name="clip"),
        h.make_node("Sqrt", ["a3"], ["a4"], name="sqrt"),
        h.make_node("Pow", ["a4", "two"], ["a5"], name="square"),
        h.make_node("Sigmoid", ["a5"], ["out"], name="sigmoid"),
    ]
    inits = [zeros("W1", (16, 32)), zeros("b1", (32,)), zeros("W2", (32, 16)),
             const("sqrt2", 1.4142), const("one", 1.0), const("half", 0.5), const("six", 6.0),
             const("two", 2.0)]
    x = h.make_tensor_value_info("x", T.FLOAT, [4, 8, 16])
    wl = pysim.load_workload(save(tmp_path, nodes, [x], inits, "ffn"))
    kinds = [(op.name, getattr(op, "op", op.type)) for op in wl.ops]
    assert kinds == [("fc1", "gemm"), ("div", "mul_const"), ("erf", "erf"),
                     ("plus1", "add_const"), ("mul", "mul"), ("half", "mul_const"),
                     ("fc2", "gemm"), ("hswish", "hard_swish"), ("leaky", "leaky_relu"),
                     ("clip", "clip"), ("sqrt", "sqrt"), ("square", "pow"),
                     ("sigmoid", "sigmoid")]
    assert wl.op("fc1").bias and wl.op("mul").inputs == ("f0", "e1")
    assert wl.macs == 2 * 32 * 16 * 32
    # GELU: 5 ops on 32 x 32; then 5 + 2 + 2 + 1 + 1 + 3 ops on 32 x 16.
    assert wl.vector_work() == 5 * 32 * 32 + 14 * 32 * 16


def test_embedding_lookup_is_a_graph_input(tmp_path):
    nodes = [h.make_node("Gather", ["table", "ids"], ["emb"], name="embed"),
             h.make_node("MatMul", ["emb", "W"], ["y"], name="proj")]
    ids = h.make_tensor_value_info("ids", T.INT64, ["batch", "seq"])
    wl = pysim.load_workload(save(tmp_path, nodes, [ids], [zeros("table", (100, 16)),
                                                           zeros("W", (16, 8))], "emb"),
                             batch=3, seq=5)
    assert [t.name for t in wl.inputs] == ["emb"] and wl.tensors["emb"].shape == (3, 5, 16)
    assert wl.op("proj").gemm_view() == (1, 15, 8, 16)


def test_supported_ops_listed():
    for op in ("Conv", "ConvTranspose", "Gemm", "MatMul", "QLinearMatMul", "MatMulInteger",
               "MaxPool", "GlobalAveragePool", "Softmax", "LayerNormalization", "Erf",
               "HardSwish", "QuantizeLinear", "DequantizeLinear", "Reshape", "Shape"):
        assert op in SUPPORTED_OPS


# -- bad input ---------------------------------------------------------------------------------
def test_missing_dynamic_dims(tmp_path):
    path = attention(tmp_path)
    with pytest.raises(WorkloadError, match=r"input 'x' dim 1 \('seq'\) is dynamic; pass "
                                            r"seq=<int> or x=<shape>") as err:
        pysim.load_workload(path, batch=2)
    assert str(err.value).startswith(f"{path}: dynamic dimensions need values")
    with pytest.raises(WorkloadError) as err:
        pysim.load_workload(path)
    assert "dim 0 ('batch')" in str(err.value) and "dim 1 ('seq')" in str(err.value)
    unnamed = attention(tmp_path, dims=(2, None))
    with pytest.raises(WorkloadError, match=r"dim 1 \(unnamed\) is dynamic; pass x=<shape>"):
        pysim.load_workload(unnamed)


@pytest.mark.parametrize(("options", "match"), [
    ({"batch": 2, "sequence": 8}, "'sequence' is neither an input nor a dynamic dimension"),
    ({"batch": 0, "seq": 8}, "batch must be an int >= 1, got 0"),
    ({"batch": 2, "seq": -8}, "seq must be an int >= 1, got -8"),
    ({"x": (2, 8)}, r"input 'x' has 3 dimensions \(batch, seq, 64\), got shape \(2, 8\)"),
    ({"x": (2, 8, 32)}, "input 'x' dim 2 is fixed at 64 in the model, got 32"),
    ({"batch": 2, "seq": 8, "quantize_bits": 64}, "quantize_bits must be an int from 1 to 32"),
])
def test_bad_options(tmp_path, options, match):
    with pytest.raises(WorkloadError, match=match):
        pysim.load_workload(attention(tmp_path), **options)


def test_fixed_batch_and_yaml_options(tmp_path):
    path = attention(tmp_path, dims=(1, 8))
    assert pysim.load_workload(path, batch=1).macs == pysim.load_workload(path).macs
    with pytest.raises(WorkloadError, match="batch=4, but no input has a dynamic first"):
        pysim.load_workload(path, batch=4)
    with pytest.raises(WorkloadError, match="batch: options of ONNX import"):
        pysim.load_workload("workloads/tiny_cnn.yaml", batch=2)


@pytest.mark.parametrize("content", ["truncated", "random", "empty", "missing"])
def test_bad_files(tmp_path, content):
    path = tmp_path / "bad.onnx"
    good = attention(tmp_path).read_bytes()
    data = {"truncated": good[: len(good) // 2], "random": random.Random(0).randbytes(512),
            "empty": b""}.get(content)
    if data is not None:
        path.write_bytes(data)
    expected = {"truncated": "not a valid ONNX model (corrupt or truncated file?)",
                "random": "not a valid ONNX model", "empty": "not an ONNX model",
                "missing": "cannot read ONNX file"}[content]
    with pytest.raises(WorkloadError) as err:
        pysim.load_workload(path, batch=1, seq=8)
    assert str(err.value).startswith(f"{path}: {expected}")


def test_shape_inference_failure(tmp_path):
    nodes = [h.make_node("MatMul", ["x", "W"], ["y"], name="mm")]
    x = h.make_tensor_value_info("x", T.FLOAT, [2, 5])
    path = save(tmp_path, nodes, [x], [zeros("W", (4, 3))], "bad_shapes")
    with pytest.raises(WorkloadError, match=f"{path}: ONNX shape inference failed"):
        pysim.load_workload(path)


def test_cli_passes_onnx_options(tmp_path, capsys) -> None:
    import numpy as np
    import onnx
    from onnx import TensorProto, helper, numpy_helper

    from pysim.cli import main

    x = helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 3, 16, 16])
    y = helper.make_tensor_value_info("y", TensorProto.FLOAT, None)
    w = numpy_helper.from_array(np.zeros((8, 3, 3, 3), np.float32), "w")
    graph = helper.make_graph([helper.make_node("Conv", ["x", "w"], ["y"], pads=[1, 1, 1, 1])],
                              "tiny", [x], [y], [w])
    path = tmp_path / "tiny.onnx"
    onnx.save(helper.make_model(graph), path)
    assert main(["run", "configs/edge_npu.yaml", str(path)]) == 2
    assert "dynamic" in capsys.readouterr().err
    assert main(["run", "configs/edge_npu.yaml", str(path), "--batch", "2",
                 "--quantize-bits", "8", "--json"]) == 0
    import json

    assert json.loads(capsys.readouterr().out)["macs"] == 2 * 16 * 16 * 8 * 27


@pytest.mark.parametrize(("op_type", "domain", "rms"), [
    ("LayerNormalization", "", False), ("RMSNormalization", "", True),
    ("SimplifiedLayerNormalization", "com.microsoft", True)])
def test_rms_norms_import_as_rms_layernorms(tmp_path, op_type, domain, rms):
    x = h.make_tensor_value_info("x", T.FLOAT, [4, 32])
    node = h.make_node(op_type, ["x", "g"], ["y"], name="norm", axis=-1, domain=domain)
    path = save(tmp_path, [node], [x], [const("g", np.ones(32))], op_type,
                opset=23 if op_type == "RMSNormalization" else 17,
                domains=(domain,) if domain else ())
    (norm,) = pysim.load_workload(path).ops
    assert (norm.type, norm.rows, norm.cols, norm.rms) == ("layernorm", 4, 32, rms)
    # an RMS norm: 4 vector ops per element and 2 per row, gamma only
    assert norm.vector_work() == (4 * 128 + 2 * 4 if rms else 7 * 128 + 3 * 4)
    assert norm.weight_tensors()[0].shape == ((1 if rms else 2), 32)
