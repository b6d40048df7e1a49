"""LLM.int8() (Dettmers, Lewis, Belkada, Zettlemoyer, NeurIPS 2022, "LLM.int8(): 8-bit Matrix
Multiplication for Transformers at Scale", arXiv:2208.07339): vector-wise int8 quantization
with a mixed-precision decomposition. The columns of X (hidden dimension K) that hold a value
of magnitude >= ``threshold`` (6.0 in the paper) run as a 16-bit product with the matching rows
of W; the rest as an int8 product with one absmax scale per row of X and per column of W, its
int32 result scaled back by their outer product, and the two summed (the paper's Eq. 3; its
abstract: "more than 99.9 % of values are multiplied in 8-bit").

    llm_int8_matmul(x, w, threshold)     the decomposition in NumPy (int8 part through
                                         pysim.kernels.gemm, int32 accumulate)
    error_bound(x, w, threshold)         the element-wise bound its result keeps to x @ w
    decompose(wl, outlier_fraction, ...) a workload with each 16-bit float linear layer
                                         rewritten into the decomposition's kernels

W is held in int8 only (with its fp32 column scales), as bitsandbytes' inference mode
(``has_fp16_weights=False``) stores it: the outlier rows of the 16-bit product are W's int8
rows converted to 16 bits, and W's column scale multiplies both products' sum.
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pysim.errors import WorkloadError
from pysim.kernels import gemm as int_gemm
from pysim.workload import (
    Copy,
    DequantAdd,
    Elementwise,
    Matmul,
    Op,
    Reduce,
    RowQuantize,
    Tensor,
    Workload,
)

__all__ = ["Int8Product", "decompose", "error_bound", "llm_int8_matmul", "outlier_columns"]

Q = 127  # int8 absmax quantization: round(x * 127 / absmax) (the paper's Eq. 1)


@dataclass(frozen=True)
class Int8Product:
    """The parts of one LLM.int8() product (float32 unless stated)."""

    out: np.ndarray  # (m, n): s_w / 127 * (s_x / 127 * acc + x[:, outliers] @ w_int8[outliers])
    outliers: np.ndarray  # int64 indices of X's columns (W's rows) in the 16-bit product
    x_int8: np.ndarray  # (m, k - len(outliers)) int8: X's inlier columns, vector-wise
    x_scale: np.ndarray  # (m,): absmax of each row of X's inlier columns
    w_int8: np.ndarray  # (k, n) int8: W as stored
    w_scale: np.ndarray  # (n,): absmax of each column of W
    acc: np.ndarray  # (m, n) int32: x_int8 @ w_int8[inliers]


def _matrices(x: object, w: object) -> tuple[np.ndarray, np.ndarray]:
    xx, ww = np.asarray(x), np.asarray(w)
    for name, a in (("x", xx), ("w", ww)):
        if not (np.issubdtype(a.dtype, np.floating) or np.issubdtype(a.dtype, np.integer)):
            raise ValueError(f"{name}: expected a real array, got dtype {a.dtype}")
    if xx.ndim != 2 or ww.ndim != 2 or xx.shape[1] != ww.shape[0]:
        raise ValueError(f"x must be m x k and w k x n, got x {xx.shape}, w {ww.shape}")
    xf, wf = xx.astype(np.float32), ww.astype(np.float32)
    for name, a in (("x", xf), ("w", wf)):
        bad = ~np.isfinite(a)
        if bad.any():
            i, j = (int(v) for v in np.argwhere(bad)[0])
            raise ValueError(f"{name}[{i}, {j}] = {a[i, j]}: allowed: finite values")
    return xf, wf


def _threshold(threshold: object) -> float:
    if isinstance(threshold, bool) or not isinstance(threshold, int | float | np.number) \
            or not math.isfinite(float(threshold)) or float(threshold) <= 0:
        raise WorkloadError(f"threshold must be a finite number > 0 (the outlier magnitude; "
                            f"the paper uses 6.0), got {threshold!r}")
    return float(threshold)


def outlier_columns(x: np.ndarray, threshold: float = 6.0) -> np.ndarray:
    """Indices of the columns of ``x`` (m x k) holding a value of magnitude >= ``threshold``:
    the feature dimensions LLM.int8() runs in 16 bits."""
    xf, _ = _matrices(x, np.zeros((np.asarray(x).shape[-1], 1)))
    return np.flatnonzero((np.abs(xf) >= _threshold(threshold)).any(axis=0))


def _absmax_quantize(a: np.ndarray, axis: int) -> tuple[np.ndarray, np.ndarray]:
    """int8 codes round(a * 127 / absmax) along ``axis`` (ties to even, as CUDA's
    __float2int_rn) and the absmax (0 for an all-zero vector, whose codes are 0)."""
    scale = np.abs(a).max(axis=axis) if a.shape[axis] else np.zeros(a.shape[1 - axis],
                                                                    np.float32)
    safe = np.where(scale > 0, scale, 1).astype(np.float32)
    codes = np.rint(a * (Q / np.expand_dims(safe, axis)))
    return np.clip(codes, -Q, Q).astype(np.int8), scale.astype(np.float32)


def llm_int8_matmul(x: np.ndarray, w: np.ndarray, threshold: float = 6.0) -> Int8Product:
    """x (m x k) @ w (k x n) as LLM.int8() computes it (float32 out; see ``Int8Product``).

    Outlier columns: ``outlier_columns(x, threshold)``. Inliers: X's rows and W's columns
    quantized to int8 by their absmax, multiplied with int32 accumulation (bit-exact:
    ``x_int8.astype(int32) @ w_int8[inliers].astype(int32)``). Outliers: X's columns in fp16
    times W's int8 rows (exact in fp16), float32 accumulation. Raises ValueError for
    non-2-D or mismatched operands or a non-finite value, WorkloadError for a bad threshold.
    """
    xf, wf = _matrices(x, w)
    out_cols = outlier_columns(xf, threshold)
    inliers = np.setdiff1d(np.arange(xf.shape[1]), out_cols)
    w_int8, w_scale = _absmax_quantize(wf, axis=0)
    x_int8, x_scale = _absmax_quantize(xf[:, inliers], axis=1)
    acc = int_gemm(x_int8, w_int8[inliers])
    x16 = xf[:, out_cols].astype(np.float16).astype(np.float32)
    part16 = x16 @ w_int8[out_cols].astype(np.float32)
    out = (w_scale / Q) * ((x_scale[:, None] / Q) * acc.astype(np.float32) + part16)
    return Int8Product(out.astype(np.float32), out_cols, x_int8, x_scale, w_int8, w_scale, acc)


def error_bound(x: np.ndarray, w: np.ndarray, threshold: float = 6.0) -> np.ndarray:
    """An element-wise bound on |llm_int8_matmul(x, w).out - x @ w| (float64, m x n).

    Rounding to int8 moves an element by at most half a step: s_x / 254 for X's inliers,
    s_w / 254 for every element of W (its outlier rows are int8 too). With |x'| <= |x| +
    s_x/254 the product's error is at most sum|x| s_w/254 + s_x sum_in|w| / 254 + k_in s_x
    s_w / 254^2 over the inliers, sum_out |x| s_w / 254 + 2^-11 sum_out |x| |w'| over the
    outliers (fp16 rounding of X), and float32 arithmetic adds at most 1e-5 sum|x||w|."""
    xf, wf = (a.astype(np.float64) for a in _matrices(x, w))
    out_cols = outlier_columns(xf, threshold)
    inl = np.setdiff1d(np.arange(xf.shape[1]), out_cols)
    s_w = np.abs(wf).max(axis=0)
    s_x = np.abs(xf[:, inl]).max(axis=1) if inl.size else np.zeros(xf.shape[0])
    ax, aw = np.abs(xf), np.abs(wf)
    step_w, step_x = s_w / (2 * Q), s_x / (2 * Q)
    bound = ax.sum(axis=1)[:, None] * step_w[None, :]
    bound += step_x[:, None] * aw[inl].sum(axis=0)[None, :] + inl.size * np.outer(step_x, step_w)
    bound += 2.0**-11 * (ax[:, out_cols] @ (aw[out_cols] + step_w[None, :]))
    return bound + 1e-5 * (ax @ aw)


# -- the workload transform ---------------------------------------------------------------------


def _fraction(value: object) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float | np.number) \
            or not 0 <= float(value) <= 1:  # NaN fails both comparisons
        raise WorkloadError(f"outlier_fraction must be a number in [0, 1] (the share of the "
                            f"hidden dimension K run in 16 bits), got {value!r}")
    return float(value)


def _why_not(op: Op, weights: dict[str, Tensor]) -> str | None:
    """Why ``op`` is no 16-bit float linear layer LLM.int8() decomposes (None if it is)."""
    linear = op.type == "gemm" or (op.type == "matmul" and not getattr(op, "batch", ())
                                   and op.inputs[1] in weights)
    if not linear:
        return "a linear layer is a gemm, or a matmul without batch dims whose second operand " \
               "is a declared weight"
    if op.dtype != "float" or op.act_bits != 16:
        return f"its activations are {op.act_bits}-bit {op.dtype}; allowed: 16-bit float"
    if op.act_format or op.weight_format or op.out_format or op.quant is not None:
        return "it carries number formats or quant scales; allowed: widths only"
    if op.weight_sparsity is not None or op.act_sparsity is not None:
        return "it has sparsity; allowed: dense operands"
    return None


def _targets(wl: Workload, weights: dict[str, Tensor], ops: Iterable[str] | None) -> set[str]:
    if ops is None:
        found = {op.name for op in wl.ops if _why_not(op, weights) is None}
        if not found:
            raise WorkloadError(f"workload {wl.name!r} has no 16-bit float linear layer "
                                f"(gemm, or matmul with a declared weight) to decompose")
        return found
    if isinstance(ops, str):
        ops = [ops]
    names = {op.name: op for op in wl.ops}
    for name in ops:
        if name not in names:
            raise WorkloadError(f"ops: workload {wl.name!r} has no op named {name!r}")
        why = _why_not(names[name], weights)
        if why is not None:
            raise WorkloadError(f"ops: {names[name].type} {name!r} cannot be decomposed by "
                                f"LLM.int8(): {why}")
    return set(ops)


INT8_ROW_ALIGN = 16  # int8 values a row of the int8 part spans: 16-byte rows


def _outlier_columns(k: int, frac: float) -> int:
    """k_out: ceil(frac x K) outlier columns, rounded up so that the int8 part keeps a whole
    number of 16-byte rows (cuBLAS's int8 GEMMs need aligned leading dimensions, its fast
    kernels 16-byte ones; an odd row sends a GEMM to an align-1 kernel, docs/tensor_cores.md):
    the extra columns run in fp16. bitsandbytes keeps K whole instead, the outlier columns
    zeroed in the int8 copy."""
    k_out = min(k, math.ceil(round(frac * k, 9)))
    if 0 < k_out < k:
        k_in = (k - k_out) // INT8_ROW_ALIGN * INT8_ROW_ALIGN
        if k_in > 0:
            k_out = k - k_in
    return k_out


def _split(op: Op, k_out: int, threshold: float, wname: str) -> list[Op]:
    """The kernels of one linear layer: [absmax, row_quantize, int8 matmul] if any K column is
    an inlier, [slice of X, W rows to fp16, fp16 matmul] if any is an outlier, dequant_add."""
    view = op.gemm_view()
    assert view is not None
    m, n, k, x, name = view.m, view.n, view.k, op.inputs[0], op.name
    k_in = k - k_out
    out: list[Op] = []
    final_inputs: list[str] = []
    if k_in:
        out += [Reduce(name=f"{name}.absmax", output=f"{name}.absmax", inputs=(x,),
                       mode="absmax", rows=m, cols=k, act_bits=16, out_bits=32, dtype="float"),
                RowQuantize(name=f"{name}.xq", output=f"{name}.xq",
                            inputs=(x, f"{name}.absmax"), rows=m, cols=k, outlier_cols=k_out,
                            threshold=threshold, act_bits=16, out_bits=8, dtype="float"),
                Matmul(name=f"{name}.int8", output=f"{name}.int8",
                       inputs=(f"{name}.xq", f"{wname}.int8"), m=m, n=n,
                       k=k_in, weight_bits=8, act_bits=8, out_bits=32, dtype="int",
                       unit=op.unit)]
        final_inputs += [f"{name}.int8", f"{name}.absmax"]
    if k_out:
        out += [Copy(name=f"{name}.x_outliers", output=f"{name}.x_outliers", inputs=(x,),
                     mode="slice", shapes=((m, k),), out_shape=(m, k_out), act_bits=16,
                     dtype="float"),
                Elementwise(name=f"{name}.w_outliers", output=f"{name}.w_outliers",
                            inputs=(f"{wname}.outliers",),
                            op="dequantize", shape=(k_out, n), act_bits=8, out_bits=16,
                            dtype="float"),
                Matmul(name=f"{name}.fp16", output=f"{name}.fp16",
                       inputs=(f"{name}.x_outliers", f"{name}.w_outliers"),
                       m=m, n=n, k=k_out, weight_bits=16, act_bits=16, dtype="float",
                       unit=op.unit)]
        final_inputs.append(f"{name}.fp16")
    bias = bool(getattr(op, "bias", False))
    out.append(DequantAdd(name=name, output=op.output, inputs=(*final_inputs, f"{wname}.scales"),
                          m=m, n=n, int8_part=k_in > 0, fp16_part=k_out > 0, act_bits=16,
                          out_bits=op.output_bits, dtype="float", bias=bias,
                          bias_bits=getattr(op, "bias_bits", 16)))
    return out


def _stored(wname: str, k: int, n: int, k_out: int) -> list[Tensor]:
    """W as LLM.int8() stores it: int8 inlier rows, int8 outlier rows, fp32 column scales."""
    parts = [Tensor(name=f"{wname}.int8", shape=(k - k_out, n), bits=8, role="weight")] \
        if k > k_out else []
    if k_out:
        parts.append(Tensor(name=f"{wname}.outliers", shape=(k_out, n), bits=8, role="weight"))
    parts.append(Tensor(name=f"{wname}.scales", shape=(n,), bits=32, dtype="float",
                        role="weight"))
    return parts


def decompose(wl: Workload, outlier_fraction: float = 0.001, threshold: float = 6.0,
              ops: Iterable[str] | None = None) -> Workload:
    """``wl`` with each 16-bit float linear layer (or the ones named in ``ops``) rewritten as
    LLM.int8() runs it, with k_out = ceil(outlier_fraction x K) of its K input columns as
    outliers, rounded up to leave the int8 part whole 16-byte rows (`_outlier_columns`)
    (default 0.001: the paper's ">99.9 % of values in 8-bit"; ``threshold`` is the
    outlier magnitude the `row_quantize` op records, 6.0 in the paper):

    - ``<op>.absmax`` (reduce): each row's absmax of X; ``<op>.xq`` (row_quantize): the K -
      k_out inlier columns to int8; ``<op>.int8``: the int8 matmul, int32 out;
    - ``<op>.x_outliers`` (copy, slice): X's k_out outlier columns gathered in fp16;
      ``<op>.w_outliers`` (elementwise dequantize): W's int8 outlier rows to fp16;
      ``<op>.fp16``: the 16-bit matmul of the two;
    - ``<op>`` (dequant_add): the two products summed, scaled back, at the op's output width
      (the bias, if any, added here); consumers read it as before.

    W is stored as declared weights ``<W>.int8`` (K - k_out, N), ``<W>.outliers`` (k_out, N),
    both int8, and ``<W>.scales`` (N,) fp32, where <W> is a gemm's ``<op>.weight`` or a
    matmul's weight tensor (shared by every op that reads it). Raises WorkloadError naming the
    field for an outlier_fraction outside [0, 1] or NaN, a threshold <= 0, an unknown op or
    one it cannot decompose (and when ``wl`` has none to decompose)."""
    frac, thr = _fraction(outlier_fraction), _threshold(threshold)
    weights = {t.name: t for t in wl.inputs if t.role == "weight"}
    targets = _targets(wl, weights, ops)
    new_ops: list[Op] = []
    stored: dict[str, list[Tensor]] = {}
    for op in wl.ops:
        if op.name not in targets:
            new_ops.append(op)
            continue
        view = op.gemm_view()
        assert view is not None
        k_out = _outlier_columns(view.k, frac)
        wname = op.inputs[1] if op.type == "matmul" else f"{op.name}.weight"
        stored.setdefault(wname, _stored(wname, view.k, view.n, k_out))
        new_ops += _split(op, k_out, thr, wname)
    still_read = {t for op in new_ops for t in op.inputs}
    inputs = [t for t in wl.inputs if t.role != "weight" or t.name in still_read]
    inputs += [t for parts in stored.values() for t in parts]
    return Workload(name=wl.name, ops=tuple(new_ops), inputs=tuple(inputs))
