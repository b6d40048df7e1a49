"""Mapping of the fused ``attention`` op, FlashAttention style (Dao et al., NeurIPS 2022).

Per (batch, head), Q is cut into row blocks of ``Br`` queries and K, V into blocks of ``Bc``
keys, with the block sizes of the paper's Algorithm 1 from the scratchpad size M (elements):
``Bc = ceil(M / 4d)``, ``Br = min(Bc, d)``, then halved until a Q block, double-buffered K and V
blocks, the Br x Bc score block and the Br x d output accumulator fit. Each Q block is read once;
for it every visible K/V block streams through (DRAM reads = Q + T_r x (K + V) per head, writes
= O); scores never leave the chip. On the MAC array each visible block pair is two GEMM tiles,
S = Q_i K_j^T (Br x Bc x d) and O_i += P_ij V_j (Br x d x Bc); the vector unit does the online
softmax (5 ops per score, plus rescaling the Br x d accumulator and the running max and sum per
block) while the array works on the next block, so compute time is the larger of the two.
"""

from __future__ import annotations

import math
from typing import Any

from pysim.mapping.counts import add_tile_traffic


def block_sizes(op: Any, capacity_bytes: int, act_bits: int, psum_bits: int,
                double_buffered: bool) -> tuple[int, int]:
    """(Br, Bc) for ``op`` in ``capacity_bytes`` of scratchpad."""
    d = op.head_dim
    elem = act_bits / 8
    bc = max(1, math.ceil(capacity_bytes / elem / (4 * d)))
    br = max(1, min(bc, d))
    bc, br = min(bc, op.kv_len), min(br, op.q_len)
    copies = 2 if double_buffered else 1

    def need(r: int, c: int) -> float:
        return (r * d * elem + copies * 2 * c * d * elem + r * c * psum_bits / 8
                + r * d * psum_bits / 8)

    while need(br, bc) > capacity_bytes and (br > 1 or bc > 1):
        if bc >= br and bc > 1:
            bc = math.ceil(bc / 2)
        else:
            br = math.ceil(br / 2)
    if need(br, bc) > capacity_bytes:
        raise ValueError(f"attention {op.name!r}: even 1 x 1 blocks of head_dim {d} do not fit "
                         f"{capacity_bytes} bytes of scratchpad")
    return br, bc


def visible_blocks(op: Any, br: int, bc: int) -> list[tuple[int, int, int]]:
    """(count, rows, keys) of the visible block pairs of one head, grouped by shape."""
    shapes: dict[tuple[int, int], int] = {}
    for i in range(0, op.q_len, br):
        rows = min(br, op.q_len - i)
        last_visible = op.visible(i + rows - 1)  # keys seen by the block's last query
        for j in range(0, last_visible, bc):
            keys = min(bc, last_visible - j)
            shapes[(rows, keys)] = shapes.get((rows, keys), 0) + 1
    return [(n, r, k) for (r, k), n in sorted(shapes.items())]


def map_attention(op: Any, unit: Any, hw: Any, spads: dict, capacity_bytes: int,
                  on_chip: frozenset[str], m: dict) -> None:
    """Fill ``m`` (the planner's per-op dict) for a fused attention op."""
    psum_bits = unit.psum_bits(op)
    br, bc = block_sizes(op, capacity_bytes, op.act_bits, psum_bits,
                         spads["input"].double_buffered)
    heads = op.batch * op.heads
    cycles = rf = 0
    rescale = 0
    for n, rows, keys in visible_blocks(op, br, bc):
        for mm, nn, kk in ((rows, keys, op.head_dim), (rows, op.head_dim, keys)):
            c = unit.tile_cost(mm, nn, kk, op)
            times = heads * n
            cycles += times * c.cycles
            rf += times * unit.rf_accesses_per_mac * c.macs
            add_tile_traffic(m, spads, c, times, op.act_bits, op.act_bits, psum_bits,
                             b_role="input")  # K and V are activations
        rescale += heads * n * rows * (op.head_dim + 2)  # O_i *= exp(m_old - m_new); m, l
    vector_ops = op.vector_work() + rescale
    vector_cycles = math.ceil(vector_ops / hw.vector.ops_per_cycle)
    q_in, k_in, v_in = op.inputs
    per_head = lambda shape_elems: (shape_elems * op.act_bits + 7) // 8  # noqa: E731
    q_bytes = per_head(op.batch * op.q_len * op.heads * op.head_dim)
    kv_bytes = per_head(op.batch * op.kv_len * op.groups_kv_heads * op.head_dim)
    row_blocks = math.ceil(op.q_len / br)
    # every query head re-reads its K/V head once per Q row block
    kv_reads = row_blocks * op.heads // op.groups_kv_heads * kv_bytes
    reads = (0 if q_in in on_chip else q_bytes)
    reads += (0 if k_in in on_chip else kv_reads) + (0 if v_in in on_chip else kv_reads)
    row = (op.head_dim * op.act_bits + 7) // 8
    m.update(
        compute_cycles=max(cycles, vector_cycles),
        dram_read_bytes=reads,
        dram_write_bytes=op.output_bytes,
        rf_accesses=rf,
        vector_ops=vector_ops,
        tiling=f"flash {heads} heads x Br={br} Bc={bc} ({row_blocks} row blocks)",
        dataflow=getattr(unit, "dataflow", ""),
        steps_hint=max(1, min(16, heads * row_blocks)),
        dram_streams=((reads, row, (op.heads * op.head_dim * op.act_bits + 7) // 8),
                      (op.output_bytes, row, (op.heads * op.head_dim * op.act_bits + 7) // 8)),
    )
