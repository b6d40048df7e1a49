"""A GPU preset as the hardware of ``pysim.simulate``: one kernel per op, on one stream.

MAC ops (GEMM, convolution via im2col, batched matmul) run on the tensor cores and are timed
by the GEMM model (``GpuPreset.gemm_cost``: CTA
tiling, waves, shared-memory / L2 / HBM traffic, launch). An op of ``count`` > 1 equal GEMMs
(a batched matmul over its leading dimensions, a grouped convolution's groups) is one strided-
batched kernel, ``gemm_cost(..., batch=count)``: the CTAs of all ``count`` GEMMs share one grid
and its waves, with one launch. Fused attention (``type: attention``) is one FlashAttention-2
kernel (pysim/gpu/attention.py): scores stay on chip, HBM sees Q, K, V and O once, causal
masking skips the blocks past the diagonal. The tensor-core dtype follows the op's number
format: float 16 -> fp16 (or bf16), float 32 -> tf32, float 8 -> fp8 e4m3, int 8 -> int8,
int 4 -> int4, 1-bit -> b1; one the architecture lacks is a WorkloadError. Weights narrower
than that dtype (W4A16: float, act_bits 16, weight_bits 4) are read at their own width and
dequantized in the kernel's main loop (``weight_storage``; with ``quant`` groups, their fp16
scales are read too). Weights pruned 2:4
run the sparse tensor cores (the weight is the sparse A operand of C^T = W^T X^T). Other ops
run on the CUDA cores as memory-bound kernels: (bytes read + written) / HBM bandwidth, or
their vector work over the SMs' lanes if that is longer, plus a launch.

Energy: MACs x the energy table's MAC energy for the dtype scaled to the GPU's process node;
HBM bytes x pJ/bit of its HBM generation; shared-memory and L2 bytes as 64-bit SRAM accesses of
those sizes; vector work x ``vector_op_pj``. Static power is not modelled (``leakage`` 0).
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from pysim import _core
from pysim.config import DRAM_PRESETS, load_energy_table
from pysim.energy import COMPONENTS
from pysim.errors import WorkloadError
from pysim.gpu.attention import FP32_LANES_PER_SM, fused_attention_cost
from pysim.gpu.dtypes import for_operands
from pysim.result import Result, layer_row

NODE_NM = {"volta": 12, "ampere": 7, "hopper": 4}  # TSMC 12FFN, N7, 4N
HBM = {"volta": "hbm2", "ampere": "hbm2", "hopper": "hbm3"}
# GA10x (Samsung 8N, GDDR6X), GA10B (Samsung 8 nm, LPDDR5), Ada (TSMC 4N, GDDR6 / GDDR6X),
# Blackwell (TSMC 4NP, HBM3e). pysim.config has no GDDR6 / GDDR6X / LPDDR5 / HBM3e preset: the
# nearest one stands in for the energy per bit (lpddr4_3200, 5 pJ/bit; hbm3), an estimate.
NODE_NM.update({"ga10x": 8, "ga10b": 8, "ada": 4, "blackwell": 4})
HBM.update({"ga10x": "lpddr4_3200", "ga10b": "lpddr4_3200", "ada": "lpddr4_3200",
            "blackwell": "hbm3"})
# FP32 CUDA cores per SM (Volta V100 and Ampere GA100: 64; Hopper GH100: 128)


def tensor_dtype(op: Any, gpu: Any, fp16_as: str = "fp16") -> str:
    """The tensor-core dtype for ``op``'s operands on ``gpu``. Raises WorkloadError."""
    bits = max(op.weight_bits, op.act_bits)
    dtype = for_operands(op.dtype, bits, fp16_as)
    sparse = _sparse(op)
    if dtype is None or dtype not in gpu.supported_dtypes():
        raise WorkloadError(
            f"op {op.name!r}: {bits}-bit {op.dtype} operands have no tensor-core dtype on "
            f"{gpu.full_name}; it supports {', '.join(gpu.supported_dtypes(sparse))}")
    return dtype


def weight_storage(op: Any, dtype: str, k: int) -> tuple[int | None, int | None]:
    """(storage bits, scale group) of a MAC op's weight operand for ``gemm_cost``: (None, None)
    unless the weights are narrower than the tensor-core dtype's input (weight-only
    quantization: W4A16 runs fp16 MMAs on 4-bit weights, dequantized in the main loop). Bits
    round up to 1, 2, 4 or 8; the group is the op's ``quant`` group size (a power of two in
    16..65536, else the nearest one below, at least 16), K for per-channel scales, None for a
    per-tensor scale or no ``quant``."""
    width = _core.tc_input_bits(dtype)
    bits = next(b for b in (1, 2, 4, 8, 16, 32) if b >= op.weight_bits)
    if bits >= width:
        return None, None
    quant = getattr(op, "quant", None)
    if quant is None or quant.granularity == "tensor":
        return bits, None
    if quant.granularity == "channel" or quant.group_size >= k:
        return bits, k
    return bits, max(16, min(65536, 1 << (quant.group_size.bit_length() - 1)))


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


def check_capacity(gpu: Any, wl: Any) -> None:
    """Raise WorkloadError if the workload cannot live in the GPU's HBM: every weight, every
    graph input (a KV cache is one) and the largest op's activations (its inputs and output)
    held at once."""
    declared = [t for name, t in wl.tensors.items() if name not in wl.producers]
    weights = sum(op.weight_bytes for op in wl.ops) + sum(t.bytes for t in declared
                                                          if t.role == "weight")
    inputs = sum(t.bytes for t in declared if t.role != "weight")
    live = max((sum(wl.tensors[t].bytes for t in set(op.inputs) if t in wl.producers)
                + op.output_bytes for op in wl.ops), default=0)
    need, have = weights + inputs + live, gpu.hbm_gb * 2**30
    if need > have:
        gib = 2**30
        raise WorkloadError(
            f"workload {wl.name!r} needs {need / gib:.1f} GiB of HBM on {gpu.full_name} "
            f"(weights {weights / gib:.1f} GiB, graph inputs {inputs / gib:.1f} GiB, the "
            f"largest op's activations {live / gib:.1f} GiB); it has {gpu.hbm_gb} GiB")


def _gemms(op: Any) -> list[tuple[int, int, int, int]]:
    if op.type == "attention":
        heads = op.batch * op.heads
        return [(heads, op.q_len, op.kv_len, op.head_dim), (heads, op.q_len, op.head_dim,
                                                              op.kv_len)]
    view = op.gemm_view()
    return [] if view is None else [(view.count, view.m, view.n, view.k)]


def simulate_gpu(gpu: Any, wl: Any, fp16_as: str = "fp16") -> Result:
    """Simulate workload ``wl`` on GPU preset ``gpu`` (see the module docstring)."""
    table = load_energy_table("45nm").scaled_to(NODE_NM[gpu.arch])
    pj_per_bit = DRAM_PRESETS[HBM[gpu.arch]].fields()["energy_pj_per_bit"]
    smem_pj = table.sram_access_pj(gpu.shared_memory_kb_per_sm * 1024, 64) / 8  # per byte
    l2_pj = table.sram_access_pj(gpu.l2_kb * 1024, 64) / 8
    clock = gpu.boost_clock_mhz * 1e6
    hbm = gpu.hbm_bandwidth_gb_per_s * 1e9
    launch = gpu.launch_overhead_us * 1e-6
    graph_outputs = set(wl.outputs)
    check_capacity(gpu, wl)
    rows, now = [], 0.0
    seen: set[str] = set()  # graph inputs already read once (compulsory once, as the mapper)
    chains = epilogue_chains(wl) if gpu.fusion == "epilogue" else {}
    fused_into = {j: i for i, chain in chains.items() for j in chain}
    for i, op in enumerate(wl.ops):
        pj = dict.fromkeys(COMPONENTS, 0.0)
        reads = writes = 0
        tiling = ""
        gemms = _gemms(op)
        if i in fused_into:  # ran in its producer's epilogue: no kernel, no traffic of its own
            seconds = 0.0
            pj["vector"] = op.vector_work() * table.vector_op_pj(16)
            unit = "epilogue"
            tiling = f"fused into {wl.ops[fused_into[i]].name}'s epilogue"
        elif op.type == "attention":  # one FlashAttention-2 kernel (pysim/gpu/attention.py)
            dtype = tensor_dtype(op, gpu, fp16_as)
            a = fused_attention_cost(gpu, op, dtype)
            seconds, reads, writes = a.time_s, a.hbm_read_bytes, a.hbm_write_bytes
            # K and V blocks stream L2 -> shared memory -> warps once per query block
            streamed = a.issued_macs // op.head_dim // a.blocks[0] * op.act_bits // 8
            pj["mac"] = op.macs * table.mac_pj(op.weight_bits, op.act_bits, "fp"
                                               if op.dtype == "float" else "int")
            pj["sram"] = streamed * (smem_pj + l2_pj)
            pj["vector"] = op.vector_work() * table.vector_op_pj(16)
            unit = "tensor_cores"
            formats = dtype if a.dtypes == (dtype, dtype) else "Q K^T {} / P V {}".format(
                *a.dtypes)
            tiling = (f"{formats} flash-attention-2 blocks {a.blocks[0]}x{a.blocks[1]}, "
                      f"{a.ctas} CTAs, {a.bound}-bound"
                      + (f", quantizing pre-pass {a.prepass_s * 1e6:.1f} us" if a.prepass_s
                         else ""))
        elif gemms:
            dtype = tensor_dtype(op, gpu, fp16_as)
            sparse = _sparse(op) and dtype in gpu.supported_dtypes(sparse=True)
            seconds = launch  # one kernel per op (fused attention: both GEMMs in it)
            smem = l2 = 0
            chain = [wl.ops[j] for j in chains.get(i, [])]
            # C written at the width of what the kernel stores: the op's output, or the last
            # op its epilogue absorbs (an int8 GEMM that requantizes writes 1 byte, not 4)
            out_bits = chain[-1].output_bits if chain else op.output_bits
            out_bytes = max(1, -(-out_bits // 8))
            for count, m, n, k in gemms:
                # count equal GEMMs: one strided-batched kernel (its CTAs share the waves);
                # weights narrower than the MMA input stay narrow in memory (W4A16 / W8A16)
                wbits, group = weight_storage(op, dtype, k)
                c = gpu.gemm_cost(n, m, k, dtype, sparse=True, batch=count,
                                  out_bytes=out_bytes, a_bits=wbits) if sparse else \
                    gpu.gemm_cost(m, n, k, dtype, batch=count, out_bytes=out_bytes,
                                  b_bits=wbits, b_group=group)
                seconds += c.time_s - c.launch_s
                reads += c.hbm_read_bytes
                writes += c.hbm_write_bytes
                smem += c.smem_read_bytes
                l2 += c.l2_read_bytes
                tiling = (f"{dtype}{' 2:4' if sparse else ''}"
                          f"{f' w{wbits}' if wbits else ''} CTA {c.tile_m}x{c.tile_n}x"
                          f"{c.tile_k} split-k {c.split_k}"
                          f"{f', batch {count}' if count > 1 else ''}, {c.waves} wave(s)")
            if chain:  # the epilogue reads the absorbed ops' other inputs (a residual)
                inside = {op.output, *(e.output for e in chain)}
                extra = sum(wl.tensors[t].bytes for e in chain for t in e.inputs
                            if t not in inside)
                unfused = op.output_bytes + sum(
                    sum(wl.tensors[t].bytes for t in e.inputs) + e.output_bytes for e in chain)
                reads += extra
                seconds += extra / hbm
                saved = unfused - (chain[-1].output_bytes + extra)
                names = " + ".join(str(getattr(e, "op", e.type)) for e in chain)
                tiling += f"; epilogue {names} saves {saved:,} B"
            kind = "float" if op.dtype == "float" else "int"
            pj["mac"] = op.macs * table.mac_pj(op.weight_bits, op.act_bits,
                                               "fp" if kind == "float" else "int")
            pj["sram"] = smem * smem_pj + l2 * l2_pj
            unit = "tensor_cores"
            if op.type == "attention":
                pj["vector"] = op.vector_work() * table.vector_op_pj(16)
        else:
            reads = sum(wl.tensors[t].bytes for t in op.inputs) + op.weight_bytes
            writes = op.output_bytes
            lanes = gpu.sms * FP32_LANES_PER_SM[gpu.arch]
            seconds = launch + max((reads + writes) / hbm, op.vector_work() / (lanes * clock))
            pj["vector"] = op.vector_work() * table.vector_op_pj(16)
            unit = "cuda_cores"
        pj["dram"] = (reads + writes) * 8 * pj_per_bit
        comp = op.weight_bytes + sum(wl.tensors[t].bytes for t in set(op.inputs)
                                     if t not in wl.producers and t not in seen)
        seen.update(t for t in op.inputs if t not in wl.producers)
        comp += op.output_bytes if op.output in graph_outputs else 0
        cycles = seconds * clock
        row = layer_row(op=op.name, type=op.type, unit=unit, dataflow="", start_cycle=now,
                        end_cycle=now + cycles, compute_cycles=cycles, stall_cycles=0.0,
                        macs=op.macs, weight_bits=op.weight_bits, act_bits=op.act_bits,
                        dtype=op.dtype, vector_ops=op.vector_work(), dram_read_bytes=reads,
                        dram_write_bytes=writes, compulsory_bytes=comp, energy_pj=pj,
                        tiling=tiling)
        rows.append(row)
        now += cycles
    layers = pd.DataFrame(rows)
    layers.attrs["peak_macs_per_cycle"] = gpu.sms * gpu.macs_per_clk_per_sm("fp16") \
        if "fp16" in gpu.supported_dtypes() else 0
    breakdown = {c: float(layers[f"{c}_j"].sum()) for c in COMPONENTS}
    breakdown["leakage"] = 0.0
    return Result(
        hardware=gpu.name,
        workload=wl.name,
        clock_hz=clock,
        latency_cycles=math.ceil(now),
        energy_breakdown_j=breakdown,
        dram_read_bytes=int(layers["dram_read_bytes"].sum()),
        dram_write_bytes=int(layers["dram_write_bytes"].sum()),
        compulsory_dram_bytes=int(layers["compulsory_bytes"].sum()),
        macs=int(layers["macs"].sum()),
        layers=layers,
    )
