"""What an op's sparsity buys on a unit (``units[i].sparsity``: none, gating or skipping).

- Storage: a unit that supports sparsity (gating or skipping) reads compressed weights: DRAM
  and weight-SRAM traffic scale by ``footprint(...).total_bytes / dense_bytes`` of the weight's
  format (values plus metadata, ``pysim.sparse.footprint``). A unit without support reads the
  dense weights. Activations cross DRAM compressed when the DRAM interface has a codec
  (``dram.compress_activations``): an op's input by its ``act_sparsity``, its output by its
  ``out_sparsity``, each only where the format is smaller than dense (the codec is bypassed
  otherwise, as Eyeriss bypasses its RLC for CONV1's dense image).
- Energy: gating and skipping both keep zero operands from toggling the multiplier: MAC and
  register-file energy scale by weight density x activation density.
- Cycles (skipping only): the reduction a PE walks shrinks. N:M (SCALE-Sim's layer-wise
  model): K -> ceil(K x N / M). Block: K -> ceil(K x density). Unstructured: the PEs of a fold
  finish when the busiest one does, so K -> the expected maximum over the fold's ``lanes``
  columns of their nonzero counts: with a real mask, the mean over column groups of the
  group's largest density; with a density ``d`` only, ``K d + z sqrt(K d (1 - d))`` with
  ``z = sqrt(2 ln lanes)`` (the expected maximum of ``lanes`` near-normal counts).
"""

from __future__ import annotations

import math
from typing import Any

from pysim import sparse


def _mode(unit: Any) -> str:
    return getattr(unit, "sparsity", "none")


def weight_storage_ratio(op: Any, unit: Any) -> float:
    sp = op.weight_sparsity
    if sp is None or _mode(unit) == "none" or sp.format == "dense":
        return 1.0
    view = op.gemm_view()
    try:
        f = sparse.footprint(shape=(view.k, view.n), density=sp.density, format=sp.format,
                             run_bits=sp.run_bits,
                             value_bits=op.weight_bits, n=sp.n, m=sp.m, block=sp.block)
    except ValueError as exc:  # a pattern its K x N weight cannot take
        from pysim.errors import WorkloadError

        raise WorkloadError(f"op {op.name!r}: weight sparsity ({sp.pattern}, format "
                            f"{sp.format}) on its {view.k} x {view.n} (K x N) weight: "
                            f"{exc}") from None
    return f.total_bytes / f.dense_bytes


def activation_storage_ratio(sp: Any, bits: int, codec: bool) -> float:
    """DRAM bytes of an activation stored in its sparsity's format over its dense bytes: 1
    without a codec, a sparsity or a format smaller than dense."""
    if not codec or sp is None or sp.format == "dense":
        return 1.0
    elems = 4096 * sp.m * sp.block[1]  # a format's bytes over dense do not depend on size
    f = sparse.footprint(shape=(1, elems), density=sp.density, format=sp.format,
                         value_bits=bits, run_bits=sp.run_bits, n=sp.n, m=sp.m,
                         block=(1, sp.block[1]))
    return min(1.0, f.total_bytes / f.dense_bytes)


def mac_energy_factor(op: Any, unit: Any) -> float:
    if _mode(unit) == "none":
        return 1.0
    w = op.weight_sparsity.density if op.weight_sparsity is not None else 1.0
    a = op.act_sparsity.density if op.act_sparsity is not None else 1.0
    return w * a


def effective_k(op: Any, unit: Any, k: int, lanes: int) -> int:
    """The reduction length a tile of ``k`` takes on a skipping unit with ``lanes`` columns."""
    if _mode(unit) != "skipping":
        return k
    out = float(k)
    w, a = op.weight_sparsity, op.act_sparsity
    if w is not None and w.pattern == "nm":
        out = math.ceil(k * w.n / w.m)
    elif w is not None and w.pattern == "block":
        out = math.ceil(k * w.density)
    unstructured = 1.0
    if w is not None and w.pattern == "unstructured":
        if w.column_density is not None:
            cols = w.column_density
            groups = [max(cols[i:i + lanes]) for i in range(0, len(cols), lanes)]
            return max(1, min(k, math.ceil(k * sum(groups) / len(groups)
                                           * (a.density if a is not None else 1.0))))
        unstructured *= w.density
    if a is not None and a.pattern == "unstructured":
        unstructured *= a.density
    if unstructured < 1.0:
        d, kk = unstructured, out
        z = math.sqrt(2 * math.log(max(2, lanes)))
        out = kk * d + z * math.sqrt(kk * d * (1 - d))
    return max(1, min(k, math.ceil(out)))
