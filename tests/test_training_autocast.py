"""PyTorch autocast's per-op formats in the training graph (the ``amp_fp16`` / ``amp_bf16``
recipes, pysim/training/graph.py): the model and its activations fp32, MAC ops in the half
format on cast copies, autocast's fp32 ops (norms, softmax, the loss) in fp32, the rest in the
widest of their inputs, each gradient in its tensor's format."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import pysim
from pysim import training
from pysim.training.graph import autocasts_to_fp32, build_training_graph
from pysim.training.ops import VectorWork
from pysim.workload import workload_from_dict


def block() -> pysim.Workload:
    """Pre-norm block: LN -> Linear -> GELU -> residual add -> Linear (logits)."""
    return workload_from_dict({"name": "blk", "inputs": [{"name": "x", "shape": [8, 16]}],
                               "ops": [
        {"name": "ln", "type": "layernorm", "inputs": ["x"], "rows": 8, "cols": 16},
        {"name": "fc", "type": "gemm", "inputs": ["ln"], "m": 8, "n": 16, "k": 16},
        {"name": "act", "type": "elementwise", "op": "gelu", "inputs": ["fc"], "shape": [8, 16]},
        {"name": "res", "type": "elementwise", "op": "add", "inputs": ["act", "x"],
         "shape": [8, 16]},
        {"name": "head", "type": "gemm", "inputs": ["res"], "m": 8, "n": 32, "k": 16}]})


def build(recipe: str, wl: pysim.Workload | None = None) -> training.TrainingGraph:
    return build_training_graph(wl or block(), training.get_recipe(recipe), {},
                                training.get_optimizer("adam"), input_grads=True,
                                weight_copy="forward")


def formats(g: training.TrainingGraph) -> dict[str, tuple[str, str, int | None]]:
    """op name -> (role, format name, output bits)"""
    return {o.name: (i.role, i.format, o.out_bits)
            for o, i in zip(g.workload.ops, g.ops, strict=True)}


def test_the_block_runs_in_autocasts_formats() -> None:
    f = formats(build("amp_bf16"))
    assert f["ln"] == ("vector", "fp32", 32)  # layer_norm: fp32 list, reading the fp32 input
    assert f["ln.to_bf16"] == ("cast", "bf16", 16)  # the Linear casts its input
    assert f["fc"][:2] == ("forward", "bf16") and f["act"][1:] == ("bf16", 16)  # GELU: bf16
    assert f["res"][1:] == ("fp32", 32)  # fp32 residual + bf16: promoted to fp32
    res = build("amp_bf16").workload.op("res")
    assert isinstance(res, VectorWork) and res.input_bits() == (16, 32)  # one kernel
    assert f["res.to_bf16"] == ("cast", "bf16", 16)  # the head's input cast
    # the loss casts the bf16 logits to fp32, and its gradient back to bf16
    assert f["head.to_fp32"] == ("cast", "fp32", 32) and f["loss.head"][1:] == ("fp32", 32)
    assert f["loss.head.to_bf16"] == ("cast", "bf16", 16)
    # gradients in their tensors' formats: fp32 for the residual stream and the LN output
    assert f["head.dX.to_fp32"] == ("cast", "fp32", 32)
    assert f["ln.d0"][1:] == ("fp32", 32) and f["ln.dgamma"][1] == "fp32"
    assert f["fc.dX.to_fp32"] == ("cast", "fp32", 32)


def test_megatron_style_mixed_precision_has_no_casts_around_vector_ops() -> None:
    f = formats(build("mixed_bf16"))
    assert all(fmt == "bf16" for name, (role, fmt, _) in f.items()
               if role in ("vector", "vector_backward", "loss"))
    assert not [n for n, (role, _, _) in f.items() if role == "cast"]


@pytest.mark.parametrize("half", ["fp16", "bf16"])
def test_autocast_keeps_the_gemms_and_moves_more_bytes(half: str) -> None:
    hw = pysim.gpu.preset("a100")
    amp = training.step(hw, block(), "adam", f"amp_{half}", input_grads=True)
    mixed = training.step(hw, block(), "adam", f"mixed_{half}", input_grads=True,
                          weight_copy="forward")
    assert amp.macs_by_role() == mixed.macs_by_role()
    assert amp.result.dram_bytes > mixed.result.dram_bytes  # fp32 activations and casts
    # saved: LN's fp32 input, the fp32 residual
    assert amp.memory.saved_activations > mixed.memory.saved_activations
    # the amp recipes cast their weights before each forward GEMM by default
    roles = {i.role for i in amp.graph.ops}
    assert "weight_cast" in roles and amp.graph.weight_copy_bytes > 0


def test_autocasts_fp32_list() -> None:
    ops = {o.name: o for o in block().ops}
    assert autocasts_to_fp32(ops["ln"]) and not autocasts_to_fp32(ops["act"])
    assert not autocasts_to_fp32(ops["res"]) and not autocasts_to_fp32(ops["fc"])
    assert set(training.RECIPES) >= {"amp_fp16", "amp_bf16"}
    assert training.get_recipe("amp_fp16").loss_scale
    assert not training.get_recipe("amp_bf16").loss_scale


@settings(max_examples=25, deadline=None)
@given(widths=st.lists(st.integers(1, 6).map(lambda e: 8 * e), min_size=1, max_size=4),
       norms=st.lists(st.booleans(), min_size=4, max_size=4),
       residual=st.booleans(), half=st.sampled_from(["fp16", "bf16"]))
def test_autocast_graphs_are_well_formed(widths: list[int], norms: list[bool], residual: bool,
                                         half: str) -> None:
    """Random MLPs with layer norms and residual adds: the graph validates (every op reads
    its inputs at their widths), has the mixed recipe's GEMMs and MACs, and every gradient a
    tensor receives is in that tensor's format."""
    ops, x, d = [], "x", 8
    for i, w in enumerate(widths):
        if norms[i]:
            ops.append({"name": f"ln{i}", "type": "layernorm", "inputs": [x], "rows": 4,
                        "cols": d})
            x = f"ln{i}"
        ops.append({"name": f"fc{i}", "type": "gemm", "inputs": [x], "m": 4, "n": d, "k": d})
        ops.append({"name": f"a{i}", "type": "elementwise", "op": "relu",
                    "inputs": [f"fc{i}"], "shape": [4, d]})
        x = f"a{i}"
        if residual:
            prev = "x" if i == 0 else f"r{i - 1}"
            ops.append({"name": f"r{i}", "type": "elementwise", "op": "add",
                        "inputs": [x, prev], "shape": [4, d]})
            x = f"r{i}"
        del w
    wl = workload_from_dict({"name": "mlp", "inputs": [{"name": "x", "shape": [4, d]}],
                             "ops": ops})
    amp, mixed = build(f"amp_{half}", wl), build(f"mixed_{half}", wl)
    assert amp.macs() == mixed.macs()
    assert [i.role for i in amp.ops if i.role in ("forward", "dX", "dW")] == \
        [i.role for i in mixed.ops if i.role in ("forward", "dX", "dW")]
    tensors = amp.workload.tensors
    for op in amp.workload.ops:  # a gradient sum adds parts of one format
        if op.name.startswith("grad."):
            assert len({tensors[t].bits for t in op.inputs}) == 1
