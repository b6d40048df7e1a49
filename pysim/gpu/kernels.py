"""The mapping of a GPU (a hardware description whose MAC units are ``tensor_core``): one kernel
per op, on one stream, as ``pysim.simulate`` maps, runs and prices every hardware.

MAC ops (GEMM, convolution via im2col, batched matmul) run on the tensor cores and are timed
by the GEMM model (``GpuPreset.gemm_cost``: CTA
tiling, waves, shared-memory / L2 / HBM traffic, launch). An op of ``count`` > 1 equal GEMMs
(a batched matmul over its leading dimensions, a grouped convolution's groups) is one strided-
batched kernel, ``gemm_cost(..., batch=count)``: the CTAs of all ``count`` GEMMs share one grid
and its waves, with one launch. Fused attention (``type: attention``) is one FlashAttention-2
kernel (pysim/gpu/attention.py): scores stay on chip, HBM sees Q, K, V and O once, causal
masking skips the blocks past the diagonal. The tensor-core dtype follows the op's number
format (``pysim.gpu.dtypes.for_operands``: float 16 -> fp16 or bf16, 32 -> tf32, 8 -> fp8 e4m3,
6 -> fp6 e2m3, 4 -> fp4 e2m1; int 8 -> int8, 2-4 -> int4, 1 -> b1); one the architecture
lacks is a WorkloadError. Integer operands of 5-7 bits (W6A6, W6A8) have no MMA: they stay at
their width in HBM and run as b1 bit-plane passes (FlexQ / ABQ-LLM) or int8 MMAs after
unpacking, whichever is faster (pysim/gpu/bitplane.py). Weights narrower
than that dtype (W4A16: float, act_bits 16, weight_bits 4) are read at their own width and
dequantized in the kernel's main loop (``weight_storage``; with ``quant`` groups, their fp16
scales are read too). Weights pruned 2:4
run the sparse tensor cores (the weight is the sparse A operand of C^T = W^T X^T). Depthwise
convolutions (one input channel per group) run on the CUDA cores as direct convolutions, as
cuDNN runs them: their bytes through HBM or their MACs over the lanes (2 per lane per clock in
fp16 / bf16, 4 in int8), whichever is longer. Other ops
run on the CUDA cores as memory-bound kernels: (bytes read + written) / sustained HBM
bandwidth, or their vector work over the SMs' lanes if that is longer. The host issues the
kernels asynchronously, one per launch overhead, and the GPU runs each once it is issued and
the one before has finished, so a launch shows only behind shorter kernels.

Each op becomes an ``OpMapping`` as on any hardware: the stream time it adds (its kernel, and
any launch it waits for) as compute cycles on the ``tensor_core`` unit (or the vector unit, the
CUDA cores), its HBM bytes as DRAM bytes moved inside the kernel (the engine runs the kernels
one after another on the stream; their time already holds their memory traffic), its L2 bytes
at the L2 scratchpad and its shared-memory bytes priced as 64-bit SRAM accesses of one SM's
shared memory. Energy is then priced as on
any hardware (pysim/energy/model.py): MACs x the table's MAC at the op's widths, scaled to the
GPU's node; DRAM bytes x the HBM preset's pJ/bit; vector work x ``vector_op_pj``; static power
over the run.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, NamedTuple

from pysim import _core
from pysim.config.units import RowKernel, operand_bits
from pysim.errors import WorkloadError
from pysim.gpu import bitplane
from pysim.gpu.attention import fused_attention_cost
from pysim.gpu.dtypes import for_op
from pysim.gpu.presets import GpuPreset
from pysim.mapping.capacity import check_capacity
from pysim.mapping.mac_memo import MAPPED, op_signature
from pysim.mapping.planner import OpMapping
from pysim.mapping.tensor_traffic import attribute

STREAM = "stream"  # the engine queue every kernel of a GPU runs on, in order
BN_EAGER_PREP_KERNELS = 2  # eager inference batch norm's kernels before its transform


def _formats(op: Any) -> str:
    """" (weight_format X, act_format Y)" for the op's formats that are set, else ""."""
    named = [f"{k} {v}" for k, v in (("weight_format", getattr(op, "weight_format", None)),
                                      ("act_format", getattr(op, "act_format", None))) if v]
    return f" ({', '.join(named)})" if named else ""


def tensor_dtype(op: Any, gpu: Any, fp16_as: str = "fp16") -> str:
    """The tensor-core dtype for ``op``'s operands on ``gpu`` (``pysim.gpu.dtypes.for_op``:
    NF4 weights on bf16 MMAs, dequantized in the main loop). Raises WorkloadError naming the
    op, its formats and the GPU's dtypes."""
    supported = tuple(gpu.supported_dtypes())
    dtype = for_op(op, supported, fp16_as)
    if dtype is not None:
        return dtype
    allowed = ", ".join(gpu.supported_dtypes(_sparse(op)))
    if op.act_format == "nf4":
        raise WorkloadError(
            f"op {op.name!r}: act_format nf4 is a 16-value code book that no tensor core "
            f"multiplies; NF4 is a weight format (weight_format nf4 with bf16 / fp16 / fp32 "
            f"activations: dequantized to the activations' dtype in the GEMM's main loop, as "
            f"QLoRA / bitsandbytes run it); {gpu.full_name} supports {allowed}")
    if op.weight_format == "nf4":
        raise WorkloadError(
            f"op {op.name!r}: weight_format nf4 is dequantized to bf16 / fp16 (16-bit float "
            f"activations) or tf32 (32-bit) for the MMA, but the activations are "
            f"{op.act_bits}-bit {op.act_format or op.dtype}; {gpu.full_name} supports {allowed}")
    bits = max(operand_bits(op))
    raise WorkloadError(
        f"op {op.name!r}: {bits}-bit {op.dtype} operands have no tensor-core dtype on "
        f"{gpu.full_name}{_formats(op)}; it supports {allowed}")


def weight_storage(op: Any, dtype: str, k: int) -> tuple[int | None, int | None]:
    """(storage bits, scale group) of a MAC op's weight operand for ``gemm_cost``: (None, None)
    unless the weights are narrower than the tensor-core dtype's input (weight-only
    quantization: W4A16 runs fp16 MMAs on 4-bit weights, dequantized in the main loop). Bits
    round up to 1, 2, 4 or 8; the group is the op's ``quant`` group size (a power of two in
    16..65536, else the nearest one below, at least 16), K for per-channel scales, None for a
    per-tensor scale or no ``quant``."""
    width = _core.tc_input_bits(dtype)
    # the B operand's width: a weight's, or a matmul's second activation (``operand_bits``;
    # a matmul's own weight_bits is the unused default)
    bits = next(b for b in (1, 2, 4, 8, 16, 32) if b >= operand_bits(op)[1])
    if bits >= width:
        return None, None
    quant = getattr(op, "quant", None)
    if quant is None or quant.granularity == "tensor":
        return bits, None
    if quant.granularity == "channel" or quant.group_size >= k:
        return bits, k
    return bits, max(16, min(65536, 1 << (quant.group_size.bit_length() - 1)))


def _format_scale_bytes(op: Any, counted: int) -> tuple[int, int]:
    """HBM bytes of a number format's block / group scales (pysim/workload/number_formats.py)
    that the kernel model does not count, read and written once each: the activations' and
    the output's (one E8M0 per 32 MX elements), and the weights' at their real width in place
    of the ``counted`` bytes of fp16 group scales ``gemm_cost`` charges a weight-only kernel
    (MX: 1 byte per 32 weights, NF4: 4 per 64)."""
    if op.weight_format is None and op.act_format is None and op.output_format is None:
        return 0, 0
    reads = op.input_bytes - op.input_value_bytes
    if op.weight_format is not None:
        reads += sum(t.bytes for t in op.weight_tensors() if t.name.endswith(".scales"))
        reads -= counted
    return reads, op.output_bytes - op.output_value_bytes


def mma_of(op: Any, dtypes: Callable[[bool], tuple[str, ...]],
           fp16_as: str = "fp16") -> tuple[str | None, bool]:
    """The tensor-core MMA ``op`` runs on, as (dtype or None where none fits, 2:4 sparse):
    int8 for bit-plane operands (pysim/gpu/bitplane.py), else ``for_op``'s dtype; sparse for
    2:4 (1:2) weights where the dtype has sparse MMAs. ``dtypes(sparse)`` lists the tensor
    cores' dtypes (``GpuPreset.supported_dtypes``, ``TensorCoreUnit.dtypes``)."""
    planes = bitplane.applies(op)
    dtype = "int8" if planes else for_op(op, dtypes(False), fp16_as)
    return dtype, bool(dtype is not None and not planes and _sparse(op)
                       and dtype in dtypes(True))


def _sparse(op: Any) -> bool:
    sp = op.weight_sparsity
    return sp is not None and sp.pattern == "nm" and (sp.n, sp.m) in ((2, 4), (1, 2))


def epilogue_chains(wl: Any) -> dict[int, list[int]]:
    """The elementwise ops each GEMM-like op's epilogue absorbs, by op index: while the op's
    (or the last absorbed op's) output has one consumer, an elementwise op, that is not a graph
    output and whose other inputs exist before the GEMM runs, that op is absorbed (conv ->
    batchnorm -> add residual -> relu is one kernel, as cuBLASLt / TensorRT fuse them)."""
    index = {op.name: i for i, op in enumerate(wl.ops)}
    producer = {t: index[name] for t, name in wl.producers.items()}
    outputs = set(wl.outputs)
    chains: dict[int, list[int]] = {}
    for i, op in enumerate(wl.ops):
        if op.type == "attention" or op.gemm_view() is None:
            continue
        tensor, chain = op.output, []
        while tensor not in outputs and len(wl.consumers.get(tensor, ())) == 1:
            j = index[wl.consumers[tensor][0]]
            nxt = wl.ops[j]
            ready = all(producer.get(t, -1) < i for t in nxt.inputs if t != tensor)
            if nxt.type != "elementwise" or not ready:
                break
            chain.append(j)
            tensor = nxt.output
        if chain:
            chains[i] = chain
    return chains


def is_depthwise(op: Any) -> bool:
    """A convolution with one input channel per group (depthwise, and channel multipliers of
    it): cuDNN runs it as a direct convolution on the CUDA cores, not as tensor-core GEMMs of
    one-channel groups (N = out_c / groups, K = kh x kw: an MMA tile would be mostly padding)."""
    return op.type == "conv2d" and op.groups > 1 and op.in_c == op.groups


CUDNN_CHANNEL_PAD = 4  # cuDNN's first-layer kernels run a 3-channel image as 4 (..._c4r7s7_...)


def cudnn_channels(channels: int) -> int:
    """The channels of an NHWC row as cuDNN lays them out for a convolution: an odd count padded
    to a multiple of ``CUDNN_CHANNEL_PAD`` (the H200's first-layer kernel for ResNet-50 names
    ``k64c4r7s7``)."""
    return -(-channels // CUDNN_CHANNEL_PAD) * CUDNN_CHANNEL_PAD


def cuda_core_macs_per_lane(op: Any) -> int:
    """Multiply-accumulates one CUDA-core lane issues per clock at the op's widths: an FP32
    FMA; two fp16 / bf16 ones (HFMA2); four 8-bit ones (DP4A, along kh x kw)."""
    bits = max(operand_bits(op))
    if op.dtype == "float":
        return 2 if bits <= 16 else 1
    return 4 if bits <= 8 else 1


def _gemms(op: Any) -> list[tuple[int, int, int, int]]:
    if op.type == "attention":
        heads = op.batch * op.heads
        return [(heads, op.q_len, op.kv_len, op.head_dim), (heads, op.q_len, op.head_dim,
                                                              op.kv_len)]
    view = op.gemm_view()
    return [] if view is None else [(view.count, view.m, view.n, view.k)]




def first_launch_s(hw: Any) -> float:
    """Seconds before a GPU stream's first kernel can start: one launch, which a run of
    pieces (each simulated alone) pays once per piece, a whole model once (0 on hardware that
    is not a GPU)."""
    from pysim.config import Hardware

    if isinstance(hw, GpuPreset):
        return hw.launch_overhead_us * 1e-6
    if isinstance(hw, Hardware) and is_gpu(hw):
        return GpuPreset.of(hw).launch_overhead_us * 1e-6
    return 0.0


def is_gpu(hw: Any) -> bool:
    """Whether every MAC unit of ``hw`` is a ``tensor_core`` unit: the hardware runs ops as
    kernels on a stream (``map_kernels``), its vector unit the SMs' CUDA cores."""
    return all(u.kind == "tensor_core" for u in hw.units)


@dataclass(frozen=True)
class Kernel:
    """One MAC op's kernel on the tensor cores: seconds (launch included), HBM bytes read and
    written, shared-memory and L2 bytes read, and what ``Result.layers["tiling"]`` says."""

    seconds: float
    hbm_read_bytes: int
    hbm_write_bytes: int
    smem_bytes: int
    l2_bytes: int
    tiling: str
    launches: int = 1  # kernels the host issues (a split-K reduction, a quantizing pre-pass)
    peak_macs_per_cycle: float = 0.0  # the tensor cores' MACs per clock in the MMA's dtype


def mac_kernel(gpu: GpuPreset, op: Any, chain: list[Any] | None = None, wl: Any = None,
               fp16_as: str = "fp16") -> Kernel:
    """The kernel of MAC op ``op`` (a GEMM view or fused attention) on ``gpu``'s tensor cores;
    ``chain`` the elementwise ops its epilogue absorbs (``epilogue_chains``; their other
    inputs are tensors of ``wl``). Raises WorkloadError for a dtype the tensor cores lack."""
    planes = bitplane.applies(op)  # int5-7 operands: b1 bit-plane passes or int8 unpacking
    if planes:
        bitplane.check_supported(op, gpu)
    dtype, sparse = mma_of(op, gpu.supported_dtypes, fp16_as)
    if dtype is None:
        dtype = tensor_dtype(op, gpu, fp16_as)  # raises, naming the formats and the dtypes
    if op.type == "attention":  # one FlashAttention-2 kernel (pysim/gpu/attention.py)
        a = fused_attention_cost(gpu, op, dtype)
        # K and V blocks stream L2 -> shared memory -> warps once per query block
        streamed = a.issued_macs // op.head_dim // a.blocks[0] * op.act_bits // 8
        formats = dtype if a.dtypes == (dtype, dtype) else "Q K^T {} / P V {}".format(*a.dtypes)
        tiling = (f"{formats} flash-attention-2 blocks {a.blocks[0]}x{a.blocks[1]}, "
                  f"{a.ctas} CTAs, {a.bound}-bound"
                  + (f", quantizing pre-pass {a.prepass_s * 1e6:.1f} us" if a.prepass_s
                     else "")
                  + (f", split-KV {a.splits} ways (combine {a.combine_s * 1e6:.1f} us)"
                     if a.splits > 1 else ""))
        return Kernel(a.time_s, a.hbm_read_bytes, a.hbm_write_bytes, streamed, streamed,
                      tiling, 1 + (a.prepass_s > 0) + (a.splits > 1),
                      float(gpu.sms * gpu.macs_per_clk_per_sm(dtype)))
    seconds = gpu.launch_overhead_us * 1e-6  # one kernel per op
    reads = writes = smem = l2 = 0
    chain = chain or []
    # C written at the width of what the kernel stores: the op's output, or the last op its
    # epilogue absorbs (an int8 GEMM that requantizes writes 1 byte, not 4)
    out_bits = chain[-1].output_bits if chain else op.output_bits
    out_bytes = max(1, -(-out_bits // 8))
    tiling = ""
    launches = 1
    fp16_scales = 0  # bytes of the weight-only kernels' fp16 group scales gemm_cost counts
    # an implicit-GEMM convolution gathers A's rows from NHWC pixels of in_c / groups channels
    # (cudnn_channels); a sparse op runs transposed (the weight is A: rows of K)
    a_row = cudnn_channels(op.in_c // op.groups) if op.type == "conv2d" else None
    b_row = None
    if hasattr(op, "dy_shape"):  # a weight gradient X^T dY (pysim.training.ops.WeightGrad):
        # A is X read transposed, rows of X's last dimension (a linear layer's K, a
        # convolution's NHWC channels); B is dY, rows of its channels
        a_row = op.x_shape[-1] if len(op.x_shape) == 2 else cudnn_channels(op.x_shape[-1])
        b_row = op.dy_shape[-1]
    for count, m, n, k in _gemms(op):
        # count equal GEMMs: one strided-batched kernel (its CTAs share the waves); weights
        # narrower than the MMA input stay narrow in memory (W4A16 / W8A16)
        wbits, group = weight_storage(op, dtype, k)
        if group and not sparse:
            fp16_scales += count * 2 * n * -(-k // group)
        # a C narrower than a byte (fp4 / int4 / fp6) is stored packed: out_bits per element
        packed = out_bits if out_bits < 8 * out_bytes else None
        if planes:  # pysim/gpu/bitplane.py: the faster of the two int6 kernels
            p = bitplane.bitplane_gemm(gpu, op, m, n, k, count, out_bytes, packed)
            seconds += p.time_s - p.launch_s
            reads += p.hbm_read_bytes
            writes += p.hbm_write_bytes
            smem += p.smem_read_bytes
            l2 += p.l2_read_bytes
            launches += p.split_k > 1
            tiling = p.tiling
            continue
        if sparse:  # C^T = W^T X^T: the weight is the sparse A operand
            c = gpu.gemm_cost(n, m, k, dtype, sparse=True, batch=count, out_bytes=out_bytes,
                              a_bits=wbits, out_bits=packed)
        else:
            c = gpu.gemm_cost(m, n, k, dtype, batch=count, out_bytes=out_bytes, b_bits=wbits,
                              b_group=group, out_bits=packed, a_row=a_row,
                              b_row=b_row)
        seconds += c.time_s - c.launch_s
        launches += c.split_k > 1  # the reduction kernel (its launch is in c.reduction_s)
        reads += c.hbm_read_bytes
        writes += c.hbm_write_bytes
        smem += c.smem_read_bytes
        l2 += c.l2_read_bytes
        tiling = (f"{dtype}{' 2:4' if sparse else ''}{f' w{wbits}' if wbits else ''} CTA "
                  f"{c.tile_m}x{c.tile_n}x{c.tile_k} split-k {c.split_k}"
                  f"{f', batch {count}' if count > 1 else ''}, {c.waves} wave(s)")
    # the epilogue adds the bias, read once from HBM (gemm_cost counts A, B and C only)
    bias = sum(t.bytes for t in op.weight_tensors() if t.name.endswith(".bias"))
    reads += bias
    seconds += bias / (gpu.hbm_sustained_gb_per_s * 1e9)
    if bias_grad := op.bias_grad_bytes():  # a weight gradient's bias gradient: dY's column sums
        writes += bias_grad
        hbm = gpu.hbm_sustained_gb_per_s * 1e9
        if gpu.fusion == "epilogue":  # cuBLASLt's BGRADB: summed from the B tiles in the kernel
            seconds += bias_grad / hbm
            tiling += "; bias gradient in the epilogue (BGRADB)"
        else:  # eager PyTorch: grad_output.sum(0), a reduction kernel reading dY again
            col_sums = EagerKernel(
                "sum", -(-math.prod(op.dy_shape) * op.input_bits()[1] // 8), bias_grad)
            reads += col_sums.reads
            launches += 1
            seconds += eager_kernel_s(gpu, col_sums) + (gpu.launch_overhead_us
                                                        + gpu.kernel_latency_us) * 1e-6
            tiling += "; bias gradient: a reduction kernel"
    scale_reads, scale_writes = _format_scale_bytes(op, fp16_scales)
    if scale_reads or scale_writes:
        reads += scale_reads
        writes += scale_writes
        seconds += (scale_reads + scale_writes) / (gpu.hbm_sustained_gb_per_s * 1e9)
        tiling += f"; format scales {scale_reads + scale_writes:+,} B"
    if chain:  # the epilogue reads the absorbed ops' other inputs (a residual)
        inside = {op.output, *(e.output for e in chain)}
        extra = sum(wl.tensors[t].bytes for e in chain for t in e.inputs if t not in inside)
        unfused = op.output_bytes + sum(
            sum(wl.tensors[t].bytes for t in e.inputs) + e.output_bytes for e in chain)
        reads += extra
        seconds += extra / (gpu.hbm_sustained_gb_per_s * 1e9)
        saved = unfused - (chain[-1].output_bytes + extra)
        names = " + ".join(str(getattr(e, "op", e.type)) for e in chain)
        tiling += f"; epilogue {names} saves {saved:,} B"
    return Kernel(seconds, reads, writes, smem, l2, tiling, launches,
                  float(gpu.sms * gpu.macs_per_clk_per_sm(dtype, sparse)))


def kernel_key(op: Any, chain: list[Any], wl: Any, fp16_as: str) -> tuple[Any, ...]:
    """What ``mac_kernel`` reads of an op beside the GPU: the op's fields but its names (its
    bias is a field), and per op its epilogue absorbs, that op's fields and, per input, whether
    the chain itself makes it and its bytes (a residual read from HBM)."""
    inside = {op.output, *(e.output for e in chain)}
    return (op_signature(op), fp16_as,
            tuple((op_signature(e), tuple((t in inside, wl.tensors[t].bytes) for t in e.inputs))
                  for e in chain))


class EagerKernel(NamedTuple):
    """One kernel of an op that eager PyTorch runs as several: its HBM bytes."""

    name: str
    reads: int
    writes: int


def eager_kernel_s(gpu: GpuPreset, k: EagerKernel) -> float:
    """Device seconds of eager kernel ``k`` (its launch and the gap after it apart): its
    first loads and last stores, then its bytes at the sustained HBM bandwidth."""
    return gpu.stream_latency_us * 1e-6 + (k.reads + k.writes) / (gpu.hbm_sustained_gb_per_s
                                                                    * 1e9)


def eager_kernels(op: Any) -> tuple[EagerKernel, ...]:
    """The kernels eager PyTorch runs for ``op`` where it runs several (else none), by the
    op's ``torch_op``: ``cross_entropy`` over logits of C classes in the last dimension, as
    ``F.cross_entropy`` and its backward run them (aten: ``log_softmax``, ``nll_loss``;
    ``nll_loss_backward`` fills a zeroed gradient and scatters -1 / N into it, then
    ``log_softmax_backward`` reads that and the saved log-probabilities): the logits read and
    the log-probabilities written, a gather of each row's target (the int64 targets and one
    value per row), a zeroed gradient written, a scatter per row, the gradient and the
    log-probabilities read and the input's gradient written: 6 values per logit where the
    fused loss moves 2 (the input cast to the loss's format is an op of its own). The
    log-softmax kernels run a CTA per row of C values; over rows as long as a language
    model's vocabulary they are priced as HBM streams (ASSUMPTION: the row-kernel figures of
    ``softmax_rows`` were fitted to 4,096-value rows, where a row's latency dominates)."""
    if getattr(op, "torch_op", "") != "cross_entropy":
        return ()
    shape = op.output_shape
    logits = math.prod(shape)
    rows = logits // shape[-1]
    e = op.act_bits / 8  # the loss's format: log-probabilities and gradients
    value = math.ceil(logits * e)
    per_row = math.ceil(rows * e)
    target = 8 * rows  # int64 class indices
    return (EagerKernel("log_softmax", value, value),
            EagerKernel("nll_loss", target + per_row, 4),
            EagerKernel("zeros", 0, value),
            EagerKernel("nll_loss_backward", target, per_row),
            EagerKernel("log_softmax_backward", 2 * value, value))


# PyTorch runs a softmax over rows of at most 2048 values and 8 KiB as a warp per row
# (dispatch_softmax_forward, aten/src/ATen/native/cuda/SoftMax.cu, host_softmax), longer rows
# as a CTA per row (cunn_SoftMaxForward*)
WARP_SOFTMAX_MAX_COLS = 2048
WARP_SOFTMAX_MAX_ROW_BYTES = 8192


def row_kernel(gpu: GpuPreset, op: Any) -> RowKernel | None:
    """The one-CTA-per-row timing ``op``'s kernel runs with on ``gpu``, or None (streamed):
    a layer or RMS norm, or a softmax over rows too long for a warp."""
    if op.type == "layernorm":
        return gpu.rms_norm_rows if op.rms else gpu.norm_rows
    if op.type == "softmax" and (op.cols > WARP_SOFTMAX_MAX_COLS
                                 or op.cols * op.act_bits > 8 * WARP_SOFTMAX_MAX_ROW_BYTES):
        return gpu.softmax_rows
    return None


def row_kernel_s(gpu: GpuPreset, rows: int, row_bytes: float, timing: RowKernel) -> float:
    """Seconds of a one-CTA-per-row kernel after its kernel latency: the first row's latency,
    then each SM's rows after its first at the SM's bandwidth (rows spread evenly; Little's
    law: a few resident CTAs per SM keep a row's loads in flight at a time)."""
    per_sm = -(-rows // gpu.sms)
    return (timing.latency_us * 1e-6
            + (per_sm - 1) * row_bytes / (timing.sm_gb_per_s * 1e9))


def smem_pj_per_byte(hw: Any, gpu: GpuPreset) -> float:
    """One byte of one SM's shared memory, as a 64-bit SRAM access of its size."""
    return hw.energy_table.sram_access_pj(gpu.shared_memory_kb_per_sm * 1024, 64) / 8


# FP32 instructions a CUDA-core kernel spends an element on where the function is lowered to
# many (the op's vector_work counts it as a vector unit computes it): PyTorch's F.gelu, the erf
# form in fp32 (libdevice's erff polynomials, both branches of a warp), took 23.9 us for 16.8M
# fp16 values and 169 us for 134M on the H200, compute-bound where a copy streams at 3.6-4.2
# TB/s (benchmarks/data/h200_kernels/eltwise.csv): 38.5-40.0 instructions an element over its
# 16,896 lanes at 1830 MHz (the tanh form's 9 gave 0.77-0.78 of the measured time).
CUDA_CORE_OPS_PER_ELEMENT = {"gelu": 39}


def map_kernels(hw: Any, wl: Any, fp16_as: str = "fp16") -> list[OpMapping]:
    """Map every op of ``wl`` onto GPU ``hw`` as one kernel (see the module docstring), in
    execution order. Raises WorkloadError for an op the tensor cores cannot run or a workload
    larger than the DRAM."""
    gpu = GpuPreset.of(hw)
    unit = next(u for u in hw.units if u.kind == "tensor_core")
    table = hw.energy_table
    l2 = hw.chain("input")[-1]
    smem_pj = smem_pj_per_byte(hw, gpu)
    clock = hw.clock_hz
    hbm = hw.dram.bandwidth_bytes_per_s
    launch = gpu.launch_overhead_us * 1e-6
    latency = gpu.kernel_latency_us * 1e-6  # device side, between back-to-back kernels
    stream = gpu.stream_latency_us * 1e-6  # a CUDA-core kernel's first loads and last stores
    lanes = hw.vector.ops_per_cycle
    check_capacity(hw, wl)
    mapped = MAPPED.of(hw)  # kernels of MAC ops made before on this hardware
    index = {op.name: i for i, op in enumerate(wl.ops)}
    producer = {t: index[name] for t, name in wl.producers.items()}
    graph_outputs = set(wl.outputs)
    seen: set[str] = set()  # graph inputs already read once (compulsory once, as the mapper)
    chains = epilogue_chains(wl) if gpu.fusion == "epilogue" else {}
    fused_into = {j: i for i, chain in chains.items() for j in chain}
    out = []
    pj_of: dict[tuple[Any, ...], float] = {}
    issued = ended = 0.0  # when the host has issued the kernels so far; when the GPU ran them
    for i, op in enumerate(wl.ops):
        launches = 1
        peak = 0.0  # a MAC kernel's tensor-core MACs per clock in its dtype
        reads = writes = smem = l2_bytes = 0
        mac_pj = 0.0
        vector_ops = op.vector_work()
        if op.type == "elementwise" and op.op in CUDA_CORE_OPS_PER_ELEMENT:
            vector_ops = CUDA_CORE_OPS_PER_ELEMENT[op.op] * math.prod(op.shape)
        tiling = ""
        if i in fused_into:  # ran in its producer's epilogue: no kernel, no traffic of its own
            seconds, name, kind, launches = 0.0, "epilogue", "vector", 0
            tiling = f"fused into {wl.ops[fused_into[i]].name}'s epilogue"
        elif op.type == "attention" or (op.gemm_view() is not None and not is_depthwise(op)):
            chain = [wl.ops[j] for j in chains.get(i, [])]
            k = mapped.kernel(kernel_key(op, chain, wl, fp16_as),
                              lambda op=op, chain=chain: mac_kernel(gpu, op, chain, wl, fp16_as))
            seconds, reads, writes, tiling = (k.seconds, k.hbm_read_bytes, k.hbm_write_bytes,
                                              k.tiling)
            launches, peak = k.launches, k.peak_macs_per_cycle
            smem, l2_bytes = k.smem_bytes, k.l2_bytes
            # one MAC's energy per operand formats (a training graph's GEMMs share a few)
            key = (op.type, op.dtype, op.act_bits, op.weight_bits, op.act_format,
                   op.weight_format)
            if key not in pj_of:
                pj_of[key] = unit.mac_pj(table, op)
            mac_pj = pj_of[key]
            # the online softmax; a weight gradient's bias gradient (its adds)
            vector_ops = vector_ops if op.type == "attention" else op.bias_grad_work()
            name, kind = unit.name, unit.kind
        else:  # a CUDA-core kernel: its bytes through HBM or its work over the lanes
            # (a slice reads only its part of the input, as on an accelerator); a depthwise
            # convolution's work is its MACs, several per lane per clock (is_depthwise)
            per_lane = 1
            if is_depthwise(op):
                vector_ops, per_lane = op.macs, cuda_core_macs_per_lane(op)
                tiling = (f"depthwise direct convolution on the CUDA cores, {per_lane} MACs "
                          "per lane per clock")
            frac = op.read_fraction()
            reads = sum(math.ceil(wl.tensors[t].bytes * frac) for t in op.inputs) \
                + op.weight_bytes
            writes = op.output_bytes
            seconds = stream + max((reads + writes) / hbm, vector_ops / (lanes * per_lane * clock))
            timing = row_kernel(gpu, op)
            if timing is not None:
                by_rows = row_kernel_s(gpu, op.rows, (reads + writes) / op.rows, timing)
                tiling = (f"a CTA per row: {op.rows} rows over {gpu.sms} SMs, "
                          f"{by_rows * 1e6:.2f} us"
                          + (" (row-latency bound)" if by_rows > seconds else ""))
                seconds = max(seconds, by_rows)
            seconds += launch + latency
            eager = eager_kernels(op) if gpu.fusion == "none" else ()
            if eager:  # one PyTorch op, several eager kernels
                reads = sum(k.reads for k in eager)
                writes = sum(k.writes for k in eager)
                launches = len(eager)
                seconds = max(sum(eager_kernel_s(gpu, k) for k in eager),
                              vector_ops / (lanes * clock)) + launches * (launch + latency)
                tiling = "eager kernels: " + ", ".join(k.name for k in eager)
            if gpu.fusion == "none" and op.type == "elementwise" and op.op == "batchnorm":
                # eager PyTorch's inference batch norm runs two small kernels before it:
                # 1 / sqrt(running var + eps) and the fp32 statistics cast to the input's
                # dtype (the H200's channels-last CNN traces, h200_kernels/cnn.csv: a
                # batch_norm_calc_invstd and a direct_copy per batch norm)
                launches += BN_EAGER_PREP_KERNELS
                seconds += BN_EAGER_PREP_KERNELS * (launch + latency + stream)
                tiling = f"{BN_EAGER_PREP_KERNELS} eager set-up kernels, then the transform"
            name, kind = hw.vector.name, "vector"
        # The host issues kernels asynchronously, one per launch overhead, and the GPU runs
        # each once it is issued and the previous one has finished: launches hide behind
        # longer kernels and show between short ones (as eager PyTorch and TensorRT run).
        issued += launches * launch
        start = max(ended, issued)
        body = seconds - launches * launch
        seconds = start + body - ended
        ended = start + body
        first = [t for t in dict.fromkeys(op.inputs) if t not in wl.producers and t not in seen]
        comp = op.weight_bytes + sum(wl.tensors[t].bytes for t in first)
        comp_write = op.output_bytes if op.output in graph_outputs else 0
        seen.update(first)
        out.append(OpMapping(
            index=i, name=op.name, op_type=op.type, unit=name, unit_kind=kind,
            deps=tuple(sorted({producer[t] for t in op.inputs if t in producer})),
            macs=op.macs, weight_bits=op.weight_bits, act_bits=op.act_bits, dtype=op.dtype,
            compute_cycles=seconds * clock, steps=1, dram_read_bytes=reads,
            dram_write_bytes=writes, compulsory_read_bytes=comp, prefetch_read_bytes=0,
            compulsory_write_bytes=comp_write,
            sram_read_bits={l2.name: 8 * l2_bytes} if l2_bytes else {}, mac_pj=mac_pj,
            peak_macs_per_cycle=peak,
            # HBM traffic passes the L2 (pysim/mapping/level_flows.py)
            level_flows={l2.name: (8 * int(reads), 8 * int(writes), 8 * comp, 8 * comp_write)},
            vector_ops=vector_ops, tiling=tiling, queue=STREAM, local_sram_pj=smem * smem_pj,
            in_kernel_traffic=True,
            tensor_traffic=attribute(op, wl.tensors, int(reads), int(writes), None, frozenset(),
                                     int(comp), int(comp_write), first)))
    return out
