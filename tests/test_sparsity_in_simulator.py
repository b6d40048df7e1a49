"""Sparsity through pysim.simulate: storage formats, gating, skipping, and the zoo models."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim.mapping.sparsity import effective_k, mac_energy_factor, weight_storage_ratio
from pysim.workload import workload_from_dict
from pysim.workload.sparsity import Sparsity, sparsify

ROOT = Path(__file__).resolve().parent.parent


def gemm(m: int = 64, n: int = 256, k: int = 512):
    return workload_from_dict({"name": "g", "inputs": [{"name": "x", "shape": [m, k]}],
                               "ops": [{"name": "fc", "type": "gemm", "inputs": ["x"], "m": m,
                                        "n": n, "k": k}]})


@pytest.fixture(scope="module")
def edge() -> pysim.Hardware:
    return pysim.load_hardware(ROOT / "configs" / "edge_npu.yaml")


def unit(edge: pysim.Hardware, mode: str):
    return edge.with_overrides({"units.0.sparsity": mode}).units[0]


def test_nm_skipping_shrinks_k_like_scalesim(edge: pysim.Hardware) -> None:
    op = sparsify(gemm(), weights="2:4").ops[0]
    assert effective_k(op, unit(edge, "skipping"), 512, 32) == 256
    assert effective_k(op, unit(edge, "gating"), 512, 32) == 512  # gating: energy only
    op = sparsify(gemm(), weights="1:4").ops[0]
    assert effective_k(op, unit(edge, "skipping"), 512, 32) == 128


def test_unstructured_skipping_pays_load_imbalance(edge: pysim.Hardware) -> None:
    op = sparsify(gemm(), weights=0.2).ops[0]
    k_eff = effective_k(op, unit(edge, "skipping"), 512, 32)
    assert 512 * 0.2 < k_eff < 512  # the busiest of 32 columns sets the pace
    z = math.sqrt(2 * math.log(32))
    assert k_eff == math.ceil(512 * 0.2 + z * math.sqrt(512 * 0.2 * 0.8))


def test_real_mask_load_imbalance_uses_the_busiest_column(edge: pysim.Hardware) -> None:
    mask = np.zeros((512, 64), dtype=bool)
    mask[:, ::2] = np.random.default_rng(0).random((512, 32)) < 0.1
    mask[:128, 1::2] = True  # odd columns: 25 % dense, each group of 32 holds one
    sp = Sparsity.from_mask(mask)
    op = sparsify(gemm(n=64), weights=sp).ops[0]
    assert effective_k(op, unit(edge, "skipping"), 512, 32) == 128
    with pytest.raises(pysim.WorkloadError, match="mask has 64 columns"):
        sparsify(gemm(n=32), weights=sp)


def test_storage_and_energy_factors(edge: pysim.Hardware) -> None:
    op = sparsify(gemm(), weights="2:4", activations=0.5).ops[0]
    assert weight_storage_ratio(op, unit(edge, "none")) == 1.0
    ratio = weight_storage_ratio(op, unit(edge, "skipping"))
    # 2:4 keeps half the values plus 2 bits of metadata per kept 8-bit value
    assert ratio == pytest.approx((0.5 * 8 + 0.5 * 2) / 8)
    assert mac_energy_factor(op, unit(edge, "gating")) == pytest.approx(0.25)
    assert mac_energy_factor(op, unit(edge, "none")) == 1.0


@pytest.mark.parametrize("mode", ["gating", "skipping"])
def test_sparse_weights_never_cost_more(edge: pysim.Hardware, mode: str) -> None:
    hw = edge.with_overrides({"units.0.sparsity": mode})
    dense = pysim.simulate(hw, pysim.zoo.load("resnet18"))
    for density in (0.5, 0.2, 0.1):
        sp = pysim.simulate(hw, pysim.zoo.load("resnet18", sparsity=density))
        assert sp.energy_j < dense.energy_j
        assert sp.latency_cycles <= dense.latency_cycles
        assert sp.dram_bytes < dense.dram_bytes
        dense = sp  # sparser is cheaper still


def test_sparse_zoo_models(edge: pysim.Hardware) -> None:
    bert = pysim.zoo.load("bert_base", seq_len=32, sparsity="2:4")
    weighted = [op for op in bert.ops if op.weight_tensors() and op.gemm_view() is not None]
    assert weighted and all(op.weight_sparsity.pattern == "nm" for op in weighted)
    llama = pysim.zoo.load("llama2_7b", seq_len=8, sparsity="2:4")
    assert any(op.weight_sparsity is not None for op in llama.ops)
    hw = edge.with_overrides({"units.0.sparsity": "skipping"})
    assert pysim.simulate(hw, bert).latency_cycles < pysim.simulate(
        hw, pysim.zoo.load("bert_base", seq_len=32)).latency_cycles


@pytest.mark.parametrize("spec, match", [
    ("4:2", "n < m"), (1.5, "less than or equal to 1"), (0, "greater than 0"), ("x", "sparsity"),
])
def test_bad_sparsity(spec, match) -> None:
    with pytest.raises(pysim.WorkloadError, match=match):
        pysim.zoo.load("gemm", m=8, n=8, k=8, sparsity=spec)


# -- activations crossing DRAM compressed (dram.compress_activations) ---------------------------


def _rle(density: float) -> Sparsity:
    return Sparsity(density=density, format="rle", run_bits=5)


def test_activation_ratio_is_the_rle_footprint_and_never_above_dense() -> None:
    from pysim.mapping.sparsity import activation_storage_ratio
    from pysim.sparse import footprint

    sp = _rle(0.25)
    want = footprint(shape=(1, 4096 * 4 * 4), density=0.25, format="rle", value_bits=16,
                     run_bits=5)
    assert activation_storage_ratio(sp, 16, True) == pytest.approx(
        want.total_bytes / want.dense_bytes)
    # 16-bit value + 5-bit run per nonzero: about 21 / 16 x density
    assert activation_storage_ratio(sp, 16, True) == pytest.approx(0.25 * 21 / 16, rel=0.02)
    assert activation_storage_ratio(_rle(0.9999), 16, True) == 1.0  # codec bypassed
    assert activation_storage_ratio(sp, 16, False) == 1.0  # no codec
    assert activation_storage_ratio(None, 16, True) == 1.0


def conv_layer(act: Sparsity | None = None, out: Sparsity | None = None):
    op = {"name": "c", "type": "conv2d", "inputs": ["x"], "batch": 2, "in_h": 28, "in_w": 28,
          "in_c": 64, "out_c": 64, "kernel": 3, "padding": 1, "weight_bits": 16,
          "act_bits": 16, "act_sparsity": act, "out_sparsity": out}
    return workload_from_dict({"name": "c", "inputs": [{"name": "x", "shape": [2, 28, 28, 64],
                                                        "bits": 16}], "ops": [op]})


@pytest.mark.parametrize("dataflow", ["ws", "rs"])
def test_compressed_activations_cut_dram_bytes_by_their_footprint(
        edge: pysim.Hardware, dataflow: str) -> None:
    hw = edge.with_overrides({"units.0.dataflow": dataflow, "units.0.precisions": [16]})
    codec = hw.with_overrides({"dram.compress_activations": True})
    dense = pysim.simulate(codec, conv_layer())
    plain = pysim.simulate(hw, conv_layer(_rle(0.3), _rle(0.4)))
    packed = pysim.simulate(codec, conv_layer(_rle(0.3), _rle(0.4)))
    assert plain.dram_bytes == dense.dram_bytes  # sparsity alone moves nothing less
    assert packed.dram_write_bytes < 0.6 * dense.dram_write_bytes  # 0.4 x 21 / 16 = 0.53
    assert packed.dram_read_bytes < dense.dram_read_bytes
    assert packed.compulsory_dram_bytes < dense.compulsory_dram_bytes
    assert packed.dram_bytes >= packed.compulsory_dram_bytes
    # the weights stay dense: what the reads save is at most the input's share
    w = conv_layer().ops[0].weight_bytes
    assert packed.dram_read_bytes >= w


@settings(max_examples=25, deadline=None, derandomize=True)
@given(d_in=st.floats(0.05, 1.0), d_out=st.floats(0.05, 1.0), denser=st.floats(0.0, 0.5),
       dataflow=st.sampled_from(["ws", "rs"]))
def test_a_codec_never_moves_more_and_denser_activations_never_less(
        edge: pysim.Hardware, d_in: float, d_out: float, denser: float, dataflow: str) -> None:
    hw = edge.with_overrides({"units.0.dataflow": dataflow, "units.0.precisions": [16]})
    codec = hw.with_overrides({"dram.compress_activations": True})
    sparse = conv_layer(_rle(d_in), _rle(d_out))
    dense_more = conv_layer(_rle(min(1.0, d_in + denser)), _rle(min(1.0, d_out + denser)))
    off, on = pysim.simulate(hw, sparse), pysim.simulate(codec, sparse)
    assert on.dram_bytes <= off.dram_bytes
    assert pysim.simulate(codec, dense_more).dram_bytes >= on.dram_bytes
    assert on.dram_bytes >= on.compulsory_dram_bytes


def test_compressed_weights_are_compulsory_at_their_compressed_size(edge: pysim.Hardware) -> None:
    """A 2:4 weight a skipping array reads compressed is stored so: its first read is the
    compressed bytes (it was counted dense: 131,072 B "compulsory" against 81,920 read, a
    negative non-compulsory share)."""
    wl = sparsify(gemm(), weights="2:4")
    dense_w = 512 * 256
    for mode in ("skipping", "gating"):
        res = pysim.simulate(edge.with_overrides({"units.0.sparsity": mode}), wl)
        w = res.tensors.set_index("tensor").loc["fc.weight"]
        ratio = weight_storage_ratio(wl.ops[0], unit(edge, mode))
        assert w["compulsory_bytes"] == math.ceil(ratio * dense_w) < dense_w
        assert w["non_compulsory_bytes"] >= 0
        assert res.dram_read_bytes + res.dram_write_bytes >= res.compulsory_dram_bytes
    res = pysim.simulate(edge, wl)  # no sparsity support: stored and read dense
    assert res.tensors.set_index("tensor").loc["fc.weight", "compulsory_bytes"] == dense_w


def test_a_pattern_the_weight_cannot_take_is_refused_naming_the_op(edge: pysim.Hardware) -> None:
    wl = sparsify(gemm(m=4, n=2, k=8), weights="2:4")
    with pytest.raises(pysim.WorkloadError) as err:
        pysim.simulate(edge.with_overrides({"units.0.sparsity": "skipping"}), wl)
    msg = str(err.value)
    assert "\n" not in msg and "op 'fc'" in msg and "8 x 2 (K x N)" in msg, msg
    assert "multiple of m = 4" in msg
