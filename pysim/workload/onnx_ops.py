"""How each supported ONNX op type becomes pysim ops (docs/workloads.md, "ONNX import").

One handler per op type, ``handler(importer, node, name)``: it reads the node's inputs as
`Val`s, emits pysim ops through the `Importer` (the ONNX output tensor names become the pysim
output names) and raises `Unsupported` with a reason when the node cannot be mapped.
Convolutions and pooling read NCHW in ONNX and NHWC in pysim; the output size is ONNX's (from
shape inference), and the symmetric pysim padding is the one nearest half the ONNX total that
reproduces it (MACs depend only on the output size, so they are exact).
"""

from __future__ import annotations

import math
from collections.abc import Callable

from onnx import NodeProto

from pysim.workload.data_ops import Copy, Reduce
from pysim.workload.onnx_graph import Importer, Unsupported, Val, attrs, canonical
from pysim.workload.ops import Conv2d, Gemm, Matmul, conv_out
from pysim.workload.vector_ops import Elementwise, LayerNorm, Pool, Softmax

Handler = Callable[[Importer, NodeProto, str], None]


def _input(imp: Importer, node: NodeProto, index: int) -> Val | None:
    """The Val of the node's input `index`, None if absent (optional)."""
    if index >= len(node.input) or not node.input[index]:
        return None
    return imp.value(node.input[index])


def _act(imp: Importer, node: NodeProto, index: int) -> Val:
    val = _input(imp, node, index)
    if val is None or val.const:
        raise Unsupported(f"input {index} must be an activation, got a constant")
    return val


def _const(imp: Importer, node: NodeProto, index: int, what: str) -> Val:
    val = _input(imp, node, index)
    if val is None or not val.const or val.shape is None:
        raise Unsupported(f"the {what} (input {index}) must be a constant of known shape")
    return val


def _elementwise(imp: Importer, node: NodeProto, name: str, kind: str, x: Val) -> None:
    imp.emit(Elementwise(op=kind, inputs=(x.tensor,), shape=imp.layout(x),
                         **imp.out_fields(node, name, x.bits)), node.output[0])


# -- convolution and pooling -------------------------------------------------------------------
def _fit(size: int, kernel: int, stride: int, dilations: tuple[int, ...], out: int,
         total: int) -> tuple[int, int]:
    """(padding, dilation): symmetric padding nearest total/2 (the smaller on a tie), in
    0..total + span, giving output size `out`. Solved, not searched: conv_out(pad) == out
    exactly when 2 pad lies in [lo, lo + stride - 1], lo = (out - 1) stride + span - size, so
    a huge dilation or padding costs nothing (a search over every pad once ran out of
    memory)."""
    for dil in dilations:
        span = dil * (kernel - 1) + 1
        lo = (out - 1) * stride + span - size
        first, last = max(0, -(-lo // 2)), min(total + span, (lo + stride - 1) // 2)
        if first > last:
            continue
        pad = min(max(total // 2, first), last)  # nearest total / 2, the smaller on a tie
        if conv_out(size, kernel, stride, pad, dil) == out:
            return pad, dil
    raise Unsupported(f"no symmetric padding gives output size {out} from input {size} "
                      f"(kernel {kernel}, stride {stride}, total padding {total})")


def _window(node: NodeProto, xs: tuple[int, ...], ys: tuple[int, ...], kernel: tuple[int, ...],
            dilate: bool) -> tuple[tuple[int, int], tuple[int, int], tuple[int, int]]:
    """(stride, padding, dilation) pairs for a 2-D window reproducing ONNX's output size;
    `dilate`: the op takes a dilation (a convolution; pysim pools have none)."""
    a = attrs(node)
    stride = tuple(a.get("strides", (1, 1)))
    dil = tuple(a.get("dilations", (1, 1)))
    pads = tuple(a.get("pads", (0, 0, 0, 0)))
    auto = a.get("auto_pad", b"NOTSET").decode()
    if not dilate and dil != (1, 1):
        raise Unsupported(f"pooling with dilations {list(dil)} has no pysim equivalent")
    fitted = []
    for i in range(2):
        span = dil[i] * (kernel[i] - 1) + 1
        total = (max(0, (ys[i + 2] - 1) * stride[i] + span - xs[i + 2]) if auto.startswith("SAME")
                 else 0 if auto == "VALID" else pads[i] + pads[i + 2])
        fitted.append(_fit(xs[i + 2], kernel[i], stride[i], (dil[i],), ys[i + 2], total))
    return ((stride[0], stride[1]), (fitted[0][0], fitted[1][0]),
            (fitted[0][1], fitted[1][1]))


def _conv(x_i: int, w_i: int, b_i: int | None) -> Handler:
    """Conv, ConvInteger, QLinearConv: x, w (and bias) at the given input positions."""
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        x, w = _act(imp, node, x_i), _const(imp, node, w_i, "weight")
        b = None if b_i is None else _input(imp, node, b_i)
        xs, ys = imp.need_shape(node.input[x_i]), imp.need_shape(node.output[0])
        if len(xs) != 4 or len(w.shape or ()) != 4:
            raise Unsupported(f"only 2-D (NCHW) convolutions map to pysim, input shape {xs}")
        n, c, h, wd = xs
        groups = attrs(node).get("group", 1)
        if w.shape[1] * groups != c:  # type: ignore[index]
            raise Unsupported(f"weight {node.input[w_i]!r} has {w.shape[1]} input channels "  # type: ignore[index]
                              f"per group x group {groups}, the input has {c} channels")
        kernel = (w.shape[2], w.shape[3])  # type: ignore[index]
        stride, pad, dil = _window(node, xs, ys, kernel, dilate=True)
        fused = imp.fused_bias.get(node.output[0])
        bias = node.input[b_i] if b is not None and b_i is not None else fused
        op = Conv2d(
            inputs=(imp.read(x, x.bits, (n, h, wd, c)),), batch=n, in_h=h, in_w=wd, in_c=c,
            out_c=ys[1], kernel=kernel, stride=stride, padding=pad, dilation=dil,
            groups=groups, bias=bias is not None,
            bias_bits=imp.bias_bits(bias), weight_bits=w.bits,
            **imp.out_fields(node, name, x.bits, (x, w)))
        _check_out(op.output_shape, ys)
        imp.emit(op, node.output[0])
    return handle


def _conv_transpose(imp: Importer, node: NodeProto, name: str) -> None:
    """ConvTranspose as the equivalent direct convolution over the zero-inserted input: a
    stride-1 conv2d of the same kernel giving ONNX's output size (padding, and dilation when
    needed for parity, are chosen to reproduce it), so MACs = N*OH*OW*M*(C/g)*kh*kw."""
    x, w = _act(imp, node, 0), _const(imp, node, 1, "weight")
    b = _input(imp, node, 2)
    xs, ys = imp.need_shape(node.input[0]), imp.need_shape(node.output[0])
    if len(xs) != 4 or len(w.shape or ()) != 4:
        raise Unsupported(f"only 2-D (NCHW) convolutions map to pysim, input shape {xs}")
    n, c, h, wd = xs
    kernel = (w.shape[2], w.shape[3])  # type: ignore[index]
    dil = tuple(attrs(node).get("dilations", (1, 1)))
    fitted = [_fit(xs[i + 2], kernel[i], 1, (dil[i], dil[i] + 1), ys[i + 2],
                   ys[i + 2] - xs[i + 2] + dil[i] * (kernel[i] - 1)) for i in range(2)]
    op = Conv2d(
        inputs=(imp.read(x, x.bits, (n, h, wd, c)),), batch=n, in_h=h, in_w=wd, in_c=c,
        out_c=ys[1], kernel=kernel, padding=(fitted[0][0], fitted[1][0]),
        dilation=(fitted[0][1], fitted[1][1]), groups=attrs(node).get("group", 1),
        bias=b is not None, bias_bits=imp.bias_bits(node.input[2] if b is not None else None),
        weight_bits=w.bits, **imp.out_fields(node, name, x.bits, (x, w)))
    _check_out(op.output_shape, ys)
    imp.emit(op, node.output[0])


def _check_out(got: tuple[int, ...], ys: tuple[int, ...]) -> None:
    if got != canonical(ys):
        raise Unsupported(f"pysim output shape {got} differs from ONNX's {ys} (NCHW)")


def _pool(mode: str, global_pool: bool) -> Handler:
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        x = _act(imp, node, 0)
        xs, ys = imp.need_shape(node.input[0]), imp.need_shape(node.output[0])
        if len(xs) != 4:
            raise Unsupported(f"only 2-D (NCHW) pooling maps to pysim, input shape {xs}")
        n, c, h, w = xs
        window = {}
        if not global_pool:
            kernel = tuple(attrs(node)["kernel_shape"])
            stride, pad, _ = _window(node, xs, ys, kernel, dilate=False)
            window = {"kernel": kernel, "stride": stride, "padding": pad}
        op = Pool(mode=mode, inputs=(imp.read(x, x.bits, (n, h, w, c)),), batch=n, in_h=h,
                  in_w=w, channels=c, global_pool=global_pool, **window,
                  **imp.out_fields(node, name, x.bits))
        _check_out(op.output_shape, ys)
        imp.emit(op, node.output[0])
    return handle


# -- matrix products ---------------------------------------------------------------------------
def _operand(imp: Importer, node: NodeProto, index: int, val: Val, bits: int) -> str:
    if val.const:
        return imp.declare_weight(node.input[index], Val(val.shape, bits, val.dtype))
    return imp.read(val, bits)


def _batched(imp: Importer, node: NodeProto, name: str, ai: int, bi: int,
             a_shape: tuple[int, ...], b_shape: tuple[int, ...]) -> None:
    """A matmul of two operands with numpy broadcasting: batch dimensions both have are the
    batch; those only A has fold into m, those only B has into n (same MACs and elements)."""
    a, b = imp.value(node.input[ai]), imp.value(node.input[bi])
    a2 = a_shape if len(a_shape) >= 2 else (1, *a_shape)
    b2 = b_shape if len(b_shape) >= 2 else (*b_shape, 1)
    (m, k), (k2, n) = a2[-2:], b2[-2:]
    if k != k2:
        raise Unsupported(f"inner dimensions differ: {a_shape} @ {b_shape}")
    rank = max(len(a2), len(b2)) - 2
    a_batch = (1,) * (rank - len(a2) + 2) + a2[:-2]
    b_batch = (1,) * (rank - len(b2) + 2) + b2[:-2]
    batch: list[int] = []
    for da, db in zip(a_batch, b_batch, strict=True):
        if da == db:
            batch.append(da)
        elif db == 1:
            m *= da
        elif da == 1:
            n *= db
        else:
            raise Unsupported(f"batch dimensions do not broadcast: {a_shape} @ {b_shape}")
    bits = max(a.bits, b.bits)
    inputs = (_operand(imp, node, ai, a, bits), _operand(imp, node, bi, b, bits))
    imp.emit(Matmul(inputs=inputs, batch=tuple(batch), m=m, n=n, k=k,
                    **imp.out_fields(node, name, bits, (a, b))), node.output[0])


def _gemm_op(imp: Importer, node: NodeProto, name: str, a: Val, b: Val, m: int, n: int, k: int,
             bias: str | None) -> None:
    imp.emit(Gemm(inputs=(imp.read(a, a.bits),), m=m, n=n, k=k, bias=bias is not None,
                  bias_bits=imp.bias_bits(bias), weight_bits=b.bits,
                  **imp.out_fields(node, name, a.bits, (a, b))), node.output[0])


def _matmul(ai: int, bi: int) -> Handler:
    """MatMul, MatMulInteger, QLinearMatMul: a gemm when B is a constant matrix (weights), a
    batched matmul otherwise (constant operands declared as weight tensors)."""
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        a, b = imp.value(node.input[ai]), imp.value(node.input[bi])
        a_shape, b_shape = imp.need_shape(node.input[ai]), imp.need_shape(node.input[bi])
        if b.const and not a.const and len(b_shape) == 2 and a_shape[-1] == b_shape[0]:
            k, n = b_shape
            _gemm_op(imp, node, name, a, b, math.prod(a_shape) // k, n, k,
                     imp.fused_bias.get(node.output[0]))
        else:
            _batched(imp, node, name, ai, bi, a_shape, b_shape)
    return handle


def _gemm(imp: Importer, node: NodeProto, name: str) -> None:
    """Gemm: Y = A' B' (+ C), A' and B' optionally transposed; alpha and beta are scales."""
    a_shape, b_shape = imp.need_shape(node.input[0]), imp.need_shape(node.input[1])
    a, b, c = imp.value(node.input[0]), imp.value(node.input[1]), _input(imp, node, 2)
    at = attrs(node)
    m, k = reversed(a_shape) if at.get("transA", 0) else a_shape
    k2, n = reversed(b_shape) if at.get("transB", 0) else b_shape
    if b.const and not a.const:
        _gemm_op(imp, node, name, a, b, m, n, k, node.input[2] if c is not None else None)
    else:
        _batched(imp, node, name, 0, 1, (m, k), (k2, n))


# -- vector ops --------------------------------------------------------------------------------
def _unary(kind: str) -> Handler:
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        _elementwise(imp, node, name, kind, _act(imp, node, 0))
    return handle


# ONNX type -> (pysim op on two activations of one shape, on one activation and a constant,
# on a constant and an activation).
_BINARY: dict[str, tuple[str | None, str, str]] = {
    "Add": ("add", "add_const", "add_const"), "Sum": ("add", "add_const", "add_const"),
    "Sub": ("sub", "add_const", "add_const"), "Mul": ("mul", "mul_const", "mul_const"),
    "Div": ("div", "mul_const", "reciprocal"), "Max": ("max", "max_const", "max_const"),
    "Min": ("min", "max_const", "max_const"), "Pow": (None, "pow", "exp"),
}


def _binary(imp: Importer, node: NodeProto, name: str) -> None:
    """Two activations of one size: a binary op (a chain of them for Sum/Max/Min of more). One
    activation and constants, or an activation and a broadcast (smaller) one: a unary op over
    the full-size activation; the broadcast operand is not read (its edge is dropped)."""
    both, with_const, const_first = _BINARY[node.op_type]
    vals = [imp.value(t) for t in node.input if t]
    acts = [v for v in vals if not v.const]
    out_elements = math.prod(imp.need_shape(node.output[0]))
    full = [v for v in acts if v.elements == out_elements]
    if not full:
        raise Unsupported("no operand has the output's size (both operands broadcast)")
    if len(full) == 1:
        x = full[0]
        _elementwise(imp, node, name, with_const if vals.index(x) == 0 else const_first, x)
        return
    if both is None:
        raise Unsupported(f"{node.op_type} of two activations has no pysim op")
    bits = max(v.bits for v in full)
    shape = next((imp.layouts[v.tensor] for v in full if v.tensor in imp.layouts), None)
    shape = shape or canonical(imp.need_shape(node.output[0]))
    cur = imp.read(full[0], bits, shape)
    for j, nxt in enumerate(full[1:], start=1):
        last = j == len(full) - 1
        fields = imp.out_fields(node, name, bits)
        if not last:
            fields["name"] = imp.unique(f"{name}.{j}", imp.op_names)
            fields["output"] = imp.unique(f"{node.output[0]}.{j}", imp.tensor_names)
            fields["out_bits"] = bits
        op = Elementwise(op=both, inputs=(cur, imp.read(nxt, bits, shape)), shape=shape,
                         **fields)
        cur = imp.emit(op, node.output[0] if last else None)


def _softmax(imp: Importer, node: NodeProto, name: str) -> None:
    """Softmax over `axis` (opset >= 13: that axis; before: the axes from `axis` on)."""
    x, shape = _act(imp, node, 0), imp.need_shape(node.input[0])
    axis = attrs(node).get("axis", -1 if imp.opset >= 13 else 1) % max(1, len(shape))
    cols = shape[axis] if imp.opset >= 13 else math.prod(shape[axis:])
    imp.emit(Softmax(inputs=(x.tensor,), rows=math.prod(shape) // cols, cols=cols,
                     **imp.out_fields(node, name, x.bits)), node.output[0])


def _layernorm(imp: Importer, node: NodeProto, name: str) -> None:
    """LayerNormalization, and the RMS norms (RMSNormalization, onnxruntime's
    SimplifiedLayerNormalization: no mean, no bias), over the axes from `axis` on."""
    x, shape = _act(imp, node, 0), imp.need_shape(node.input[0])
    scale = _const(imp, node, 1, "scale")
    axis = attrs(node).get("axis", -1) % max(1, len(shape))
    cols = math.prod(shape[axis:])
    rms = node.op_type in ("RMSNormalization", "SimplifiedLayerNormalization")
    imp.emit(LayerNorm(inputs=(x.tensor,), rows=math.prod(shape) // cols, cols=cols, rms=rms,
                       weight_bits=scale.bits, **imp.out_fields(node, name, x.bits)),
             node.output[0])


# -- precision, views and lookups --------------------------------------------------------------
def _convert(imp: Importer, node: NodeProto, name: str) -> None:
    """QuantizeLinear, Cast: a view when the width is unchanged, else an elementwise quantize
    (narrower) or dequantize (wider)."""
    x = _act(imp, node, 0)
    bits = imp.bits(node.output[0])[0]
    if bits == x.bits:
        imp.alias(node.output[0], x)
    else:
        _elementwise(imp, node, name, "quantize" if bits < x.bits else "dequantize", x)


def _dequantize(imp: Importer, node: NodeProto, name: str) -> None:
    """DequantizeLinear: a view that keeps the quantized width (pysim computes on integers)."""
    imp.alias(node.output[0], _act(imp, node, 0))


def _view(imp: Importer, node: NodeProto, name: str) -> None:
    """Reshape, Flatten, Transpose, Squeeze, Unsqueeze, Identity, Dropout: free views."""
    imp.alias(node.output[0], _act(imp, node, 0))


def _gather(imp: Importer, node: NodeProto, name: str) -> None:
    """Gather from a constant table by activation indices (an embedding lookup): not
    modelled; its output becomes a graph input."""
    if not imp.value(node.input[0]).const:
        raise Unsupported("Gather from an activation (a slice of it) has no pysim op")
    imp.graph_input(node.output[0])


# -- reductions and data movement ---------------------------------------------------------------
def _reduce(mode: str) -> Handler:
    """Reduce* over any axes (attribute or input, keepdims or not): `reduce` with rows = output
    elements and cols = input elements / rows (cols = 1 when nothing is reduced)."""
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        x = _act(imp, node, 0)
        xs, ys = imp.need_shape(node.input[0]), imp.need_shape(node.output[0])
        rows = math.prod(ys)
        imp.emit(Reduce(inputs=(x.tensor,), mode=mode, rows=rows,
                        cols=math.prod(xs) // rows, out_shape=canonical(ys),
                        **imp.out_fields(node, name, x.bits)), node.output[0])
    return handle


def _constant_bounds(imp: Importer, node: NodeProto) -> None:
    for t in node.input[1:]:
        if t and not imp.value(t).const:
            raise Unsupported(f"{node.op_type} with bounds computed from activations (input "
                              f"{t!r}) has no static shape")


def _copy(imp: Importer, node: NodeProto, name: str, mode: str, out: int = 0,
          taps: int = 1) -> None:
    """One `copy` of input 0 into output `out` (a slice, pad, broadcast or resize)."""
    x = _act(imp, node, 0)
    ys = imp.need_shape(node.output[out])
    if min(ys, default=1) < 1:
        raise Unsupported(f"output {node.output[out]!r} is empty: {ys}")
    fields = imp.out_fields(node, name, x.bits)
    if out:
        fields.update(name=imp.unique(f"{name}.{out}", imp.op_names),
                      output=node.output[out], out_bits=imp.bits(node.output[out])[0])
    imp.emit(Copy(mode=mode, inputs=(x.tensor,), shapes=(imp.layout(x),),
                  out_shape=canonical(ys), taps=taps, **fields), node.output[out])


def _concat(imp: Importer, node: NodeProto, name: str) -> None:
    """Concat: a `copy` (concat) of the activation inputs at the widest of their widths;
    constant inputs (a class token ...) are not read, their part of the output is filled."""
    acts = [v for v in (imp.value(t) for t in node.input if t) if not v.const]
    bits = max(v.bits for v in acts)
    shapes = tuple(imp.layout(v) for v in acts)
    inputs = tuple(imp.read(v, bits) for v in acts)
    imp.emit(Copy(mode="concat", inputs=inputs, shapes=shapes,
                  out_shape=canonical(imp.need_shape(node.output[0])),
                  **imp.out_fields(node, name, bits)), node.output[0])


def _split(imp: Importer, node: NodeProto, name: str) -> None:
    """Split: one `copy` (slice) per output (`<name>.<i>` after the first)."""
    _constant_bounds(imp, node)
    for i, t in enumerate(node.output):
        if t:
            _copy(imp, node, name, "slice", i)


def _copy_of(mode: str) -> Handler:
    """Slice (reading only the part it keeps), Pad (constant, reflect or edge: one move or fill
    per output element), Expand, Tile: one `copy`; bounds, pads, shapes and repeats must be
    constants."""
    def handle(imp: Importer, node: NodeProto, name: str) -> None:
        _constant_bounds(imp, node)
        _copy(imp, node, name, mode)
    return handle


def _resize(imp: Importer, node: NodeProto, name: str) -> None:
    """Resize, Upsample: a `copy` (resize) to ONNX's output shape; taps per output element by
    `mode`: nearest 1, linear 2^d, cubic 4^d over the d axes whose size changes."""
    _constant_bounds(imp, node)
    xs, ys = imp.need_shape(node.input[0]), imp.need_shape(node.output[0])
    mode = attrs(node).get("mode", b"nearest").decode()
    per_axis = {"nearest": 1, "linear": 2, "bilinear": 2, "cubic": 4}.get(mode)
    if per_axis is None:
        raise Unsupported(f"resize mode {mode!r} (known: nearest, linear, cubic)")
    taps = per_axis ** sum(a != b for a, b in zip(xs, ys, strict=True))
    _copy(imp, node, name, "resize", taps=taps)


REDUCE_TYPES = {
    "ReduceSum": "sum", "ReduceMean": "mean", "ReduceMax": "max", "ReduceMin": "min",
    "ReduceProd": "prod", "ReduceSumSquare": "sum_square", "ReduceL1": "l1", "ReduceL2": "l2",
    "ReduceLogSumExp": "log_sum_exp",
}
"""ONNX reductions -> the `mode` of a pysim `reduce` op."""


VIEW_OPS = ("Reshape", "Flatten", "Transpose", "Squeeze", "Unsqueeze", "Identity", "Dropout")
"""Shape-only ONNX ops: their output is their input, seen differently; no pysim op."""

UNARY_OPS = {
    "Relu": "relu", "Sigmoid": "sigmoid", "Tanh": "tanh", "Exp": "exp", "Log": "log",
    "Sqrt": "sqrt", "Reciprocal": "reciprocal", "Abs": "abs", "Neg": "mul_const", "Erf": "erf",
    "Gelu": "gelu", "com.microsoft.Gelu": "gelu", "com.microsoft.FastGelu": "gelu",
    "Clip": "clip", "LeakyRelu": "leaky_relu", "HardSigmoid": "hard_sigmoid",
    "HardSwish": "hard_swish", "BatchNormalization": "batchnorm",
}
"""ONNX unary ops -> pysim elementwise op."""

HANDLERS: dict[str, Handler] = {
    "Conv": _conv(0, 1, 2), "ConvInteger": _conv(0, 1, None), "QLinearConv": _conv(0, 3, 8),
    "ConvTranspose": _conv_transpose,
    "Gemm": _gemm, "MatMul": _matmul(0, 1), "MatMulInteger": _matmul(0, 1),
    "QLinearMatMul": _matmul(0, 3),
    "MaxPool": _pool("max", False), "AveragePool": _pool("avg", False),
    "GlobalMaxPool": _pool("max", True), "GlobalAveragePool": _pool("avg", True),
    "Softmax": _softmax, "LayerNormalization": _layernorm, "RMSNormalization": _layernorm,
    "com.microsoft.SimplifiedLayerNormalization": _layernorm,
    "QuantizeLinear": _convert, "Cast": _convert, "DequantizeLinear": _dequantize,
    "Gather": _gather,
    "Concat": _concat, "Slice": _copy_of("slice"), "Split": _split,
    "Pad": _copy_of("pad"), "Expand": _copy_of("broadcast"), "Tile": _copy_of("broadcast"),
    "Resize": _resize, "Upsample": _resize,
    **{op: _reduce(mode) for op, mode in REDUCE_TYPES.items()},
    **{op: _binary for op in _BINARY},
    **{op: _unary(kind) for op, kind in UNARY_OPS.items()},
    **{op: _view for op in VIEW_OPS},
}
"""ONNX op type (``domain.type`` outside the default domain) -> handler."""

CONSTANT_OPS = ("Constant", "ConstantOfShape", "Shape", "Size")
"""Ops whose outputs are always constants (as is the output of any op on constants only)."""
