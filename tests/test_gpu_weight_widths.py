"""Operand storage widths in the GPU GEMM model (issue 12): weight-only quantization (W4A16 /
W8A16, as AWQ / GPTQ / Marlin kernels run it) reads the weights at their own width, adds the
fp16 group scales, and pays the main-loop dequantization on the CUDA cores."""

from __future__ import annotations

import pytest

import pysim
from pysim import gpu
from pysim.workload import workload_from_dict

A100 = gpu.preset("a100")
# LLaMA-2-7B decode GEMMs (one token): q/k/v/o 4096 x 4096, up / gate 4096 -> 11008, down.
DECODE = [(4096, 4096), (11008, 4096), (4096, 11008)]


@pytest.mark.parametrize(("n", "k"), DECODE)
def test_w4a16_decode_reads_a_quarter_of_the_weights_and_is_faster(n: int, k: int) -> None:
    fp16 = A100.gemm_cost(1, n, k, "fp16")
    w4 = A100.gemm_cost(1, n, k, "fp16", b_bits=4, b_group=128)
    assert fp16.bound == "hbm"
    weights16, weights4, scales = n * k * 2, n * k // 2, (k // 128) * n * 2
    # fp16 reads its weights once (plus the 1 x K activation row)
    assert weights16 <= fp16.hbm_read_bytes < weights16 * 1.01
    # W4A16: a quarter of the weight bytes plus the scales (split-K partials on top)
    assert weights4 + scales <= w4.hbm_read_bytes < (weights4 + scales) * 1.1
    assert fp16.hbm_read_bytes / w4.hbm_read_bytes > 3.4
    # The kernels' main loops: >= 2.5x (the W4A16 one is bound by MMA + dequant on the SMs,
    # just above its HBM time); whole kernels (4 us launch, split-K pass): >= 1.4x.
    assert fp16.mainloop_s / w4.mainloop_s >= 2.5
    assert fp16.time_s / w4.time_s >= 1.4
    assert w4.dequant_s > 0 and fp16.dequant_s == 0


def test_w4a16_decode_figures() -> None:
    """The figures the docs quote (A100, M = 1, group 128)."""
    got = []
    for n, k in DECODE:
        f = A100.gemm_cost(1, n, k, "fp16")
        w = A100.gemm_cost(1, n, k, "fp16", b_bits=4, b_group=128)
        got.append((round(f.time_s * 1e6, 1), round(w.time_s * 1e6, 1)))
    # (fp16 23.3, 55.6, 55.7 before loads fetched only A's in-bounds row of its 16-row tile)
    assert got == [(23.2, 14.0), (55.5, 21.5), (55.5, 23.6)]


@pytest.mark.parametrize("m", [2048, 4096, 8192])
def test_large_m_w4a16_pays_the_dequantization(m: int) -> None:
    fp16 = A100.gemm_cost(m, 4096, 4096, "fp16")
    w4 = A100.gemm_cost(m, 4096, 4096, "fp16", b_bits=4, b_group=128)
    # compute-bound: MMA + dequant (128 x 32 B elements x 2 ops / 64 lanes = 128 cycles per
    # k-block next to 512 MMA cycles of a 128 x 128 x 32 tile) -> 12-16 % slower
    assert w4.bound == "compute"
    assert 1.10 < w4.time_s / fp16.time_s < 1.20
    assert w4.hbm_read_bytes < fp16.hbm_read_bytes


def test_defaults_and_full_width_are_unchanged() -> None:
    base = A100.gemm_cost(4096, 4096, 4096, "fp16").to_dict()
    assert base == A100.gemm_cost(4096, 4096, 4096, "fp16", a_bits=16, b_bits=16).to_dict()
    assert base == A100.gemm_cost(4096, 4096, 4096, "fp16", a_bits=None, b_bits=None,
                                  b_group=None).to_dict()
    # int8 stored at 8 bits in an int8 MMA: nothing to dequantize
    c = A100.gemm_cost(512, 512, 512, "int8", b_bits=8)
    assert c.to_dict() == A100.gemm_cost(512, 512, 512, "int8").to_dict()


def test_narrow_a_and_b_on_every_architecture_match_the_reference() -> None:
    for name in ("v100", "a100", "h100", "rtx4090", "b200"):
        p = gpu.preset(name).replace(sms=4)
        q = {"a_bits": 8, "b_bits": 4, "b_group": 64}
        closed = p.gemm_cost(100, 300, 700, "fp16", **q)
        stepped = p.simulate_gemm(100, 300, 700, "fp16", **q)
        c, s = closed.to_dict(), stepped.to_dict()
        assert c.keys() == s.keys()
        for key, value in c.items():
            assert s[key] == (value if isinstance(value, str) else pytest.approx(value,
                                                                                 rel=1e-12))


def test_fp32_lanes_set_the_dequant_rate() -> None:
    """Same tile and k-blocks: Hopper's 128 lanes per SM dequantize at twice Ampere's rate."""
    tile = (128, 128, 64, 1)
    a = gpu.preset("a100").replace(sms=1)
    h = gpu.preset("h100").replace(sms=1, boost_clock_mhz=a.boost_clock_mhz)
    da = a.gemm_cost(128, 128, 4096, "fp16", b_bits=4, tile=tile).dequant_s
    dh = h.gemm_cost(128, 128, 4096, "fp16", b_bits=4, tile=tile).dequant_s
    assert da == pytest.approx(2 * dh)
    # 128 x 64 elements x 2 ops / 64 lanes = 256 cycles per k-block, 64 k-blocks
    assert da == pytest.approx(256 * 64 / (a.boost_clock_mhz * 1e6))


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"b_bits": 32}, "b_bits=32 is wider than the fp16 MMA input"),
        ({"a_bits": 32}, "a_bits=32 is wider"),
        ({"b_bits": 3}, "b_bits must be 0 .* or one of 1, 2, 4, 8, 16, 32, got 3"),
        ({"a_bits": 6}, "a_bits must be"),
        ({"b_bits": 0}, "b_bits must be a positive integer or None"),
        ({"b_bits": 4.0}, "b_bits must be a positive integer or None"),
        ({"b_bits": 4, "b_group": 48}, "b_group must be 0 .*, a power of two in 16..65536 or K"),
        ({"b_bits": 4, "b_group": 8}, "b_group must be"),
        ({"b_group": 128}, "b_group=128 needs b_bits below the fp16 MMA input width"),
        ({"b_bits": 16, "b_group": 128}, "b_group=128 needs b_bits below"),
    ],
)
def test_bad_widths_and_groups_raise_value_error(kwargs: dict, match: str) -> None:
    with pytest.raises(ValueError, match=match):
        A100.gemm_cost(64, 4096, 4096, "fp16", **kwargs)
    with pytest.raises(ValueError, match=match):
        A100.simulate_gemm(16, 64, 256, "fp16", **kwargs)


def test_fp6_keeps_its_own_width_and_per_channel_group_is_k() -> None:
    b200 = gpu.preset("b200")
    assert b200.gemm_cost(256, 256, 1024, "fp6_e2m3", b_bits=6).to_dict() == \
        b200.gemm_cost(256, 256, 1024, "fp6_e2m3").to_dict()
    c = A100.gemm_cost(1, 4096, 11008, "fp16", b_bits=4, b_group=11008)
    assert c.hbm_read_bytes < A100.gemm_cost(1, 4096, 11008, "fp16", b_bits=4,
                                             b_group=128).hbm_read_bytes


def w4a16(n: int, k: int, quant: dict | None) -> object:
    op = {"name": "fc", "type": "gemm", "inputs": ["x"], "m": 1, "n": n, "k": k,
          "weight_bits": 4, "act_bits": 16, "dtype": "float"}
    if quant is not None:
        op["quant"] = quant
    return workload_from_dict({
        "name": "w4", "inputs": [{"name": "x", "shape": [1, k], "bits": 16, "dtype": "float"}],
        "ops": [op]})


@pytest.mark.parametrize(
    ("quant", "group"),
    [(None, None), ({"granularity": "group", "group_size": 128}, 128),
     ({"granularity": "channel"}, 4096), ({"granularity": "tensor"}, None)],
)
def test_simulate_runs_w4a16_as_fp16_mmas_on_4_bit_weights(quant: dict | None,
                                                           group: int | None) -> None:
    res = pysim.simulate(A100, w4a16(4096, 4096, quant))
    want = A100.gemm_cost(1, 4096, 4096, "fp16", b_bits=4, b_group=group)
    assert res.dram_read_bytes == want.hbm_read_bytes
    assert res.latency_s == pytest.approx(want.time_s, abs=1 / res.clock_hz)
    assert res.layers["tiling"].iloc[0].startswith("fp16 w4 CTA")
    fp16 = A100.gemm_cost(1, 4096, 4096, "fp16")
    assert res.dram_read_bytes < fp16.hbm_read_bytes / 3
