"""The seed papers of issue 14, reproduced (docs/seed_systems.md): each row's pysim figure,
computed by its script in examples/seeds/, pinned to the band the doc states. The papers'
figures come from the fixtures in tests/data/seeds/; every band is one a wrong model falls
outside of (named beside each assert)."""

from __future__ import annotations

from functools import cache
from types import ModuleType
from typing import Any

import pytest

from tests.example_scripts import load


def _script(name: str) -> ModuleType:
    return load("seeds", name)


@cache
def _run(name: str, **kwargs: Any) -> Any:
    return _script(name).compute(**kwargs)


def test_fixtures_name_their_source() -> None:
    lib = _script("_seedlib")
    for name in ("bibert", "flattenquant", "ptq_llama2", "adapt", "ddp_resnet50", "monarch"):
        fixture = lib.paper(name)
        assert fixture["paper"] if "paper" in fixture else fixture["source"]
        assert fixture.get("source") or fixture.get("source_savings")
    bibert = lib.paper("bibert")
    # the table's entries and the abstract's ratios agree, to the digits printed
    assert bibert["full_precision"]["flops_g"] / bibert["bibert"]["flops_g"] == \
        pytest.approx(bibert["flops_saving"], abs=0.05)
    assert bibert["full_precision"]["size_mb"] / bibert["bibert"]["size_mb"] == \
        pytest.approx(bibert["size_saving"], abs=0.05)


def test_bibert_size_saving_in_band() -> None:
    got = _run("bibert")
    # 109,482,240 parameters in fp32 are the paper's 418 "MB" (MiB)
    assert got["fp_params"] == 109_482_240
    assert got["fp_size_mib"] == pytest.approx(418, abs=0.5)
    # matrices and embeddings packed at 1 bit, 122k bias / norm values at 32: 30.9x; all 1 bit
    # would be 32.0x. Embeddings kept fp32 (~4x), 1-bit values stored a byte each (~4x) or an
    # fp32 pooler (26.6x) fall outside.
    assert 30.5 <= got["size_saving"] <= 32.0


def test_bibert_flops_saving_in_band() -> None:
    got = _run("bibert")
    assert got["fp_flops_g"] == pytest.approx(22.5, rel=0.01)   # paper 22.5 G
    # binary products alone: 2 x MACs / 64
    macs = 11_173_625_856 + 768 * 768   # the zoo encoder and the pooler
    assert got["bi_mac_flops_g"] == pytest.approx(2 * macs / 64 / 1e9, rel=1e-12)
    # band [45, 60]: counting the binary products as whole FLOPs gives ~1x, dropping the
    # non-MAC ops both models keep gives 64x; pysim 48x (its vector ops 0.12 G), paper 56.3x
    assert 45 <= got["flops_saving"] <= 60


def test_bibert_binary_model_runs_on_the_xnor_array_faster_and_cheaper() -> None:
    sim = _run("bibert")["sim"]
    # dispatch by mapped time: the GEMMs on the XNOR array but the DRAM-bound FFN1s, on the
    # bit-serial array; none on the int8 array
    assert "xnor_array" in sim["binary"]["units"]
    assert set(sim["binary"]["units"]) <= {"xnor_array", "bitserial_array"}
    assert sim["int8"]["units"] == ["int8_array"]
    assert sim["binary"]["latency_ms"] < 0.75 * sim["int8"]["latency_ms"]
    assert sim["binary"]["energy_mj"] < 0.6 * sim["int8"]["energy_mj"]


def test_flattenquant_speedup_memory_and_crossover() -> None:
    got = _run("flattenquant", tokens=(1, 4096))
    assert got["int4_share"] == pytest.approx(0.4829, abs=0.0035)
    small, large = got["rows"]
    # compute-bound (M = 4096): between the paper's 2.0x (what int4 at the int8 rate would
    # give) and the ideal rate ratio 1 / (0.483 / 4 + 0.517 / 2) = 2.64x
    assert 2.2 <= large["speedup"] <= 2.64
    # memory-bound (M = 1): the weight bytes' ratio, at most 16 / 6.07 = 2.64x
    assert 2.2 <= small["speedup"] <= 2.64
    # weight memory 16 / (4 x 0.483 + 8 x 0.517) = 2.64x; 4-bit stored a byte each gives 2.0x
    assert 2.55 <= got["memory_reduction"] <= 2.64
    # the ridge of an A100 at the sustained HBM bandwidth: ~178 tokens for every format
    for m in got["crossover_tokens"].values():
        assert 120 <= m <= 240


def test_ptq_ordering_on_both_stacks() -> None:
    got = _run("ptq_llama2")
    fused, deq = got["fused"], got["dequant"]
    # nf4 ~ fp4: pysim's ops carry no code book, so they are the same op
    for stack in (fused, deq):
        assert stack["nf4"]["ms"] == pytest.approx(stack["fp4"]["ms"], rel=1e-9)
    # dequant-then-GEMM: bf16 fastest, int8 slowest (the ordering), because the
    # dequantized bf16 copy is written and read again: 4.5 / 5 bytes per weight against 2
    assert deq["order"][0] == "bf16" and deq["order"][-1] == "int8"
    assert 1.8 <= deq["nf4"]["ms"] / deq["bf16"]["ms"] <= 2.6
    # fused dequantization (pysim's W4A16 / W8A16 kernels) reverses it: 4-bit < int8 < bf16
    assert fused["order"][-1] == "bf16" and fused["order"][2] == "int8"
    assert 2.2 <= fused["bf16"]["ms"] / fused["nf4"]["ms"] <= 3.6


def test_adapt_speedup_scales_with_the_word_length() -> None:
    stripes, bismo = _run("adapt", mode="stripes"), _run("adapt", mode="bismo")
    assert stripes["bits"] == bismo["bits"] == 15
    # Stripes: cycles ~ activation bits: 32 / 15 = 2.13x; a unit blind to width gives 1x
    assert stripes["mac_cycle_speedup"] == pytest.approx(32 / 15, rel=0.03)
    assert 1.9 <= stripes["speedup"] <= 2.33
    # BISMO: cycles ~ w x a: (32 / 15)^2 = 4.55x
    assert bismo["mac_cycle_speedup"] == pytest.approx((32 / 15) ** 2, rel=0.03)


def test_ddp_resnet50_scaling_in_band() -> None:
    got = _run("ddp_resnet50")
    fixture = _script("_seedlib").paper("ddp_resnet50")
    assert fixture["images_per_s"][8] / fixture["images_per_s"][1] == \
        pytest.approx(fixture["scaling_8"], abs=0.01)
    # band [6.72, 8]: never super-linear; at or above NVIDIA's measured 6.72x, since pysim
    # leaves out the input pipeline and NCCL's use of the SMs (a figure below it would mean
    # the all-reduce alone costs more than everything that made the real step slower)
    assert fixture["scaling_8"] <= got["scaling"] <= 8.0
    # 25 MiB buckets hide most of the all-reduce behind the backward pass; one bucket hides none
    assert got["buckets"] > 1 and got["exposed_ms"] < 0.5 * got["comm_ms"]
    assert got["one_bucket_exposed_ms"] > got["exposed_ms"]
    assert got["one_bucket_scaling"] < got["scaling"]
    # one GPU, with its batch norms' kernels simulated: within 25 % of NVIDIA's 2470 img/s
    # (1.84x before they were; 1.18x now: docs/seed_systems.md says what is left)
    assert 0.8 <= got["images_per_s_1"] / fixture["images_per_s"][1] <= 1.25
    # AMP over TF32 (pysim's fp32 recipe runs TF32 MMAs): a real speed-up, below NVIDIA's
    # 2.63x, whose TF32 run was NCHW (pysim models the NHWC kernels): with both runs in
    # channels_last, measured on an H200, 1.84x, and pysim's h200 preset within 15 % of it
    assert 1.5 <= got["amp_speedup"] <= fixture["images_per_s"][1] / \
        fixture["tf32_images_per_s"][1]
    assert fixture["tf32_memory_format"] == "nchw" and fixture["amp_memory_format"] == "nhwc"
    assert got["h200_amp_speedup_measured"] == pytest.approx(1.84, abs=0.01)
    assert 0.9 <= got["h200_amp_speedup"] / got["h200_amp_speedup_measured"] <= 1.15


def test_monarch_gpt2_speedup_in_band() -> None:
    got = _run("monarch")
    fixture = _script("_seedlib").paper("monarch")
    # band [1.02, 1.12] for Monarch MLPs (b=4) on GPT-2 small, A100, AMP, batch 16 x 1024:
    # above 1, the block GEMMs' 3.2x fewer MACs win over the permutation copies and the
    # separate bias add; below a MAC-proportional model's 1.38x (forward MACs ratio), since at
    # block size 192 the GEMMs are memory-bound and the copies are real passes over HBM
    assert 1.02 <= got["speedup"] <= 1.12
    assert got["macs_ratio"] == pytest.approx(1.38, abs=0.01)
    # P free helps; no MLP-only change can beat the Amdahl bound, which is below the paper's 2x
    assert got["speedup"] < got["view_speedup"] < got["amdahl_bound"] < fixture["speedup"]
    assert got["params_monarch"] < 0.7 * got["params_dense"]


# -- multiplication-free rows (L-Mul, ShiftAdd; fixtures lmul.yaml, shiftadd.yaml) ----------


def test_fixtures_name_their_source_and_the_offset_is_the_papers() -> None:
    from pysim.formats.mulfree import lmul_offset_bits

    lib = _script("_seedlib")
    for name in ("lmul", "shiftadd"):
        fixture = lib.paper(name)
        assert fixture["paper"] and fixture["source"]
    for m, lm in lib.paper("lmul")["offset_l"].items():
        assert lmul_offset_bits(int(m)) == lm


def test_lmul_precision_against_fp8() -> None:
    p = _run("lmul")["precision"]
    # paper: 3-bit L-Mul outperforms e5m2. pysim 0.94 of e5m2's error (0.80 of it with the
    # product rounded to e5m2). Band [0.85, 1.0): L-Mul without the 2^-l(m) offset (plain
    # Mitchell, 0.80) or the formula without the integer add's carry (1.10) fall outside.
    assert 0.85 <= p["lmul3"] / p["fp8_e5m2"] < 1.0
    assert p["lmul3"] < p["fp8_e5m2_rounded"]
    # paper: 4-bit L-Mul comparable with e4m3 multiplication. pysim 1.18x the error of an e4m3
    # multiplier that rounds its product to e4m3 (1.58x of exact products of e4m3 operands).
    # Band [1.0, 1.3]: no offset gives 0.92, no carry 1.44.
    assert 1.0 <= p["lmul4"] / p["fp8_e4m3_rounded"] <= 1.3


def test_lmul_energy_elementwise_and_dot_product() -> None:
    got = _run("lmul")
    a16, a32 = got["arith"][16], got["arith"][32]
    # element-wise, paper -95 %: fp16 L-Mul (a 15-bit integer add, 0.052 pJ) against a 1.1 pJ
    # multiply: -95.3 %. Pricing L-Mul as an fp16 add (0.4 pJ) would give -64 %.
    assert 0.94 <= a16["elementwise_saving"] <= 0.96
    assert 0.96 <= a32["elementwise_saving"] <= 0.98
    # dot product, paper -80 %: multiply + add at fp32 -78.3 %, at fp16 -69.9 % (the fp16 add
    # is a larger share). Band [0.75, 0.82] at fp32; an unchanged add priced at zero gives 97 %.
    assert 0.75 <= a32["dot_saving"] <= 0.82
    assert 0.65 <= a16["dot_saving"] <= 0.75


def test_lmul_through_simulate_changes_the_mac_energy_only() -> None:
    got = _run("lmul")
    for s in got["sim"].values():
        assert s["same_cycles"]
        # only the MAC term moves: total saving = MAC saving x the MACs' share of the energy
        assert s["total_saving"] == pytest.approx(s["mac_saving"] * s["mac_share"], rel=1e-6)
    # fp32 operands with fp32 accumulators: the MAC saving is the paper-style dot saving
    assert got["sim"][32]["mac_saving"] == pytest.approx(got["arith"][32]["dot_saving"],
                                                         rel=1e-9)
    # fp16 operands keep a 0.9 pJ fp32 accumulate: -52 %, not -70 %
    assert 0.45 <= got["sim"][16]["mac_saving"] <= 0.6
    # data movement dominates edge_npu: the totals stay small (-9 %, -16 %)
    assert 0.05 <= got["sim"][16]["total_saving"] <= 0.15
    assert 0.1 <= got["sim"][32]["total_saving"] <= 0.22


def test_shiftadd_vit_energy_and_operation_split() -> None:
    got = _run("shiftadd")
    assert got["units"] == ["mac_array", "shift_array"]
    # MAC energy: 95 % of the MACs shift at ShiftAddNet's 0.024 pJ in place of a 0.2 pJ int8
    # multiply, each with a 0.1 pJ int32 add: 0.953 x 58.7 % = -55.9 %. Band [0.5, 0.6]: a shift
    # priced as a multiply gives 0 %, a free shift -63 %.
    assert 0.5 <= got["mac_saving"] <= 0.6
    # total: -10.1 % against ShiftAddViT's "up to 42.9 %" (its own models and kernels); of it
    # the multiplier -2.6 %, the 5-bit weights' traffic the rest. Band [0.05, 0.15].
    assert 0.05 <= got["total_saving"] <= 0.15
    assert 0.01 <= got["multiplier_saving"] <= 0.05
    split = got["split"]
    assert split["mult"] + split["shift"] == pytest.approx(split["add"], rel=1e-12)
    assert got["shifted_mac_share"] > 0.9  # attention matmuls and patch embedding multiply
    assert got["latency_ratio"] <= 1.0


def test_llm_int8_prints_published_beside_simulated(capsys) -> None:
    _script("llm_int8").main()
    out = capsys.readouterr().out
    assert "published" in out and "pysim/pub" in out and "not read here" in out


def test_llm_int8_fixture_and_decode_ratio_in_band() -> None:
    ref = _script("_seedlib").paper("llm_int8")
    assert ref["source"] and ref["threshold"] == 6.0
    pub = ref["ms_per_token"]
    slow = [pub["int8_4xA100_80GB"][b] / pub["bf16_8xA100_80GB"][b] for b in ("batch_1", "batch_8")]
    assert all(0.15 <= s - 1 <= 0.23 for s in slow)  # the blog's "15% to 23% slower"
    got = _run("llm_int8")
    # pysim's ideal kernels at decode: the int8 weights are half the fp16 bytes, plus the
    # decomposition's six extra kernels: [0.5, 0.56]. Weights read at 16 bits (no int8 saving)
    # would give ~1.0; dropping the extra kernels, exactly the 0.5 of the weight bytes.
    for batch in (1, 8, 32):
        assert 0.5 < got[batch]["ratio"] <= 0.56
        assert got[batch]["ratio"] / got[batch]["published_ratio"] < 0.6  # the gap the doc names
    # compute-bound (2048 tokens): int8 MMAs at twice the fp16 rate, the vector kernels on top
    assert 0.5 < got[2048]["ratio"] < 0.65
    assert got[1]["int8_weight_gb"] / got[1]["fp16_weight_gb"] == pytest.approx(0.5, abs=0.001)


def test_ecoformer_attention_saving_in_band() -> None:
    got = _run("ecoformer")
    assert got["paper"]["energy_saving"] == 0.73
    # 16-bit codes x 8-bit values run on the int8 array declaring 1-bit operands
    assert got["code_units"] == ["mac_array"]
    assert got["eco_macs"] < 0.1 * got["msa_macs"]
    # the saving grows with the tokens (n^2 d -> n b d); the last stage keeps softmax
    s = got["stage_saving"]
    assert s[0] > s[1] > s[2] > 0.3 and s[3] == pytest.approx(0.0, abs=1e-12)
    # band [0.88, 0.95] on the attention's on-chip energy (pysim 0.92; 32-bit codes 0.91). The
    # paper's 0.73 is the whole model's arithmetic (its MLPs and embeddings unchanged) and falls
    # below; hashing priced as the quadratic form (no associativity) would save ~0
    assert 0.88 <= got["saving"] <= 0.95


def test_flexq_fixture_names_its_source_and_the_bars_give_the_headline() -> None:
    ref = _script("_seedlib").paper("flexq")
    assert "2508.04405" in ref["paper"] and "0180eb1" in ref["source"]
    assert ref["b1_passes"] == {"w6a6": 36, "w6a8": 48}
    fig = ref["e2e_figure"]["llama_7b"]
    ratios = [w8 / w6 for w8, w6 in zip(fig["w8a8_s"], fig["w6ax_s"], strict=True)]
    # the README's "1.25-1.33x" (LLaMA-7B's bars 1.32-1.35; the abstract rounds to 1.33)
    assert all(1.3 <= r <= 1.36 for r in ratios)


def test_flexq_decode_speedup_over_w8a8_in_band(capsys) -> None:
    script = _script("flexq")
    got = script.compute()
    # LLaMA-2-7B decode, batch 1, A100: HBM-bound, so W8A8 / W6Ax is about the bytes per
    # token, 8/6 on the projections diluted by the fp16 LM head, FlexQ's group scales and
    # the fp16 KV cache. Band [1.22, 1.334]: int6 held in int8 containers (the old mapping)
    # gives 1.00; no ratio of bytes can exceed 8/6 = 1.333. pysim 1.29 at 128 tokens,
    # falling with the KV length as the paper's bars do (1.35 -> 1.32).
    for ctx, r in got["ratio"]["w6ax"].items():
        assert 1.22 <= r <= 1.334, ctx
    assert got["ratio"]["w6ax"][128] > got["ratio"]["w6ax"][1024]
    # W6A6 and W6A8 alike at decode: the 6-bit weights set the time, not the passes
    assert got["ratio"]["w6a6"][256] == pytest.approx(got["ratio"]["w6a8"][256], rel=0.01)
    assert got["tiling"]["w6ax"].startswith("bit-plane w6a6: 36 b1 passes")
    assert got["tiling"]["w8a8"].startswith("int8")
    # fp16 / W6Ax: pysim 2.4-2.5 against the bars' 2.2-2.3 (FasterTransformer's fp16 is
    # closer to its W8A8 than 2x); band [2.2, 2.6]
    assert all(2.2 <= r <= 2.6 for r in got["fp16_ratio"].values())
    script.compute = lambda *a, **k: got  # main() prints the figures computed above
    script.main()
    out = capsys.readouterr().out
    assert "NOT REPRODUCED" in out and "paper" in out
