"""EcoFormer's hashed attention (pysim/formats/ecoformer.py): the functional reference equals
its quadratic form bit for bit and the formula in floats; the workload transform's ops, bytes
and MACs; mixed-width matmuls through the units; bad input."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import zoo
from pysim.errors import WorkloadError
from pysim.formats.ecoformer import hash_attention, hashed_attention, kernel_hash
from pysim.workload import Matmul, Workload

CONFIGS = Path(__file__).resolve().parent.parent / "configs"


def _codes(rng: np.random.Generator, n: int, b: int) -> np.ndarray:
    return rng.choice(np.array([-1, 1], dtype=np.int8), size=(n, b))


@settings(max_examples=40, deadline=None)
@given(st.integers(1, 24), st.integers(1, 40), st.integers(1, 17), st.integers(1, 9),
       st.integers(0, 2**31 - 1))
def test_linear_form_equals_quadratic_form_bit_for_bit(n: int, m: int, b: int, d: int,
                                                       seed: int) -> None:
    rng = np.random.default_rng(seed)
    hq, hk = _codes(rng, n, b), _codes(rng, m, b)
    v = rng.integers(-128, 128, size=(m, d), dtype=np.int8)
    got = hashed_attention(hq, hk, v)
    s = hq.astype(np.int64) @ hk.T.astype(np.int64) + (b + 1)  # the explicit similarity
    assert np.array_equal(got.num, s @ v.astype(np.int64))
    assert np.array_equal(got.den, s.sum(axis=1))
    assert np.array_equal(got.kv, hk.T.astype(np.int64) @ v.astype(np.int64))
    assert np.array_equal(got.ksum, hk.astype(np.int64).sum(axis=0))
    assert s.min() >= 1  # offset b + 1: every similarity positive
    # the formula: softmax-free attention with weights S / rowsum(S)
    np.testing.assert_allclose(got.out, (s / s.sum(axis=1, keepdims=True)) @ v, rtol=1e-12,
                               atol=1e-9)  # an exact 0 against float rounding


def test_plain_form_is_the_issue_formula() -> None:
    rng = np.random.default_rng(0)
    v = rng.integers(-5, 6, size=(10, 3))
    hq = _codes(rng, 6, 8)
    hk = np.repeat(hq[:1], 10, axis=0)  # every key agrees with query 0: its den = 8 x 10
    hq[1:] = hq[0]  # and so does every query: positive denominators without an offset
    got = hashed_attention(hq, hk, v, offset=0)
    num = hq.astype(np.int64) @ (hk.T.astype(np.int64) @ v)
    den = hq.astype(np.int64) @ (hk.T.astype(np.int64) @ np.ones(10, dtype=np.int64))
    assert np.array_equal(got.num, num) and np.array_equal(got.den, den)
    np.testing.assert_allclose(got.out, num / den[:, None])


def test_kernel_hash_matches_an_explicit_loop() -> None:
    rng = np.random.default_rng(1)
    x, a, proj = rng.normal(size=(7, 5)), rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    codes = kernel_hash(x, a, proj, sigma=2.0)
    for i in range(7):
        k = [math.exp(-sum((x[i, j] - a[r, j]) ** 2 for j in range(5)) / 4.0) for r in range(4)]
        for c in range(3):
            y = sum(k[r] * proj[r, c] for r in range(4))
            assert codes[i, c] == (1 if y > 0 else -1)
    assert codes.dtype == np.int8


@pytest.mark.parametrize("bad", [
    dict(hq=np.zeros((2, 3)), msg="hq must be"),
    dict(v=np.ones((4, 2), dtype=np.float32), msg="v must be a 2-D integer"),
    dict(offset=-1, msg="offset must be"),
    dict(offset=True, msg="offset must be"),
])
def test_reference_bad_input(bad: dict) -> None:
    args = dict(hq=np.ones((2, 3), dtype=np.int8), hk=np.ones((4, 3), dtype=np.int8),
                v=np.ones((4, 2), dtype=np.int8))
    msg = bad.pop("msg")
    args.update(bad)
    with pytest.raises(ValueError, match=msg):
        hashed_attention(**args)


def test_negative_similarity_sum_is_refused() -> None:
    with pytest.raises(ValueError, match=r"den\[0\]"):
        hashed_attention(np.ones((1, 2), np.int8), -np.ones((3, 2), np.int8),
                         np.ones((3, 1), np.int8), offset=0)


# -- the workload transform -------------------------------------------------------------------


def test_transform_replaces_every_softmax_attention() -> None:
    wl = zoo.load("bert_base", seq_len=128)
    h = hash_attention(wl, bits=16, anchors=25)
    types = [o.type for o in h.ops]
    assert "softmax" not in types and types.count("row_divide") == 12
    ops = {o.name: o for o in h.ops}
    kv, qs = ops["layer0.context.kv"], ops["layer0.context.qs"]
    assert kv.input_bits() == (1, 8) and qs.input_bits() == (1, 8)
    assert kv.macs == 12 * 16 * 128 * 64 and qs.macs == 12 * 128 * 16 * 65
    codes = h.tensors["layer0.context.hash_k.codes"]
    assert codes.bits == 1 and codes.bytes == 12 * 128 * 16 // 8  # 8 codes a byte
    assert ops["layer0.context.hash_q.codes"].vector_work() == 12 * 128 * 16  # one sign each
    # the context keeps its name and consumers; the graph's weights gain the hash's
    assert h.tensors["layer0.context"].bits == 8 and "layer0.attn_out" in h.consumers[
        "layer0.context"]
    assert h.tensors["layer0.context.hash.anchors"].shape == (12, 64, 25)


def test_shared_qk_is_hashed_once_and_runs_on_a_mixed_width_array() -> None:
    g = zoo._builder.GraphBuilder("shared")
    x = g.input("x", (1, 64, 32))
    qk = g.gemm(x, "qk", 32)
    v = g.gemm(x, "v", 32)
    s = g.matmul(qk, qk, "scores", (1, 1), 64, 64, 32)
    s = g.softmax(s, "softmax", 64, 64)
    g.matmul(s, v, "context", (1, 1), 64, 32, 64)
    h = hash_attention(g.build(), bits=8, anchors=0)
    names = {o.name for o in h.ops}
    assert "context.hash_k.codes" in names and "context.hash_q.codes" not in names
    hw = pysim.load_hardware(CONFIGS / "lowp_edge.yaml")
    res = pysim.simulate(hw, h)
    assert res.energy_j > 0
    units = dict(zip(res.layers["op"], res.layers["unit"], strict=True))
    assert units["context.kv"] in ("int8_array", "bitserial_array")


def test_select_pricing_on_arrays_that_declare_one_bit() -> None:
    import yaml

    from pysim.config.loader import hardware_from_dict

    with open(CONFIGS / "edge_npu.yaml") as f:
        data = yaml.safe_load(f)
    data["units"][0]["precisions"] = [1, 8]
    unit = hardware_from_dict(data, "x").units[0]
    table = hardware_from_dict(data, "x").energy_table
    op = Matmul(name="kv", inputs=("a", "b"), m=16, n=32, k=64, act_bits=1, b_bits=8)
    assert unit.mac_pj(table, op) == pytest.approx(table.sign_select_pj(8) + table.add_pj(32))
    wide = Matmul(name="w", inputs=("a", "b"), m=16, n=32, k=64, act_bits=1, b_bits=16)
    assert not unit.supports(wide)  # B wider than the array's 8 bits


@pytest.mark.parametrize("kwargs, field", [
    (dict(bits=0), "bits"), (dict(bits=257), "bits"), (dict(bits=16.0), "bits"),
    (dict(bits=True), "bits"), (dict(anchors=-1), "anchors"), (dict(anchors="25"), "anchors"),
    (dict(ops=["nope"]), "ops"), (dict(ops="layer0.query"), "ops"),
])
def test_transform_bad_input_names_the_field(kwargs: dict, field: str) -> None:
    wl = zoo.load("bert_base", seq_len=16)
    with pytest.raises(WorkloadError, match=rf"^{field}") as err:
        hash_attention(wl, **kwargs)
    assert "\n" not in str(err.value)


def test_workloads_it_cannot_hash() -> None:
    with pytest.raises(WorkloadError, match="no softmax attention"):
        hash_attention(zoo.load("resnet18"))
    causal = Workload(name="c", inputs=({"name": "q", "shape": (1, 8, 64)},
                                        {"name": "k", "shape": (1, 8, 64)},
                                        {"name": "v", "shape": (1, 8, 64)}),
                      ops=({"type": "attention", "name": "a", "inputs": ["q", "k", "v"],
                            "heads": 2, "q_len": 8, "kv_len": 8, "head_dim": 32,
                            "causal": True},))
    with pytest.raises(WorkloadError, match="causal"):
        hash_attention(causal, ops=["a"])
    fp16 = zoo.load("bert_base", seq_len=16)
    data = fp16.to_dict()
    for op in data["ops"]:
        op.update(dtype="float", act_bits=16, weight_bits=16)
    for t in data["inputs"]:
        t.update(dtype="float", bits=16)
    with pytest.raises(WorkloadError, match="allowed: int"):
        hash_attention(pysim.workload.workload_from_dict(data), ops=["layer0.scores"])
