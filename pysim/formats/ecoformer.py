"""EcoFormer (Liu, Pan, He, Cai, Zhuang, "EcoFormer: Energy-Saving Attention with Linear
Complexity", NeurIPS 2022, arXiv:2209.09004): binary-hashing attention, functional and as a
workload transform.

Queries and keys go through a learned kernelized hash (KSH: a Gaussian kernel against m
anchors, a projection to b bits, the sign) to codes h in {-1, +1}^b. Their inner product is
b - 2 x Hamming distance, so sim(q, k) = h_q . h_k + offset is a non-negative similarity for
offset >= b, and by associativity attention costs O(n b d) instead of O(n^2 d):

    out_i = (h_q_i (H_K^T V) + offset sum_j v_j) / (h_q_i (H_K^T 1) + offset M)

The two big products take 1-bit codes against multi-bit values: each term adds or subtracts a
value (a sign select), no multiplier. The paper's code (github.com/ziplab/EcoFormer,
``linear_attention_bias``) uses offset = b + 1.

    kernel_hash(x, anchors, proj)     KSH codes (int8, +-1) of the rows of x
    hashed_attention(hq, hk, v)       the linear form above, integer parts exact (int64)
    hash_attention(wl, bits=16)       a workload with its softmax attentions hashed
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np

from pysim.errors import WorkloadError
from pysim.formats.mulfree import ternary_gemm
from pysim.workload import (
    Copy,
    Elementwise,
    Matmul,
    Op,
    Reduce,
    RowDivide,
    Softmax,
    Tensor,
    Workload,
)

__all__ = ["HashedAttention", "hash_attention", "hashed_attention", "kernel_hash"]

MAX_BITS = 256  # hash code length; EcoFormer uses 16
MAX_ANCHORS = 4096  # kernel anchors m; EcoFormer's energy script counts m = 25


# -- functional reference --------------------------------------------------------------------


def _real2d(x: object, name: str) -> np.ndarray:
    a = np.asarray(x)
    if a.ndim != 2 or not (np.issubdtype(a.dtype, np.floating)
                           or np.issubdtype(a.dtype, np.integer)):
        raise ValueError(f"{name} must be a 2-D real array, got dtype {a.dtype}, shape "
                         f"{a.shape}")
    f = a.astype(np.float64)
    if not np.isfinite(f).all():
        i, j = (int(v) for v in np.argwhere(~np.isfinite(f))[0])
        raise ValueError(f"{name}[{i}, {j}] = {f[i, j]}: allowed: finite values")
    return f


def kernel_hash(x: np.ndarray, anchors: np.ndarray, proj: np.ndarray,
                sigma: float | None = None, center: np.ndarray | None = None) -> np.ndarray:
    """KSH codes of the rows of ``x`` (n x d): the Gaussian kernel k = exp(-||x - a||^2 /
    (2 sigma)) against each anchor row of ``anchors`` (m x d), ``center`` (m,) subtracted
    (default 0), projected by ``proj`` (m x b), then +1 where the projection is > 0 and -1
    elsewhere (the repository's ``torch.where(y > 0, 1, -1)``). ``sigma`` defaults to the mean
    squared distance, as its KernelSH does. Returns int8 (n x b). Raises ValueError on shapes
    that do not chain, non-finite values or sigma <= 0."""
    xx, aa, pp = _real2d(x, "x"), _real2d(anchors, "anchors"), _real2d(proj, "proj")
    if aa.shape[1] != xx.shape[1] or pp.shape[0] != aa.shape[0]:
        raise ValueError(f"x (n x d), anchors (m x d) and proj (m x b) must chain, got x "
                         f"{xx.shape}, anchors {aa.shape}, proj {pp.shape}")
    dist = ((xx[:, None, :] - aa[None, :, :]) ** 2).sum(axis=2)
    s = float(dist.mean()) if sigma is None else float(sigma)
    if not np.isfinite(s) or s <= 0:
        raise ValueError(f"sigma must be a finite number > 0, got {s!r}")
    k = np.exp(-dist / (2 * s))
    if center is not None:
        k = k - np.asarray(center, dtype=np.float64)[None, :]
    return np.where(k @ pp > 0, 1, -1).astype(np.int8)


@dataclass(frozen=True)
class HashedAttention:
    """The parts of one head's hashed attention; every integer part is exact (int64)."""

    out: np.ndarray  # (n, d) float64: num / den
    num: np.ndarray  # (n, d): h_q (H_K^T V) + offset sum_j v_j
    den: np.ndarray  # (n,): h_q (H_K^T 1) + offset M
    kv: np.ndarray  # (b, d): H_K^T V, by sign select
    ksum: np.ndarray  # (b,): H_K^T 1, each code bit's sum over the keys
    vsum: np.ndarray  # (d,): sum_j v_j


def _codes(h: object, name: str) -> np.ndarray:
    a = np.asarray(h)
    if a.ndim != 2 or not np.isin(a, (-1, 1)).all():
        raise ValueError(f"{name} must be a 2-D array of +-1 codes, got shape {a.shape}")
    return a.astype(np.int8)


def hashed_attention(hq: np.ndarray, hk: np.ndarray, v: np.ndarray,
                     offset: int | None = None) -> HashedAttention:
    """EcoFormer's linear attention of query codes ``hq`` (n x b) and key codes ``hk``
    (M x b), both +-1, with integer values ``v`` (M x d): see the module docstring. ``offset``
    defaults to b + 1 (the repository's bias); 0 gives the plain form H(Q) (H(K)^T V) /
    (H(Q) (H(K)^T 1)). H_K^T V and the two products with h_q are sign selects
    (``ternary_gemm``); equal bit for bit to the quadratic form S = hq hk^T + offset, num =
    S v, den = S 1. Raises ValueError on non-+-1 codes, mismatched shapes, non-integer v, a
    negative offset or a denominator <= 0."""
    q, k = _codes(hq, "hq"), _codes(hk, "hk")
    vv = np.asarray(v)
    if vv.ndim != 2 or not np.issubdtype(vv.dtype, np.integer):
        raise ValueError(f"v must be a 2-D integer array, got dtype {vv.dtype}, shape "
                         f"{vv.shape}")
    if q.shape[1] != k.shape[1] or k.shape[0] != vv.shape[0]:
        raise ValueError(f"hq (n x b), hk (M x b) and v (M x d) must chain, got hq {q.shape}, "
                         f"hk {k.shape}, v {vv.shape}")
    b, m = q.shape[1], k.shape[0]
    off = b + 1 if offset is None else offset
    if isinstance(off, bool) or not isinstance(off, int | np.integer) or off < 0:
        raise ValueError(f"offset must be an integer >= 0 (b + 1 = {b + 1} by default), "
                         f"got {offset!r}")
    v64 = vv.astype(np.int64)
    kv = ternary_gemm(v64.T, k).T  # (b, d): each key's code adds or subtracts its value row
    ksum = k.astype(np.int64).sum(axis=0)
    vsum = v64.sum(axis=0)
    num = ternary_gemm(kv.T, q.T).T + int(off) * vsum[None, :]
    den = ternary_gemm(ksum[None, :], q.T)[0] + int(off) * m
    if (den <= 0).any():
        i = int(np.argmax(den <= 0))
        raise ValueError(f"den[{i}] = {int(den[i])}: the similarities of query {i} sum to <= 0; "
                         f"allowed: offset >= b ({b}) keeps every similarity >= 0")
    return HashedAttention(num / den[:, None], num, den, kv, ksum, vsum)


# -- the workload transform --------------------------------------------------------------------


@dataclass(frozen=True)
class _Site:
    """One softmax attention of a workload: its ops, tensors and sizes."""

    removed: tuple[str, ...]  # names of the ops it replaces
    name: str  # the op whose output the attention writes (its name is kept)
    output: str
    q: str
    k: str
    v: str
    batch: int
    heads: int
    q_len: int
    kv_len: int
    head_dim: int


def _check_int(name: str, value: object, lo: int, hi: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int | np.integer) \
            or not lo <= value <= hi:
        raise WorkloadError(f"{name} must be an integer in {lo}..{hi} ({what}), got {value!r}")
    return int(value)


def _plain(op: Op) -> str | None:
    """Why ``op`` is no plain int op the transform can hash (None if it is)."""
    if op.dtype != "int":
        return f"its operands are {op.dtype}; allowed: int (codes select integer values)"
    if op.act_format or op.weight_format or op.out_format:
        return "it carries number formats; allowed: widths only"
    if op.act_sparsity is not None or op.weight_sparsity is not None:
        return "it has sparsity; allowed: dense operands"
    return None


def _fused_site(op: Op) -> _Site | str:
    why = _plain(op)
    if why is not None:
        return why
    if getattr(op, "causal", False):
        return "it is causal; allowed: non-causal attention (EcoFormer's sums run over all keys)"
    if getattr(op, "kv_heads", None) not in (None, op.heads):  # type: ignore[attr-defined]
        return "it has grouped K / V heads; allowed: kv_heads == heads"
    a = op  # an Attention
    return _Site((a.name,), a.name, a.output, *a.inputs, a.batch,  # type: ignore[attr-defined]
                 a.heads, a.q_len, a.kv_len, a.head_dim)  # type: ignore[attr-defined]


def _naive_site(op: Op, wl: Workload) -> _Site | str:
    """The matmul (Q K^T) -> softmax -> matmul (P V) chain that starts at ``op``."""
    pattern = "an attention is a fused `attention` op, or a matmul Q K^T read only by a " \
              "softmax read only by a matmul P V"
    readers = wl.consumers.get(op.output, ())
    by_name = {o.name: o for o in wl.ops}
    if op.type != "matmul" or len(readers) != 1:
        return pattern
    soft = by_name[readers[0]]
    after = wl.consumers.get(soft.output, ())
    if not isinstance(soft, Softmax) or len(after) != 1:
        return pattern
    pv = by_name[after[0]]
    s: Matmul = op  # type: ignore[assignment]
    if pv.type != "matmul" or pv.inputs[0] != soft.output or pv.batch != s.batch \
            or (pv.m, pv.k) != (s.m, s.n) or pv.n != s.k:  # type: ignore[attr-defined]
        return pattern
    for o in (s, pv):
        why = _plain(o)
        if why is not None:
            return why
    batch = s.batch
    heads = batch[-1] if batch else 1
    b = int(np.prod(batch[:-1])) if len(batch) > 1 else 1
    return _Site((s.name, soft.name, pv.name), pv.name, pv.output, s.inputs[0], s.inputs[1],
                 pv.inputs[1], b, heads, s.m, s.n, s.k)


def _sites(wl: Workload, ops: Iterable[str] | None) -> list[_Site]:
    by_name = {o.name: o for o in wl.ops}

    def site(op: Op) -> _Site | str:
        return _fused_site(op) if op.type == "attention" else _naive_site(op, wl)

    if ops is None:
        found = [s for o in wl.ops if isinstance(s := site(o), _Site)]
        if not found:
            raise WorkloadError(f"workload {wl.name!r} has no softmax attention to hash (a fused "
                                f"non-causal int `attention` op, or matmul -> softmax -> "
                                f"matmul)")
        return found
    names = [ops] if isinstance(ops, str) else list(ops)
    out = []
    for name in names:
        if name not in by_name:
            raise WorkloadError(f"ops: workload {wl.name!r} has no op named {name!r}")
        got = site(by_name[name])
        if isinstance(got, str):
            raise WorkloadError(f"ops: {by_name[name].type} {name!r} cannot be hashed: {got}")
        out.append(got)
    return out


def _hash_ops(p: str, role: str, t: Tensor, site: _Site, bits: int, anchors: int,
              length: int) -> tuple[list[Op], str]:
    """The KSH of one tensor (Q or K, ``length`` tokens): kernel GEMM against the anchors, its
    exp, the projection to ``bits`` and the sign; 1-bit codes (heads, batch x length, bits)."""
    h, c, rows = site.heads, site.head_dim, site.batch * length
    w = dict(weight_bits=8, dtype="int")
    out: list[Op] = []
    x, x_bits, k = t.name, t.bits, c
    if anchors:
        out += [Matmul(name=f"{p}.hash_{role}.kernel_dot", inputs=(x, f"{p}.hash.anchors"),
                       batch=(h,), m=rows, k=c, n=anchors, act_bits=x_bits, b_bits=8,
                       out_bits=32, **w),
                Elementwise(name=f"{p}.hash_{role}.kernel", inputs=(f"{p}.hash_{role}.kernel_dot",),
                            op="exp", shape=(h, rows, anchors), act_bits=32, out_bits=8, **w)]
        x, x_bits, k = f"{p}.hash_{role}.kernel", 8, anchors
    out += [Matmul(name=f"{p}.hash_{role}.proj", inputs=(x, f"{p}.hash.proj"), batch=(h,),
                   m=rows, k=k, n=bits, act_bits=x_bits, b_bits=8, out_bits=32, **w),
            Elementwise(name=f"{p}.hash_{role}.codes", inputs=(f"{p}.hash_{role}.proj",),
                        op="sign", shape=(h, rows, bits), act_bits=32, out_bits=1, **w)]
    return out, f"{p}.hash_{role}.codes"


def _hashed(site: _Site, tensors: dict[str, Tensor], bits: int, anchors: int,
            out_bits: int) -> tuple[list[Op], list[Tensor]]:
    p, g, c, m = site.name, site.batch * site.heads, site.head_dim, site.kv_len
    vb = tensors[site.v].bits
    weights = [Tensor(name=f"{p}.hash.proj", shape=(site.heads, anchors or c, bits), bits=8,
                      role="weight")]
    if anchors:
        weights.insert(0, Tensor(name=f"{p}.hash.anchors", shape=(site.heads, c, anchors),
                                 bits=8, role="weight"))
    ops, hk = _hash_ops(p, "k", tensors[site.k], site, bits, anchors, m)
    hq = hk
    if site.q != site.k:  # EcoFormer shares Q and K (one projection); else hash both
        more, hq = _hash_ops(p, "q", tensors[site.q], site, bits, anchors, site.q_len)
        ops += more
    i = dict(dtype="int")
    ops += [
        Reduce(name=f"{p}.ksum", inputs=(hk,), mode="sum", rows=g * bits, cols=m,
               out_shape=(g, bits, 1), act_bits=1, out_bits=32, **i),
        Matmul(name=f"{p}.kv", inputs=(hk, site.v), batch=(g,), m=bits, k=m, n=c, act_bits=1,
               b_bits=vb, weight_bits=vb, out_bits=32, **i),
        Copy(name=f"{p}.summary", inputs=(f"{p}.kv", f"{p}.ksum"), mode="concat",
             shapes=((g, bits, c), (g, bits, 1)), out_shape=(g, bits, c + 1), act_bits=32, **i),
        Elementwise(name=f"{p}.summary_q", inputs=(f"{p}.summary",), op="quantize",
                    shape=(g, bits, c + 1), act_bits=32, out_bits=vb, **i),
        Matmul(name=f"{p}.qs", inputs=(hq, f"{p}.summary_q"), batch=(g,), m=site.q_len,
               k=bits, n=c + 1, act_bits=1, b_bits=vb, weight_bits=vb, out_bits=32, **i),
        Reduce(name=f"{p}.vsum", inputs=(site.v,), mode="sum", rows=g * c, cols=m,
               out_shape=(g, c), act_bits=vb, out_bits=32, **i),
        RowDivide(name=p, output=site.output, inputs=(f"{p}.qs", f"{p}.vsum"), groups=g,
                  rows=site.q_len, cols=c, bias=True, act_bits=32, out_bits=out_bits, **i),
    ]
    return ops, weights


def hash_attention(wl: Workload, bits: int = 16, anchors: int = 25,
                   ops: Iterable[str] | str | None = None) -> Workload:
    """``wl`` with each softmax attention (or those named in ``ops``: a fused ``attention`` op,
    or the Q K^T matmul of a matmul -> softmax -> matmul chain) replaced by EcoFormer's
    hashed attention with ``bits``-bit codes and a kernel of ``anchors`` anchors (0: a plain
    projection to the codes). For an attention named <p> (the fused op, or the P V matmul):

    - ``<p>.hash_k.*`` (and ``<p>.hash_q.*`` unless Q and K are one tensor, as in EcoFormer):
      ``kernel_dot`` (matmul of the tokens against the anchors, per head), ``kernel`` (its exp,
      one vector op per value: the squared norms and the centre are not counted), ``proj``
      (matmul to ``bits`` values), ``codes`` (elementwise ``sign``: 1-bit codes, 8 a byte);
      weights ``<p>.hash.anchors`` (heads, head_dim, anchors) and ``<p>.hash.proj`` (heads,
      anchors or head_dim, bits), 8-bit;
    - ``<p>.ksum`` (reduce: H(K)^T 1), ``<p>.kv`` (matmul H(K)^T V: 1-bit codes x V's width,
      b_bits), ``<p>.summary`` (copy: the two side by side), ``<p>.summary_q`` (quantize to
      V's width), ``<p>.qs`` (matmul H(Q) x summary: 1-bit x V's width), ``<p>.vsum`` (reduce:
      V's rows summed, for the offset);
    - ``<p>`` (row_divide with bias): the output, at the replaced op's out bits, laid out
      (batch x heads, q_len, head_dim); consumers read it as before.

    Raises WorkloadError naming the field for bits outside 1..256, anchors outside 0..4096, a
    name in ``ops`` that is not an op or not an attention it can hash (float, formatted or
    sparse operands, causal, grouped K / V heads), or a workload without one."""
    b = _check_int("bits", bits, 1, MAX_BITS, "the hash code length; EcoFormer uses 16")
    m = _check_int("anchors", anchors, 0, MAX_ANCHORS,
                   "the kernel's anchors; EcoFormer's energy script counts 25; 0: no kernel")
    sites = _sites(wl, ops)
    removed = {name: s for s in sites for name in s.removed}
    by_name = {o.name: o for o in wl.ops}
    new_ops: list[Op] = []
    weights: list[Tensor] = []
    for op in wl.ops:
        site = removed.get(op.name)
        if site is None:
            new_ops.append(op)
        elif op.name == site.name:  # the attention's last op: emit the hashed form here
            more, w = _hashed(site, wl.tensors, b, m, by_name[site.name].output_bits)
            new_ops += more
            weights += w
    return Workload(name=wl.name, ops=tuple(new_ops), inputs=(*wl.inputs, *weights))
