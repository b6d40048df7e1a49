"""Tensor parallelism for training (Shoeybi et al., "Megatron-LM", 2019, section 3): each
transformer block's attention and MLP split over ``tp`` devices, one device's share simulated.

- Regions: the ops between GEMMs are grouped into connected regions (ops that are not GEMMs,
  joined where one reads another's output). A region whose inputs all come from GEMMs (and
  its own ops) and whose outputs only GEMMs read is split: the GEMMs feeding it are
  column-parallel (each device computes n / tp of their columns: Q, K and V, an MLP's first
  GEMMs), the region runs on 1 / tp (attention heads / tp, K / V heads / tp; a naive
  attention's batched matmuls and softmax rows / tp; elementwise ops on 1 / tp of the
  columns), and the GEMMs reading it are row-parallel (k / tp of their rows: attention's
  output projection, an MLP's last GEMM), their partial outputs all-reduced. A final GEMM
  whose output is the model's (an LM head) is column-parallel with its logits left split
  (Megatron-LM's vocabulary-parallel cross entropy; its all-reduces of one value per token
  are not simulated). Everything else (norms, residual adds, embeddings) runs whole on every
  device.
- Transfers per step on the device-to-device link: an all-reduce of each row-parallel GEMM's
  output in the forward pass (again when checkpointing recomputes it) and of the gradient of
  each column-parallel GEMM's input in the backward pass: Megatron-LM's f and g operators, two
  all-reduces per transformer block each way. They sit on the critical path: the ops that
  read the reduced tensor wait for it.
- Memory: each device holds its share of the split GEMMs' weights (their gradients, optimizer
  states), the whole of the rest, and the activations as split or whole as their ops.

Not modelled: sequence parallelism (Korthikanti et al., 2022: the norms and dropouts split
along the sequence, all-gathers and reduce-scatters in place of the all-reduces), a bias of a
row-parallel GEMM added once after the reduce (here on every device), and the transfers'
HBM traffic and energy.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from pysim.errors import ConfigError, WorkloadError
from pysim.interconnect import Collective, CollectiveTiming, Link, allreduce_bytes_per_device
from pysim.training.data_parallel import Runs, busy_s, sent_bytes
from pysim.training.graph import TrainingGraph, _copy_op
from pysim.workload import Workload
from pysim.workload.ops import Op

MAX_TP = 1024
SPLIT_TYPES = ("attention", "matmul", "softmax", "elementwise")  # ops a region may hold


@dataclass(frozen=True)
class Sharding:
    """A workload split ``tp`` ways: one device's ``workload``, its ``row`` GEMMs (their
    outputs all-reduced in the forward pass), its ``column`` GEMMs and the tensors they read
    (whose gradients are all-reduced in the backward pass)."""

    workload: Workload
    tp: int
    row: tuple[str, ...]
    column: tuple[str, ...]
    column_inputs: tuple[str, ...]


@dataclass(frozen=True)
class TensorParallel:
    """What tensor parallelism added to a step: ``tp`` devices per layer, the ``link``, how
    many GEMMs are ``row`` / ``column`` parallel, the all-reduces of the last micro batch
    (``timings``) and of the earlier ones (``earlier``, each with its count), and the share of
    them no op overlapped (``exposed_comm_s``)."""

    tp: int
    link: Link
    row: int
    column: int
    timings: tuple[CollectiveTiming, ...]
    clock_hz: float
    exposed_comm_s: float
    earlier: Runs = ()

    @property
    def comm_bytes_per_device(self) -> float:
        return sent_bytes(self.timings, self.earlier)

    @property
    def comm_s(self) -> float:
        return busy_s(self.timings, self.earlier, self.clock_hz)

    def summary(self) -> dict[str, Any]:
        return {"tensor_parallel": self.tp, "tp_allreduces": len(self.timings),
                "tp_comm_bytes_per_device": self.comm_bytes_per_device,
                "tp_comm_s": self.comm_s, "tp_exposed_comm_s": self.exposed_comm_s}


def check_tp(value: object) -> int:
    """``tensor_parallel`` as an int in 1..MAX_TP. Raises ConfigError otherwise."""
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_TP:
        raise ConfigError(f"tensor_parallel must be an int in 1..{MAX_TP} (devices each "
                          f"layer is split over), got {value!r}")
    return value


def _is_gemm(op: Op) -> bool:
    return op.type == "gemm" or (op.type == "matmul" and bool(op.weight_tensors()))


def shard(wl: Workload, tp: int) -> Sharding:
    """``wl`` split ``tp`` ways (see the module docstring). Raises WorkloadError naming the
    op whose dimension ``tp`` does not divide, or when no op can be split."""
    ops = list(wl.ops)
    by_name = {op.name: op for op in ops}
    producer, consumers = wl.producers, wl.consumers
    # connected regions of non-GEMM ops
    region: dict[str, int] = {}
    members: list[list[str]] = []
    for op in ops:
        if _is_gemm(op) or op.name in region:
            continue
        k = len(members)
        members.append([])
        todo = [op.name]
        while todo:
            n = todo.pop()
            if n in region or _is_gemm(by_name[n]):
                continue
            region[n] = k
            members[k].append(n)
            o = by_name[n]
            todo += [producer[t] for t in o.inputs if t in producer]
            todo += consumers.get(o.output, ())
    row: set[str] = set()
    column: set[str] = set()
    split_ops: set[str] = set()
    for names in members:
        mine = set(names)
        made = {by_name[n].output for n in names}
        feeds = {producer[t] for n in names for t in by_name[n].inputs if t in producer} - mine
        reads = {c for t in made for c in consumers.get(t, ())} - mine
        ok = (feeds and reads and all(_is_gemm(by_name[f]) for f in feeds)
              and all(_is_gemm(by_name[r]) for r in reads)
              and all(by_name[n].type in SPLIT_TYPES for n in names)
              and all(t in producer for n in names for t in by_name[n].inputs
                      if wl.tensors[t].role != "weight")
              and all(by_name[r].inputs[0] in made for r in reads)
              and not any(t in wl.outputs for t in made)
              # a column-parallel GEMM's split output read only inside the region
              and all(c in mine for f in feeds for c in consumers.get(by_name[f].output, ())))
        if ok:
            column |= feeds
            row |= reads
            split_ops |= mine
    both = column & row
    if both:  # a GEMM between two regions: Megatron splits pairs, not chains
        raise WorkloadError(f"tensor_parallel: op {sorted(both)[0]!r} both feeds and reads a "
                            "split region; only column-row pairs of GEMMs are split")
    last = [op.name for op in ops if _is_gemm(op) and op.output in wl.outputs
            and op.name not in row]
    column |= set(last)  # the LM head: vocabulary-parallel
    if not row:
        raise WorkloadError(f"tensor_parallel: {wl.name!r} has no attention or MLP block to "
                            "split (column-parallel GEMMs feeding row-parallel ones)")
    new = []
    for op in ops:
        if op.name in column:
            n = op.n  # type: ignore[attr-defined]  # a GEMM's (or weighted matmul's) columns
            new.append(_copy_op(op, n=n // _divides(tp, n, op, "n")))
        elif op.name in row:
            k = op.k  # type: ignore[attr-defined]
            new.append(_copy_op(op, k=k // _divides(tp, k, op, "k")))
        elif op.name in split_ops:
            new.append(_split(op, tp))
        else:
            new.append(op)
    col_inputs = tuple(dict.fromkeys(by_name[c].inputs[0] for c in sorted(column)))
    out = Workload(name=f"{wl.name}.tp{tp}", ops=tuple(new), inputs=wl.inputs)
    return Sharding(out, tp, tuple(sorted(row)), tuple(sorted(column)), col_inputs)


def _divides(tp: int, dim: int, op: Op, field: str) -> int:
    if dim % tp:
        hint = ("; pad it, as Megatron-LM pads a vocabulary to a multiple of 128 x tp"
                if field == "n" else "")
        raise WorkloadError(f"tensor_parallel: {tp} does not divide op {op.name!r}'s {field} "
                            f"({dim}){hint}")
    return tp


def _split(op: Op, tp: int) -> Op:
    """A split region's op on one device's 1 / tp."""
    if op.type == "attention":
        kv = op.kv_heads or op.heads  # type: ignore[attr-defined]
        return _copy_op(op, heads=op.heads // _divides(tp, op.heads, op, "heads"),  # type: ignore[attr-defined]
                        kv_heads=kv // _divides(tp, kv, op, "kv_heads"))
    if op.type == "matmul":  # attention's batched matmuls: heads in the last batch dimension
        batch = tuple(op.batch) if isinstance(op.batch, tuple) else (op.batch,)  # type: ignore[attr-defined]
        heads = batch[-1]
        return _copy_op(op, batch=(*batch[:-1], heads // _divides(tp, heads, op, "batch")))
    if op.type == "softmax":
        return _copy_op(op, rows=op.rows // _divides(tp, op.rows, op, "rows"))  # type: ignore[attr-defined]
    shape = tuple(op.shape)  # type: ignore[attr-defined]
    return _copy_op(op, shape=(*shape[:-1], shape[-1] // _divides(tp, shape[-1], op, "shape")))


def collectives(graph: TrainingGraph, sharding: Sharding, link: Link) -> list[Collective]:
    """The step's tensor-parallel all-reduces on ``graph`` (the training graph of the sharded
    workload): after each row-parallel GEMM (and its recomputation), before what reads its
    output; and of each column-parallel GEMM input's gradient, before what reads it."""
    wl = graph.workload
    consumers = wl.consumers
    tp = sharding.tp
    out = []
    base = {op.name: op.name.removesuffix(".re") for op in wl.ops}
    for op in wl.ops:
        if base[op.name] in sharding.row and op.type in ("gemm", "matmul"):
            nbytes = wl.tensors[op.output].bytes
            out.append(Collective(f"tp.allreduce.{op.name}", (op.name,),
                                  tuple(consumers.get(op.output, ())),
                                  link.allreduce_s(nbytes, tp),
                                  allreduce_bytes_per_device(nbytes, tp)))
    for t in sharding.column_inputs:
        g = graph.grad_of.get(t)
        if g is None or g not in wl.producers:
            continue
        nbytes = wl.tensors[g].bytes
        out.append(Collective(f"tp.allreduce.grad.{t}", (wl.producers[g],),
                              tuple(consumers.get(g, ())), link.allreduce_s(nbytes, tp),
                              allreduce_bytes_per_device(nbytes, tp)))
    index = {op.name: i for i, op in enumerate(wl.ops)}
    return sorted(out, key=lambda c: index[c.after[0]])


__all__ = ["MAX_TP", "Sharding", "TensorParallel", "check_tp", "collectives", "shard"]
