"""Every zoo model trains on an accelerator config and on a GPU preset (issue 15's resolution
criterion): `training.step` runs, the dX and dW GEMMs of each MAC layer carry twice its
forward MACs (attention 5/2: FlashAttention-2's five backward GEMMs), the peak memory holds
the saved activations, and the step takes longer than the forward pass. A case that cannot
train must be listed in `REFUSED` with its one-line error, so a new gap fails here."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

import pysim
from pysim import training
from pysim.workload import Workload
from pysim.workload.attention import Attention

ROOT = Path(__file__).resolve().parents[1]

# Small sizes keep the module fast; each still has every op type of its model.
SMALL: dict[str, dict[str, Any]] = {
    "resnet18": {"image_size": 64},
    "resnet50": {"image_size": 64},
    "mobilenet_v2": {"image_size": 64},
    "bert_base": {"seq_len": 32},  # naive attention: matmul, softmax, matmul
    "gemm": {"m": 64, "n": 64, "k": 64},
    "vgg16": {"image_size": 32},
    "vit_b16": {"image_size": 64},
    "bert_large": {"seq_len": 32},
    "gpt2": {"seq_len": 64, "attention": "flash"},  # the fused attention op and its backward
    "gpt": {"seq_len": 64, "layers": 2, "hidden": 256, "heads": 4},
    "llama2_7b": {"seq_len": 32, "context_len": 32},
    "moe_ffn": {"seq_len": 32, "hidden": 256, "ffn_hidden": 512},
    "finn_cnv": {},
    "binary_resnet18": {"image_size": 64},
    "resnet18_precision": {"image_size": 64},
    "llama2_7b_linear": {"seq_len": 32},
}

# (hardware, recipe): the a100 preset in bf16 mixed precision; tpu_v1, whose MXU multiplies
# int8 only, in the int8 recipe (int8 GEMMs, fp32 master weights and states)
HARDWARE = {"gpu:a100": "mixed_bf16", "tpu_v1": "int8"}

# A 7B model's Adam states do not fit one 80 GB A100 (16 B per parameter with fp32 master
# weights, gradients and two states, and the bf16 copies: 111 GiB); SGD's 8 B per parameter
# would (63 GiB).
OPTIMIZER = {"llama2_7b": "sgd", "llama2_7b_linear": "sgd"}

# Cases that cannot train, each with its one-line error: (model, hardware, recipe,
# optimizer) -> words the error must contain.
REFUSED: dict[tuple[str, str, str, str], tuple[str, ...]] = {
    ("llama2_7b", "gpu:a100", "mixed_bf16", "adam"): ("110.92 GiB", "80.00 GiB",
                                                      "optimizer states"),
    ("llama2_7b_linear", "gpu:a100", "mixed_bf16", "adam"): ("GiB", "checkpoint=True"),
    # tpu_v1's MXU has no float multipliers: a float recipe names the op and what it runs
    ("gemm", "tpu_v1", "mixed_bf16", "adam"): ("forward op of layer 'gemm'", "bf16",
                                               "int operands up to 8 bits"),
    ("finn_cnv", "tpu_v1", "fp32", "adam"): ("fp32", "no unit supports them"),
}


def hardware(name: str) -> Any:
    if name.startswith("gpu:"):
        return pysim.gpu.preset(name[4:])
    return pysim.load_hardware(ROOT / "configs" / f"{name}.yaml")


def model(name: str) -> Workload:
    params = next(p for n, p, _ in pysim.zoo.describe() if n == name)
    extra = {"batchnorm": True} if "batchnorm" in params else {}  # the CNNs' training form
    return pysim.zoo.load(name, **SMALL[name], **extra)


def test_every_zoo_model_has_a_small_size() -> None:
    assert set(SMALL) == set(pysim.zoo.names())


def check_mac_rule(wl: Workload, step: training.TrainingStep) -> None:
    """Per MAC layer: the forward GEMM once, dX + dW twice its MACs (attention 5/2)."""
    g = step.graph
    role = {o.name: (o.layer, o.role) for o in g.ops}
    bwd: dict[str, int] = {}
    for op in g.workload.ops:
        layer, r = role[op.name]
        if r in ("dX", "dW"):
            bwd[layer] = bwd.get(layer, 0) + op.macs
    macs = [op for op in wl.ops if op.runs_on == "mac"]
    assert set(bwd) == {op.name for op in macs}
    for op in macs:
        ratio = (5, 2) if isinstance(op, Attention) else (2, 1)
        assert bwd[op.name] * ratio[1] == op.macs * ratio[0], op.name
    assert g.macs("forward", "forward") == wl.macs
    assert g.workload.macs == wl.macs + sum(bwd.values())  # no other MACs (no recompute)


@pytest.mark.parametrize("hw_name", HARDWARE)
@pytest.mark.parametrize("name", sorted(SMALL))
def test_zoo_model_trains(name: str, hw_name: str) -> None:
    hw, recipe, optimizer = hardware(hw_name), HARDWARE[hw_name], OPTIMIZER.get(name, "adam")
    if (name, hw_name, recipe, optimizer) in REFUSED:
        return test_refused_cases_say_why_in_one_line((name, hw_name, recipe, optimizer))
    wl = model(name)
    step = training.step(hw, wl, optimizer, recipe, input_grads=True)
    check_mac_rule(wl, step)
    mem = step.memory
    assert mem.saved_activations > 0
    assert mem.peak >= mem.persistent + mem.saved_activations
    if mem.capacity is not None:
        assert mem.peak <= mem.capacity
    assert step.latency_s > pysim.simulate(hw, wl).latency_s


@pytest.mark.parametrize("case", REFUSED, ids="-".join)
def test_refused_cases_say_why_in_one_line(case: tuple[str, str, str, str]) -> None:
    name, hw_name, recipe, optimizer = case
    with pytest.raises(pysim.WorkloadError) as err:
        training.step(hardware(hw_name), model(name), optimizer, recipe, input_grads=True)
    text = str(err.value)
    assert "\n" not in text, text
    for word in REFUSED[case]:
        assert word in text, text
