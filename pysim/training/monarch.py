"""Monarch structured linear layers (Dao et al., "Monarch: Expressive Structured Matrices for
Efficient and Accurate Training", ICML 2022).

A Monarch matrix is M = P L P^T R: R and L block-diagonal with ``blocks`` blocks, P a fixed
permutation. `monarchize` rewrites a workload's dense linear layers (``gemm`` ops) Y = X W,
X (m x k), W (k x n), into the form of the reference implementation (HazyResearch/fly,
src/models/layers/blockdiag_butterfly_multiply.py, ``BlockdiagButterflyMultiply``; its
``MonarchLinear`` sizes the blocks):

- ``<layer>_monarch_r``: block-diagonal R as a ``matmul`` batched over the blocks,
  (b, m, k/b) @ (b, k/b, q) -> (b, m, q), q = min(k, n) / b. X is read through a strided
  view (a batch of b column blocks: cuBLAS' strided-batched GEMM reads it in place), free;
- ``<layer>_monarch_p``: the permutation P, a ``copy`` (mode ``permute``) of all b m q
  elements: block j of the next GEMM takes every b-th column of R's output, an operand
  with unit stride in neither matrix dimension, which batched GEMM libraries need; the
  reference kernel makes it contiguous (``.contiguous()``);
- ``<layer>_monarch_l``: block-diagonal L, (b, m, q) @ (b, q, n/b) -> (b, m, n/b);
- ``<layer>_monarch_pout``: the output permutation back to (m, n), again a copy (the
  reference kernel's final ``permute(...).reshape(...)`` copies);
- ``<layer>_bias``: the bias, if the layer had one, added by a separate kernel as
  ``MonarchLinear`` does (``output + bias``): an ``add_const`` over (m, n), pysim's form of a
  broadcast add (the bias is not read as an operand, as the ONNX importer treats it).

``permutations="view"`` drops the copy P (a kernel that gathers L's operand in its loads):
what P costs. The output permutation stays: the layer's readers (pysim's vector ops) need its
(m, n) layout. R and L are ``role: weight`` tensors of
shape (b, k/b, q) and (b, q, n/b): parameters and MACs go from k n to q (k + n) = 2 n^2 / b
for a square layer. The training graph (pysim/training/graph.py) derives their backward
from its ``matmul`` rule (dA = dY B^T, dB = A^T dY, B a parameter) and the permutations'
from its ``copy`` rule (the adjoint permutation, one move per element).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable
from typing import Literal

import numpy as np

from pysim.errors import WorkloadError
from pysim.workload import Copy, Elementwise, Gemm, Matmul, Op, Tensor, Workload

PERMUTATIONS = ("copy", "view")


def _check_blocks(blocks: object, where: str) -> int:
    if isinstance(blocks, bool) or not isinstance(blocks, int) or blocks < 1:
        raise WorkloadError(f"{where}: blocks must be an integer >= 1, got {blocks!r}")
    return blocks


def monarch_dims(k: int, n: int, blocks: int, layer: str = "layer") -> tuple[int, int, int]:
    """(k/b, q, n/b) of a Monarch layer of ``blocks`` blocks replacing a k x n weight, with
    q = min(k, n) / b the inner block size (fly's ``MonarchLinear``: blkdiag1 (b, q, k/b),
    blkdiag2 (b, n/b, q)). Raises WorkloadError unless ``blocks`` is an integer >= 1
    dividing k and n."""
    b = _check_blocks(blocks, f"layer {layer!r}")
    for field, size in (("k", k), ("n", n)):
        if size % b:
            raise WorkloadError(f"layer {layer!r}: blocks must divide its {field} = {size}, "
                                f"got {b}; allowed: a divisor of both k = {k} and n = {n}")
    return k // b, min(k, n) // b, n // b


def _select(wl: Workload, ops: Iterable[str] | None) -> list[Gemm]:
    gemms = [op for op in wl.ops if isinstance(op, Gemm)]
    if ops is None:
        return gemms
    if isinstance(ops, str):
        ops = (ops,)
    chosen: list[Gemm] = []
    for pattern in ops:
        hit = [g for g in gemms if fnmatch.fnmatchcase(g.name, pattern)]
        if not hit:
            shown = ", ".join(g.name for g in gemms[:8]) + (", ..." if len(gemms) > 8 else "")
            raise WorkloadError(f"monarchize: ops pattern {pattern!r} matches no gemm layer of "
                                f"workload {wl.name!r}; its gemm layers: {shown}")
        chosen += [g for g in hit if g not in chosen]
    return chosen


def _replace(op: Gemm, blocks: int, permutations: str) -> tuple[list[Op], list[Tensor]]:
    """The ops and weight tensors of ``op`` as a Monarch layer (see the module docstring)."""
    if op.quant is not None or op.weight_sparsity is not None or op.weight_format is not None:
        raise WorkloadError(f"layer {op.name!r}: monarchize takes plain dense gemms; this one "
                            f"has quant, weight_sparsity or weight_format set")
    p, q, s = monarch_dims(op.k, op.n, blocks, op.name)
    b, m = blocks, op.m
    bits = {"act_bits": op.act_bits, "out_bits": op.act_bits, "dtype": op.dtype,
            "weight_bits": op.act_bits}
    base = f"{op.name}_monarch"
    # the factors are matmul operands, read at act_bits (as every matmul operand is)
    w_r = Tensor(name=f"{base}_r.weight", shape=(b, p, q), bits=op.act_bits, dtype=op.dtype,
                 role="weight")
    w_l = Tensor(name=f"{base}_l.weight", shape=(b, q, s), bits=op.act_bits, dtype=op.dtype,
                 role="weight")
    out_bits = {**bits, "out_bits": op.output_bits}
    ops: list[Op] = [Matmul(name=f"{base}_r", inputs=(op.inputs[0], w_r.name), batch=(b,),
                            m=m, k=p, n=q, **bits)]
    if permutations == "copy":
        ops.append(Copy(name=f"{base}_p", inputs=(ops[-1].output,), mode="permute",
                        shapes=((b, m, q),), out_shape=(b, m, q), **bits))
    ops.append(Matmul(name=f"{base}_l", inputs=(ops[-1].output, w_l.name), batch=(b,), m=m,
                      k=q, n=s, **bits))
    last = {} if op.bias else {"output": op.output}
    ops.append(Copy(name=f"{base}_pout", inputs=(ops[-1].output,), mode="permute",
                    shapes=((b, m, s),), out_shape=(m, op.n), **last,
                    **(bits if op.bias else out_bits)))
    if op.bias:
        ops.append(Elementwise(name=f"{op.name}_bias", output=op.output, op="add_const",
                               inputs=(ops[-1].output,), shape=(m, op.n), **out_bits))
    return ops, [w_r, w_l]


def monarchize(wl: Workload, blocks: int = 4, ops: Iterable[str] | str | None = None,
               permutations: Literal["copy", "view"] = "copy") -> Workload:
    """``wl`` with its dense linear layers (``gemm`` ops; ``ops``: names or fnmatch patterns
    choosing some of them, default all) replaced by Monarch layers of ``blocks`` blocks (see
    the module docstring). The layers' outputs keep their names, so the rest of the graph is
    unchanged. ``permutations`` "copy" (default) materialises P as the reference kernel does;
    "view" makes P free (the output permutation stays a copy).

    Raises WorkloadError (one line) if ``blocks`` is not an integer >= 1 dividing a chosen
    layer's k and n, a pattern matches no gemm, or ``permutations`` is unknown."""
    b = _check_blocks(blocks, f"monarchize of workload {wl.name!r}")
    if permutations not in PERMUTATIONS:
        raise WorkloadError(f"monarchize: permutations must be one of {PERMUTATIONS}, got "
                            f"{permutations!r}")
    chosen = {g.name for g in _select(wl, ops)}
    new_ops: list[Op] = []
    inputs = list(wl.inputs)
    for op in wl.ops:
        if op.name in chosen:
            assert isinstance(op, Gemm)
            parts, weights = _replace(op, b, permutations)
            new_ops += parts
            inputs += weights
        else:
            new_ops.append(op)
    return Workload(name=f"{wl.name}.monarch{b}", ops=tuple(new_ops), inputs=tuple(inputs))


# -- NumPy functional reference ----------------------------------------------------------------
def monarch_matmul(x: np.ndarray, r_blocks: np.ndarray, l_blocks: np.ndarray) -> np.ndarray:
    """X M for a Monarch layer, computed as `monarchize` lays it out: ``r_blocks`` (b, k/b, q),
    ``l_blocks`` (b, q, n/b), x (m, k) -> (m, n). Block j of R multiplies columns
    [j k/b, (j+1) k/b) of x; P gathers column j of every R block's output into L's block j
    (fly's ``rearrange(out1, 'b (r l) -> b (l r)')``); the output permutation interleaves
    L's blocks (``'b (l s) -> b (s l)'``)."""
    b, p, q = r_blocks.shape
    m = x.shape[0]
    s = l_blocks.shape[2]
    out1 = np.einsum("mbp,bpq->bmq", x.reshape(m, b, p), r_blocks)  # (b, m, q)
    # P: the flat (b q) axis of each row, read as (q, b) (r = q rows of l = b): transpose
    mid = out1.transpose(1, 0, 2).reshape(m, q, b).transpose(2, 0, 1)  # (b, m, q)
    out2 = np.einsum("bmq,bqs->bms", mid, l_blocks)  # (b, m, s)
    return out2.transpose(1, 2, 0).reshape(m, s * b)  # output column i s' + l -> (s', l)


def monarch_dense(r_blocks: np.ndarray, l_blocks: np.ndarray) -> np.ndarray:
    """The dense k x n weight W of a Monarch layer, built explicitly from its factors: in the
    row-vector convention Y = X W of pysim's gemm, W = R_bd P1 L_bd P2 (the paper's
    M = P L P^T R acting on column vectors, transposed), R_bd and L_bd the block-diagonal
    matrices, P1 and P2 the permutation matrices of the two permutations."""
    b, p, q = r_blocks.shape
    s = l_blocks.shape[2]
    k, n = b * p, b * s
    r_bd = np.zeros((k, b * q))
    l_bd = np.zeros((b * q, n))
    for j in range(b):
        r_bd[j * p:(j + 1) * p, j * q:(j + 1) * q] = r_blocks[j]
        l_bd[j * q:(j + 1) * q, j * s:(j + 1) * s] = l_blocks[j]
    # P1: R's output column c_in, read as (q, b): c_in = r_idx b + l_idx, feeds row r_idx of
    # L's block l_idx, column l_idx q + r_idx of L_bd's input
    p1 = np.zeros((b * q, b * q))
    for c_in in range(b * q):
        r_idx, l_idx = divmod(c_in, b)
        p1[c_in, l_idx * q + r_idx] = 1.0
    # P2: L's output column l_idx * s + s_idx -> final column s_idx * b + l_idx
    p2 = np.zeros((n, n))
    for c_in in range(n):
        l_idx, s_idx = divmod(c_in, s)
        p2[c_in, s_idx * b + l_idx] = 1.0
    return r_bd @ p1 @ l_bd @ p2


def params(k: int, n: int, blocks: int) -> int:
    """Parameters (and MACs per row of X) of a Monarch layer replacing a k x n weight:
    q (k + n), q = min(k, n) / b (2 n^2 / b when k = n)."""
    _, q, _ = monarch_dims(k, n, blocks)
    return q * (k + n)
