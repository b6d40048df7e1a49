"""The optimizer update of a training step: one multi-tensor update per format group
(``fused_optimizer=True``, PyTorch's foreach / fused optimizers) or one per parameter tensor,
written in place, and where mixed precision makes its low-precision weight copy
(``weight_copy``: the update writes it, or a cast before each forward GEMM)."""

from __future__ import annotations

import math

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.training.graph import CAST_OPS, build_training_graph
from pysim.training.ops import VectorWork
from pysim.workload import Gemm
from tests.one_line import one_line

A100 = pysim.gpu.preset("a100")


def graph(wl: str | pysim.Workload, recipe: str = "mixed_bf16", optimizer: str = "adam",
          **kw):
    if isinstance(wl, str):
        wl = pysim.zoo.load(wl, **({"batchnorm": True} if wl.startswith("resnet") else {}))
    return build_training_graph(wl, training.get_recipe(recipe), {},
                                training.get_optimizer(optimizer), **kw)


def updates(g) -> list[VectorWork]:
    return [g.workload.op(o.name) for o in g.ops if o.role == "optimizer"]


def bytes_of(g, ops: list[VectorWork]) -> tuple[int, int]:
    """Bytes the ops read (each input once) and write."""
    tensors = g.workload.tensors
    return (sum(tensors[t].bytes for op in ops for t in set(op.inputs)),
            sum(op.output_bytes for op in ops))


@pytest.mark.parametrize("name", ["resnet18", "bert_base"])
def test_fused_update_is_one_op_per_format_group_with_the_same_work_and_bytes(name: str) -> None:
    fused, loop = graph(name), graph(name, fused_optimizer=False)
    one, per = updates(fused), updates(loop)
    assert len(per) == len(loop.params) and len(one) < len(per)
    # every gradient the per-tensor updates read, the fused ones read
    assert {t for op in one for t in op.inputs if not t.endswith(".optimizer_in")} == \
        {t for op in per for t in op.inputs if not t.endswith(".optimizer_in")}
    assert sum(op.vector_work() for op in one) == sum(op.vector_work() for op in per)
    # the same bytes, to the few bits a format group rounds to whole elements
    for a, b in zip(bytes_of(fused, one), bytes_of(loop, per), strict=True):
        assert a == pytest.approx(b, abs=len(per) * 2)
    assert fused.update_grads == loop.update_grads
    assert all(op.in_place and op.output_memory_bytes == 0 for op in one + per)


def test_mixed_precision_groups_by_format() -> None:
    """int8 GEMMs with fp32 master weights: the convolutions' int8 gradients and the batch
    norms' fp32 ones are two groups (a multi-tensor kernel takes one dtype per list)."""
    g = graph("resnet18", "int8")
    assert [op.name for op in updates(g)] == ["params0.update", "params1.update"]
    assert {op.act_bits for op in updates(g)} == {8, 32}


def test_update_writes_the_weight_copy_or_the_forward_casts_it() -> None:
    at_update, autocast = graph("bert_base"), graph("bert_base", weight_copy="forward")
    casts = [o for o in autocast.ops if o.role == "weight_cast"]
    assert casts and not any(o.role == "weight_cast" for o in at_update.ops)
    copied = sum(math.prod(autocast.workload.op(o.name).out_shape) for o in casts)
    (upd,) = updates(at_update)
    (plain,) = updates(autocast)
    assert upd.ops_extra == CAST_OPS * copied and plain.ops_extra == 0
    # bf16 copies: 2 bytes each written by the update, to the element a group rounds to
    assert upd.output_bytes - plain.output_bytes == pytest.approx(2 * copied, abs=4)
    assert at_update.weight_copy_bytes == autocast.weight_copy_bytes == 2 * copied


def test_weight_copy_placement_sets_only_where_the_copy_is_made() -> None:
    """Memory is the same either way (the copy is persistent); the step at the update does
    not read the master weights again in the forward, so it moves fewer bytes."""
    wl = pysim.zoo.load("bert_base", seq_len=128)
    at_update = training.step(A100, wl, "adamw")
    autocast = training.step(A100, wl, "adamw", weight_copy="forward")
    assert at_update.memory == autocast.memory
    moved = [s.result.dram_read_bytes + s.result.dram_write_bytes for s in (at_update, autocast)]
    assert moved[0] < moved[1]
    assert at_update.macs == autocast.macs


def test_fused_step_is_not_slower_on_a_gpu() -> None:
    """One kernel instead of one per parameter tensor: the same bytes, fewer launches."""
    wl = pysim.zoo.load("resnet18", batchnorm=True)
    fused = training.step(A100, wl, "momentum", "mixed_fp16")
    loop = training.step(A100, wl, "momentum", "mixed_fp16", fused_optimizer=False)
    assert fused.time_by_phase_s()["optimizer"] < loop.time_by_phase_s()["optimizer"]
    assert fused.latency_s < loop.latency_s
    assert fused.memory == loop.memory


def test_the_update_writes_in_place_so_working_memory_holds_no_state() -> None:
    """Working memory counts what is not persistent: an update of 11M parameters adds none."""
    s = training.step(A100, "resnet18", "adam", "mixed_fp16")
    (update, *_) = updates(s.graph)
    assert update.output_bytes > s.memory.working


def test_data_parallel_buckets_are_the_same_fused_or_not() -> None:
    wl = pysim.zoo.load("resnet18", batchnorm=True)
    fused = training.step(A100, wl, "sgd", "mixed_fp16", data_parallel=4, bucket_mib=4)
    loop = training.step(A100, wl, "sgd", "mixed_fp16", data_parallel=4, bucket_mib=4,
                         fused_optimizer=False)
    assert fused.data_parallel is not None and loop.data_parallel is not None
    assert fused.data_parallel.buckets == loop.data_parallel.buckets


def test_a_large_group_shapes_its_state_tensor_within_the_dimension_limit() -> None:
    """Over 2^31 - 1 elements the states are a matrix of exactly their elements."""
    from pysim.training.graph import _flat_shape
    from pysim.workload.tensors import MAX_DIM

    assert _flat_shape(7) == (7,) and _flat_shape(MAX_DIM) == (MAX_DIM,)
    assert _flat_shape(3 * 2**31) == (3 * 2**29, 4)  # 2 x 2^31 would be one over the limit
    for elements in (2**31 + 1, 12 * 6_738_415_616 // 2, 2 * MAX_DIM + 1):
        shape = _flat_shape(elements)
        assert math.prod(shape) == elements and max(shape) <= MAX_DIM, elements


def test_unknown_weight_copy_place_is_one_line() -> None:
    one_line(lambda: training.step(A100, "resnet18", weight_copy="backward"),  # type: ignore[arg-type]
             "weight_copy", "'backward'", "'optimizer'", "'forward'", error=pysim.WorkloadError)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.integers(1, 48), min_size=1, max_size=4), st.integers(1, 16),
       st.sampled_from(["sgd", "momentum", "adam", "adamw"]),
       st.sampled_from(["fp32", "mixed_bf16", "mixed_fp16", "int8"]),
       st.sampled_from(["optimizer", "forward"]))
def test_fusing_the_update_changes_no_memory_and_no_work(widths: list[int], batch: int,
                                                         optimizer: str, recipe: str,
                                                         copy: str) -> None:
    """Energy and memory are sums of their parts: one multi-tensor update or one per tensor,
    the step holds the same bytes and does the same vector work."""
    dims = [8, *widths]
    ops = [Gemm(name=f"fc{i}", inputs=(f"fc{i - 1}" if i else "x",), m=batch, k=k, n=n,
                bias=bool(i % 2)) for i, (k, n) in enumerate(zip(dims, dims[1:], strict=False))]
    wl = pysim.Workload("mlp", ops, [{"name": "x", "shape": (batch, 8)}])
    steps = [training.step(A100, wl, optimizer, recipe, fused_optimizer=fused,
                           weight_copy=copy)  # type: ignore[arg-type]
             for fused in (True, False)]
    assert steps[0].memory == steps[1].memory
    work = [sum(op.vector_work() for op in s.graph.workload.ops) for s in steps]
    assert work[0] == work[1]
    assert steps[0].macs == steps[1].macs
