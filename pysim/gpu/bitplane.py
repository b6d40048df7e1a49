"""Integer GEMMs whose operands have no tensor-core width (5- to 7-bit: W6A6, W6A8) on a GPU.

No NVIDIA tensor core multiplies int6. Two kernels run them; the mapping times both and keeps
the faster (``bitplane_gemm``):

- ``b1`` bit-plane passes, as FlexQ (Zhang et al., arXiv:2508.04405) and ABQ-LLM build them
  from binary tensor-core MMAs: an ``a``-bit A is stored as ``a`` 1-bit planes and a ``w``-bit
  B as ``w`` planes (FlexQ's engine/src/bgemm/flexq_bmma_kernel.h: X ``[M, K/32, X_BITS]``,
  W ``[N, K/32, W_BITS]``), stacked so that one binary GEMM of (a M) x (w N) x K computes every
  plane pair: ``a x w`` passes (W6A6: 36, W6A8: 48; the kernel combines them in registers with
  weights +-2^(i+j), the top plane signed). Timed by ``GpuPreset.gemm_cost`` on that stacked
  shape with dtype b1: its A and B bytes are exactly the operands at their widths
  (ceil(a M K / 8), ceil(w K N / 8)), its MMA term the b1 rate x the passes, and the stacked
  rows of a small M fill the MMA's m (a decode row is 6 of 16 rows, not 1). Composed in
  Python around that call, each a stated difference from a plain b1 GEMM: split-K off (FlexQ's
  grid has none); C is the M x N output (the stacked call stores 1 bit per stacked element,
  gemm_cost's smallest, and its epilogue is replaced by the real C's bytes over HBM); the
  weight scales (``quant``: ``<op>.scales``) read at HBM bandwidth, as the bias is; and the
  per-group scale FMA on the CUDA cores (FlexQ: every 128-K step converts each stacked int32
  accumulator and multiplies it by the group's scales, 2 operations), spread over the SMs and
  added where it exceeds the main loop's longest term.
- ``int8`` MMAs after unpacking: the operands stay at their widths in HBM and are widened to
  int8 in the main loop (2 CUDA-core operations per element per CTA k-block, the C++ model's
  dequantization rule, kDequantOpsPerElement). gemm_cost refuses 6-bit storage, so this is a
  roofline composition over an int8 ``gemm_cost`` of the same shape: launch + max(its MMA +
  the unpacking, its shared-memory and L2 terms, HBM bytes with the operands at their widths /
  HBM bandwidth) + its epilogue and reduction.

On an A100 the b1 rate is 8x the int8 rate, so 36 passes take 4.5x the int8 MMA time: decode
(M of a few rows, HBM-bound) takes b1 (the same bytes, the MMA hidden, and FlexQ's kernel),
large M takes int8. A GPU without b1 (Hopper, Ada, Blackwell in pysim) always takes int8.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from pysim.config.units import operand_bits
from pysim.errors import WorkloadError
from pysim.gpu.attention import FP32_LANES_PER_SM
from pysim.gpu.presets import GpuPreset

PLANE_BITS = range(5, 8)  # integer widths with no MMA of their own: bit-plane or unpack
SCALE_OPS = 2  # per stacked accumulator per 128-K step: int32 -> fp32, scale FMA (FlexQ)
UNPACK_OPS = 2  # per unpacked operand element per CTA k-block (the C++ dequant rule)
SCALE_K = 128  # FlexQ's MMA_K and group size: one scale step per 128 K


def applies(op: Any) -> bool:
    """Whether ``op`` is an integer MAC op with a 5- to 7-bit operand (and none wider than 8):
    it runs through ``bitplane_gemm``, not a tensor-core dtype of its own."""
    bits = operand_bits(op)  # a matmul's B at its own width, not the weight_bits default
    return (op.dtype == "int" and op.type != "attention" and max(bits) <= 8
            and any(b in PLANE_BITS for b in bits))


@dataclass(frozen=True)
class PlaneGemm:
    """One bit-plane or unpacking GEMM kernel: seconds (launch included), HBM bytes, shared
    memory and L2 bytes, and its description for ``Result.layers["tiling"]``."""

    path: str  # "b1" or "int8"
    time_s: float
    launch_s: float
    hbm_read_bytes: int
    hbm_write_bytes: int
    smem_read_bytes: int
    l2_read_bytes: int
    split_k: int
    tiling: str
    passes: int  # b1 MMA passes (a x w plane pairs); 1 for the int8 kernel
    cost: Any  # the GemmCost it is composed from (the stacked b1 GEMM, or the int8 one)


def check_supported(op: Any, gpu: GpuPreset) -> None:
    """Raise WorkloadError (one line: the op, its widths, the GPU's dtypes) if ``gpu`` has
    neither b1 nor int8 tensor cores."""
    have = gpu.supported_dtypes()
    if "b1" not in have and "int8" not in have:
        raise WorkloadError(
            f"op {op.name!r}: int{max(operand_bits(op))} operands (w{operand_bits(op)[1]}"
            f"a{op.act_bits}{_formats(op)}) need b1 (bit-plane passes) or int8 tensor cores; "
            f"{gpu.full_name} supports {', '.join(have)}")


def _formats(op: Any) -> str:
    """", weight_format X, act_format Y" for the op's formats that are set, else ""."""
    return "".join(f", {k} {v}" for k in ("weight_format", "act_format")
                   if (v := getattr(op, k, None)))


def bitplane_gemm(gpu: GpuPreset, op: Any, m: int, n: int, k: int, count: int,
                  out_bytes: int, out_bits: int | None) -> PlaneGemm:
    """The faster of the b1 bit-plane and the int8 unpacking kernel for ``count`` GEMMs
    C[m, n] = A[m, k] (``op.act_bits``) x B[k, n] (the weights', or a matmul's B width) on
    ``gpu``; C stored at ``out_bytes`` (``out_bits`` when packed below a byte). Raises
    WorkloadError if the GPU has neither b1 nor int8 tensor cores."""
    check_supported(op, gpu)
    have = gpu.supported_dtypes()
    c_bytes = count * math.ceil(m * n * (out_bits or 8 * out_bytes) / 8)
    scales = sum(t.bytes for t in op.weight_tensors() if t.name.endswith(".scales"))
    options = []
    if "b1" in have:
        options.append(_b1(gpu, op, m, n, k, count, c_bytes, scales))
    if "int8" in have:
        options.append(_int8(gpu, op, m, n, k, count, out_bytes, out_bits, scales))
    return min(options, key=lambda p: p.time_s)


def _b1(gpu: GpuPreset, op: Any, m: int, n: int, k: int, count: int, c_bytes: int,
        scales: int) -> PlaneGemm:
    a, w = operand_bits(op)
    sm, sn = a * m, w * n  # the stacked binary GEMM: every (activation, weight) plane pair
    best = None
    for tile in gpu.gemm_candidates(sm, sn, k, "b1", batch=count):
        if tile[3] != 1:  # FlexQ's kernel has no split-K
            continue
        c = gpu.gemm_cost(sm, sn, k, "b1", tile=tile, batch=count, out_bits=1)
        if best is None or c.time_s < best.time_s:
            best = c
    assert best is not None  # the candidates always hold split_k = 1 tiles
    hbm = gpu.hbm_sustained_gb_per_s * 1e9
    lanes = FP32_LANES_PER_SM[gpu.arch] * gpu.sms * gpu.boost_clock_mhz * 1e6
    # FlexQ scales every stacked accumulator once per 128-K step on the CUDA cores
    scale_s = best.issued_macs / SCALE_K * SCALE_OPS / lanes
    extra = max(0.0, best.compute_s + scale_s - best.mainloop_s)
    time = (best.time_s - best.epilogue_s + extra + c_bytes / hbm + scales / hbm)
    tiling = (f"bit-plane w{w}a{a}: {a * w} b1 passes, stacked "
              f"{sm}x{sn}x{k}, CTA {best.tile_m}x{best.tile_n}x{best.tile_k}"
              f"{f', batch {count}' if count > 1 else ''}, {best.waves} wave(s)")
    return PlaneGemm("b1", time, best.launch_s, best.hbm_read_bytes + scales, c_bytes,
                     best.smem_read_bytes, best.l2_read_bytes, 1, tiling, a * w, best)


def _int8(gpu: GpuPreset, op: Any, m: int, n: int, k: int, count: int, out_bytes: int,
          out_bits: int | None, scales: int) -> PlaneGemm:
    a, w = operand_bits(op)
    c = gpu.gemm_cost(m, n, k, "int8", batch=count, out_bytes=out_bytes,
                      out_bits=out_bits if out_bits and out_bits < 8 * out_bytes else None)
    hbm = gpu.hbm_sustained_gb_per_s * 1e9
    lanes = FP32_LANES_PER_SM[gpu.arch] * gpu.sms * gpu.boost_clock_mhz * 1e6
    # each CTA widens its A (B) k-blocks once: A elements x tiles along N, B x tiles along M
    unpacked = (c.issued_macs / c.tile_n if a < 8 else 0) + \
        (c.issued_macs / c.tile_m if w < 8 else 0)
    unpack_s = unpacked * UNPACK_OPS / lanes
    # the compulsory operand bytes at their widths, refetches (L2 misses) as gemm_cost has them
    at_8 = count * (m * k + k * n)
    at_width = count * (math.ceil(m * k * a / 8) + math.ceil(k * n * w / 8))
    reads = c.hbm_read_bytes - at_8 + at_width + scales
    # its global -> shared loads move the packed k-blocks (an sm80 kernel on Hopper is held to
    # its cp.async rate: csrc/units/tensor_core.hpp, kAsyncCopyBytesPerClk)
    packed = (c.tile_m * a + c.tile_n * w) / (8 * (c.tile_m + c.tile_n))
    main = max(c.compute_s + unpack_s, max(c.smem_read_s, c.load_s * packed), c.l2_s,
               reads / hbm)
    time = c.time_s - c.mainloop_s + main  # its launch, latency, epilogue, reduction kept
    tiling = (f"w{w}a{a} unpacked to int8 CTA {c.tile_m}x{c.tile_n}x{c.tile_k} "
              f"split-k {c.split_k}{f', batch {count}' if count > 1 else ''}, "
              f"{c.waves} wave(s)")
    return PlaneGemm("int8", time, c.launch_s, reads, c.hbm_write_bytes, c.smem_read_bytes,
                     c.l2_read_bytes, c.split_k, tiling, 1, c)
