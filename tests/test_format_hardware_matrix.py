"""Every ``pysim.formats`` format, as the weight and activation format of a small GEMM and a
small convolution, through ``pysim.simulate`` on the shipped float / multiplication-free
accelerator (configs/lowp_float_edge.yaml) and on GPU presets of each architecture: it runs
(positive latency and energy, DRAM bytes that are the operands' stored bytes, growing with the
format's storage bits and scales) or is refused with a one-line WorkloadError naming the op
and what the hardware runs. docs/formats.md, "On hardware", lists the matrix."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

import pysim
from pysim import formats, gpu
from pysim.workload import workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
CHIP = ROOT / "configs" / "lowp_float_edge.yaml"
GPUS = ("v100", "a100", "l40s", "h100", "b200")  # Volta, Ampere, Ada, Hopper, Blackwell
M, N, K = 64, 256, 512
H = W = 8
C = OUT_C = 128


def gemm(fmt: str, **op: object) -> pysim.Workload:
    return workload_from_dict({
        "name": f"gemm_{fmt}", "inputs": [{"name": "x", "shape": [M, K], "format": fmt}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": M, "n": N, "k": K,
                 "weight_format": fmt, "act_format": fmt, **op}]})


def conv(fmt: str, **op: object) -> pysim.Workload:
    return workload_from_dict({
        "name": f"conv_{fmt}", "inputs": [{"name": "x", "shape": [1, H, W, C], "format": fmt}],
        "ops": [{"name": "conv", "type": "conv2d", "inputs": ["x"], "in_h": H, "in_w": W,
                 "in_c": C, "out_c": OUT_C, "kernel": 3, "padding": 1, "weight_format": fmt,
                 "act_format": fmt, **op}]})


BUILD = {"gemm": gemm, "conv": conv}


def stored_bytes(wl: pysim.Workload) -> int:
    """What one op must move: its input, weights (values and scales) and output as stored."""
    op = wl.ops[0]
    return op.input_bytes + op.weight_bytes + op.output_bytes


def run_all(hw: pysim.Hardware, kind: str) -> dict[str, pysim.Result | str]:
    out: dict[str, pysim.Result | str] = {}
    for fmt in formats.names():
        wl = BUILD[kind](fmt)
        try:
            out[fmt] = pysim.simulate(hw, wl)
        except pysim.WorkloadError as err:
            out[fmt] = str(err)
    return out


_CACHE: dict[tuple[str, str], dict[str, pysim.Result | str]] = {}


def matrix(target: str, kind: str) -> dict[str, pysim.Result | str]:
    if (target, kind) not in _CACHE:
        hw = pysim.load_hardware(CHIP) if target == "lowp_float_edge" else gpu.preset(target)
        _CACHE[target, kind] = run_all(hw, kind)
    return _CACHE[target, kind]


def check_runs_and_refusals(target: str, kind: str) -> dict[str, pysim.Result | str]:
    got = matrix(target, kind)
    op_name = "fc" if kind == "gemm" else "conv"
    for fmt, res in got.items():
        if isinstance(res, str):
            assert "\n" not in res, (fmt, res)
            assert f"op {op_name!r}" in res, (fmt, res)
            assert "support" in res, (fmt, res)  # what the hardware runs instead
            continue
        wl = BUILD[kind](fmt)
        assert res.latency_s > 0 and math.isfinite(res.latency_s), fmt
        assert res.energy_j > 0 and math.isfinite(res.energy_j), fmt
        assert res.macs == wl.ops[0].macs, fmt
        # one op: every stored byte (values and scales) crosses DRAM at least once (a GPU
        # kernel's CTA tiles may read an operand more than once)
        assert res.compulsory_dram_bytes == stored_bytes(wl), fmt
        assert res.dram_read_bytes >= wl.ops[0].input_bytes + wl.ops[0].weight_bytes, fmt
        # (a split-K kernel writes partial sums too)
        assert res.dram_write_bytes >= wl.ops[0].output_bytes, fmt
        if target == "lowp_float_edge":  # fits on chip: exactly once
            assert res.dram_read_bytes + res.dram_write_bytes == stored_bytes(wl), fmt
    ran = {f: r for f, r in got.items() if not isinstance(r, str)}
    # DRAM bytes grow with the storage bits (elements and scales) of the format, among the
    # formats one kernel runs (a GPU's int5-7 bit-plane kernel re-reads its planes)
    by_kernel: dict[str, list[str]] = {}
    for f, r in ran.items():
        by_kernel.setdefault(str(r.layers["tiling"].iloc[0]).split(" ")[0], []).append(f)
    for fmts in by_kernel.values():
        order = sorted(fmts, key=lambda f: stored_bytes(BUILD[kind](f)))
        for a, b in zip(order, order[1:], strict=False):
            if stored_bytes(BUILD[kind](a)) < stored_bytes(BUILD[kind](b)):
                assert ran[a].dram_read_bytes <= ran[b].dram_read_bytes, (a, b)
                assert ran[a].compulsory_dram_bytes < ran[b].compulsory_dram_bytes, (a, b)
    return got


EXPECTED_UNIT = {"ternary": "ternary_array", "pow2": "shift_array"}
# no array of lowp_float_edge multiplies these: 9-16-bit integers, fp32 / tf32
CHIP_REFUSES = ({f"{s}int{b}" for s in ("", "u") for b in range(9, 17)} | {"fp32", "tf32"})


@pytest.mark.parametrize("kind", ["gemm", "conv"])
def test_every_format_on_the_float_and_multiplication_free_chip(kind: str) -> None:
    got = check_runs_and_refusals("lowp_float_edge", kind)
    refused = {f for f, r in got.items() if isinstance(r, str)}
    assert refused == CHIP_REFUSES
    for fmt in refused:
        msg = got[fmt]
        assert isinstance(msg, str)
        bits = formats.get(fmt).bits
        assert f"{bits}-bit weights and {bits}-bit activations" in msg, msg
        # the error names every array and what it runs
        for unit in ("ternary_array", "shift_array", "mx_array", "lmul_array"):
            assert unit in msg, msg
        assert "float_precisions [8, 16]" in msg and "precisions [8]" in msg, msg
    for fmt, res in got.items():
        if isinstance(res, str):
            continue
        assert set(res.layers["unit"]) == {EXPECTED_UNIT.get(fmt, "mx_array")}, fmt


def test_the_float_formats_run_pinned_on_the_lmul_array_at_the_same_speed() -> None:
    """The L-Mul array is the mx_array's schedule with an adder in place of the float
    multiplier: same cycles, less MAC energy (docs/low_precision_units.md)."""
    hw = pysim.load_hardware(CHIP)
    for fmt in ("bf16", "fp16", "fp8_e4m3", "fp6_e3m2", "fp4_e2m1", "mxfp8_e4m3", "mxfp4"):
        exact = pysim.simulate(hw, gemm(fmt))
        lmul = pysim.simulate(hw, gemm(fmt, unit="lmul_array"))
        assert set(lmul.layers["unit"]) == {"lmul_array"}
        assert lmul.latency_s == exact.latency_s, fmt
        # the multiplier goes, the fp32 accumulate stays: -52 % at 16 bits, less at 8; the
        # mx_array adds an MX block's products in fixed point (block_scales: datapath), which
        # L-Mul's fp32 add per product does not beat
        if fmt.startswith("mx"):
            assert lmul.energy_breakdown_j["mac"] > exact.energy_breakdown_j["mac"], fmt
            continue
        assert lmul.energy_breakdown_j["mac"] < exact.energy_breakdown_j["mac"], fmt
        if formats.get(fmt).bits == 16:
            assert lmul.energy_breakdown_j["mac"] < 0.6 * exact.energy_breakdown_j["mac"], fmt
    with pytest.raises(pysim.WorkloadError, match=r"pinned to unit 'lmul_array'.*float ops "
                                                   r"only"):
        pysim.simulate(hw, gemm("int8", unit="lmul_array"))


def test_mx_block_scales_are_applied_in_the_datapath() -> None:
    """mx_array's ``block_scales: datapath``: an MX weight's scales cost no vector work, NF4's
    fp32 absmax scales do (the vector unit multiplies each block's partial sums)."""
    hw = pysim.load_hardware(CHIP)
    mx = pysim.simulate(hw, gemm("mxfp4"))
    nf4 = pysim.simulate(hw, gemm("nf4"))
    assert mx.layers["vector_ops"].iloc[0] == 0
    assert nf4.layers["vector_ops"].iloc[0] == M * N * (K // 64)


@pytest.mark.parametrize("target", GPUS)
@pytest.mark.parametrize("kind", ["gemm", "conv"])
def test_every_format_on_gpu_presets(target: str, kind: str) -> None:
    got = check_runs_and_refusals(target, kind)
    h = gpu.preset(target)
    dtypes = set(h.supported_dtypes())
    for fmt, res in got.items():
        f = formats.get(fmt)
        if isinstance(res, str):
            # a GPU refusal names the op's formats and the GPU's dtypes
            assert fmt in res and h.full_name in res, res
            assert ", ".join(h.supported_dtypes()) in res, res
            continue
        if fmt == "nf4":
            raise AssertionError("nf4 activations must be refused")
        assert set(res.layers["unit"]) == {"tensor_cores"}, fmt
        # what ran is a dtype the GPU has
        tiling = res.layers["tiling"].iloc[0]
        assert tiling.split()[0] in dtypes or "b1" in tiling or "int8" in tiling, (fmt, tiling)
        assert f.bits <= 32
    # nf4 as an activation format is refused on every GPU
    assert isinstance(got["nf4"], str) and "act_format nf4" in got["nf4"]
    # the formats whose MMA dtype the GPU has run
    # (16-bit floats run on the fp16 MMAs, as pysim.gpu.dtypes.for_operands maps them: bf16
    # on a V100 too, which has no bf16 MMA)
    for fmt, dtype in (("fp16", "fp16"), ("bf16", "fp16"), ("fp8_e4m3", "fp8_e4m3"),
                       ("mxfp8_e4m3", "fp8_e4m3"), ("fp6_e2m3", "fp6_e2m3"),
                       ("mxfp6_e3m2", "fp6_e2m3"), ("fp4_e2m1", "fp4_e2m1"),
                       ("mxfp4", "fp4_e2m1"), ("int8", "int8"), ("mxint8", "int8"),
                       ("int4", "int4")):
        if dtype in dtypes:
            assert not isinstance(got[fmt], str), (fmt, got[fmt])
        else:
            assert isinstance(got[fmt], str), fmt


# -- NF4 on GPUs: a weight format dequantized to bf16 in the main loop -------------------------


def nf4_gemm(act: str, m: int = 16, n: int = 4096, k: int = 4096) -> pysim.Workload:
    return workload_from_dict({
        "name": "nf4", "inputs": [{"name": "x", "shape": [m, k], "format": act}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m, "n": n, "k": k,
                 "weight_format": "nf4", "act_format": act}]})


def int4_gemm() -> pysim.Workload:
    return workload_from_dict({
        "name": "w4", "inputs": [{"name": "x", "shape": [16, 4096], "format": "bf16"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 16, "n": 4096,
                 "k": 4096, "weight_format": "int4", "act_format": "bf16"}]})


@pytest.mark.parametrize("target", GPUS)
def test_nf4_weights_run_as_a_weight_only_gemm_on_bf16_mmas(target: str) -> None:
    """QLoRA / bitsandbytes: NF4 codes looked up and scaled to bf16 in the GEMM's main loop,
    then a bf16 MMA (fp16 on a GPU without bf16): the kernel is the W4A16 one, reading 4-bit
    weights and their fp32 absmax per 64, never the fp4 e2m1 MMAs."""
    from pysim.gpu.kernels import mac_kernel

    h = gpu.preset(target)
    want = "bf16" if "bf16" in h.supported_dtypes() else "fp16"
    wl = nf4_gemm("bf16")
    k = mac_kernel(h, wl.ops[0])
    assert k.tiling.startswith(f"{want} w4 "), k.tiling
    assert "fp4_e2m1" not in k.tiling
    res = pysim.simulate(h, wl)
    op = wl.ops[0]
    assert res.dram_read_bytes >= op.input_bytes + op.weight_bytes
    assert op.weight_bytes == 4096 * 4096 // 2 + 4096 // 64 * 4096 * 4  # codes + fp32 absmax
    # the same W4A16 kernel as int4 weights, plus the fp32 scales' 0.5 bit per weight
    int4 = pysim.simulate(h, int4_gemm())
    assert res.dram_read_bytes - int4.dram_read_bytes == pytest.approx(4096 // 64 * 4096 * 4,
                                                                        rel=0.01)
    assert int4.latency_s < res.latency_s < 1.1 * int4.latency_s
    # the MMA multiplies bf16 values: priced as a bf16 x bf16 MAC (8-bit exponents, 7-bit
    # mantissas), not a 4-bit one
    hw = h.hardware
    table = hw.energy_table
    bf16 = (8, 7)
    assert hw.units[0].mac_pj(table, op) == pytest.approx(
        table.float_mult_pj(bf16, bf16) + table.add_pj(32, "fp"))
    assert hw.units[0].mac_pj(table, int4_op := int4_gemm().ops[0]) == table.mac_pj(
        int4_op.weight_bits, 16, "fp")


def test_nf4_on_b200_does_not_use_the_fp4_tensor_cores() -> None:
    h = gpu.preset("b200")
    nf4 = pysim.simulate(h, nf4_gemm("bf16", m=4096))
    fp4 = pysim.simulate(h, workload_from_dict({
        "name": "fp4", "inputs": [{"name": "x", "shape": [4096, 4096], "format": "fp4_e2m1"}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 4096, "n": 4096,
                 "k": 4096, "weight_format": "fp4_e2m1", "act_format": "fp4_e2m1"}]}))
    # compute-bound: bf16 MMAs are 4x slower than fp4 ones on Blackwell
    assert nf4.latency_s > 3 * fp4.latency_s
    assert nf4.layers["tiling"].iloc[0].startswith("bf16 w4 ")


@pytest.mark.parametrize(("weight", "act", "match"), [
    ("nf4", "nf4", r"^op 'fc': act_format nf4 is a 16-value code book that no tensor core "
                   r"multiplies; NF4 is a weight format .*; NVIDIA A100 SXM4 80 GB supports "
                   r"fp16, bf16, tf32, int8, int4, b1$"),
    ("bf16", "nf4", r"^op 'fc': act_format nf4 is a 16-value code book"),
    ("nf4", "fp8_e4m3", r"^op 'fc': weight_format nf4 is dequantized to bf16 / fp16 .* but "
                        r"the activations are 8-bit fp8_e4m3; NVIDIA A100"),
])
def test_nf4_activations_are_refused_in_one_line(weight: str, act: str, match: str) -> None:
    wl = workload_from_dict({
        "name": "bad", "inputs": [{"name": "x", "shape": [16, 128], "format": act}],
        "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": 16, "n": 64, "k": 128,
                 "weight_format": weight, "act_format": act}]})
    with pytest.raises(pysim.WorkloadError, match=match) as err:
        pysim.simulate(gpu.preset("a100"), wl)
    assert "\n" not in str(err.value)
