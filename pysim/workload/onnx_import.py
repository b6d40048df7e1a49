"""Import an ONNX model as a pysim Workload: ``pysim.load_workload("model.onnx", batch=...)``.

The file is read with the `onnx` package (weights stay where they are: only shapes and types
are needed), dynamic input dimensions are given values from `batch` and `input_shapes`, ONNX
shape inference fixes every tensor's shape, and each node becomes pysim ops (or none: views,
constants) with the DAG and the ONNX tensor names kept. docs/workloads.md ("ONNX import") lists
the supported op types and the mapping rules; `pysim.workload.onnx_ops` holds one handler per
op type. Every problem raises `pysim.errors.WorkloadError` naming the file.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from os import PathLike
from pathlib import Path
from typing import Any

import onnx
from onnx import ModelProto, NodeProto
from pydantic import ValidationError

from pysim.errors import WorkloadError
from pysim.workload.graph import Workload
from pysim.workload.onnx_graph import Importer, Unsupported, UnsupportedNode, Val
from pysim.workload.onnx_ops import CONSTANT_OPS, HANDLERS, VIEW_OPS
from pysim.workload.tensors import Tensor

SUPPORTED_OPS = tuple(sorted({*HANDLERS, *CONSTANT_OPS}))
"""ONNX op types the importer maps (``domain.type`` outside the default domain)."""


def load_onnx(path: str | PathLike[str], *, batch: int | None = None,
              allow_unsupported: bool = False, quantize_bits: int | None = None,
              **input_shapes: int | Sequence[int]) -> Workload:
    """Import the ONNX model at `path` as a Workload named after the file.

    `batch` sets the first dimension of every input where it is dynamic; `input_shapes` gives
    either a whole input's shape (``input_ids=(1, 128)``) or the value of a named dynamic
    dimension (``sequence_length=128``). `quantize_bits` imports float tensors as integers of
    that width (8: the model deployed in int8); by default they stay floats of the file's width
    (float32: 32 bits), which only a unit computing in floating point can run. With
    `allow_unsupported`, nodes pysim cannot map are skipped and listed in
    `Workload.unsupported`.

    Raises WorkloadError if the file cannot be read or parsed, if a dynamic dimension has no
    value, if shape inference fails, or (unless `allow_unsupported`) listing every node that
    cannot be mapped."""
    source = str(path)
    if quantize_bits is not None and (isinstance(quantize_bits, bool)
                                      or not isinstance(quantize_bits, int)
                                      or not 1 <= quantize_bits <= 32):
        raise WorkloadError(f"{source}: quantize_bits must be an int from 1 to 32, got "
                            f"{quantize_bits!r}")
    model = _read(path, source)
    newest = onnx.defs.onnx_opset_version()
    for o in model.opset_import:
        if o.domain in ("", "ai.onnx") and o.version > newest:
            raise WorkloadError(f"{source}: opset_import ai.onnx version {o.version} is newer "
                                f"than this onnx package knows (1..{newest}); export the model "
                                "with an older opset or upgrade onnx")
    _set_input_dims(model, source, batch, input_shapes)
    try:
        model = onnx.shape_inference.infer_shapes(model, strict_mode=True, data_prop=True)
    except Exception as exc:  # onnx raises InferenceError and others, all meaning the same
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise WorkloadError(f"{source}: ONNX shape inference failed: {first}") from None
    imp = _import(model, quantize_bits, source)
    if len(imp.unsupported) == 1 and not allow_unsupported:  # one line
        u = imp.unsupported[0]
        raise WorkloadError(f"{source}: ONNX node {u.op_type} {u.name!r} cannot be mapped to "
                            f"a pysim op: {u.reason}; pass allow_unsupported=True to skip it")
    if imp.unsupported and not allow_unsupported:
        lines = "\n".join(f"  {u.op_type} {u.name!r}: {u.reason}" for u in imp.unsupported)
        kinds = ", ".join(sorted({u.op_type for u in imp.unsupported}))
        raise WorkloadError(
            f"{source}: {len(imp.unsupported)} ONNX node(s) cannot be mapped to pysim ops "
            f"(op types: {kinds}); pass allow_unsupported=True to skip them:\n{lines}")
    if not imp.ops:
        raise WorkloadError(f"{source}: the model has no op pysim can simulate (only views, "
                            f"constants or skipped nodes)")
    read = {t for op in imp.ops for t in op.inputs}
    inputs = [Tensor(name=n, shape=imp.layout(v), bits=v.bits, dtype=v.dtype)
              for n, v in imp.graph_inputs.items() if n in read]
    inputs += [t for n, t in imp.weights.items() if n in read]
    return Workload(name=Path(source).stem or "onnx", ops=tuple(imp.ops), inputs=tuple(inputs),
                    source=source, unsupported=tuple(imp.unsupported))


def _read(path: str | PathLike[str], source: str) -> ModelProto:
    try:
        model = onnx.load(path, load_external_data=False)
    except OSError as exc:
        raise WorkloadError(f"{source}: cannot read ONNX file: {exc.strerror or exc}") from None
    except Exception as exc:  # protobuf's DecodeError and friends: a corrupt or truncated file
        raise WorkloadError(f"{source}: not a valid ONNX model (corrupt or truncated file?): "
                            f"{type(exc).__name__}: {exc}") from None
    if not model.ir_version or not model.graph.node:
        raise WorkloadError(f"{source}: not an ONNX model (no IR version or no graph nodes)")
    return model


def _dims_text(value: Any) -> str:
    dims = value.type.tensor_type.shape.dim
    return "(" + ", ".join(str(d.dim_value) if d.HasField("dim_value") else
                           (d.dim_param or "?") for d in dims) + ")"


def _set_input_dims(model: ModelProto, source: str, batch: int | None,
                    given: dict[str, int | Sequence[int]]) -> None:
    """Give every dynamic input dimension a value (in place); clear stale inferred shapes."""
    graph = model.graph
    if batch is not None and (isinstance(batch, bool) or not isinstance(batch, int) or batch < 1):
        raise WorkloadError(f"{source}: batch must be an int >= 1, got {batch!r}")
    init = {t.name for t in graph.initializer}
    inputs = [v for v in graph.input if v.name not in init]
    symbols = {d.dim_param for v in inputs for d in v.type.tensor_type.shape.dim
               if d.dim_param and not d.HasField("dim_value")}
    described = ", ".join(f"{v.name} {_dims_text(v)}" for v in inputs)
    for key, value in given.items():
        whole = key in {v.name for v in inputs}
        if not whole and key not in symbols:
            raise WorkloadError(f"{source}: {key!r} is neither an input nor a dynamic dimension "
                                f"of the model; inputs: {described}")
        ok = (isinstance(value, Sequence) and not isinstance(value, str)
              and all(isinstance(d, int) and not isinstance(d, bool) and d >= 1 for d in value)
              if whole else isinstance(value, int) and not isinstance(value, bool) and value >= 1)
        if not ok:
            what = "a shape (a list of ints >= 1)" if whole else "an int >= 1"
            raise WorkloadError(f"{source}: {key} must be {what}, got {value!r}")
    values = {k: v for k, v in given.items() if k in symbols and isinstance(v, int)}
    missing, fixed_first = [], []
    for v in inputs:
        dims = v.type.tensor_type.shape.dim
        shape = given.get(v.name)
        if isinstance(shape, Sequence) and len(shape) != len(dims):
            raise WorkloadError(f"{source}: input {v.name!r} has {len(dims)} dimensions "
                                f"{_dims_text(v)}, got shape {tuple(shape)}")
        for j, d in enumerate(dims):
            static = d.dim_value if d.HasField("dim_value") else None
            want = shape[j] if isinstance(shape, Sequence) else None
            if static is not None:
                if want is not None and want != static:
                    raise WorkloadError(f"{source}: input {v.name!r} dim {j} is fixed at "
                                        f"{static} in the model, got {want}")
                if j == 0:
                    fixed_first.append(static)
                continue
            if want is None:
                want = values.get(d.dim_param) if d.dim_param else None
            if want is None and j == 0 and batch is not None:
                want = values.setdefault(d.dim_param, batch) if d.dim_param else batch
            if want is None:
                label = f"{d.dim_param!r}" if d.dim_param else "unnamed"
                ways = [f"{d.dim_param}=<int>"] if d.dim_param else []
                ways += [f"{v.name}=<shape>"] + (["batch=<int>"] if j == 0 else [])
                missing.append(f"input {v.name!r} dim {j} ({label}) is dynamic; pass "
                               f"{' or '.join(dict.fromkeys(ways))}")
            else:
                d.dim_value = want  # clears dim_param (a oneof)
    if missing:
        raise WorkloadError(f"{source}: dynamic dimensions need values:\n  " + "\n  ".join(missing))
    if batch is not None and fixed_first and len(fixed_first) == len(inputs) and \
            batch != fixed_first[0]:
        raise WorkloadError(f"{source}: batch={batch}, but no input has a dynamic first "
                            f"dimension (inputs: {described}); the model was exported with a "
                            f"fixed batch")
    del graph.value_info[:]
    for out in graph.output:
        out.type.tensor_type.ClearField("shape")


def _topological(nodes: Sequence[NodeProto], ready: set[str]) -> list[NodeProto]:
    """`nodes` in a topological order (the given one when it is), cycles and dangling inputs
    left in place at the end for the importer to report."""
    ready = set(ready)
    remaining, order = list(nodes), []
    progress = True
    while remaining and progress:
        progress, later = False, []
        for node in remaining:
            if all(not t or t in ready for t in node.input):
                order.append(node)
                ready.update(node.output)
                progress = True
            else:
                later.append(node)
        remaining = later
    return order + remaining


def _types(model: ModelProto) -> dict[str, tuple[int, tuple[int, ...] | None]]:
    """ONNX tensor name -> (element type, static shape or None)."""
    out: dict[str, tuple[int, tuple[int, ...] | None]] = {}
    g = model.graph
    for v in (*g.input, *g.value_info, *g.output):
        tt = v.type.tensor_type
        dims = tt.shape.dim
        static = tt.HasField("shape") and all(d.HasField("dim_value") for d in dims)
        out[v.name] = (tt.elem_type, tuple(d.dim_value for d in dims) if static else None)
    for t in g.initializer:
        out[t.name] = (t.data_type, tuple(t.dims))
    for node in g.node:
        if node.op_type == "Constant" and node.attribute and node.attribute[0].name == "value":
            t = node.attribute[0].t
            out[node.output[0]] = (t.data_type, tuple(t.dims))
    return out


def _plan(imp: Importer, nodes: list[NodeProto], consts: set[str],
          graph_outputs: set[str]) -> dict[int, str]:
    """Fusions and quantized widths: a MatMul's bias Add and a Conv's BatchNormalization fold
    into the MAC op (returns folded node index -> the MAC output it is a view of); a float
    tensor a QuantizeLinear reads (through views) takes the quantized width."""
    producer = {t: i for i, n in enumerate(nodes) for t in n.output}
    users: dict[str, list[int]] = {}
    for i, n in enumerate(nodes):
        for t in n.input:
            users.setdefault(t, []).append(i)
    folded: dict[int, str] = {}
    for n in nodes:
        out = n.output[0] if n.output else ""
        if len(users.get(out, [])) != 1 or out in graph_outputs or out in consts:
            continue
        j = users[out][0]
        user = nodes[j]
        if n.op_type == "MatMul" and user.op_type == "Add" and len(user.input) == 2:
            bias = user.input[1] if user.input[0] == out else user.input[0]
            b_shape, w_shape = imp.shape(bias), imp.shape(n.input[1])
            if (bias in consts and n.input[1] in consts and w_shape and len(w_shape) == 2
                    and b_shape is not None and math.prod(b_shape) == w_shape[1]):
                imp.fused_bias[out] = bias
                folded[j] = out
        elif n.op_type == "Conv" and user.op_type == "BatchNormalization":
            imp.fused_bias[out] = user.input[2]  # the shift becomes the conv's bias
            folded[j] = out
    for n in nodes:
        if n.op_type != "QuantizeLinear":
            continue
        bits = imp.bits(n.output[0])[0]
        t = n.input[0]
        while True:
            imp.qdq_bits.setdefault(t, bits)
            p = producer.get(t)
            if p in folded:
                t = folded[p]
            elif p is not None and nodes[p].op_type in VIEW_OPS:
                t = nodes[p].input[0]
            else:
                break
    return folded


def _import(model: ModelProto, quantize_bits: int | None, source: str) -> Importer:
    g = model.graph
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), 1)
    init = {t.name for t in g.initializer}
    nodes = _topological(g.node, init | {v.name for v in g.input})
    consts = set(init)
    for n in nodes:
        if n.op_type in CONSTANT_OPS or all(not t or t in consts for t in n.input):
            consts.update(n.output)
    imp = Importer(_types(model), quantize_bits, opset)
    folded = _plan(imp, nodes, consts, {v.name for v in g.output})
    for t in g.initializer:
        imp.constant(t.name)
    for v in g.input:
        if v.name not in imp.vals:
            try:
                imp.graph_input(v.name)
            except Unsupported as exc:
                raise WorkloadError(f"{source}: input {v.name!r}: {exc}") from None
    for i, node in enumerate(nodes):
        label = node.op_type if node.domain in ("", "ai.onnx") else \
            f"{node.domain}.{node.op_type}"
        name = imp.unique(node.name or f"{node.op_type}_{i}", imp.op_names)
        outs = [t for t in node.output if t]
        if i in folded:
            imp.alias(outs[0], imp.value(folded[i]))
            continue
        if all(t in consts for t in outs):
            for t in outs:
                imp.constant(t)
            if node.op_type in (*VIEW_OPS, "DequantizeLinear") and node.input[0] in imp.vals:
                imp.alias(outs[0], imp.vals[node.input[0]])  # keeps a quantized weight's width
            continue
        n_ops, conversions = len(imp.ops), dict(imp.conversions)
        try:
            handler = HANDLERS.get(label)
            if handler is None or any(a.g.node or a.graphs for a in node.attribute):
                raise Unsupported("op type not supported")
            handler(imp, node, name)
            for t in outs:
                if t not in imp.vals:
                    imp.constant(t)  # secondary outputs (Dropout's mask ...)
        except (Unsupported, ValueError, KeyError, IndexError, TypeError) as exc:
            # ValueError covers pydantic's ValidationError (a field out of range); the others
            # a node whose attributes or inputs do not have the form its op type requires.
            del imp.ops[n_ops:]
            imp.conversions = conversions
            if isinstance(exc, ValidationError):
                reason = "; ".join(e["msg"] for e in exc.errors())
            elif isinstance(exc, Unsupported):
                reason = str(exc).splitlines()[0]
            else:
                reason = f"malformed node ({type(exc).__name__}: {exc})"
            imp.unsupported.append(UnsupportedNode(label, name, reason))
            _skip(imp, node)
    return imp


def _skip(imp: Importer, node: NodeProto) -> None:
    """An unmapped node: each output is a view of the first activation input when it has as
    many elements, else a new graph input of its own shape (the chain is cut there)."""
    acts = [imp.vals[t] for t in node.input if t and t in imp.vals and not imp.vals[t].const]
    x: Val | None = acts[0] if acts else None
    for t in (t for t in node.output if t):
        shape = imp.shape(t)
        if x is not None and (shape is None or math.prod(shape) == x.elements):
            imp.alias(t, x)
            continue
        try:
            imp.graph_input(t)
        except Unsupported:
            imp.constant(t)
