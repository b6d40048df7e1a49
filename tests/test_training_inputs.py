"""Schedule and recipe inputs of pysim.training: ranges past the run, empty schedules, what
overlapping ranges mean, and per-role formats (dX and dW gradients apart, optimizer states by
name) through `Recipe.with_formats`, `training.step(formats=...)` and ``pysim train --format``."""

from __future__ import annotations

import pysim
from pysim import training
from pysim.errors import WorkloadError
from pysim.training.graph import build_training_graph
from pysim.workload import Elementwise, Gemm, Workload
from tests.one_line import one_line as check_one_line

A100 = pysim.gpu.preset("a100")


def mlp() -> Workload:
    return Workload("mlp", [
        Gemm(name="fc1", inputs=("x",), m=8, k=16, n=32),
        Elementwise(name="relu", op="relu", inputs=("fc1",), shape=(8, 32)),
        Gemm(name="fc2", inputs=("relu",), m=8, k=32, n=4),
    ], [{"name": "x", "shape": (8, 16), "bits": 8}])


def one_line(call, *words):
    check_one_line(call, *words, error=WorkloadError)


# -- schedules -------------------------------------------------------------------------------

def test_range_past_the_run_names_range_length_and_what_is_allowed():
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"0-5": {"*": 8}}), "'0-5'", "2 epochs",
             "stop <= 2")
    one_line(lambda: training.run(A100, mlp(), 3, 1, {(1, 4): {"fc1": 8}}), "(1, 4)",
             "3 epochs", "stop <= 3")
    training.run(A100, mlp(), 2, 1, {"0-2": {"*": 8}})  # ending with the run is allowed


def test_empty_schedule_and_empty_assignment():
    one_line(lambda: training.run(A100, mlp(), 2, 1, {}), "empty", "schedule=None")
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"0-2": {}}), "'0-2'", "empty")


def test_negative_and_non_integer_epochs_and_ranges():
    one_line(lambda: training.run(A100, mlp(), -1, 1), "epochs", "-1", ">= 1")
    one_line(lambda: training.run(A100, mlp(), 2, 0), "steps_per_epoch", "0")
    one_line(lambda: training.run(A100, mlp(), 2.5, 1), "epochs", "2.5")  # type: ignore[arg-type]
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"-1-2": {"*": 8}}), "-1-2", "start-stop")
    one_line(lambda: training.run(A100, mlp(), 2, 1, {(-1, 2): {"*": 8}}), "(-1, 2)",
             "0 <= start < stop")
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"1-1": {"*": 8}}), "1-1")


def test_layer_formats_and_schedules_refuse_non_mac_layers():
    one_line(lambda: training.step(A100, mlp(), layer_formats={"relu": 8}), "'relu'",
             "not a MAC layer", "fc1")
    one_line(lambda: training.run(A100, mlp(), 2, 1, {"0-2": {"relu": 8}}), "'relu'",
             "not a MAC layer")


def test_overlapping_ranges_override_layer_by_layer():
    """Overlap is allowed and documented: a later range overrides an earlier one for the
    layers it names (widening one layer inside an all-layer range)."""
    sched = training.Schedule.of({"0-4": {"*": 8}, "2-4": {"fc2": 4}}, mlp(), 4)
    assert {k: f.name for k, f in sched.at(1).items()} == {"fc1": "fixed8", "fc2": "fixed8"}
    assert {k: f.name for k, f in sched.at(3).items()} == {"fc1": "fixed8", "fc2": "fixed4"}
    rep = training.run(A100, mlp(), 4, 1, {"0-4": {"*": 8}, "2-4": {"fc2": 4}},
                       optimizer="sgd", recipe="int8")
    assert list(rep.epochs["formats"])[2] == "fc1=fixed8,fc2=fixed4"
    assert len(rep.steps) == 2


# -- formats per role ------------------------------------------------------------------------

def _by_role(s: training.TrainingStep, layer: str) -> dict[str, str]:
    return {o.role: o.format for o in s.graph.ops if o.layer == layer
            and o.role in ("forward", "dX", "dW")}


def test_dx_and_dw_gradient_formats_apart():
    h100 = pysim.gpu.preset("h100")
    s = training.step(h100, mlp(), "adam", "fp8", input_grads=True, formats={"dW": "bf16"})
    ops = {o.name: o for o in s.graph.workload.ops}
    # dX keeps the recipe's E5M2 dY; dW reads dY in bf16 (no cast: the loss gradient is
    # bf16 already) and its saved-X operand cast up to bf16 to match
    assert ops["fc2.dX"].inputs[0] == "loss.fc2.to_fp8_e5m2" and ops["fc2.dX"].act_bits == 8
    assert ops["fc2.dW"].inputs[1] == "loss.fc2" and ops["fc2.dW"].act_bits == 16
    assert _by_role(s, "fc2") == {"forward": "fp8_e4m3", "dX": "fp8_e5m2xfp8_e4m3",
                                  "dW": "fp8_e4m3xbf16"}
    assert s.recipe.name == "fp8[dW=bf16]"
    plain = training.step(h100, mlp(), "adam", "fp8", input_grads=True)
    assert _by_role(plain, "fc2")["dW"] == "fp8_e4m3xfp8_e5m2"
    # an E4M3 dW gradient instead of E5M2: its own cast of dY (same cost per element)
    r = training.get_recipe("fp8").with_formats({"dW": "fp8_e4m3"})
    assert (r.dx_grad.name, r.dw_grad.name, r.forward.name) == ("fp8_e5m2", "fp8_e4m3",
                                                                "fp8_e4m3")
    # ``grad`` sets both, unless dX / dW say otherwise
    both = training.get_recipe("mixed_bf16").with_formats({"grad": "fp16", "dW": "bf16"})
    assert (both.dx_grad.name, both.dw_grad.name) == ("fp16", "bf16")


def test_dx_and_dw_formats_change_the_int_path():
    sgd = training.get_optimizer("sgd")
    base = training.get_recipe("int8")
    g0 = build_training_graph(mlp(), base, {}, sgd, input_grads=True)
    g1 = build_training_graph(mlp(), base.with_formats({"dW": 16}), {}, sgd, input_grads=True)
    ops = {o.name: o for o in g1.workload.ops}
    assert ops["fc1.dW"].act_bits == 16 and ops["fc1.dX"].act_bits == 8
    assert {o.name: o for o in g0.workload.ops}["fc1.dW"].act_bits == 8
    for role in ("forward", "dX", "dW"):
        assert g0.macs(role) == g1.macs(role)


def test_optimizer_state_format_by_name():
    fp32 = training.step(A100, mlp(), "adam", "mixed_bf16")
    bf16 = training.step(A100, mlp(), "adam", "mixed_bf16", formats={"state": "bf16"})
    params = sum(fp32.graph.params.values())
    assert fp32.memory.optimizer_states == 2 * params * 4
    assert bf16.memory.optimizer_states == 2 * params * 2
    assert bf16.memory.master_weights == fp32.memory.master_weights


def test_a_layer_format_overrides_the_role_formats_of_its_layer():
    r = training.get_recipe("int8").with_formats({"dW": 16})
    g = build_training_graph(mlp(), r, {"fc2": r.with_layer_format(training.get_format(4))},
                             training.get_optimizer("sgd"), input_grads=True)
    ops = {o.name: o for o in g.workload.ops}
    assert ops["fc2.dW"].act_bits == 4 and ops["fc1.dW"].act_bits == 16


def test_bad_role_or_format():
    one_line(lambda: training.step(A100, mlp(), formats={"dZ": "bf16"}), "'dZ'", "dX", "dW",
             "state")
    one_line(lambda: training.step(A100, mlp(), formats={"dW": "e9m9"}), "formats['dW']",
             "e9m9", "fp8_e5m2")
    one_line(lambda: training.step(A100, mlp(), formats=["dW"]), "formats",  # type: ignore
             "mapping")


def test_cli_format_flag(capsys):
    from pysim.cli import main

    assert main(["train", "gpu:a100", "gemm", "--optimizer", "sgd", "--format", "dW=fp16",
                 "--format", "state=bf16"]) == 0
    assert "mixed_bf16[dW=fp16,state=bf16]" in capsys.readouterr().out
    assert main(["train", "gpu:a100", "gemm", "--format", "dW"]) == 2
    assert "ROLE=FORMAT" in capsys.readouterr().err
    assert main(["train", "gpu:a100", "gemm", "--format", "dQ=fp16"]) == 2
    assert "dQ" in capsys.readouterr().err
