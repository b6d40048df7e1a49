"""Monarch layers (pysim.training.monarch): the NumPy reference against the explicit dense
matrix, parameter and MAC counts, the training graph's backward of the rewritten layer against
NumPy's chain rule, and bad input."""

from __future__ import annotations

import numpy as np
import pytest

import pysim
from pysim import training
from pysim.training.graph import build_training_graph
from pysim.training.monarch import monarch_dense, monarch_matmul, monarchize, params
from pysim.workload import Copy, Elementwise, Gemm, Matmul, Workload

SHAPES = [(8, 8, 2), (16, 16, 4), (12, 24, 4), (24, 12, 3), (6, 6, 1), (9, 9, 9)]


def mlp(m: int = 4, k: int = 8, h: int = 16, n: int = 8, bias: bool = True) -> Workload:
    return Workload("mlp", [
        Gemm(name="fc1", inputs=("x",), m=m, k=k, n=h, bias=bias),
        Elementwise(name="relu", op="relu", inputs=("fc1",), shape=(m, h)),
        Gemm(name="fc2", inputs=("relu",), m=m, k=h, n=n, bias=bias),
    ], [{"name": "x", "shape": (m, k), "bits": 8}])


def factors(k: int, n: int, b: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    q = min(k, n) // b
    return rng.standard_normal((b, k // b, q)), rng.standard_normal((b, q, n // b))


# -- the functional reference ---------------------------------------------------------------

@pytest.mark.parametrize("k,n,b", SHAPES)
def test_monarch_matmul_equals_x_times_the_dense_matrix(k, n, b):
    r, lb = factors(k, n, b)
    x = np.random.default_rng(1).standard_normal((5, k))
    # float64, O(k) terms of O(1): 1e-12 relative is a few hundred ulps
    np.testing.assert_allclose(monarch_matmul(x, r, lb), x @ monarch_dense(r, lb),
                               rtol=1e-12, atol=1e-12)


def test_one_block_is_the_plain_product_and_square_params_are_2n2_over_b():
    r, lb = factors(8, 8, 1)
    np.testing.assert_allclose(monarch_dense(r, lb), r[0] @ lb[0], rtol=1e-12)
    assert params(768, 768, 4) == 2 * 768**2 // 4
    assert params(768, 3072, 4) == 192 * (768 + 3072)  # fly's MonarchLinear(768, 3072, 4)


def test_a_monarch_matrix_is_not_block_diagonal():
    """The permutation mixes the blocks: every output depends on every input (b^2 <= n)."""
    r, lb = factors(16, 16, 4)
    assert np.count_nonzero(monarch_dense(r, lb)) == 16 * 16


# -- the rewrite: shapes, parameters, MACs ----------------------------------------------------

def test_monarchize_counts_and_ops():
    wl = mlp(m=32, k=64, h=64, n=64)
    mw = monarchize(wl, blocks=4)
    assert mw.macs == 2 * (32 * 2 * 64**2 // 4)  # two square layers, 2 m n^2 / b each
    weights = {t.name: t.shape for t in mw.inputs if t.role == "weight"}
    assert weights == {"fc1_monarch_r.weight": (4, 16, 16), "fc1_monarch_l.weight": (4, 16, 16),
                       "fc2_monarch_r.weight": (4, 16, 16), "fc2_monarch_l.weight": (4, 16, 16)}
    names = [op.name for op in mw.ops]
    assert names[:5] == ["fc1_monarch_r", "fc1_monarch_p", "fc1_monarch_l", "fc1_monarch_pout",
                         "fc1_bias"]
    r = mw.op("fc1_monarch_r")
    assert isinstance(r, Matmul) and r.gemm_view() == (4, 32, 16, 16)
    p = mw.op("fc1_monarch_p")
    assert isinstance(p, Copy) and p.mode == "permute" and p.vector_work() == 4 * 32 * 16
    # the layer's output keeps its name: the relu still reads "fc1"
    assert mw.op("fc1_bias").output == "fc1" and mw.op("relu").inputs == ("fc1",)
    view = monarchize(wl, blocks=4, permutations="view", ops="fc2")
    assert "fc2_monarch_p" not in [o.name for o in view.ops]
    assert "fc2_monarch_pout" in [o.name for o in view.ops] and view.op("fc1").type == "gemm"


def test_rectangular_layer_follows_fly():
    mw = monarchize(mlp(m=8, k=8, h=32, n=8, bias=False), blocks=4, ops=["fc*"])
    assert mw.op("fc1_monarch_r").gemm_view() == (4, 8, 2, 2)  # (b, m, k/b) @ (b, k/b, q)
    assert mw.op("fc1_monarch_l").gemm_view() == (4, 8, 8, 2)  # (b, m, q) @ (b, q, n/b)
    assert mw.op("fc1_monarch_pout").output == "fc1"
    assert mw.macs == 8 * params(8, 32, 4) + 8 * params(32, 8, 4)


# -- training: backward of the rewritten layer ------------------------------------------------

def graph(wl: Workload, **kw):
    return build_training_graph(wl, training.get_recipe("fp32"), {},
                                training.get_optimizer("adam"), **kw)


def test_training_step_is_3x_forward_macs_and_updates_the_factors():
    mw = monarchize(mlp(), blocks=2)
    g = graph(mw, input_grads=True)
    assert g.workload.macs == 3 * mw.macs
    assert g.params["fc1_monarch_r.weight"] == 2 * 4 * 4
    assert g.params["fc1_monarch_l.weight"] == 2 * 4 * 8
    roles = {o.name: o.role for o in g.ops}
    assert roles["fc1_monarch_r.dB"] == roles["fc1_monarch_l.dB"] == "dW"
    assert roles["fc1_monarch_p.d0"] == "vector_backward"  # the adjoint permutation
    assert {"fc1_monarch_r.weight", "fc2_monarch_l.weight"} <= set(g.update_grads)


def test_backward_shapes_and_values_match_numpy_chain_rule():
    """The graph's backward ops (adjoint permutations, dA = dY B^T, dB = A^T dY per block)
    have the shapes of NumPy's chain rule, and that chain rule, run in NumPy, gives the exact
    gradients of X M (dX = dY W^T; dR, dL against central differences: the loss is linear in
    each factor, so they agree to rounding)."""
    m, k, n, b = 4, 8, 16, 2
    wl = Workload("one", [Gemm(name="fc", inputs=("x",), m=m, k=k, n=n)],
                  [{"name": "x", "shape": (m, k), "bits": 8}])
    g = graph(monarchize(wl, blocks=b), input_grads=True)
    r, lb = factors(k, n, b)
    rng = np.random.default_rng(2)
    x, gy = rng.standard_normal((m, k)), rng.standard_normal((m, n))
    p, q, s = k // b, min(k, n) // b, n // b
    # NumPy backward, op by op in reverse: pout, L, P, R
    d_out2 = gy.reshape(m, s, b).transpose(2, 0, 1)                      # pout^T: (b, m, s)
    out1 = np.einsum("mbp,bpq->bmq", x.reshape(m, b, p), r)
    mid = out1.transpose(1, 0, 2).reshape(m, q, b).transpose(2, 0, 1)  # (b, m, q)
    d_mid = np.einsum("bms,bqs->bmq", d_out2, lb)                       # dA = dY B^T
    d_l = np.einsum("bmq,bms->bqs", mid, d_out2)                        # dB = A^T dY
    d_out1 = d_mid.transpose(1, 2, 0).reshape(m, b, q).transpose(1, 0, 2)  # P^T
    d_x = np.einsum("bmq,bpq->mbp", d_out1, r).reshape(m, k)
    d_r = np.einsum("mbp,bmq->bpq", x.reshape(m, b, p), d_out1)
    shapes = {o.name: o.output_shape for o in g.workload.ops}
    assert shapes["fc_monarch_pout.d0"] == (b, m, s) == d_out2.shape
    assert shapes["fc_monarch_l.dA"] == d_mid.shape and shapes["fc_monarch_l.dB"] == d_l.shape
    assert shapes["fc_monarch_p.d0"] == d_out1.shape
    assert shapes["fc_monarch_r.dB"] == d_r.shape == r.shape
    assert np.prod(shapes["fc_monarch_r.dA"]) == d_x.size
    np.testing.assert_allclose(d_x, gy @ monarch_dense(r, lb).T, rtol=1e-12, atol=1e-12)

    def loss(rr: np.ndarray, ll: np.ndarray) -> float:
        return float(np.sum(gy * monarch_matmul(x, rr, ll)))

    for grad, which in ((d_r, 0), (d_l, 1)):
        num = np.zeros_like(grad)
        for idx in np.ndindex(grad.shape):
            e = np.zeros_like(grad)
            e[idx] = 0.5
            if which == 0:
                num[idx] = loss(r + e, lb) - loss(r - e, lb)
            else:
                num[idx] = loss(r, lb + e) - loss(r, lb - e)
        np.testing.assert_allclose(grad, num, rtol=1e-9, atol=1e-9)


def test_training_step_runs_on_a_gpu_preset():
    wl = pysim.zoo.load("gpt2", batch=1, seq_len=128)
    mw = monarchize(wl, 4, ops=["h*.fc", "h*.proj"])
    dense = training.step(pysim.gpu.preset("a100"), wl, "adamw", "mixed_fp16")
    mon = training.step(pysim.gpu.preset("a100"), mw, "adamw", "mixed_fp16")
    saved = 12 * 2 * (768 * 3072 - 192 * (768 + 3072))
    biases = 12 * (3072 + 768)  # the Monarch form adds them as add_const: not parameters
    assert sum(dense.graph.params.values()) - sum(mon.graph.params.values()) == saved + biases
    assert mon.macs == 3 * mw.macs  # every MAC op reads a computed tensor (ln_1 first)
    assert mon.latency_s > 0


# -- bad input -------------------------------------------------------------------------------

@pytest.mark.parametrize("blocks,words", [
    (0, "blocks must be an integer >= 1, got 0"),
    (-2, "got -2"),
    (2.5, "got 2.5"),
    ("4", "got '4'"),
    (True, "got True"),
    (3, "layer 'fc1': blocks must divide its k = 8, got 3"),
    (16, "layer 'fc1': blocks must divide its k = 8, got 16"),
])
def test_bad_blocks_are_one_line_errors(blocks, words):
    with pytest.raises(pysim.WorkloadError) as err:
        monarchize(mlp(), blocks=blocks)
    assert words in str(err.value) and "\n" not in str(err.value)


def test_bad_ops_and_permutations():
    with pytest.raises(pysim.WorkloadError, match="'attn' matches no gemm layer.*fc1, fc2"):
        monarchize(mlp(), ops=["attn"])
    with pytest.raises(pysim.WorkloadError, match="permutations must be one of"):
        monarchize(mlp(), permutations="free")  # type: ignore[arg-type]
    with pytest.raises(pysim.WorkloadError, match="layer 'lm_head': blocks must divide its "
                       "n = 50257, got 4; allowed: a divisor of both k = 768 and n = 50257"):
        monarchize(pysim.zoo.load("gpt2", batch=1, seq_len=8), 4)


def test_permute_copy_moves_as_many_elements_as_it_reads():
    with pytest.raises(ValueError, match="a permute writes exactly the 12 elements"):
        Copy(name="p", inputs=("x",), mode="permute", shapes=((3, 4),), out_shape=(2, 4))
