"""Fused attention as FlashAttention-2 runs it on a GPU (Dao, "FlashAttention-2: Faster
Attention with Better Parallelism and Work Partitioning", ICLR 2024).

One kernel; a CTA per query block of ``Br`` rows of one (batch, head) walks the key / value
blocks of ``Bc`` rows: S = Q K_j^T on the tensor cores, the online softmax of S on the CUDA
cores (running max, exp, running sum, O rescaled), O += P V_j on the tensor cores. S and P never
leave the SM: HBM sees Q, K, V once and O once (the CTAs of a head share K and V in the L2).
Causal attention skips the key blocks past the diagonal (it computes the diagonal blocks whole,
in a masking loop whose blocks cost about 1.9x an unmasked one on the H200:
``FA2_MASKED_BLOCK_EXTRA``, fitted). Grouped-query heads read their group's K and V.

Time per score element of a CTA, the three steps one after the other (FlashAttention-2 on
Ampere issues a block's softmax after its Q K^T and before its P V; FlashAttention-3, Sec. 3.1):

    max(2 d / (tensor-core MACs per clock per SM),                     (Q K^T and P V)
        (d e / Bc + 2 d e warps / Br) / (shared-memory bytes per clock per SM))
  + max(1 / SFU ops per clock per SM,                                    (exp2)
        (4 + d / Bc) / FP32 lanes per SM)          (max, scale-subtract, sum, convert; O rescale)

so at head dim 128 on an A100 the matmuls are 0.25 / (0.25 + 0.094) = 73 % of the time, the
paper's "up to 73 % of the theoretical maximum". The shared-memory term (``e`` bytes an
operand, each of the 4 warps reading all of K_j and V_j, Q once) is below the MMAs' on the
A100, H100 and H200 at every FA2 prefill block size, and binds only for the decode blocks'
64 rows, where HBM binds first. The MMAs are FA2's mma.sync, which on Hopper
reach about 2/3 of the wgmma rate (``MMA_SYNC_FRACTION``). The kernel takes the larger of its
SMs' share of the CTA work (and its longest CTA) and the HBM time of Q, K, V and O, plus one
launch.
Per-GEMM formats (the op's ``qk_format`` / ``pv_format``, SageAttention2, Zhang et al., ICML
2025): Q K^T and P V each run at their own tensor-core rate; an integer Q K^T costs each score
its dequantization (convert, times the Q and K block scales: 2 FP32 ops) and an 8-bit P V the
conversion of P (1); a quantizing pre-pass reads Q, K (and V) at the op's width and writes them
at the GEMMs' (a memory-bound kernel of its own, with its launch), and the attention kernel
reads the narrow copies.
Block sizes are FlashAttention-2's for sm80 (csrc/flash_attn/src/flash_fwd_launch_template.h):
Br x Bc = 128 x 128 up to head dim 64, 128 x 64 above; where the split heuristic (below) splits
the keys, the split-KV kernel's 64 x 256 / 128 / 64 (head dim up to 64 / 128 / above), and a
query shorter than a block (decode) runs that kernel unsplit too, as ``flash_attn_with_kvcache``
does over a paged or appended cache (serving stacks); rows past the query are computed and
dropped. PyTorch SDPA (FA2's ``mha_fwd``) instead runs the forward kernel when it does not split:
a 128-row block for one real row, compute-bound at 2.4-2.7 TB/s of KV on the H200 where the
split kernel streams at 4.1 (``short_query_kernel="forward"``; benchmarks/
validate_h200_kernels.py's flash decode rows, whose ``kernels`` column names which ran). A
one-row causal query runs unmasked (``mha_fwd`` drops ``is_causal`` for it).
One-token decode with grouped-query heads packs a KV head's query group into the rows of one
block (FlashAttention-2's ``mha_fwd``, csrc/flash_attn/flash_api.cpp: seqlen_q 1 and more query
than KV heads swap the group into the query length), so a group of g heads is one CTA of g rows
per KV head, not g CTAs of one row each.

FlashAttention-3 (Shah et al., 2024; Hopper only, the GPU's ``attention = "flash3"``): wgmma at
the full tensor-core rate, and the softmax of one warp group overlapped with the other's GEMMs
(its ping-pong scheduling, Sec. 3.1), so a key block takes max(matmuls, softmax), not their
sum; block sizes and the split-KV rule are FlashAttention-2's here. The paper reaches 740
TFLOP/s in fp16 (75 % of an H100, abstract).

The backward (``AttentionBackward``, FlashAttention-2's ``flash_bwd_dq_dk_dv_loop_seqk_parallel``
kernel, Dao 2023 Algorithm 2; csrc/flash_attn/src/flash_bwd_kernel.h): a CTA per key block of
``Bc`` rows walks the query blocks of ``Br`` rows (those at or past the diagonal when causal):
S = Q K^T again, P = exp(S - LSE), dV += P^T dO, dP = dO V^T, dS = P (dP - D), dK += dS^T Q,
and dQ += dS K added atomically into an fp32 dQ buffer that a second kernel converts to fp16.
Five MMAs per block pair where the forward has two, and P and dS go through shared memory
(written, then read transposed as MMA operands), with every operand read by each warp that
needs it (``TiledMma`` warp layouts: A once per warp column, B once per warp row). Per block
pair:

    max(5 Br Bc d / MMA rate, shared-memory bytes / (0.9 x bytes per clock per SM))
  + Br Bc max(1 / SFU, 4 / FP32 lanes)      (P = exp2(S scale - LSE), dS = P (dP - D), converts)

and per CTA (one per SM: nothing hides it) its prologue and epilogue, K and V loaded and dK and dV
stored, 4 Bc d operands at about 6 bytes per clock. The 0.9 (``FA2_BWD_SMEM_EFFICIENCY``) and the
6 (``FA2_BWD_CTA_IO_BYTES_PER_CLK``) are fitted to the H200's measured backward.

``FA2_BWD_TRAITS`` holds (Br, Bc, warps, and the three warp layouts) per head dim, as
``run_mha_bwd_hdim*`` picks them (csrc/flash_attn/src/flash_bwd_launch_template.h, commit
073afd5). At head dim 64 or 128 the shared-memory term is the larger (about 650 KB a block pair
against 128 B per clock per SM: 5,000-5,250 cycles, 5,600-5,800 at the fitted 90 %, against
the MMAs' 3,840 on an H200), while the forward's own loads (Q once, K and V per warp: 144-160 KB
a block) stay below its two MMAs: so the backward takes 2.5-2.8x the forward (as measured)
where its MMAs alone would give 2.5x (benchmarks/validate_h200_kernels.py sets the sum beside
PyTorch's FA2 forward + backward).
FlashAttention-3's backward is not this kernel: under ``attention = "flash3"`` the backward is
priced as a forward of 2.5x the head dim (five GEMMs), unvalidated.

Split-KV (Flash-Decoding; FlashAttention-2's ``num_splits_heuristic``, csrc/flash_attn/
flash_api.cpp): when the (batch, head, 64-row query block) CTAs fill less than 80 % of twice
the SMs, the key range is cut into splits so that more CTAs run at once: the fewest splits
(up to 128, of ``block_n``-key blocks: 256 up to head dim 64, 128 up to 128, else 64) whose
wave efficiency is within 85 % of the best. Each split writes its partial O and log-sum-exp
in fp32, and a second kernel combines them (its launch, reads and the write of O). Batch-1
decode at long contexts is where it matters: 32 heads on 108 SMs would otherwise walk a
128K-key cache on 32 SMs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Literal, get_args

from pysim import _core
from pysim.errors import WorkloadError
from pysim.gpu.dtypes import for_operands

# Per SM (NVIDIA Volta / Turing / Ampere GA100 / Hopper GH100 whitepapers): FP32 lanes,
# special-function (MUFU: exp2) results per clock (Turing's SM: 64 FP32 lanes, 4 SFUs per
# partition). GA10x: GA102 whitepaper (128 FP32 lanes, half of them shared
# with INT32; 4 SFUs per SM partition); GA10B: Jetson AGX Orin technical brief (2048 CUDA cores
# in 16 SMs), its SM taken as GA10x's for the SFUs; Ada: Ada whitepaper (AD102 SM: 128 CUDA
# cores, 4 SFUs per partition); Blackwell: 128 / 16 ASSUMED (NVIDIA publishes no B200 SM
# diagram; the B200 datasheet's 75 TFLOPS FP32 is 148 SMs x 128 lanes x 2 x 1.98 GHz, and the
# RTX Blackwell whitepaper's GB202 SM has 128 lanes and 4 SFUs per partition).
FP32_LANES_PER_SM = {"volta": 64, "turing": 64, "ampere": 64, "hopper": 128, "ga10x": 128,
                     "ga10b": 128, "ada": 128, "blackwell": 128}
SFU_PER_SM = {"volta": 16, "turing": 16, "ampere": 16, "hopper": 16, "ga10x": 16, "ga10b": 16,
              "ada": 16, "blackwell": 16}
# FlashAttention-2 issues Ampere's warp-level mma.sync on every architecture after it. On Hopper
# that instruction reaches about 2/3 of the tensor cores' wgmma peak (Shah et al.,
# "FlashAttention-3", 2024, Sec. 2, after Luo et al.'s Hopper microbenchmarks), which is why
# FA2 runs at about 35 % of an H100's peak (its abstract); on the H200 PyTorch's FA2 forward
# measured 290-343 TFLOP/s (benchmarks/data/h200_kernels/sdpa.csv). Blackwell: not measured,
# taken at the full rate. The fraction is the GEMM model's (csrc/units/tensor_core.hpp).
MMA_SYNC_FRACTION = {"hopper": _core.tc_mma_sync_on_hopper}
SOFTMAX_FP32_OPS = 4  # per score: row max, scale-and-subtract (FFMA), row sum, convert to fp16
FA2_FWD_WARPS = 4  # FlashAttention-2's forward kernels up to head dim 128 (8 above)
# per score in the backward: P = exp2(S scale - LSE) (FFMA), dS = P (dP - D) (2), two converts
BWD_FP32_OPS = 4
# FlashAttention-2's backward kernel per head dim (run_mha_bwd_hdim*, GPUs with >= 144 KB of
# shared memory per block, A100 / H100 / H200; ``FA2_BWD_TRAITS_SMALL`` below it, sm86 / sm89):
# (Br, Bc, warps, AtomLayoutMSdP, AtomLayoutNdKV, AtomLayoutMdQ) of Flash_bwd_kernel_traits.
# The H200's PyTorch FA2 ran <64, 128, 128, 8, 4, 4, 4> and <128, 64, 128, 8, 2, 4, 2>
# (benchmarks/data/h200_kernels/sdpa.csv).
FA2_BWD_TRAITS = {32: (128, 128, 8, 4, 4, 4), 64: (128, 128, 8, 4, 4, 4),
                  96: (64, 128, 8, 2, 4, 4), 128: (64, 128, 8, 2, 4, 2),
                  160: (64, 64, 8, 4, 4, 4), 192: (64, 64, 8, 4, 2, 2),
                  256: (64, 64, 8, 4, 2, 2)}
FA2_BWD_TRAITS_SMALL = {32: (128, 128, 8, 4, 4, 4), 64: (64, 128, 8, 2, 4, 4),
                        96: (64, 128, 8, 2, 4, 4), 128: (64, 64, 8, 4, 2, 2),
                        160: (64, 64, 8, 4, 4, 4), 192: (64, 64, 8, 4, 2, 2),
                        256: (64, 32, 8, 4, 1, 2)}
FA2_BWD_BIG_SMEM_KIB = 144  # the launch template's threshold for the first table
# FlashAttention-2's forward runs a CTA's first ceil(Br / Bc) key blocks (the diagonal ones,
# one more when the lengths are not block multiples: ``n_masking_steps`` in
# csrc/flash_attn/src/flash_fwd_kernel.h) in a loop of their own that applies the causal mask
# and checks the online softmax for -inf rows. On the H200 each such block cost about 1.9x an
# unmasked one: sdpa.csv's causal forwards run 0.85-0.86x of their non-causal twins at 512
# tokens, where the visible blocks alone give 0.625, and the fitted extra per masked block is
# 0.74x (head dim 64, Br = Bc = 128) and 0.95x (128, Bc = 64) of a block; least squares over
# the 24 forward rows with the model's own block time gives 0.9. Fitted, not derived.
FA2_MASKED_BLOCK_EXTRA = 0.9
# FlashAttention-2's backward holds one CTA per SM (8 warps, 100+ KB of shared memory), so
# nothing hides a CTA's prologue and epilogue: K and V of its key block loaded, dK and dV
# converted from the fp32 accumulators and stored (4 Bc d operands). sdpa.csv's fwd_bwd rows
# put them at 11.6k (head dim 64) and 20.9k (128) SM clocks a CTA, 177 and 160 clocks per unit
# of head dim, a latency-bound ~6 bytes per clock of those operands (least squares over the 24
# rows, with a per-pair term free: 1.69 and 3.3 block pairs' time). Fitted, not derived.
FA2_BWD_CTA_IO_BYTES_PER_CLK = 6.0
# The backward's shared-memory traffic (``bwd_smem_bytes``: P and dS stored and read back
# transposed, every MMA operand through ldmatrix) moves at about 90 % of the 128 bytes per clock:
# the same fit gives a block pair 6,880 (head dim 64) and 6,300 (128) clocks where the full
# rate gives 6,400 and 5,630, 117 and 113 bytes per clock of its traffic. Fitted, not derived.
FA2_BWD_SMEM_EFFICIENCY = 0.9
SPLITKV_BLOCK_M = 64  # FlashAttention-2's split-KV (decode) kernel's query block
# fused_attention_cost's short_query_kernel: FA2's split-KV kernel or its forward kernel
ShortQueryKernel = Literal["splitkv", "forward"]
SHORT_QUERY_KERNELS: tuple[str, ...] = get_args(ShortQueryKernel)
MAX_SPLITS = 128  # FlashAttention-2's limit on num_splits


def num_splits(ctas: int, sms: int, key_blocks: int, max_splits: int = MAX_SPLITS) -> int:
    """FlashAttention-2's split-KV heuristic (``num_splits_heuristic``): 1 when ``ctas``
    already fill 80 % of ``sms`` (twice the SMs: two 128-thread CTAs each); else the fewest
    eligible splits whose wave efficiency (waves / ceil(waves)) is at least 85 % of the best,
    a split count being eligible when it changes the keys per split."""
    if ctas >= 0.8 * sms:
        return 1
    top = min(max_splits, sms, key_blocks)
    eligible = [n for n in range(1, top + 1)
                if n == 1 or -(-key_blocks // n) != -(-key_blocks // (n - 1))]
    eff = {n: (ctas * n / sms) / math.ceil(ctas * n / sms) for n in eligible}
    best = max(eff.values(), default=0.0)
    return next((n for n in eligible if eff[n] >= 0.85 * best), 1)


def splitkv_block_n(head_dim: int) -> int:
    """Keys per block of FlashAttention-2's split-KV kernel (set_params_splitkv)."""
    return 256 if head_dim <= 64 else (128 if head_dim <= 128 else 64)


def _gemm_dtype(gpu: Any, op: Any, fmt: Any, default: str, which: str) -> str:
    """The tensor-core dtype of one of the op's GEMMs. Raises WorkloadError if the GPU lacks
    it."""
    if fmt is None:
        return default
    dtype = for_operands(fmt.dtype, fmt.bits)
    if dtype is None or dtype not in gpu.supported_dtypes():
        raise WorkloadError(f"op {op.name!r}: {which} in {fmt.bits}-bit {fmt.dtype} has no "
                            f"tensor-core dtype on {gpu.full_name}; it supports "
                            f"{', '.join(gpu.supported_dtypes())}")
    return dtype


@dataclass(frozen=True)
class AttentionCost:
    time_s: float
    compute_s: float  # the SMs' share of the CTA work (or the longest CTA)
    hbm_s: float
    hbm_read_bytes: int
    hbm_write_bytes: int
    issued_macs: int  # tensor-core MACs the CTAs issue (whole blocks)
    blocks: tuple[int, int]  # (Br, Bc)
    ctas: int
    bound: str  # "compute" or "hbm"
    dtypes: tuple[str, str] = ("", "")  # (Q K^T, P V) tensor-core dtypes
    prepass_s: float = 0.0  # the quantizing pre-pass (per-GEMM formats), launch included
    splits: int = 1  # split-KV splits of the key range (Flash-Decoding)
    combine_s: float = 0.0  # the kernel combining the splits' partial outputs, launch included


def block_sizes(head_dim: int, split_kernel: bool = False) -> tuple[int, int]:
    """(Br, Bc): FlashAttention-2's sm80 choice for this head dim (module docstring): the
    forward kernel's 128 x 128 up to head dim 64, 128 x 64 above; the split-KV kernel's 64 x
    ``splitkv_block_n``."""
    if split_kernel:
        return SPLITKV_BLOCK_M, splitkv_block_n(head_dim)
    return 128, (128 if head_dim <= 64 else 64)


def bwd_traits(gpu: Any, head_dim: int) -> tuple[int, int, int, int, int, int]:
    """FlashAttention-2's backward kernel traits for ``head_dim`` on ``gpu`` (the smallest
    tabled head dim at or above it)."""
    table = (FA2_BWD_TRAITS if gpu.shared_memory_kb_per_sm >= FA2_BWD_BIG_SMEM_KIB
             else FA2_BWD_TRAITS_SMALL)
    return table[next((h for h in sorted(table) if h >= head_dim), max(table))]


def bwd_smem_bytes(br: int, bc: int, d: int, warps: int, msdp: int, ndkv: int, mdq: int,
                   elem_bytes: int) -> int:
    """Shared-memory bytes one block pair of FlashAttention-2's backward moves: each MMA's A
    read once per warp column and B once per warp row (the TiledMma warp layouts), P and dS
    written for their transposed MMAs, and the Q and dO blocks stored from global memory."""
    def gemm(m: int, n: int, k: int, warps_m: int) -> int:  # C (m x n) += A (m x k) B (k x n)
        return (m * k * (warps // warps_m) + k * n * warps_m) * elem_bytes

    s_dp = 2 * gemm(br, bc, d, msdp)  # S = Q K^T and dP = dO V^T
    dk_dv = 2 * gemm(bc, d, br, ndkv)  # dV = P^T dO and dK = dS^T Q
    dq = gemm(br, d, bc, mdq)  # dQ = dS K
    return s_dp + dk_dv + dq + 2 * br * bc * elem_bytes + 2 * br * d * elem_bytes


def flash_backward_cost(gpu: Any, op: Any, dtype: str) -> AttentionCost:
    """FlashAttention-2's backward of the forward that ``op`` (an AttentionBackward) belongs
    to, on ``gpu`` with tensor-core ``dtype`` (module docstring): its dQ / dK / dV kernel,
    then the kernel converting the fp32 dQ accumulator."""
    d, nq, nk = op.fwd_head_dim, op.q_len, op.kv_len
    br, bc, warps, msdp, ndkv, mdq = bwd_traits(gpu, d)
    heads = op.batch * op.heads
    q_blocks, k_blocks = math.ceil(nq / br), math.ceil(nk / bc)
    if op.causal:  # key block j meets the query blocks from its diagonal on
        offset = nk - nq
        per_cta = [q_blocks - min(q_blocks, max(0, (j * bc - offset) // br))
                   for j in range(k_blocks)]
    else:
        per_cta = [q_blocks] * k_blocks
    clock = gpu.tensor_clock_mhz * 1e6
    elem = max(1, op.act_bits // 8)  # operand bytes in shared memory
    mma = (5 * d / gpu.macs_per_clk_per_sm(dtype) / MMA_SYNC_FRACTION.get(gpu.arch, 1.0)
           / gpu.mma_efficiency)  # the main loop's sustained fraction of the MMA peak
    smem = (bwd_smem_bytes(br, bc, d, warps, msdp, ndkv, mdq, elem)
            / (gpu.smem_bandwidth_bytes_per_clk * FA2_BWD_SMEM_EFFICIENCY))
    cuda = max(1 / SFU_PER_SM[gpu.arch], BWD_FP32_OPS / FP32_LANES_PER_SM[gpu.arch])
    per_pair = (max(br * bc * mma, smem) + br * bc * cuda) / clock
    # each CTA's exposed prologue and epilogue: K, V in, dK, dV out (FA2_BWD_CTA_IO_BYTES_PER_CLK)
    io = 4 * bc * d * elem / FA2_BWD_CTA_IO_BYTES_PER_CLK / clock
    longest = max(per_cta, default=0) * per_pair + io
    compute = max(heads * (sum(per_cta) * per_pair + len(per_cta) * io) / gpu.sms, longest)
    q_elems = op.batch * nq * op.heads * d
    kv_elems = op.batch * nk * op.groups_kv_heads * d
    bits = op.act_bits
    # Q, dO, K, V read (O, LSE and D by the D pre-pass, an op of its own); dK, dV written;
    # dQ's fp32 accumulator zeroed, accumulated in the L2, written back
    reads = (2 * q_elems + 2 * kv_elems) * bits // 8 + 2 * op.batch * op.heads * nq * 4
    writes = 2 * kv_elems * op.output_bits // 8 + q_elems * 4
    bandwidth = gpu.hbm_sustained_gb_per_s * 1e9
    hbm = (reads + writes) / bandwidth
    launch = gpu.launch_overhead_us * 1e-6
    latency = gpu.kernel_latency_us * 1e-6
    stream = gpu.stream_latency_us * 1e-6
    # flash_bwd_convert_dq_kernel: the fp32 accumulator read, dQ written
    convert = launch + latency + stream + (q_elems * 4 + q_elems * op.output_bits // 8) / bandwidth
    return AttentionCost(
        time_s=launch + latency + gpu.pipeline_latency_us * 1e-6 + max(compute, hbm) + convert,
        compute_s=compute, hbm_s=hbm, hbm_read_bytes=reads + q_elems * 4,
        hbm_write_bytes=writes + q_elems * op.output_bits // 8,
        issued_macs=heads * sum(per_cta) * 5 * br * bc * d, blocks=(br, bc),
        ctas=heads * k_blocks, bound="compute" if compute >= hbm else "hbm",
        dtypes=(dtype, dtype), combine_s=convert)


def fused_attention_cost(gpu: Any, op: Any, dtype: str,
                         short_query_kernel: ShortQueryKernel = "splitkv",
                         ) -> AttentionCost:
    """Time and HBM traffic of attention op ``op`` as one FlashAttention-2 kernel on ``gpu``
    with tensor-core ``dtype`` (both GEMMs); an AttentionBackward (``fwd_head_dim``) as
    FlashAttention-2's backward, `flash_backward_cost` (FlashAttention-3's: see the module
    docstring). ``short_query_kernel``: the kernel a query shorter than a block (decode) runs
    when the split heuristic gives one split: "splitkv", as ``flash_attn_with_kvcache`` runs
    it over a paged or appended KV cache (serving stacks: the model's decode), or "forward",
    FA2's ``mha_fwd`` (PyTorch SDPA, ``flash_attn_func``), whose forward kernel computes the
    query's 128-row block whole."""
    if short_query_kernel not in SHORT_QUERY_KERNELS:
        raise ValueError(f"short_query_kernel must be one of {SHORT_QUERY_KERNELS}, got "
                         f"{short_query_kernel!r}")
    if getattr(op, "fwd_head_dim", None) and gpu.attention != "flash3":
        return flash_backward_cost(gpu, op, dtype)
    d, nq, nk = op.head_dim, op.q_len, op.kv_len
    heads = op.batch * op.heads
    group = op.heads // op.groups_kv_heads
    packed = nq == 1 and group > 1
    if packed:  # one-token GQA decode: a KV head's query group as the rows of one block
        nq, heads = group, op.batch * op.groups_kv_heads
    # FA2's mha_fwd runs the split-KV kernel when its heuristic splits the keys (counting
    # 64-row query blocks), and a short query over a cache runs it unsplit too
    splits = num_splits(heads * math.ceil(nq / SPLITKV_BLOCK_M), 2 * gpu.sms,
                        math.ceil(nk / splitkv_block_n(d)))
    split_kernel = splits > 1 or (nq < 128 and short_query_kernel == "splitkv")
    br, bc = block_sizes(d, split_kernel)
    q_blocks, k_blocks = math.ceil(nq / br), math.ceil(nk / bc)
    if op.causal and not packed:
        # query block i sees keys up to its last row (the diagonal block whole)
        offset = nk - nq  # queries are the last nq positions of the keys
        per_cta = [min(k_blocks, math.ceil((offset + min(nq, (i + 1) * br)) / bc))
                   for i in range(q_blocks)]
    else:
        per_cta = [k_blocks] * q_blocks
    fa3 = gpu.attention == "flash3"  # wgmma at the full rate; FA2's mma.sync below it
    masked = [0] * q_blocks  # FA2's causal masking blocks of each CTA (FA2_MASKED_BLOCK_EXTRA)
    if op.causal and op.q_len > 1 and not fa3:  # FA2 runs a one-row causal query as non-causal
        steps = math.ceil(br / bc) + (1 if nq % br or nk % bc else 0)
        masked = [min(n, steps) for n in per_cta]
    qk = _gemm_dtype(gpu, op, op.qk_format, dtype, "Q K^T")
    pv = _gemm_dtype(gpu, op, op.pv_format, dtype, "P V")
    # each GEMM at its tensor-core rate for its accumulator (FlashAttention-2 accumulates
    # in fp32: half rate on GeForce parts; a format may say otherwise)
    qk_acc = op.qk_format.acc if op.qk_format is not None else None
    pv_acc = op.pv_format.acc if op.pv_format is not None else None
    clock = gpu.tensor_clock_mhz * 1e6  # tensor-core-bound: the power-limited clock
    mma = (d / gpu.macs_per_clk_per_sm(qk, acc=qk_acc)
           + d / gpu.macs_per_clk_per_sm(pv, acc=pv_acc)) / (
        1.0 if fa3 else MMA_SYNC_FRACTION.get(gpu.arch, 1.0)) / gpu.mma_efficiency
    fp32_ops = SOFTMAX_FP32_OPS + d / bc
    if op.qk_format is not None and op.qk_format.dtype == "int":
        fp32_ops += 2  # S to float, times the Q and K block scales
    if op.pv_format is not None and op.pv_format.bits < 16:
        fp32_ops += 1  # P to the narrow format
    softmax = max(1 / SFU_PER_SM[gpu.arch], fp32_ops / FP32_LANES_PER_SM[gpu.arch])
    # seconds one key block takes a CTA's SM: FA2 runs the block's softmax between its two
    # GEMMs; FA3's ping-pong warp groups run one's softmax under the other's GEMMs. FA2's
    # MMAs read their operands through shared memory, each of its warps (split over the
    # query rows) all of K_j and V_j and Q once: per score d e / Bc + 2 d e warps / Br bytes
    # (e: each GEMM's operand width).
    if fa3:
        per_block = br * bc * max(mma, softmax) / clock
    else:
        warps = FA2_FWD_WARPS if d <= 128 else 2 * FA2_FWD_WARPS
        qk_e = (op.qk_format.bits if op.qk_format is not None else op.act_bits) / 8
        v_e = (op.pv_format.bits if op.pv_format is not None else op.act_bits) / 8
        smem = ((d * qk_e / bc + d * (qk_e + v_e) * warps / br)
                / gpu.smem_bandwidth_bytes_per_clk)
        per_block = br * bc * (max(mma, smem) + softmax) / clock
    cost = [n + FA2_MASKED_BLOCK_EXTRA * m for n, m in zip(per_cta, masked, strict=True)]
    work = heads * sum(cost) * per_block
    longest = max(c - n + math.ceil(n / splits)  # blocks of the longest CTA (split's share)
                  for n, c in zip(per_cta, cost, strict=True))
    compute = max(work / gpu.sms, longest * per_block)
    q_elems = op.batch * op.q_len * op.heads * d
    kv_elems = op.batch * nk * op.groups_kv_heads * d
    qk_bits = op.qk_format.bits if op.qk_format is not None else op.act_bits
    pv_bits = op.pv_format.bits if op.pv_format is not None else op.act_bits
    reads = (q_elems + kv_elems) * qk_bits // 8 + kv_elems * pv_bits // 8
    writes = q_elems * op.output_bits // 8
    bandwidth = gpu.hbm_sustained_gb_per_s * 1e9
    hbm = (reads + writes) / bandwidth
    launch = gpu.launch_overhead_us * 1e-6
    # every kernel (the attention one, a quantizing pre-pass, a split-KV combine) also pays
    # the device-side kernel latency; the attention kernel its pipeline's fill and drain
    latency = gpu.kernel_latency_us * 1e-6
    stream = gpu.stream_latency_us * 1e-6  # the streaming kernels' memory round trip
    # the quantizing pre-pass: Q, K (and V) read at the op's width, written at the GEMMs'
    pre_reads = pre_writes = 0
    if qk_bits != op.act_bits:
        pre_reads += (q_elems + kv_elems) * op.act_bits // 8
        pre_writes += (q_elems + kv_elems) * qk_bits // 8
    if pv_bits != op.act_bits:
        pre_reads += kv_elems * op.act_bits // 8
        pre_writes += kv_elems * pv_bits // 8
    prepass = (launch + latency + stream + (pre_reads + pre_writes) / bandwidth if pre_reads
               else 0.0)
    combine = 0.0
    if splits > 1:  # each split writes O and its log-sum-exp in fp32; a kernel sums them
        partials = splits * op.batch * op.q_len * op.heads * (d + 1) * 4
        hbm = (reads + partials) / bandwidth
        combine = launch + latency + stream + (partials + writes) / bandwidth
        reads, writes = reads + partials, writes + partials
    return AttentionCost(
        time_s=launch + latency + gpu.pipeline_latency_us * 1e-6 + max(compute, hbm) + prepass
        + combine, compute_s=compute, hbm_s=hbm,
        hbm_read_bytes=reads + pre_reads, hbm_write_bytes=writes + pre_writes,
        issued_macs=heads * sum(per_cta) * br * bc * 2 * d, blocks=(br, bc),
        ctas=heads * q_blocks * splits, bound="compute" if compute >= hbm else "hbm",
        dtypes=(qk, pv), prepass_s=prepass, splits=splits, combine_s=combine)
