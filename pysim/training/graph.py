"""Derive the training graph of a workload: forward, loss, backward, optimizer update.

Each MAC op gives three GEMMs with its real shapes (Rumelhart et al. 1986; the GEMM forms of
cuDNN's forward / dgrad / wgrad, Chetlur et al., "cuDNN", 2014):

- forward Y = X W (M x K @ K x N);
- dX = dY W^T (M x N @ N x K): for a stride-1 'same' convolution the transposed convolution
  (dY convolved with the flipped kernel, padding d(k-1)-p, exactly the forward's MACs); for any
  other convolution its GEMM form, dY (B*OH*OW x OC/g) @ W^T (OC/g x KH*KW*IC/g) per group,
  followed by a col2im scatter-add of the columns into dX;
- dW = X^T dY (K x M @ M x N) per group, the patch matrix gathered from the saved X.

dX and dW each have exactly the forward's MACs. Vector ops get their backward rule (see
`_vector_backward`), every graph output a softmax cross-entropy loss, every parameter an
optimizer update. Each GEMM operand not already in its role's format is cast first (a
`quantize` op: scale, round, clamp; one more op per element with stochastic rounding), the
dW operands of a recipe with a Hadamard transform are transformed (log2(block) adds per
element, a fast Walsh-Hadamard transform) and cast again.

Under an autocast recipe (``Recipe.autocast``: PyTorch's ``torch.autocast``, the ``amp_*``
recipes) the model stays fp32 and only MAC ops run in the half format: each vector op on
autocast's fp32 list (`autocasts_to_fp32`: softmax, layer and RMS norms, exp, log, pow,
reciprocal, sums, the loss) casts its 16-bit inputs to fp32 and writes fp32, every other one
computes in the widest of its inputs' formats (type promotion: a residual add of an fp32
stream and a bf16 GEMM output is fp32; mixed inputs are priced at the widest), and every GEMM
input not in the half format is cast first. A gradient has its tensor's format: one computed
in another (a bf16 dX for an fp32 tensor, the fp32 loss gradient for bf16 logits) is cast, as
autograd runs a cast's backward.

The graph is an ordinary `pysim.Workload`; `pysim.training.step` simulates it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

from pysim.errors import WorkloadError
from pysim.training.formats import Format, Recipe
from pysim.training.ops import AttentionBackward, VectorWork, WeightGrad
from pysim.training.optim import LOSS_SCALE_OPS_PER_PARAM, Optimizer
from pysim.workload import Conv2d, Gemm, Matmul, Op, Tensor, Workload
from pysim.workload.attention import Attention
from pysim.workload.tensors import MAX_DIM

Phase = Literal["forward", "recompute", "loss", "backward", "optimizer"]
CopyAt = Literal["optimizer", "forward"]
Role = Literal["forward", "dX", "dW", "cast", "weight_cast", "hadamard", "vector",
               "vector_backward", "grad_sum", "bias_grad", "grad_accum", "loss", "optimizer"]
# Which micro batch of a step under gradient accumulation a graph is: the only one (no
# accumulation), the first (its gradients written), a middle one (added to the accumulated
# gradients, no update) or the last (added, then the update)
Micro = Literal["only", "first", "middle", "last"]
MICRO_BATCHES = ("only", "first", "middle", "last")

CAST_OPS = 3  # scale, round, clamp (ELEMENTWISE_OPS["quantize"])
FP32 = Format("fp32", "float", 32)
# PyTorch's "CUDA Ops that can autocast to float32" (torch.amp docs) as pysim ops: op types,
# elementwise kinds and reduce modes (layer_norm, softmax, log_softmax / cross_entropy: the
# loss; exp, log, pow, reciprocal; sum). An RMS norm counts as a layer norm (the common
# implementations, LLaMA's and F.rms_norm, compute it in fp32).
AUTOCAST_FP32_TYPES = ("softmax", "layernorm")
AUTOCAST_FP32_ELEMENTWISE = ("exp", "log", "pow", "reciprocal")
AUTOCAST_FP32_REDUCE = ("sum",)
LOSS_OPS = 6  # softmax cross-entropy: max, sub, exp, sum, log, and p - onehot
STATS_BYTES = 4  # fp32 per saved statistic (layernorm mean / rstd, attention log-sum-exp)
# Vector-op counts of the normalisations, each add, subtract, multiply, compare or select one
# op (no fused multiply-add), as pysim.workload.LayerNorm counts its forward; checked against
# a NumPy reference written from the math in tests/test_training_reference.py.
LN_DX_OPS = 10  # xhat (2), g = dY gamma (1), sums of g and g xhat (3), rstd (g - m1 - xhat m2) (4)
NORM_DGAMMA_OPS = 5  # xhat again (2), dY xhat (1), accumulate dgamma and dbeta (2)
# RMS norm (no mean, no beta): dX r (g - xhat mean(g xhat)): xhat (1), g = dY gamma (1),
# g xhat and its sum (2), xhat m (1), subtract (1), scale by r (1); 1 per row (the mean)
RMS_DX_OPS = 7
RMS_DGAMMA_OPS = 3  # xhat again (1), dY xhat (1), accumulate dgamma (1)
BN_STATS_OPS = 3  # sum, square, sum of squares
BN_DX_OPS = 6  # xhat (2), dY - mean(dY) (1), xhat mean(dY xhat) (1), subtract (1), scale (1)
BACKWARD_RULES = ("conv2d", "gemm", "matmul", "attention", "elementwise", "softmax",
                  "layernorm", "pool", "reduce", "copy")


@dataclass(frozen=True)
class TrainOp:
    """What one op of the training graph is: its ``phase``, ``role``, the forward ``layer``
    it belongs to and the ``format`` of its operands."""

    name: str
    layer: str
    phase: Phase
    role: Role
    format: str


@dataclass(frozen=True)
class TrainingGraph:
    """The derived graph and its bookkeeping: ``saved`` (tensor -> bytes kept from the forward
    for the backward), ``params`` (layer -> parameter count), ``segments`` (checkpointed
    segment -> bytes it saves), ``boundary_bytes`` (tensors kept at segment boundaries) and
    ``update_grads`` (layer -> the gradient tensors the optimizer update reads for it)."""

    workload: Workload
    ops: tuple[TrainOp, ...]
    saved: Mapping[str, int]
    params: Mapping[str, int]
    segment_saved: Mapping[str, int] = field(default_factory=dict)
    boundary_bytes: int = 0
    weight_copy_bytes: int = 0
    update_grads: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    # layers whose low-precision weight copy the optimizer update writes (their master
    # weights are the optimizer's alone: the forward reads the copy)
    copied: frozenset[str] = frozenset()
    # a pipeline stage's boundary: the graph input each tensor sent on gets its gradient from
    # (tensor -> input), and the gradient computed for each tensor received (tensor -> grad)
    grads_in: Mapping[str, str] = field(default_factory=dict)
    grads_out: Mapping[str, str] = field(default_factory=dict)
    # each forward tensor's gradient as the backward pass uses it (the sum of its parts)
    grad_of: Mapping[str, str] = field(default_factory=dict)

    def macs(self, role: str | None = None, phase: str | None = None) -> int:
        """MACs of the ops of ``role`` and / or ``phase`` (all if None)."""
        by_name = {o.name: o for o in self.ops}
        return sum(op.macs for op in self.workload.ops
                   if (role is None or by_name[op.name].role == role)
                   and (phase is None or by_name[op.name].phase == phase))


def segment_of(name: str) -> str:
    """The block an op belongs to for checkpointing: its name up to the last dot."""
    return name.rsplit(".", 1)[0] if "." in name else name


class _Builder:
    """Accumulates the ops of a training graph (see `build_training_graph`)."""

    def __init__(self, wl: Workload, recipes: Mapping[str, Recipe], base: Recipe,
                 optimizer: Optimizer, input_grads: bool, checkpoint: bool,
                 copy_at: CopyAt, grad_inputs: frozenset[str] = frozenset()) -> None:
        self.wl, self.recipes, self.base, self.opt = wl, recipes, base, optimizer
        self.input_grads, self.checkpoint, self.copy_at = input_grads, checkpoint, copy_at
        self.grad_inputs = grad_inputs  # inputs whose gradient is wanted (a stage's received)
        self.grad_of: dict[str, str] = {}  # tensor -> its gradient, once formed
        self.ops: list[Op] = []
        self.info: list[TrainOp] = []
        self.inputs: list[Tensor] = []
        self.shape: dict[str, tuple[int, ...]] = {}
        self.fmt: dict[str, Format] = {}
        self.casts: dict[tuple[str, str, str], str] = {}
        self.saved: dict[str, int] = {}
        self.saved_by: dict[str, str] = {}  # saved tensor -> segment that saved it
        self.params: dict[str, int] = {}
        self.grads: dict[str, list[str]] = {}
        self.q: dict[str, str] = {}  # forward tensor -> its forward-format copy (for dW)
        self.param_grads: dict[str, list[str]] = {}  # parameter -> its gradient tensors
        self.update_grads: dict[str, tuple[str, ...]] = {}  # ... as its update reads them
        self.weight_copy = 0
        self.autocast = base.autocast
        self.op_fmt: dict[str, Format] = {}  # autocast: the format a vector op computes in
        # layer -> (elements, bits) of the low-precision weight copy its update writes
        self.copies: dict[str, tuple[int, int]] = {}

    # -- plumbing ------------------------------------------------------------------------
    def add(self, op: Op, layer: str, phase: Phase, role: Role, fmt: Format) -> str:
        self.ops.append(op)
        self.info.append(TrainOp(op.name, layer, phase, role, fmt.name))
        self.shape[op.output] = op.output_shape
        self.fmt[op.output] = fmt if op.runs_on == "mac" or role in ("cast", "hadamard") \
            else self.fmt.get(op.output, fmt)
        return op.output

    def store(self, name: str, fmt: Format) -> None:
        self.fmt[name] = fmt

    def cast(self, tensor: str, to: Format, layer: str, phase: Phase,
             stochastic: bool = False) -> str:
        """``tensor`` in format ``to``: itself, or the output of a quantize op (cached)."""
        have = self.fmt[tensor]
        if have.bits == to.bits and have.dtype == to.dtype and not stochastic:
            return tensor
        key = (tensor, to.name, phase if phase == "recompute" else "")
        if key in self.casts:
            return self.casts[key]
        name = f"{tensor}.to_{to.name}" + (".re" if phase == "recompute" else "")
        shape = self.shape[tensor]
        op = VectorWork(name=name, output=name, inputs=(tensor,), shapes=(shape,), out_shape=shape,
                        ops_per_element=CAST_OPS + int(stochastic), act_bits=have.bits,
                        out_bits=to.bits, dtype=to.dtype, what="cast")
        self.casts[key] = self.add(op, layer, phase, "cast", to)
        return name

    def vector(self, name: str, inputs: tuple[str, ...], out_shape: tuple[int, ...],
               layer: str, phase: Phase, role: Role, fmt: Format, per_out: int = 0,
               per_in: int = 0, rows: int = 0, per_row: int = 0, what: str = "",
               at: Format | None = None,
               torch_op: Literal["", "cross_entropy"] = "") -> str:
        """A VectorWork op writing ``fmt``, its inputs cast to ``at`` (the activation
        format unless given) first."""
        act = at or self.base.activation
        ins = tuple(self.cast(t, act, layer, phase) for t in inputs)
        op = VectorWork(name=name, output=name, inputs=ins,
                        shapes=tuple(self.shape[t] for t in ins),
                        out_shape=out_shape, ops_per_element=per_out, ops_per_input=per_in,
                        rows=rows, ops_per_row=per_row, act_bits=act.bits, out_bits=fmt.bits,
                        dtype=fmt.dtype, what=what, torch_op=torch_op)
        out = self.add(op, layer, phase, role, fmt)
        self.fmt[out] = fmt
        return out

    def needs_grad(self, tensor: str) -> bool:
        if tensor in self.wl.producers or tensor in self.grad_inputs:
            return True
        return self.input_grads or self.wl.tensors[tensor].role == "weight"

    def grad(self, tensor: str, layer: str) -> str | None:
        """The gradient of ``tensor``: its one contribution, or their sum."""
        parts = self.grads.get(tensor, [])
        if len(parts) <= 1:
            if parts:
                self.grad_of[tensor] = parts[0]
            return parts[0] if parts else None
        act = self.grad_format(tensor)
        self.grad_of[tensor] = self.vector(
            f"grad.{tensor}", tuple(parts), self.shape[tensor], layer, "backward", "grad_sum",
            act, per_out=len(parts) - 1, what="sum of gradient contributions", at=act)
        return self.grad_of[tensor]

    def grad_format(self, tensor: str) -> Format:
        """The format of ``tensor``'s gradient: the activation format, or under autocast the
        (forward) tensor's own."""
        if self.autocast:
            return self.fmt.get(tensor, self.base.activation)
        return self.base.activation

    def give(self, tensor: str, grad: str) -> None:
        if self.needs_grad(tensor):
            if self.autocast:  # autograd's cast backward: the gradient in the tensor's format
                grad = self.cast(grad, self.grad_format(tensor),
                                 self.wl.producers.get(tensor, tensor), "backward")
            self.grads.setdefault(tensor, []).append(grad)

    def vector_format(self, op: Op, inputs: tuple[str, ...]) -> Format:
        """The format vector op ``op`` computes in: the activation format, or under autocast
        fp32 for autocast's fp32 list and the widest of ``inputs``' formats otherwise."""
        if not self.autocast:
            return self.base.activation
        if autocasts_to_fp32(op):
            return FP32
        fmts = [self.fmt[t] for t in inputs] or [self.base.activation]
        return max(fmts, key=lambda f: (f.dtype == "float", f.bits))

    def save(self, tensor: str, segment: str, nbytes: int | None = None) -> None:
        if tensor not in self.saved:
            self.saved[tensor] = (nbytes if nbytes is not None else
                                  (math.prod(self.shape[tensor]) * self.fmt[tensor].bits + 7)
                                  // 8)
            self.saved_by[tensor] = segment

    def recipe(self, layer: str) -> Recipe:
        return self.recipes.get(layer, self.base)


def autocasts_to_fp32(op: Op) -> bool:
    """Whether PyTorch's autocast runs ``op`` in fp32 (AUTOCAST_FP32_*)."""
    if op.type in AUTOCAST_FP32_TYPES:
        return True
    if op.type == "elementwise":
        return op.op in AUTOCAST_FP32_ELEMENTWISE  # type: ignore[attr-defined]
    return op.type == "reduce" and op.mode in AUTOCAST_FP32_REDUCE  # type: ignore[attr-defined]


def _copy_op(op: Op, **update: Any) -> Op:
    data = {**op.model_dump(), **update}
    data.pop("quant", None)
    return type(op).model_validate(data)


def _gemm_dtype(*fmts: Format) -> Format:
    """The format a GEMM of these operands runs in: the widest, float if any is float."""
    widest = max(fmts, key=lambda f: (f.bits, f.dtype == "float"))
    dtype = "float" if any(f.dtype == "float" for f in fmts) else "int"
    return Format(widest.name, dtype, widest.bits)  # type: ignore[arg-type]


def build_training_graph(wl: Workload, base: Recipe, recipes: Mapping[str, Recipe],
                         optimizer: Optimizer, input_grads: bool = False,
                         checkpoint: bool = False, fused_optimizer: bool = True,
                         weight_copy: CopyAt = "optimizer", shards: int = 1,
                         micro: Micro = "only", grad_shards: int = 1,
                         sends: frozenset[str] = frozenset(),
                         receives: frozenset[str] = frozenset()) -> TrainingGraph:
    """The training graph of ``wl``: see the module docstring. ``recipes`` overrides ``base``
    per MAC layer; ``input_grads`` also computes the gradients of graph inputs; ``checkpoint``
    keeps only each block's inputs and recomputes the block's forward before its backward;
    ``fused_optimizer`` updates the parameters in multi-tensor groups (see `_optimizer`);
    ``weight_copy`` says where a mixed-precision recipe's low-precision weight copy is made:
    ``"optimizer"``, written by the update from the new master weights (Apex's O2 and
    Megatron-LM's mixed-precision optimizer: the copy is made once per step, after the
    step), or ``"forward"``, a cast of the master weights before their forward GEMM each
    step (PyTorch autocast, fake-quantized training). ``shards`` > 1: the optimizer update
    runs on 1 / ``shards`` of every parameter, as on one of ``shards`` devices whose ZeRO
    stage partitions the optimizer (pysim/training/data_parallel.py). ``micro``: the graph of
    one micro batch of a step that accumulates gradients over several (``MICRO_BATCHES``):
    the first writes its weight gradients, a middle one and the last add theirs to the
    accumulated ones (a ``grad_accum`` op after each, reading both and writing in place, as
    PyTorch's AccumulateGrad adds into ``.grad``), and only the last (or the only one) runs
    the optimizer update. ``grad_shards`` > 1: each device accumulates its 1 / grad_shards
    partition of the gradients (ZeRO stages 2 and 3 keep no more). ``sends`` and
    ``receives``: ``wl`` is a pipeline stage (pysim/training/pipeline.py) whose tensors
    ``sends`` later stages read, their gradients arriving as graph inputs (no loss on them),
    and whose inputs ``receives`` come from earlier stages, their gradients computed to be
    sent back (``TrainingGraph.grads_in`` / ``grads_out``).

    Raises WorkloadError if an op has no backward rule."""
    for op in wl.ops:
        if op.type not in BACKWARD_RULES:
            raise WorkloadError(f"op {op.name!r}: type {op.type!r} has no backward rule; "
                                f"rules exist for: {', '.join(BACKWARD_RULES)}")
    if micro not in MICRO_BATCHES:
        raise WorkloadError(f"micro: {micro!r} is not a micro batch; allowed: "
                            f"{', '.join(MICRO_BATCHES)}")
    if weight_copy not in ("optimizer", "forward"):
        raise WorkloadError(f"weight_copy: {weight_copy!r} is not a place; allowed: "
                            "'optimizer' (the update writes it), 'forward' (a cast before use)")
    b = _Builder(wl, recipes, base, optimizer, input_grads, checkpoint, weight_copy,
                 frozenset(receives))
    act = base.activation
    for t in wl.inputs:  # under autocast the model, and so its input activations, is fp32
        fmt = base.master if t.role == "weight" else (FP32 if base.autocast else act)
        b.inputs.append(Tensor(name=t.name, shape=t.shape, bits=fmt.bits, dtype=fmt.dtype,
                               role=t.role))
        b.shape[t.name], b.fmt[t.name] = t.shape, fmt
        if t.role == "weight":
            b.params[t.name] = t.elements
    for op in wl.ops:
        _forward(b, op, "forward")
    seg_saved: dict[str, int] = {}
    boundary = 0
    if checkpoint:
        for kept, n in b.saved.items():
            seg_saved[b.saved_by[kept]] = seg_saved.get(b.saved_by[kept], 0) + n
        boundary = _boundary_bytes(b)
    grads_in: dict[str, str] = {}
    for sent in sorted(sends):  # a later stage's gradient of what this one sent it
        fmt = b.grad_format(sent)
        grads_in[sent] = f"{sent}.grad_in"
        b.inputs.append(Tensor(name=grads_in[sent], shape=b.shape[sent], bits=fmt.bits,
                               dtype=fmt.dtype, role="input"))
        b.shape[grads_in[sent]], b.fmt[grads_in[sent]] = b.shape[sent], fmt
        b.grads.setdefault(sent, []).append(grads_in[sent])
    for out in wl.outputs:
        if out in sends:
            continue
        scale = int(base.loss_scale)
        at = FP32 if base.autocast else act  # autocast: cross_entropy in fp32
        loss = b.vector(f"loss.{out}", (out,), b.shape[out], out, "loss", "loss", at,
                        per_out=LOSS_OPS + scale, what="softmax cross-entropy", at=at,
                        torch_op="cross_entropy")
        # ... and the gradient cast back to the logits' format (autograd's cast backward)
        b.grads[out] = [b.cast(loss, b.grad_format(out), out, "backward")
                        if base.autocast else loss]
    by_segment: dict[str, list[Op]] = {}
    for op in wl.ops:
        by_segment.setdefault(segment_of(op.name), []).append(op)
    done: set[str] = set()
    accumulates = micro in ("middle", "last")
    for op in reversed(wl.ops):
        seg = segment_of(op.name)
        if checkpoint and seg not in done:
            done.add(seg)
            for fwd in by_segment[seg]:
                _forward(b, fwd, "recompute")
        had = {layer: len(g) for layer, g in b.param_grads.items()} if accumulates else {}
        _backward(b, op)
        if accumulates:  # each gradient added to the accumulated one as soon as it is made
            for layer, grads in b.param_grads.items():
                for j in range(had.get(layer, 0), len(grads)):
                    grads[j] = _accumulate(b, layer, grads[j], grad_shards)
    grads_out: dict[str, str] = {}
    for got in sorted(receives):  # the gradients this stage sends back
        g = b.grad(got, got)
        if g is not None:
            grads_out[got] = g
    if micro in ("only", "last"):
        _optimizer(b, fused_optimizer, shards)
    else:  # no update: the gradients the next micro batches add to, as they are
        b.update_grads = {layer: tuple(g) for layer, g in b.param_grads.items() if g}
    graph = Workload(name=f"{wl.name}.train", ops=tuple(b.ops), inputs=tuple(b.inputs))
    return TrainingGraph(graph, tuple(b.info), dict(b.saved), dict(b.params), seg_saved,
                         boundary, b.weight_copy, dict(b.update_grads), frozenset(b.copies),
                         grads_in, grads_out, dict(b.grad_of))


def _accumulate(b: _Builder, layer: str, grad: str, shards: int = 1) -> str:
    """``grad`` added to its accumulated value, held between micro batches as a tensor of
    its own (a graph input in the gradient's format, written over in place); with ``shards``
    > 1 only this device's 1 / shards of both (the reduce-scattered partition: the order of
    the add and the reduce-scatter is not modelled, their bytes are)."""
    fmt, shape = b.fmt[grad], b.shape[grad]
    held = f"{grad}.accumulated"
    b.inputs.append(Tensor(name=held, shape=shape, bits=fmt.bits, dtype=fmt.dtype,
                           role="weight"))
    b.shape[held], b.fmt[held] = shape, fmt
    part = shape if shards == 1 else _flat_shape(math.ceil(math.prod(shape) / shards))
    op = VectorWork(name=f"{grad}.accum", output=f"{grad}.accum", inputs=(grad, held),
                    shapes=(shape, shape), out_shape=part, ops_per_element=1,
                    act_bits=fmt.bits, out_bits=fmt.bits, dtype=fmt.dtype, in_place=True,
                    read_share=1.0 / shards,
                    what="gradient accumulation: the micro batch's gradient added in place"
                    + (f" (1/{shards} of it)" if shards > 1 else ""))
    out = b.add(op, layer, "backward", "grad_accum", fmt)
    b.fmt[out] = fmt
    return out


def _batchnorm_forward(b: _Builder, op: Op, x: str, name: str, out: str, phase: Phase) -> None:
    """Batch normalisation in training (Ioffe & Szegedy, ICML 2015, Algorithm 1): the batch's
    per-channel mean and variance first (one pass over X: a sum, a square and a sum of
    squares, 3 per element), then Y = (X - mean) rstd gamma + beta (a second pass: X and the
    statistics read, Y written; 2 per element once the per-channel scale and shift are
    formed). X and the statistics are saved for the backward; gamma and beta (2 per channel)
    are parameters the optimizer updates. (The statistics are held in the activation format:
    2 per channel, their width moves no measurable bytes.)"""
    act = b.base.activation
    channels = b.shape[x][-1]
    stats = b.vector(f"{name}.stats", (x,), (2, channels), op.name, phase, "vector", act,
                     per_in=BN_STATS_OPS,
                     what="batch statistics: per-channel sum and sum of squares")
    y = VectorWork(name=name, output=out, inputs=(x, stats), shapes=(b.shape[x], (2, channels)),
                   out_shape=b.shape[x], ops_per_element=2, act_bits=act.bits,
                   out_bits=act.bits, dtype=act.dtype, what="(X - mean) rstd gamma + beta")
    b.add(y, op.name, phase, "vector", act)
    b.fmt[out] = act
    if phase == "forward":
        seg = segment_of(op.name)
        b.save(x, seg)
        b.save(stats, seg)
        b.params[op.name] = 2 * channels

def _boundary_bytes(b: _Builder) -> int:
    """Bytes of the tensors each checkpointed segment reads from outside itself."""
    seen: set[str] = set()
    total = 0
    for op in b.wl.ops:
        seg = segment_of(op.name)
        for t in op.inputs:
            src = b.wl.producers.get(t)
            if src is not None and segment_of(src) != seg and t not in seen:
                seen.add(t)
                total += (math.prod(b.shape[t]) * b.fmt[t].bits + 7) // 8
    return total


def _src(b: _Builder, tensor: str, segment: str, recompute: bool) -> str:
    """The tensor a (recomputed) forward op reads: a recomputed copy inside its segment."""
    inside = tensor in b.wl.producers and segment_of(b.wl.producers[tensor]) == segment
    return f"{tensor}.re" if recompute and inside else tensor


def _forward(b: _Builder, op: Op, phase: Phase) -> None:
    """Append the forward op ``op`` (in its layer's formats) and record what it saves."""
    act = b.base.activation
    re = phase == "recompute"
    name = f"{op.name}.re" if re else op.name
    out = f"{op.output}.re" if re else op.output
    seg = segment_of(op.name)
    if op.runs_on == "mac":
        r = b.recipe(op.name)
        f = r.forward
        ins = tuple(b.cast(_src(b, t, seg, re), f, op.name, phase) for t in op.inputs)
        update: dict[str, Any] = {"name": name, "output": out, "inputs": ins,
                                  "act_bits": f.bits, "weight_bits": f.bits,
                                  "out_bits": act.bits, "dtype": f.dtype}
        if isinstance(op, Attention):
            update["qk_format"] = update["pv_format"] = None
        mac = _copy_op(op, **update)
        b.add(mac, op.name, phase, "forward", f)
        b.fmt[out] = act
        if not re:
            for t, q in zip(op.inputs, ins, strict=True):
                b.q[t] = q
                if b.needs_grad(t) or op.weight_tensors() or isinstance(op, Attention):
                    b.save(q, seg)
            if isinstance(op, Attention):
                b.save(out, seg)
                b.save(f"{op.name}.lse", seg, op.batch * op.heads * op.q_len * STATS_BYTES)
            weights = [t for t in op.weight_tensors() if t.name.endswith(".weight")]
            if weights:
                count = sum(t.elements for t in op.weight_tensors()
                            if not t.name.endswith(".scales"))
                b.params[op.name] = count
                w = weights[0]
                if (r.master.bits, r.master.dtype) != (f.bits, f.dtype):
                    master = f"{op.name}.master"
                    b.inputs.append(Tensor(name=master, shape=w.shape, bits=r.master.bits,
                                           dtype=r.master.dtype, role="weight"))
                    b.shape[master], b.fmt[master] = w.shape, r.master
                    if b.copy_at == "forward":
                        cast_name = f"{op.name}.weight_cast"
                        cast = VectorWork(name=cast_name, output=cast_name, inputs=(master,),
                                          shapes=(w.shape,), out_shape=w.shape,
                                          ops_per_element=CAST_OPS, act_bits=r.master.bits,
                                          out_bits=f.bits, dtype=f.dtype, what="weight cast")
                        b.add(cast, op.name, phase, "weight_cast", f)
                    else:  # the optimizer update writes it
                        b.copies[op.name] = (w.elements, f.bits)
                    b.weight_copy += (w.elements * f.bits + 7) // 8
        return
    srcs = tuple(_src(b, t, seg, re) for t in op.inputs)
    at = b.vector_format(op, srcs)
    if b.autocast and not autocasts_to_fp32(op):
        ins = srcs  # type promotion: no casts, the op reads and writes the widest format
    else:
        ins = tuple(b.cast(t, at, op.name, phase) for t in srcs)
    if op.type == "elementwise" and op.op == "batchnorm":  # type: ignore[attr-defined]
        _batchnorm_forward(b, op, ins[0], name, out, phase)
        return
    widths = tuple(b.fmt[t].bits for t in ins)
    if len(set(widths)) > 1:  # autocast's type promotion: one kernel reads each at its width
        new: Op = VectorWork(name=name, output=out, inputs=ins,
                             shapes=tuple(b.shape[t] for t in ins), out_shape=op.output_shape,
                             ops_per_element=op.vector_work() // math.prod(op.output_shape),
                             act_bits=at.bits, out_bits=at.bits, dtype=at.dtype,
                             in_bits=widths, what=f"{op.name} ({op.type}, mixed widths)")
    else:
        new = _copy_op(op, name=name, output=out, inputs=ins, act_bits=at.bits,
                       out_bits=at.bits, weight_bits=at.bits, dtype=at.dtype)
    b.add(new, op.name, phase, "vector", at)
    b.fmt[out] = b.op_fmt[op.name] = at
    if re:
        return
    if op.weight_tensors():
        b.params[op.name] = sum(t.elements for t in op.weight_tensors())
    read = dict(zip(op.inputs, ins, strict=True))  # autocast: what the op read (a cast copy)
    for t in _saved_by_vector_op(op):
        b.save(read.get(t, t) if b.autocast else t, seg)
    if op.type == "layernorm":  # mean and rstd per row (an RMS norm: rstd)
        stats = 1 if op.rms else 2  # type: ignore[attr-defined]
        b.save(f"{op.name}.stats", seg, stats * op.rows * STATS_BYTES)  # type: ignore[attr-defined]


SAVES_OUTPUT = ("relu", "relu6", "sigmoid", "tanh", "exp")
NO_SAVE = ("add", "sub", "add_const", "mul_const", "quantize", "dequantize", "batchnorm",
           "rope")


def _saved_by_vector_op(op: Op) -> tuple[str, ...]:
    """Tensors a vector op's backward reads: softmax its output, layernorm its input (and its
    row statistics), relu-like functions their output, other nonlinear ones their inputs,
    max pooling / max-min reductions their input; linear ops nothing."""
    if op.type == "softmax":
        return (op.output,)
    if op.type == "layernorm":
        return op.inputs
    if op.type == "elementwise":
        kind = op.op  # type: ignore[attr-defined]
        if kind in NO_SAVE:
            return ()
        return (op.output,) if kind in SAVES_OUTPUT else op.inputs
    if op.type == "pool":  # max: X and Y, the argmax mask formed again from them (cuDNN)
        return (*op.inputs, op.output) if op.mode == "max" else ()  # type: ignore[attr-defined]
    if op.type == "reduce":
        return () if op.mode in ("sum", "mean") else op.inputs  # type: ignore[attr-defined]
    return ()


def _backward(b: _Builder, op: Op) -> None:
    dy = b.grad(op.output, op.name)
    if dy is None:
        return
    if op.runs_on == "mac":
        _mac_backward(b, op, dy)
    else:
        _vector_backward(b, op, dy)


def _mac_backward(b: _Builder, op: Op, dy: str) -> None:
    r = b.recipe(op.name)
    f, g, gw, act = r.forward, r.dx_grad, r.dw_grad, b.base.activation
    sr = r.stochastic_rounding
    if isinstance(op, Conv2d) and b.shape[dy] != op.output_shape:  # a convolution reads NHWC
        dy = b.vector(f"{op.name}.dY_nhwc", (dy,), op.output_shape, op.name, "backward",
                      "vector_backward", act, what="view the gradient as NHWC (a copy)")
    gemm_fmt = _gemm_dtype(f, g)
    if isinstance(op, Attention):
        b.cast(dy, g, op.name, "backward", stochastic=sr)
        ins = tuple(b.q[t] for t in op.inputs)
        d = b.vector(f"{op.name}.bwd_d", (dy, op.output), (op.batch * op.heads * op.q_len,),
                     op.name, "backward", "vector_backward", Format("fp32", "float", 32),
                     per_in=1, what="D = rowsum(dO * O)")
        del d  # read by the fused kernel; its bytes are in the step's memory
        fmt = b.fmt[ins[0]]
        bwd = AttentionBackward.of(op, f"{op.name}.bwd", ins, fmt.bits, fmt.dtype, act.bits)
        out = b.add(bwd, op.name, "backward", "dX", fmt)
        b.fmt[out] = act
        for t, part in zip(op.inputs, ("q", "k", "v"), strict=True):
            if b.needs_grad(t):
                gt = b.vector(f"{op.name}.d{part}", (out,), b.shape[t], op.name, "backward",
                              "vector_backward", act, per_out=1, what=f"d{part} of dQKV")
                b.give(t, gt)
        return
    if isinstance(op, Matmul):
        dyq = b.cast(dy, g, op.name, "backward", stochastic=sr)  # dY for the dX GEMM
        a, bb = op.inputs
        aq, bq = b.q[a], b.q[bb]
        if b.needs_grad(a):  # dA = dY B^T
            x, y = _same_width(b, (dyq, bq), op.name)
            da = Matmul(name=f"{op.name}.dA", output=f"{op.name}.dA", inputs=(x, y),
                        batch=op.batch, m=op.m, n=op.k,
                        k=op.n, act_bits=b.fmt[x].bits, out_bits=act.bits,
                        dtype=gemm_fmt.dtype)
            b.give(a, _as_act(b, b.add(da, op.name, "backward", "dX", _label(g, f))))
        if b.needs_grad(bb):  # dB = A^T dY
            is_param = bb not in b.wl.producers and b.wl.tensors[bb].role == "weight"
            gb = gw if is_param else g
            dyb = b.cast(dy, gb, op.name, "backward", stochastic=sr) if is_param else dyq
            x, y = _same_width(b, (aq, dyb), op.name)
            role: Role = "dW" if is_param else "dX"
            out_fmt = r.weight_grad if is_param else act
            db = Matmul(name=f"{op.name}.dB", output=f"{op.name}.dB", inputs=(x, y),
                        batch=op.batch, m=op.k, n=op.n,
                        k=op.m, act_bits=b.fmt[x].bits, out_bits=out_fmt.bits,
                        dtype=_gemm_dtype(f, gb).dtype)
            out = b.add(db, op.name, "backward", role, _label(f, gb))
            b.fmt[out] = out_fmt
            if is_param:
                b.param_grads.setdefault(bb, []).append(out)
            else:
                b.give(bb, out)
        return
    x = op.inputs[0]
    xq = b.q[x]
    view = op.gemm_view()
    assert view is not None
    if b.needs_grad(x):
        dyq = b.cast(dy, g, op.name, "backward", stochastic=sr)  # dY for the dX GEMM
        b.give(x, _dx(b, op, dyq, f, _label(g, f), act))
    # dW = X^T dY (per group), the operands Hadamard-transformed first where the recipe says
    ops: tuple[str, ...] = (xq, b.cast(dy, gw, op.name, "backward", stochastic=sr))
    if r.hadamard:
        ops = tuple(_hadamard(b, t, r, op.name) for t in ops)
    xw, dyw = _same_width(b, ops, op.name)
    # The bias gradient rides on the dW GEMM where that reads dY as it is (WeightGrad.bias);
    # from a cast or transformed dY it is a reduction of its own over the unrounded dY.
    fused_bias = bool(getattr(op, "bias", False)) and dyw == dy
    dw = WeightGrad(name=f"{op.name}.dW", output=f"{op.name}.dW", inputs=(xw, dyw),
                    m=view.k, n=view.n, k=view.m,
                    count=view.count, x_shape=b.shape[xw], dy_shape=b.shape[dyw],
                    act_bits=b.fmt[xw].bits, out_bits=r.weight_grad.bits,
                    dtype=_gemm_dtype(f, gw).dtype, bias=fused_bias)
    b.add(dw, op.name, "backward", "dW", _label(f, gw))
    b.fmt[dw.output] = r.weight_grad
    b.param_grads[op.name] = [dw.output]
    if getattr(op, "bias", False) and not fused_bias:
        n = op.output_shape[-1]
        b.param_grads[op.name].append(
            b.vector(f"{op.name}.dbias", (dy,), (n,), op.name, "backward", "bias_grad",
                     r.weight_grad, per_in=1, what="bias gradient: column sums of dY"))


def _label(a: Format, b: Format) -> Format:
    """The format of a GEMM of operands ``a`` x ``b``, named for both where they differ."""
    fmt = _gemm_dtype(a, b)
    name = a.name if a.name == b.name else f"{a.name}x{b.name}"
    return Format(name, fmt.dtype, fmt.bits)


def _as_act(b: _Builder, tensor: str) -> str:
    b.fmt[tensor] = b.base.activation
    return tensor


def _same_width(b: _Builder, tensors: tuple[str, ...], layer: str) -> tuple[str, ...]:
    """Cast the narrower of two GEMM operands up to the wider one's width (one MMA format)."""
    fmt = _gemm_dtype(*(b.fmt[t] for t in tensors))
    return tuple(t if b.fmt[t].bits == fmt.bits else b.cast(t, fmt, layer, "backward")
                 for t in tensors)


def _hadamard(b: _Builder, tensor: str, r: Recipe, layer: str) -> str:
    """A block-``r.hadamard`` random Hadamard transform of ``tensor`` and its re-cast."""
    shape = b.shape[tensor]
    name = f"{tensor}.rht"
    if name not in b.shape:
        per = int(math.log2(r.hadamard)) + 1 + CAST_OPS + int(r.stochastic_rounding)
        op = VectorWork(name=name, output=name, inputs=(tensor,), shapes=(shape,), out_shape=shape,
                        ops_per_element=per, act_bits=b.fmt[tensor].bits,
                        out_bits=b.fmt[tensor].bits, dtype=b.fmt[tensor].dtype,
                        what=f"random Hadamard transform (block {r.hadamard}) and re-cast")
        b.add(op, layer, "backward", "hadamard", b.fmt[tensor])
    return name


def _dx(b: _Builder, op: Op, dyq: str, f: Format, fmt: Format, act: Format) -> str:
    """The input gradient of a Gemm / Conv2d (see the module docstring)."""
    name = f"{op.name}.dX"
    common = {"act_bits": b.fmt[dyq].bits, "weight_bits": f.bits, "out_bits": act.bits,
              "dtype": fmt.dtype}
    if isinstance(op, Gemm):
        out = b.add(Gemm(name=name, inputs=(dyq,), m=op.m, n=op.k, k=op.n, **common),
                    op.name, "backward", "dX", fmt)
        return _as_act(b, out)
    assert isinstance(op, Conv2d)
    kh, kw = op.kernel
    pads = tuple(op.dilation[i] * (op.kernel[i] - 1) - op.padding[i] for i in (0, 1))
    same = (op.stride == (1, 1) and (op.out_h, op.out_w) == (op.in_h, op.in_w)
            and min(pads) >= 0)
    if same:  # the transposed convolution: flipped kernel over dY, exactly the forward's MACs
        conv = Conv2d(name=name, inputs=(dyq,), batch=op.batch, in_h=op.out_h, in_w=op.out_w,
                      in_c=op.out_c, out_c=op.in_c, kernel=op.kernel, padding=pads,
                      dilation=op.dilation, groups=op.groups, **common)
        return _as_act(b, b.add(conv, op.name, "backward", "dX", fmt))
    cols = Conv2d(name=f"{name}.cols", inputs=(dyq,), batch=op.batch, in_h=op.out_h,
                  in_w=op.out_w, in_c=op.out_c, out_c=kh * kw * op.in_c, kernel=(1, 1),
                  groups=op.groups, **common)
    out = _as_act(b, b.add(cols, op.name, "backward", "dX", fmt))
    x_shape = op.input_shapes()[0]
    return b.vector(name, (out,), x_shape, op.name, "backward", "vector_backward", act,
                    per_in=1, what="col2im: scatter-add the columns into dX")


def _vector_backward(b: _Builder, op: Op, dy: str) -> None:
    """Backward of a vector op; counts per element (elementary vector ops):

    - elementwise f: f'(x) costs what f does (its ops_per_element), then one multiply by dY;
      relu-like functions a compare-select; add: dY passes through; sub: one negate;
      mul / div / max / min: one multiply (or select) per operand; quantize / dequantize:
      straight-through (Bengio et al. 2013);
    - softmax: dX = Y (dY - rowsum(dY Y)): 4 per element (Y saved);
    - layernorm: dX = rstd (g dY - mean(g dY) - xhat mean(g dY xhat)), g = gamma dY: 10 per
      element (xhat formed again: 2), 2 per row (X, mean and rstd saved); dgamma, dbeta: 5 per
      element (xhat again, dY xhat, two column sums: PyTorch's separate column-reduction
      kernel); an RMS norm: dX = r (g - xhat mean(g xhat)): 7 per element, 1 per row (X and
      r saved), dgamma 3 per element;
    - pool: per (window, tap) pair, max: compare X with the window's saved max Y and select dY
      (2: the argmax mask formed again from the saved X and Y, as cuDNN's pooling backward
      takes them), avg: dY / window accumulated (1); for non-overlapping windows 2 and 1 per
      input element;
    - reduce: sum / mean broadcast (1 per input element), others 2 per input element;
    - copy: the adjoint data movement, 1 per element moved (resize: 2 taps - 1).
    """
    # the op's backward computes in its forward's format (autocast: fp32 or the widest input)
    act = b.op_fmt.get(op.name, b.base.activation) if b.autocast else b.base.activation
    n = op.name

    def give(t: str, per_out: int, *extra: str, what: str, per_row: int = 0,
             rows: int = 0, j: int = 0) -> None:
        if b.needs_grad(t):
            g = b.vector(f"{n}.d{j}", (dy, *extra), b.shape[t], n, "backward",
                         "vector_backward", act, per_out=per_out, per_row=per_row, rows=rows,
                         what=what, at=act)
            b.give(t, g)

    if op.type == "elementwise":
        from pysim.workload import ELEMENTWISE_OPS

        kind = op.op  # type: ignore[attr-defined]
        if kind == "batchnorm":
            _batchnorm_backward(b, op, dy)
            return
        if kind in ("add", "quantize", "dequantize"):
            for t in dict.fromkeys(op.inputs):
                if b.needs_grad(t):
                    b.give(t, dy)
            return
        if kind == "sub":
            a, c = op.inputs
            if b.needs_grad(a):
                b.give(a, dy)
            give(c, 1, what="-dY", j=1)
            return
        if ELEMENTWISE_OPS[kind].arity == 2:
            a, c = op.inputs
            give(a, 1, c, what=f"d/da {kind}")
            give(c, 1, a, what=f"d/db {kind}", j=1)
            return
        saved = (op.output,) if kind in SAVES_OUTPUT else op.inputs
        cost = 1 if kind in ("relu", "relu6", "clip", "max_const", "leaky_relu") \
            else ELEMENTWISE_OPS[kind].ops_per_element
        extra = () if kind in NO_SAVE else saved
        give(op.inputs[0], cost + 1, *extra, what=f"{kind}'(x) * dY")
        return
    if op.type == "softmax":
        give(op.inputs[0], 4, op.output, what="Y (dY - rowsum(dY Y))")
        return
    if op.type == "layernorm":
        rows, cols, rms = op.rows, op.cols, op.rms  # type: ignore[attr-defined]
        give(op.inputs[0], RMS_DX_OPS if rms else LN_DX_OPS, op.inputs[0],
             what="rms norm dX" if rms else "layernorm dX", per_row=1 if rms else 2,
             rows=rows)
        if op.weight_tensors():
            b.param_grads[n] = [b.vector(
                f"{n}.dgamma", (dy, op.inputs[0]), (op.weight_rows, cols), n,  # type: ignore[attr-defined]
                "backward", "bias_grad", b.recipe(n).weight_grad, rows=rows,
                per_row=(RMS_DGAMMA_OPS if rms else NORM_DGAMMA_OPS) * cols,
                what="dgamma: column sums of dY xhat" if rms
                else "dgamma, dbeta: column sums of dY xhat and dY", at=act)]
        return
    if op.type == "pool":
        taps = math.prod(op.window) * math.prod(op.output_shape)  # type: ignore[attr-defined]
        per_tap = 2 if op.mode == "max" else 1  # type: ignore[attr-defined]
        give(op.inputs[0], 0, *_saved_by_vector_op(op), rows=taps, per_row=per_tap,
             what=f"{op.mode} pool backward")  # type: ignore[attr-defined]
        return
    if op.type in ("reduce", "copy"):
        taps = getattr(op, "taps", 1)
        per = 2 * taps - 1 if op.type == "copy" else (
            2 if op.type == "reduce" and op.mode not in ("sum", "mean", "max", "min")  # type: ignore[attr-defined]
            else 1)
        keeps = _saved_by_vector_op(op)
        for j, t in enumerate(op.inputs):
            give(t, per, *keeps, what=f"{op.type} backward", j=j)
        return
    raise WorkloadError(f"op {n!r}: type {op.type!r} has no backward rule; rules exist for: "
                        f"{', '.join(BACKWARD_RULES)}")


def _batchnorm_backward(b: _Builder, op: Op, dy: str) -> None:
    """Training batch norm's backward (Ioffe & Szegedy 2015, Section 3): per channel
    dbeta = sum(dY) and dgamma = sum(dY xhat), one pass over dY and X (xhat formed again from
    the saved statistics, dY xhat, two sums: 5 per element), which are also the gradients of
    gamma and beta; then dX = rstd gamma (dY - mean(dY) - xhat mean(dY xhat)), a second pass
    over dY and X (6 per element: xhat 2, subtract, multiply, subtract, scale), as cuDNN's
    and PyTorch's two-kernel backward do."""
    n, x = op.name, op.inputs[0]
    channels = b.shape[x][-1]
    q = b.q.get(x, x)
    positions = math.prod(b.shape[x]) // channels
    dstats = b.vector(f"{n}.dgamma", (dy, q, f"{n}.stats"), (2, channels), n, "backward",
                      "bias_grad", b.base.activation, rows=positions,
                      per_row=NORM_DGAMMA_OPS * channels,
                      what="dgamma, dbeta: per-channel sums of dY xhat and dY")
    b.param_grads[n] = [dstats]
    if b.needs_grad(x):
        g = b.vector(f"{n}.d0", (dy, q, f"{n}.stats", dstats), b.shape[x], n, "backward",
                     "vector_backward", b.base.activation, per_out=BN_DX_OPS,
                     what="batchnorm dX: rstd gamma (dY - mean(dY) - xhat mean(dY xhat))")
        b.give(x, g)


def _optimizer(b: _Builder, fused: bool, shards: int = 1) -> None:
    """The optimizer update. ``fused``: one multi-tensor update per group of parameters
    sharing their master, state and gradient formats, as PyTorch's ``foreach`` (the default
    on CUDA since 2.0) and ``fused`` optimizers, Apex's ``multi_tensor_apply`` and XLA's fused
    step run it: one kernel reading every gradient, master weight and state of the group and
    writing the weights and states back in place. Otherwise one update per parameter tensor
    (a per-tensor ``for`` loop of kernels). Either reads its gradients, the master weights
    (the ``<layer>.master`` tensors of mixed precision) and the optimizer states (declared as
    one ``<prefix>.optimizer_in`` tensor of their bytes, the master weights with them where
    the forward reads the master itself) and writes the weights and states over them
    (``VectorWork.in_place``): the same bytes and vector work, fused or not. With
    ``weight_copy="optimizer"`` it also writes each layer's low-precision weight copy (a
    cast, CAST_OPS per element). With ``shards`` > 1 each update reads, computes and writes
    its 1 / ``shards`` partition (ZeRO stage 1 onwards: Rajbhandari et al., SC 2020,
    section 5.1)."""
    opt = b.opt
    per = opt.ops_per_param + LOSS_SCALE_OPS_PER_PARAM * int(b.base.loss_scale)
    groups: dict[tuple[Any, ...], list[tuple[str, int, list[str]]]] = {}
    for layer, count in b.params.items():
        grads = b.param_grads.get(layer)
        if not grads:
            continue
        r = b.recipe(layer)
        to = b.fmt[grads[0]]
        grads = [g if b.fmt[g].bits == to.bits else b.cast(g, to, layer, "backward")
                 for g in grads]
        b.update_grads[layer] = tuple(grads)
        key = (r.master, r.state, to.bits, to.dtype) if fused else (layer,)
        groups.setdefault(key, []).append((layer, count, grads))
    for i, members in enumerate(groups.values()):
        prefix = members[0][0] if not fused else "params" if len(groups) == 1 else f"params{i}"
        r = b.recipe(members[0][0])
        grads = [g for _, _, gs in members for g in gs]
        fmt = b.fmt[grads[0]]
        # the master weights: a layer's own tensor where the graph holds one apart from its
        # forward-format copy (mixed precision), else part of the states tensor
        masters = [f"{layer}.master" for layer, _, _ in members if f"{layer}.master" in b.shape]
        state_bits = sum(c * (opt.states * r.state.bits
                              + r.master.bits * (f"{layer}.master" not in b.shape))
                         for layer, c, _ in members)
        held: tuple[str, ...] = ()
        if state_bits:
            held = (f"{prefix}.optimizer_in",)
            shape = _flat_shape(math.ceil(state_bits / fmt.bits))
            b.inputs.append(Tensor(name=held[0], shape=shape, bits=fmt.bits, dtype=fmt.dtype,
                                   role="weight"))
            b.shape[held[0]], b.fmt[held[0]] = shape, fmt
        ins = (*grads, *masters, *held)
        count = sum(c for _, c, _ in members)
        copies = [b.copies[layer] for layer, _, _ in members if layer in b.copies]
        written = count * (r.master.bits + opt.states * r.state.bits) + sum(
            e * bits for e, bits in copies)
        copied = sum(e for e, _ in copies)
        tensors = f"{len(members)} tensors, " if fused else ""
        wrote = f", writing {copied} low-precision weights" if copied else ""
        part = f" (1/{shards} of them)" if shards > 1 else ""
        widths = tuple(b.fmt[t].bits for t in ins)  # fp32 masters beside 16-bit gradients
        op = VectorWork(name=f"{prefix}.update", output=f"{prefix}.update", inputs=ins,
                        shapes=tuple(b.shape[t] for t in ins),
                        out_shape=_flat_shape(math.ceil(written / fmt.bits / shards)),
                        ops_per_element=0, ops_per_row=per, rows=math.ceil(count / shards),
                        ops_extra=math.ceil(CAST_OPS * copied / shards), act_bits=fmt.bits,
                        out_bits=fmt.bits, dtype=fmt.dtype, in_place=True,
                        read_share=1.0 / shards,
                        in_bits=widths if len(set(widths)) > 1 else (),
                        what=f"{opt.name} update of {tensors}{count} parameters{wrote}{part}")
        b.add(op, prefix, "optimizer", "optimizer", r.master)


def _flat_shape(elements: int) -> tuple[int, ...]:
    """A shape of ``elements`` elements whose dimensions are each at most MAX_DIM: the vector
    itself, else (rows, width) with the narrowest exact width; where none up to 2^16 divides
    it, the last row is padded (fewer than 2^16 elements of billions)."""
    if elements <= MAX_DIM:
        return (elements,)
    least = -(-elements // MAX_DIM)
    width = next((w for w in range(least, 1 << 16) if elements % w == 0), least)
    return (-(-elements // width), width)
