"""A GPU preset as the hardware of pysim.simulate."""

from __future__ import annotations

import pytest

import pysim
from pysim.workload import workload_from_dict


def fp16_gemm(m: int, n: int, k: int, **op_fields):
    return workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [m, k], "bits": 16, "dtype": "float"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": n, "k": k,
                 "weight_bits": 16, "act_bits": 16, "dtype": "float", **op_fields}]})


@pytest.mark.parametrize("name", ["v100", "a100", "h100"])
def test_one_gemm_equals_the_gemm_model(name: str) -> None:
    gpu = pysim.gpu.preset(name)
    res = pysim.simulate(gpu, fp16_gemm(2048, 1024, 512))
    # equal up to the rounding of the latency to whole clock cycles
    want = gpu.gemm_time(2048, 1024, 512, "fp16")
    assert res.latency_s == pytest.approx(want, abs=1 / res.clock_hz)
    cost = gpu.gemm_cost(2048, 1024, 512, "fp16")
    assert res.dram_read_bytes == cost.hbm_read_bytes
    assert res.energy_j == pytest.approx(sum(res.energy_breakdown_j.values()))
    assert res.macs == 2048 * 1024 * 512


def test_whole_networks_run_and_respect_the_roofline() -> None:
    gpu = pysim.gpu.preset("a100")
    for wl in (pysim.zoo.load("resnet50"), pysim.zoo.load("bert_base", seq_len=64)):
        res = pysim.simulate(gpu, wl)
        peak = gpu.peak_tflops("int8") * 1e12 / 2  # MACs per second
        assert res.latency_s >= res.macs / peak
        assert res.latency_s >= res.compulsory_dram_bytes / (gpu.hbm_bandwidth_gb_per_s * 1e9)
        assert len(res.layers) == len(wl.ops)
        assert set(res.layers["unit"]) <= {"tensor_cores", "cuda_cores", "epilogue"}


def test_2_4_sparse_weights_use_the_sparse_tensor_cores() -> None:
    gpu = pysim.gpu.preset("a100")
    dense = pysim.simulate(gpu, fp16_gemm(4096, 4096, 4096))
    sparse = pysim.simulate(gpu, pysim.workload.sparsity.sparsify(
        fp16_gemm(4096, 4096, 4096), weights="2:4"))
    assert sparse.latency_s < dense.latency_s
    assert "2:4" in sparse.layers["tiling"].iloc[0]


def test_a_dtype_the_gpu_lacks_is_an_error() -> None:
    with pytest.raises(pysim.WorkloadError, match="no tensor-core dtype on NVIDIA Tesla V100"):
        pysim.simulate(pysim.gpu.preset("v100"), pysim.zoo.load("gemm", m=64, n=64, k=64))


def test_cli_runs_a_gpu_preset(capsys) -> None:
    from pysim.cli import main

    assert main(["run", "gpu:h100", "zoo:gemm:m=256,n=256,k=256"]) == 0
    out = capsys.readouterr().out
    assert "tensor_cores" in out and "row-hit rate n/a" in out
    assert main(["run", "gpu:h1000", "zoo:gemm"]) == 2
    assert "did you mean 'h100'" in capsys.readouterr().err


F16 = {"weight_bits": 16, "act_bits": 16, "dtype": "float"}


def batched_matmul(batch: list[int], m: int, n: int, k: int):
    return workload_from_dict({
        "name": "bmm",
        "inputs": [{"name": "a", "shape": [*batch, m, k], "bits": 16, "dtype": "float"},
                   {"name": "b", "shape": [*batch, k, n], "bits": 16, "dtype": "float"}],
        "ops": [{"name": "mm", "type": "matmul", "inputs": ["a", "b"], "batch": batch, "m": m,
                 "n": n, "k": k, **F16}]})


@pytest.mark.parametrize("name", ["a100", "h100"])
def test_a_batched_matmul_is_one_batched_kernel(name: str) -> None:
    # BERT-base attention scores: batch 8 x 12 heads of 128 x 128 x 64, one launch.
    gpu = pysim.gpu.preset(name)
    res = pysim.simulate(gpu, batched_matmul([8, 12], 128, 128, 64))
    cost = gpu.gemm_cost(128, 128, 64, "fp16", batch=96)
    assert res.latency_s == pytest.approx(cost.time_s, abs=1 / res.clock_hz)
    assert res.dram_read_bytes == cost.hbm_read_bytes
    assert res.dram_write_bytes == cost.hbm_write_bytes
    assert "batch 96" in res.layers["tiling"].iloc[0]
    one = gpu.gemm_cost(128, 128, 64, "fp16")
    old = 96 * (one.time_s - one.launch_s) + one.launch_s  # before: each GEMM alone
    assert res.latency_s < old / 1.5


def attention_workload(batch: int, heads: int, seq: int, d: int, causal: bool = False,
                       kv_heads: int | None = None):
    kvh = kv_heads or heads
    return workload_from_dict({
        "name": "attn",
        "inputs": [{"name": "q", "shape": [batch, seq, heads * d], "bits": 16, "dtype": "float"},
                   *({"name": x, "shape": [batch, seq, kvh * d], "bits": 16, "dtype": "float"}
                     for x in ("k", "v"))],
        "ops": [{"name": "attn", "type": "attention", "inputs": ["q", "k", "v"], "batch": batch,
                 "heads": heads, "kv_heads": kvh, "q_len": seq, "kv_len": seq, "head_dim": d,
                 "causal": causal, **F16}]})


def test_fused_attention_keeps_scores_on_chip() -> None:
    # FlashAttention-2: HBM sees Q, K, V and O once; S and P never leave the SM
    gpu = pysim.gpu.preset("a100")
    res = pysim.simulate(gpu, attention_workload(8, 12, 1024, 64))
    qkvo = 4 * 8 * 1024 * 12 * 64 * 2
    assert res.dram_read_bytes + res.dram_write_bytes == qkvo
    assert "flash-attention-2 blocks 128x128" in res.layers.iloc[0]["tiling"]
    # grouped-query heads read their group's K and V only
    gqa = pysim.simulate(gpu, attention_workload(8, 12, 1024, 64, kv_heads=4))
    assert gqa.dram_read_bytes == (12 + 2 * 4) * 8 * 1024 * 64 * 2


@pytest.mark.parametrize("d", [64, 128])
def test_fused_attention_rates_follow_flash_attention_2(d: int) -> None:
    # the matmuls' share of each score's time, e.g. d 128 on an A100: 0.25 / (0.25 + 6 / 64)
    from pysim.gpu.attention import block_sizes

    gpu = pysim.gpu.preset("a100")
    res = pysim.simulate(gpu, attention_workload(1, 2048 // d, 16384, d))
    _, bc = block_sizes(d)
    mma = 2 * d / 1024
    share = mma / (mma + max(1 / 16, (4 + d / bc) / 64))
    tflops = 4 * 16384**2 * 2048 / res.latency_s / 1e12
    assert tflops == pytest.approx(share * gpu.peak_tflops("fp16"), rel=0.01)
    # causal: half the scores, the diagonal blocks whole: nearly half the time at 16k
    causal = pysim.simulate(gpu, attention_workload(1, 2048 // d, 16384, d, causal=True))
    assert 0.5 < causal.latency_s / res.latency_s < 0.52


def test_grouped_convolution_groups_are_one_batched_kernel() -> None:
    gpu = pysim.gpu.preset("h100")
    wl = workload_from_dict({
        "name": "dw", "inputs": [{"name": "x", "shape": [1, 56, 56, 64], "bits": 16,
                                  "dtype": "float"}],
        "ops": [{"name": "conv", "type": "conv2d", "inputs": ["x"], "in_h": 56, "in_w": 56,
                 "in_c": 64, "out_c": 64, "kernel": [3, 3], "padding": [1, 1], "groups": 8,
                 **F16}]})
    res = pysim.simulate(gpu, wl)
    cost = gpu.gemm_cost(56 * 56, 8, 9 * 8, "fp16", batch=8)
    assert res.latency_s == pytest.approx(cost.time_s, abs=1 / res.clock_hz)


def int8_gemm(m: int, n: int, k: int, **op_fields):
    return workload_from_dict({
        "name": "g", "inputs": [{"name": "x", "shape": [m, k], "bits": 8}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": n, "k": k,
                 "weight_bits": 8, "act_bits": 8, **op_fields}]})


def test_an_int8_gemm_writes_its_output_at_its_own_width() -> None:
    a100 = pysim.gpu.preset("a100")
    wide = pysim.simulate(a100, int8_gemm(4096, 4096, 4096, out_bits=32))
    narrow = pysim.simulate(a100, int8_gemm(4096, 4096, 4096))
    assert narrow.dram_write_bytes == 4096 * 4096  # 1 byte per int8 output, not 4
    assert wide.dram_write_bytes == 4 * narrow.dram_write_bytes


def test_a_graph_input_read_twice_is_compulsory_once() -> None:
    wl = workload_from_dict({
        "name": "two", "inputs": [{"name": "x", "shape": [256, 256], "bits": 16}],
        "ops": [{"name": f"fc{i}", "type": "gemm", "inputs": ["x"], "m": 256, "n": 256,
                 "k": 256, "dtype": "float", "weight_bits": 16, "act_bits": 16}
                for i in range(2)]})
    res = pysim.simulate(pysim.gpu.preset("a100"), wl)
    weights = 2 * 256 * 256 * 2
    assert res.compulsory_dram_bytes == weights + 256 * 256 * 2 + 2 * 256 * 256 * 2


def test_a_workload_larger_than_hbm_is_an_error_naming_the_sizes() -> None:
    wl = pysim.zoo.load("llama2_7b", phase="decode", batch=256, context_len=4096)
    with pytest.raises(pysim.WorkloadError, match=r"needs 262\.\d GiB of DRAM on NVIDIA A100 .*"
                       r"weights 6\.\d+ GiB, graph inputs 256\.\d GiB.*it has 80 GiB"):
        pysim.simulate(pysim.gpu.preset("a100"), wl)
    pysim.simulate(pysim.gpu.preset("a100"),
                   pysim.zoo.load("llama2_7b", phase="decode", batch=32, context_len=4096))


def residual_block():
    conv = {"type": "conv2d", "batch": 8, "in_h": 28, "in_w": 28, "in_c": 64, "out_c": 64,
            "kernel": 3, "padding": 1}
    return workload_from_dict({
        "name": "block", "inputs": [{"name": "x", "shape": [8, 28, 28, 64]}],
        "ops": [{"name": "c1", "inputs": ["x"], **conv},
                {"name": "r1", "type": "elementwise", "op": "relu", "inputs": ["c1"],
                 "shape": [8, 28, 28, 64]},
                {"name": "c2", "inputs": ["r1"], **conv},
                {"name": "add", "type": "elementwise", "op": "add", "inputs": ["c2", "x"],
                 "shape": [8, 28, 28, 64]},
                {"name": "out", "type": "elementwise", "op": "relu", "inputs": ["add"],
                 "shape": [8, 28, 28, 64]}]})


def test_elementwise_ops_run_in_their_gemms_epilogue() -> None:
    from pysim.gpu.kernels import epilogue_chains

    wl = residual_block()
    assert epilogue_chains(wl) == {0: [1], 2: [3, 4]}  # c1 + relu; c2 + add x + relu
    a100 = pysim.gpu.preset("a100")
    fused = pysim.simulate(a100, wl).layers.set_index("op")
    plain = pysim.simulate(a100.replace(fusion="none"), wl).layers.set_index("op")
    act = 8 * 28 * 28 * 64  # int8 bytes of one activation
    assert list(fused.loc[["r1", "add", "out"], "unit"]) == ["epilogue"] * 3
    assert fused.loc[["r1", "add", "out"], "cycles"].sum() == 0
    assert "epilogue add + relu saves" in fused.loc["c2", "tiling"]
    # c2's epilogue reads the residual x; relu / add / relu no longer read or write anything
    assert fused.loc["c2", "dram_read_bytes"] == plain.loc["c2", "dram_read_bytes"] + act
    saved = plain["dram_read_bytes"].sum() + plain["dram_write_bytes"].sum() - (
        fused["dram_read_bytes"].sum() + fused["dram_write_bytes"].sum())
    assert saved == 2 * act + 4 * act  # r1: read + write; add: 2 reads + write, relu: read +
    # write, less the residual the epilogue reads: 2 + (3 + 2 - 1) = 6 activations
    assert fused["cycles"].sum() < plain["cycles"].sum()


def test_a_tensor_with_two_readers_is_not_fused() -> None:
    from pysim.gpu.kernels import epilogue_chains

    wl = workload_from_dict({
        "name": "two", "inputs": [{"name": "x", "shape": [64, 64]}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 64, "n": 64, "k": 64},
                {"name": "a", "type": "elementwise", "op": "relu", "inputs": ["fc"],
                 "shape": [64, 64]},
                {"name": "b", "type": "elementwise", "op": "relu", "inputs": ["fc"],
                 "shape": [64, 64]}]})
    assert epilogue_chains(wl) == {}
    with pytest.raises(pysim.ConfigError, match="fusion must be one of"):
        pysim.gpu.preset("a100").replace(fusion="all")


def test_attention_gemms_in_their_own_formats() -> None:
    # SageAttention2-style: Q K^T int8, P V fp8 on an H100; a quantizing pre-pass first
    from pysim.gpu.attention import fused_attention_cost

    gpu = pysim.gpu.preset("h100")
    wl = attention_workload(2, 32, 8192, 128)
    op = wl.ops[0]
    sage = type(op).model_validate({**op.model_dump(),
                                    "qk_format": {"dtype": "int", "bits": 8},
                                    "pv_format": {"dtype": "float", "bits": 8}})
    base, fast = fused_attention_cost(gpu, op, "fp16"), fused_attention_cost(gpu, sage, "fp16")
    assert fast.dtypes == ("int8", "fp8_e4m3") and base.dtypes == ("fp16", "fp16")
    assert fast.compute_s < 0.8 * base.compute_s and fast.prepass_s > 0
    q = 2 * 8192 * 32 * 128  # elements of Q (and of K, and of V)
    assert fast.hbm_read_bytes == 3 * q + 3 * q * 2  # the kernel's 8-bit Q K V + pre-pass reads
    assert fast.hbm_write_bytes == q * 2 + 3 * q  # O in fp16 + the pre-pass's 8-bit copies
    int4 = type(op).model_validate({**op.model_dump(), "qk_format": {"dtype": "int", "bits": 4}})
    with pytest.raises(pysim.WorkloadError, match="Q K.T in 4-bit int has no tensor-core dtype"):
        fused_attention_cost(gpu, int4, "fp16")


def _decode_attention(batch: int, heads: int, kv_len: int, d: int):
    return workload_from_dict({
        "name": "decode_attn",
        "inputs": [{"name": "q", "shape": [batch, 1, heads * d], "bits": 16, "dtype": "float"},
                   *({"name": x, "shape": [batch, kv_len, heads * d], "bits": 16,
                      "dtype": "float"} for x in ("k", "v"))],
        "ops": [{"name": "attn", "type": "attention", "inputs": ["q", "k", "v"], "batch": batch,
                 "heads": heads, "q_len": 1, "kv_len": kv_len, "head_dim": d, **F16}]}).ops[0]


def test_split_kv_follows_flash_attention_2_heuristic() -> None:
    from pysim.gpu.attention import num_splits

    # FlashAttention-2's own example (flash_api.cpp): batch x heads = 48 on 108 SMs, 2 splits
    assert num_splits(48, 108, 1000) == 2
    assert num_splits(200, 216, 1000) == 1  # already fills 80 % of the SMs
    assert num_splits(32, 216, 3) == 3  # no more splits than key blocks


def test_long_context_decode_splits_the_keys_across_the_sms() -> None:
    # one sequence, 32 heads, 128K keys: 32 CTAs would leave 76 of an A100's 108 SMs idle
    from pysim.gpu.attention import fused_attention_cost

    gpu = pysim.gpu.preset("a100")
    cost = fused_attention_cost(gpu, _decode_attention(1, 32, 131072, 128), "fp16")
    assert cost.splits > 1 and cost.ctas == 32 * cost.splits and cost.combine_s > 0
    kv_seconds = 2 * 131072 * 32 * 128 * 2 / (gpu.hbm_sustained_gb_per_s * 1e9)
    # within 2x of streaming the cache once (one CTA per head walking every key: ~6.7x)
    assert cost.time_s < 2 * kv_seconds
    full = fused_attention_cost(gpu, _decode_attention(64, 32, 4096, 128), "fp16")
    assert full.splits == 1 and full.combine_s == 0.0  # 2048 CTAs fill the GPU


def test_a_slice_on_the_cuda_cores_reads_only_its_part():
    wl = workload_from_dict({"name": "s", "inputs": [{"name": "x", "shape": [64, 1024],
                                                      "bits": 16, "dtype": "float"}],
                             "ops": [{"name": "cut", "type": "copy", "mode": "slice",
                                      "inputs": ["x"], "shapes": [[64, 1024]],
                                      "out_shape": [64, 8], "act_bits": 16, "dtype": "float"}]})
    res = pysim.simulate(pysim.gpu.preset("a100"), wl)
    assert res.dram_read_bytes == 64 * 8 * 2  # as on an accelerator (Copy.read_fraction)
    assert res.dram_write_bytes == 64 * 8 * 2


@pytest.mark.parametrize("name", ["a100", "h200"])
@pytest.mark.parametrize(("batch", "heads", "kv_heads", "kv_len"), [
    (1, 32, 8, 131072), (64, 32, 8, 4096), (8, 64, 8, 2048), (4, 16, 1, 8192)])
def test_one_token_gqa_decode_packs_the_group(name: str, batch: int, heads: int, kv_heads: int,
                                              kv_len: int) -> None:
    # FlashAttention-2's mha_fwd swaps a one-token query's group into the query length: a KV
    # head's g query heads are the g rows of one block, so GQA decode costs what MHA over the
    # KV heads with a g-token query costs (H200: cuDNN's and FA2's measured decode agree,
    # benchmarks/validate_h200_kernels.py --section decode)
    from pysim.gpu.attention import fused_attention_cost
    from pysim.workload.attention import Attention

    def op(q_len: int, h: int) -> Attention:
        return Attention.model_validate({"name": "a", "inputs": ["q", "k", "v"], "batch": batch,
                                         "heads": h, "kv_heads": kv_heads, "q_len": q_len,
                                         "kv_len": kv_len, "head_dim": 128})

    gpu = pysim.gpu.preset(name)
    gqa = fused_attention_cost(gpu, op(1, heads), "fp16")
    mha = fused_attention_cost(gpu, op(heads // kv_heads, kv_heads), "fp16")
    assert (gqa.time_s, gqa.compute_s, gqa.ctas, gqa.splits) == (
        mha.time_s, mha.compute_s, mha.ctas, mha.splits)
    assert gqa.hbm_read_bytes == mha.hbm_read_bytes
    # prefill is not packed: each query head's rows are its own blocks
    pre = fused_attention_cost(gpu, op(256, heads), "fp16")
    # (FA2's split-KV kernel, 64-row query blocks, where the heuristic splits the keys)
    assert pre.blocks[0] == (64 if pre.splits > 1 else 128)
    assert pre.ctas == batch * heads * (256 // pre.blocks[0]) * pre.splits


def test_depthwise_convolutions_run_on_the_cuda_cores() -> None:
    # MobileNetV2's 3x3 depthwise convolutions: one channel per group, a direct convolution on
    # the CUDA cores as cuDNN runs it (bytes through HBM or MACs over the lanes), not 144
    # tensor-core GEMMs of N = 1, K = 9 padded to MMA tiles
    from pysim.gpu.kernels import cuda_core_macs_per_lane, is_depthwise

    gpu = pysim.gpu.preset("h200")
    wl = pysim.zoo.load("mobilenet_v2", batch=64)
    res = pysim.simulate(gpu, wl)
    layers = res.layers.set_index("op")
    hz = gpu.boost_clock_mhz * 1e6
    dw = [op for op in wl.ops if is_depthwise(op)]
    assert len(dw) == 17
    for op in dw:
        row = layers.loc[op.name]
        assert row["unit"] == "cuda_cores" and "depthwise" in row["tiling"]
        bytes_ = sum(wl.tensors[t].bytes for t in op.inputs) + op.weight_bytes + op.output_bytes
        hbm = bytes_ / (gpu.hbm_sustained_gb_per_s * 1e9)
        work = op.macs / (gpu.sms * 128 * cuda_core_macs_per_lane(op) * gpu.boost_clock_mhz * 1e6)
        assert row["compute_cycles"] / hz >= max(hbm, work)
    # a grouped convolution with several channels per group stays on the tensor cores
    assert not any(is_depthwise(op) for op in pysim.zoo.load("resnet50").ops)
