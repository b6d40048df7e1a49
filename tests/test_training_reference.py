"""The training graph's backward against a NumPy reference written from the math (issue 15:
"transposed shapes checked against NumPy autograd on tiny layers ... bit-exact in int,
toleranced in float").

For each op a float64 NumPy forward and backward is written from the chain rule, and checked
by central finite differences (tolerance: 1e-6 relative in float64). Each reference also
counts what it computes: the GEMMs it runs (shapes and MACs), the elementary vector ops per
element (each add, subtract, multiply, compare or select one op, no fused multiply-add: the
convention pysim.workload.LayerNorm counts its forward in) and the tensors it keeps from the
forward. pysim's training graph (pysim.training.graph.build_training_graph) of the same tiny
layer must derive exactly those: GEMM views (count, m, n, k) and MACs, col2im adds, vector
work and saved tensors. The integer path (the ``int8`` recipe: int8 dX and dW GEMMs,
accumulated in int32) is checked bit for bit against NumPy's int64 matmul.

Where the graph disagreed with the reference it was fixed (pysim/training/graph.py): layer
norm's dX counted 9 per element (the reference: 10) and its dgamma / dbeta 2 (5); batch norm's
dgamma / dbeta counted about 8 per element (4 per input element of both dY and X: 5), its dX 5
(6) and its statistics 2 (3); max pooling's backward read only X, from which the argmax mask
cannot be formed without the window's max (now X and Y saved, 2 per window tap)."""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pytest

from pysim import training
from pysim.training.graph import build_training_graph
from pysim.training.ops import VectorWork, WeightGrad
from pysim.workload import Conv2d, Elementwise, Gemm, Workload
from pysim.workload.vector_ops import LayerNorm, Pool, Softmax

RTOL = 1e-6  # finite differences against the analytic gradient, float64
EPS = 1e-6


def graph(wl: Workload, recipe: str = "fp32", **kw):
    return build_training_graph(wl, training.get_recipe(recipe), {},
                                training.get_optimizer("sgd"), input_grads=True, **kw)


def ops(g) -> dict:
    return {o.name: o for o in g.workload.ops}


def numeric_grad(f: Callable[[np.ndarray], float], x: np.ndarray) -> np.ndarray:
    """Central differences of the scalar ``f`` at ``x``."""
    grad = np.zeros_like(x)
    flat, gflat = x.reshape(-1), grad.reshape(-1)
    for i in range(flat.size):
        keep = flat[i]
        flat[i] = keep + EPS
        up = f(x)
        flat[i] = keep - EPS
        down = f(x)
        flat[i] = keep
        gflat[i] = (up - down) / (2 * EPS)
    return grad


def close(analytic: np.ndarray, numeric: np.ndarray) -> None:
    scale = max(1.0, float(np.abs(numeric).max()))
    np.testing.assert_allclose(analytic, numeric, rtol=RTOL, atol=RTOL * scale)


RNG = np.random.default_rng(15)


# -- GEMM: linear / matmul -------------------------------------------------------------------

def linear_ref(x, w, bias, dy):
    """Y = X W + b; dX = dY W^T, dW = X^T dY, db = column sums of dY (M x N adds)."""
    return dy @ w.T, x.T @ dy, dy.sum(0)


def test_linear_backward_matches_finite_differences_and_the_graph():
    m, k, n = 4, 6, 5
    x, w, b, r = RNG.normal(size=(m, k)), RNG.normal(size=(k, n)), RNG.normal(size=n), \
        RNG.normal(size=(m, n))
    loss = lambda x_, w_, b_: float(((x_ @ w_ + b_) * r).sum())  # noqa: E731  dL/dY = r
    dx, dw, db = linear_ref(x, w, b, r)
    close(dx, numeric_grad(lambda v: loss(v, w, b), x))
    close(dw, numeric_grad(lambda v: loss(x, v, b), w))
    close(db, numeric_grad(lambda v: loss(x, w, v), b))
    g = graph(Workload("lin", [Gemm(name="fc", inputs=("x",), m=m, k=k, n=n, bias=True)],
                       [{"name": "x", "shape": (m, k), "bits": 8}]))
    o = ops(g)
    # dX = dY (M x N) @ W^T (N x K); dW = X^T (K x M) @ dY (M x N): NumPy's shapes and MACs
    assert o["fc.dX"].gemm_view() == (1, m, k, n) and o["fc.dX"].output_shape == dx.shape
    assert o["fc.dW"].gemm_view() == (1, k, n, m)
    assert o["fc.dX"].macs == o["fc.dW"].macs == dx.size * n == dw.size * m == m * k * n
    # the bias gradient rides on the dW GEMM, which reads dY as it is: written after dW
    assert o["fc.dW"].output_shape == np.vstack([dw, db]).shape
    assert o["fc.dW"].bias_grad_work() == r.size  # one add per dY element
    assert o["fc.dW"].bias_grad_bytes() == db.size * 4  # fp32 weight gradients
    assert "fc.dbias" not in o
    assert set(g.saved) == {"x"}  # dW needs X; dX needs W (a parameter, not an activation)
    # where the dW GEMM reads dY cast (fp8: E5M2 gradients), the bias gradient is a reduction
    # of its own over the unrounded dY
    o8 = ops(graph(Workload("lin", [Gemm(name="fc", inputs=("x",), m=m, k=k, n=n, bias=True)],
                            [{"name": "x", "shape": (m, k), "bits": 8}]), "fp8"))
    assert not o8["fc.dW"].bias and o8["fc.dW"].output_shape == dw.shape
    assert o8["fc.dbias"].vector_work() == r.size and o8["fc.dbias"].output_shape == db.shape
    assert o8["fc.dbias"].inputs == (o8["fc.dX"].inputs[0].split(".to_")[0],)


def test_batched_matmul_backward_against_numpy():
    from pysim.workload import Matmul

    a, bb, r = RNG.normal(size=(2, 3, 4)), RNG.normal(size=(2, 4, 5)), RNG.normal(size=(2, 3, 5))
    loss = lambda a_, b_: float(((a_ @ b_) * r).sum())  # noqa: E731
    da, db = r @ bb.transpose(0, 2, 1), a.transpose(0, 2, 1) @ r
    close(da, numeric_grad(lambda v: loss(v, bb), a))
    close(db, numeric_grad(lambda v: loss(a, v), bb))
    wl = Workload("mm", [Matmul(name="mm", inputs=("a", "b"), batch=(2,), m=3, k=4, n=5)],
                  [{"name": "a", "shape": (2, 3, 4), "bits": 8},
                   {"name": "b", "shape": (2, 4, 5), "bits": 8}])
    o = ops(graph(wl))
    assert o["mm.dA"].gemm_view() == (2, 3, 4, 5) and o["mm.dA"].macs == da.size * 5
    assert o["mm.dB"].gemm_view() == (2, 4, 5, 3) and o["mm.dB"].macs == db.size * 3


# -- convolution via im2col ------------------------------------------------------------------

def im2col(x, kh, kw, stride, pad):
    b, h, w, c = x.shape
    xp = np.pad(x, ((0, 0), (pad, pad), (pad, pad), (0, 0)))
    oh, ow = (h + 2 * pad - kh) // stride + 1, (w + 2 * pad - kw) // stride + 1
    cols = np.empty((b, oh, ow, kh, kw, c))
    for i in range(oh):
        for j in range(ow):
            cols[:, i, j] = xp[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :]
    return cols.reshape(b * oh * ow, kh * kw * c), (oh, ow)


def col2im(cols, x_shape, kh, kw, stride, pad, oh, ow):
    """Scatter-add every column element into the padded dX, then crop: one add per column
    element (``adds``)."""
    b, h, w, c = x_shape
    out = np.zeros((b, h + 2 * pad, w + 2 * pad, c))
    cols = cols.reshape(b, oh, ow, kh, kw, c)
    adds = 0
    for i in range(oh):
        for j in range(ow):
            out[:, i * stride:i * stride + kh, j * stride:j * stride + kw, :] += cols[:, i, j]
            adds += cols[:, i, j].size
    return out[:, pad:pad + h, pad:pad + w, :], adds


def conv_ref(x, w, dy, stride, pad):
    """Y = im2col(X) W (W: KH*KW*IC x OC); dcols = dY W^T; dX = col2im(dcols);
    dW = im2col(X)^T dY."""
    kh, kw = w.shape[:2]
    wm = w.reshape(-1, w.shape[-1])
    cols, (oh, ow) = im2col(x, kh, kw, stride, pad)
    dym = dy.reshape(-1, wm.shape[1])
    dx, adds = col2im(dym @ wm.T, x.shape, kh, kw, stride, pad, oh, ow)
    return dx, (cols.T @ dym).reshape(w.shape), adds, cols


def conv_fwd(x, w, stride, pad):
    kh, kw = w.shape[:2]
    cols, (oh, ow) = im2col(x, kh, kw, stride, pad)
    return (cols @ w.reshape(-1, w.shape[-1])).reshape(x.shape[0], oh, ow, w.shape[-1])


@pytest.mark.parametrize("stride,pad", [(2, 1), (1, 1), (1, 0)])
def test_conv_backward_via_im2col_matches_finite_differences_and_the_graph(stride, pad):
    b, h, c, oc, k = 2, 5, 3, 4, 3
    x, w = RNG.normal(size=(b, h, h, c)), RNG.normal(size=(k, k, c, oc))
    y = conv_fwd(x, w, stride, pad)
    r = RNG.normal(size=y.shape)
    loss = lambda x_, w_: float((conv_fwd(x_, w_, stride, pad) * r).sum())  # noqa: E731
    dx, dw, adds, cols = conv_ref(x, w, r, stride, pad)
    close(dx, numeric_grad(lambda v: loss(v, w), x))
    close(dw, numeric_grad(lambda v: loss(x, v), w))
    conv = Conv2d(name="conv", inputs=("x",), batch=b, in_h=h, in_w=h, in_c=c, out_c=oc,
                  kernel=k, stride=stride, padding=pad)
    g = graph(Workload("c", [conv], [{"name": "x", "shape": x.shape, "bits": 8}]))
    o = ops(g)
    m, kk, n = cols.shape[0], cols.shape[1], oc  # the forward GEMM: (M x K) @ (K x N)
    assert conv.gemm_view() == (1, m, n, kk) and conv.macs == m * kk * n
    # dW = im2col(X)^T (K x M) @ dY (M x N), the patches gathered from the saved X
    assert isinstance(o["conv.dW"], WeightGrad)
    assert o["conv.dW"].gemm_view() == (1, kk, n, m) and o["conv.dW"].macs == m * kk * n
    assert o["conv.dW"].inputs[0] == "x" and "x" in g.saved
    assert math.prod(o["conv.dW"].output_shape) == dw.size
    if "conv.dX.cols" in o:  # GEMM form dY W^T (M x N @ N x K), then col2im
        assert o["conv.dX.cols"].gemm_view() == (1, m, kk, n)
        assert o["conv.dX.cols"].macs == m * kk * n
        assert isinstance(o["conv.dX"], VectorWork)
        assert o["conv.dX"].vector_work() == adds == m * kk  # one add per column element
    else:  # stride-1 'same': the transposed convolution, the flipped kernel over dY
        assert (stride, pad) == (1, 1)
        t = o["conv.dX"]
        assert isinstance(t, Conv2d) and t.padding == (k - 1 - pad,) * 2
        assert (t.in_c, t.out_c, t.stride) == (oc, c, (1, 1))
        assert t.macs == m * kk * n
        flipped = w[::-1, ::-1].transpose(0, 1, 3, 2)  # (KH, KW, OC, IC)
        np.testing.assert_allclose(conv_fwd(r, flipped, 1, k - 1 - pad), dx, rtol=1e-12,
                                   atol=1e-12)
    assert o["conv.dX"].output_shape == dx.shape
    assert g.macs("dX") == g.macs("dW") == conv.macs


# -- vector ops ------------------------------------------------------------------------------

def layernorm_ref(x, gamma, beta, dy):
    """Forward keeps X, mean and rstd (PyTorch's saved tensors); the backward forms xhat again.
    Counts per element: dX 10 (xhat 2, g = dY gamma 1, sums of g and g xhat 3, then
    rstd (g - m1 - xhat m2) 4) and 2 per row (the two means); dgamma / dbeta 5 (xhat 2,
    dY xhat 1, two column sums 2)."""
    n = x.shape[1]
    mu = x.mean(1, keepdims=True)
    rstd = 1 / np.sqrt(((x - mu) ** 2).mean(1, keepdims=True) + 1e-5)
    xhat = (x - mu) * rstd
    g = dy * gamma
    m1, m2 = g.sum(1, keepdims=True) / n, (g * xhat).sum(1, keepdims=True) / n
    dx = rstd * (g - m1 - xhat * m2)
    return dx, (dy * xhat).sum(0), dy.sum(0), {"dx_per_element": 10, "dx_per_row": 2,
                                               "dgamma_per_element": 5}


def test_layernorm_backward():
    rows, cols = 3, 6
    x, r = RNG.normal(size=(rows, cols)), RNG.normal(size=(rows, cols))
    gamma, beta = RNG.normal(size=cols), RNG.normal(size=cols)

    def fwd(x_, g_, b_):
        mu = x_.mean(1, keepdims=True)
        return (x_ - mu) / np.sqrt(((x_ - mu) ** 2).mean(1, keepdims=True) + 1e-5) * g_ + b_

    loss = lambda x_, g_, b_: float((fwd(x_, g_, b_) * r).sum())  # noqa: E731
    dx, dgamma, dbeta, count = layernorm_ref(x, gamma, beta, r)
    close(dx, numeric_grad(lambda v: loss(v, gamma, beta), x))
    close(dgamma, numeric_grad(lambda v: loss(x, v, beta), gamma))
    close(dbeta, numeric_grad(lambda v: loss(x, gamma, v), beta))
    wl = Workload("ln", [LayerNorm(name="ln", inputs=("x",), rows=rows, cols=cols)],
                  [{"name": "x", "shape": (rows, cols), "bits": 8}])
    g = graph(wl)
    o = ops(g)
    assert o["ln.d0"].vector_work() == count["dx_per_element"] * x.size + \
        count["dx_per_row"] * rows
    assert set(o["ln.d0"].inputs) >= {"x"}  # reads the saved X
    assert o["ln.dgamma"].vector_work() == count["dgamma_per_element"] * x.size
    assert o["ln.dgamma"].output_shape == (2, cols)  # dgamma and dbeta
    # saved: X and the per-row mean and rstd in fp32
    assert set(g.saved) == {"x", "ln.stats"} and g.saved["ln.stats"] == 2 * rows * 4


def rmsnorm_ref(x, gamma, dy):
    """RMS norm y = x r gamma, r = (mean(x^2) + eps)^-1/2; forward keeps X and r. Counts per
    element: dX 7 (xhat 1, g = dY gamma 1, g xhat and its row sum 2, xhat m 1, subtract 1,
    scale by r 1) and 1 per row (the mean); dgamma 3 (xhat, dY xhat, the column sum)."""
    n = x.shape[1]
    r = 1 / np.sqrt((x ** 2).mean(1, keepdims=True) + 1e-5)
    xhat = x * r
    g = dy * gamma
    m = (g * xhat).sum(1, keepdims=True) / n
    dx = r * (g - xhat * m)
    return dx, (dy * xhat).sum(0), {"dx_per_element": 7, "dx_per_row": 1,
                                    "dgamma_per_element": 3}


def test_rmsnorm_backward():
    rows, cols = 3, 6
    x, r = RNG.normal(size=(rows, cols)), RNG.normal(size=(rows, cols))
    gamma = RNG.normal(size=cols)

    def fwd(x_, g_):
        return x_ / np.sqrt((x_ ** 2).mean(1, keepdims=True) + 1e-5) * g_

    loss = lambda x_, g_: float((fwd(x_, g_) * r).sum())  # noqa: E731
    dx, dgamma, count = rmsnorm_ref(x, gamma, r)
    close(dx, numeric_grad(lambda v: loss(v, gamma), x))
    close(dgamma, numeric_grad(lambda v: loss(x, v), gamma))
    norm = LayerNorm(name="ln", inputs=("x",), rows=rows, cols=cols, rms=True)
    assert norm.vector_work() == 4 * x.size + 2 * rows  # square, sum, scale, gamma; mean, rsqrt
    assert norm.weight_tensors()[0].shape == (1, cols)  # gamma only
    wl = Workload("rms", [norm], [{"name": "x", "shape": (rows, cols), "bits": 8}])
    g = graph(wl)
    o = ops(g)
    assert o["ln.d0"].vector_work() == count["dx_per_element"] * x.size + \
        count["dx_per_row"] * rows
    assert o["ln.dgamma"].vector_work() == count["dgamma_per_element"] * x.size
    assert o["ln.dgamma"].output_shape == (1, cols)  # dgamma alone
    assert g.params["ln"] == cols
    # saved: X and the per-row r in fp32
    assert set(g.saved) == {"x", "ln.stats"} and g.saved["ln.stats"] == rows * 4


def softmax_ce_ref(z, labels):
    """Softmax cross-entropy: forward max (compare), subtract, exp, sum, divide (5 per
    element), backward p - onehot (1): 6 per element; dL/dz = p - onehot."""
    p = np.exp(z - z.max(1, keepdims=True))
    p /= p.sum(1, keepdims=True)
    onehot = np.eye(z.shape[1])[labels]
    return p - onehot, 6


def softmax_ref(y, dy):
    """dX = Y (dY - rowsum(dY Y)): dY Y (1), the row sum (1), subtract (1), multiply by Y (1);
    Y is the tensor it keeps."""
    return y * (dy - (dy * y).sum(1, keepdims=True)), 4


def test_softmax_and_cross_entropy_backward():
    rows, cols, n = 4, 5, 3
    x = RNG.normal(size=(rows, cols))
    w = RNG.normal(size=(cols, n))
    labels = np.array([0, 2, 1, 2])

    def softmax(v):
        e = np.exp(v - v.max(1, keepdims=True))
        return e / e.sum(1, keepdims=True)

    def loss(x_):
        z = softmax(x_) @ w
        return float(-(np.log(softmax(z))[np.arange(rows), labels]).sum())

    def ce(z):
        return float(-(np.log(softmax(z))[np.arange(rows), labels]).sum())

    y = softmax(x)
    dz, loss_count = softmax_ce_ref(y @ w, labels)
    close(dz, numeric_grad(ce, y @ w))
    dx, sm_count = softmax_ref(y, dz @ w.T)
    close(dx, numeric_grad(loss, x))
    wl = Workload("sm", [Softmax(name="sm", inputs=("x",), rows=rows, cols=cols),
                         Gemm(name="fc", inputs=("sm",), m=rows, k=cols, n=n)],
                  [{"name": "x", "shape": (rows, cols), "bits": 8}])
    g = graph(wl)
    o = ops(g)
    assert o["loss.fc"].vector_work() == loss_count * dz.size
    assert o["sm.d0"].vector_work() == sm_count * x.size
    assert "sm" in o["sm.d0"].inputs and "sm" in g.saved  # Y kept for the backward


def test_relu_and_residual_add_backward():
    m, k = 3, 4
    x, w, r = RNG.normal(size=(m, k)), RNG.normal(size=(k, k)), RNG.normal(size=(m, k))

    def loss(x_):  # h = x W; out = h + relu(h)
        h = x_ @ w
        return float(((h + np.maximum(h, 0)) * r).sum())

    h = x @ w
    y = np.maximum(h, 0)
    d_relu = np.where(y > 0, r, 0.0)  # compare Y > 0 (1), select (1): 2 per element, Y kept
    dh = r + d_relu  # the residual's two contributions summed: 1 per element
    close(dh @ w.T, numeric_grad(loss, x))
    wl = Workload("res", [Gemm(name="fc", inputs=("x",), m=m, k=k, n=k),
                          Elementwise(name="relu", op="relu", inputs=("fc",), shape=(m, k)),
                          Elementwise(name="add", op="add", inputs=("fc", "relu"),
                                      shape=(m, k))],
                  [{"name": "x", "shape": (m, k), "bits": 8}])
    g = graph(wl)
    o = ops(g)
    assert o["relu.d0"].vector_work() == 2 * y.size and "relu" in o["relu.d0"].inputs
    assert "relu" in g.saved
    assert o["grad.fc"].vector_work() == dh.size  # dY of the add + relu's gradient
    assert not any(n.startswith("add.d") for n in o)  # add passes dY on: no op


def pool_ref(x, k, mode, dy):
    """Non-overlapping k x k pooling. max: the argmax mask (X == the window's max Y), dX = mask
    * dY: compare and select per window tap, 2; avg: dX = dY / k^2 per tap, 1."""
    b, h, w, c = x.shape
    win = x.reshape(b, h // k, k, w // k, k, c)
    if mode == "max":
        y = win.max((2, 4))
        mask = win == y[:, :, None, :, None, :]
        dx = (mask * dy[:, :, None, :, None, :]).reshape(x.shape)
        return dx, 2
    dx = np.broadcast_to(dy[:, :, None, :, None, :] / (k * k), win.shape).reshape(x.shape)
    return dx, 1


@pytest.mark.parametrize("mode", ["max", "avg"])
def test_pool_backward(mode):
    b, h, c, k = 2, 4, 3, 2
    x = RNG.normal(size=(b, h, h, c))
    r = RNG.normal(size=(b, h // k, h // k, c))

    def fwd(x_):
        win = x_.reshape(b, h // k, k, h // k, k, c)
        return win.max((2, 4)) if mode == "max" else win.mean((2, 4))

    dx, per_tap = pool_ref(x, k, mode, r)
    close(dx, numeric_grad(lambda v: float((fwd(v) * r).sum()), x))
    pool = Pool(name="pool", inputs=("x",), mode=mode, batch=b, in_h=h, in_w=h, channels=c,
                kernel=k)
    g = graph(Workload("p", [pool], [{"name": "x", "shape": x.shape, "bits": 8}]))
    o = ops(g)
    assert o["pool.d0"].vector_work() == per_tap * x.size  # windows x taps = X's elements
    assert o["pool.d0"].output_shape == dx.shape
    if mode == "max":  # the mask is formed again from X and the window's max Y
        assert {"x", "pool"} <= set(o["pool.d0"].inputs) and {"x", "pool"} == set(g.saved)
    else:
        assert g.saved == {}


def batchnorm_ref(x, gamma, dy):
    """Training batch norm over (N, H, W) per channel. Forward: per-channel sum, square, sum
    of squares (3 per element), then X scale + shift (2). Backward: dbeta = sum dY,
    dgamma = sum dY xhat (xhat 2, multiply 1, two sums 2: 5 per element); dX = rstd gamma
    (dY - dbeta / n - xhat dgamma / n): xhat 2, subtract, multiply, subtract, scale: 6."""
    axes = (0, 1, 2)
    n = x.size // x.shape[-1]
    mu = x.mean(axes)
    rstd = 1 / np.sqrt(x.var(axes) + 1e-5)
    xhat = (x - mu) * rstd
    dbeta, dgamma = dy.sum(axes), (dy * xhat).sum(axes)
    dx = rstd * gamma * (dy - dbeta / n - xhat * dgamma / n)
    return dx, dgamma, dbeta, {"stats": 3, "dgamma": 5, "dx": 6}


def test_batchnorm_training_backward():
    b, h, c = 2, 3, 4
    x, r = RNG.normal(size=(b, h, h, c)), RNG.normal(size=(b, h, h, c))
    gamma, beta = RNG.normal(size=c), RNG.normal(size=c)

    def fwd(x_, g_, b_):
        mu = x_.mean((0, 1, 2))
        return (x_ - mu) / np.sqrt(x_.var((0, 1, 2)) + 1e-5) * g_ + b_

    loss = lambda x_, g_, b_: float((fwd(x_, g_, b_) * r).sum())  # noqa: E731
    dx, dgamma, dbeta, count = batchnorm_ref(x, gamma, r)
    close(dx, numeric_grad(lambda v: loss(v, gamma, beta), x))
    close(dgamma, numeric_grad(lambda v: loss(x, v, beta), gamma))
    close(dbeta, numeric_grad(lambda v: loss(x, gamma, v), beta))
    wl = Workload("bn", [Elementwise(name="bn", op="batchnorm", inputs=("x",),
                                     shape=x.shape)],
                  [{"name": "x", "shape": x.shape, "bits": 8}])
    g = graph(wl)
    o = ops(g)
    assert o["bn.stats"].vector_work() == count["stats"] * x.size
    assert o["bn"].vector_work() == 2 * x.size
    assert o["bn.dgamma"].vector_work() == count["dgamma"] * x.size
    assert o["bn.d0"].vector_work() == count["dx"] * x.size
    assert {"x", "bn.stats"} == set(g.saved)  # X and the per-channel statistics
    assert g.params["bn"] == gamma.size + beta.size


# -- the integer path: bit-exact -------------------------------------------------------------

def test_int8_gemm_path_is_bit_exact_against_int64():
    """The ``int8`` recipe runs dX and dW as int8 x int8 GEMMs (accumulated in int32, as int8
    tensor cores and systolic arrays do). For the graph's shapes, int32 accumulation of int8
    operands equals NumPy's int64 matmul bit for bit (|sum| <= K 128^2 < 2^31 for K < 2^17)."""
    m, k, n = 16, 64, 32
    wl = Workload("lin", [Gemm(name="fc1", inputs=("x",), m=m, k=k, n=n),
                          Elementwise(name="relu", op="relu", inputs=("fc1",), shape=(m, n)),
                          Gemm(name="fc2", inputs=("relu",), m=m, k=n, n=n)],
                  [{"name": "x", "shape": (m, k), "bits": 8}])
    g = graph(wl, "int8")
    o = ops(g)
    info = {t.name: t for t in g.ops}
    for name in ("fc1.dX", "fc1.dW", "fc2.dX", "fc2.dW"):
        assert (o[name].dtype, o[name].act_bits) == ("int", 8), name
        assert info[name].format == "int8"
    rng = np.random.default_rng(8)
    for name in ("fc1.dX", "fc1.dW", "fc2.dX", "fc2.dW"):
        _, mm, nn, kk = o[name].gemm_view()
        assert kk * 128 * 128 < 2**31  # no int32 overflow is possible
        a = rng.integers(-128, 128, size=(mm, kk), dtype=np.int8)
        bm = rng.integers(-128, 128, size=(kk, nn), dtype=np.int8)
        acc32 = np.zeros((mm, nn), dtype=np.int32)
        for j in range(kk):  # the MAC array's order: one rank-1 update per step of K
            acc32 += a[:, j:j + 1].astype(np.int32) * bm[j:j + 1, :].astype(np.int32)
        exact = a.astype(np.int64) @ bm.astype(np.int64)
        assert np.array_equal(acc32.astype(np.int64), exact), name
    # dX = dY W^T and dW = X^T dY on integers: the chain rule holds exactly
    x = rng.integers(-8, 8, size=(m, k)).astype(np.int64)
    w = rng.integers(-8, 8, size=(k, n)).astype(np.int64)
    r = rng.integers(-8, 8, size=(m, n)).astype(np.int64)
    dx, dw = r @ w.T, x.T @ r
    for i, j in ((0, 0), (3, 5), (m - 1, k - 1)):  # dL/dx_ij = L(x + e_ij) - L(x), L linear
        e = np.zeros_like(x)
        e[i, j] = 1
        assert int((((x + e) @ w) * r).sum() - ((x @ w) * r).sum()) == dx[i, j]
    for i, j in ((0, 0), (k - 1, n - 1)):
        e = np.zeros_like(w)
        e[i, j] = 1
        assert int(((x @ (w + e)) * r).sum() - ((x @ w) * r).sum()) == dw[i, j]
    assert o["fc1.dW"].gemm_view() == (1, *dw.shape, m)
