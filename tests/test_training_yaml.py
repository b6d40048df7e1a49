"""A training graph written as a workload YAML loads back as the same graph and runs alike
(its own op types ``vector_work``, ``weight_grad`` and ``attention_backward`` in the registry),
and ``pysim train --save-graph`` writes it."""

from __future__ import annotations

from pathlib import Path

import pytest

import pysim
from pysim import training
from pysim.cli import main
from pysim.errors import WorkloadError
from pysim.training.ops import AttentionBackward, VectorWork, WeightGrad
from pysim.workload import dump_workload, load_workload, workload_from_dict

ROOT = Path(__file__).resolve().parent.parent
TPU = ROOT / "configs" / "tpu_v1.yaml"


@pytest.mark.parametrize(("hardware", "model", "recipe", "classes"), [
    ("tpu_v1", "resnet18", "int8", {VectorWork, WeightGrad}),
    ("tpu_v1", "bert_base:attention=flash,seq_len=64", "int8",
     {VectorWork, WeightGrad, AttentionBackward}),
    ("gpu:h100", "gpt2:attention=flash,seq_len=128", "amp_bf16",
     {VectorWork, WeightGrad, AttentionBackward}),
    ("gpu:h100", "mobilenet_v2", "mixed_bf16", {VectorWork, WeightGrad}),
])
def test_a_training_graph_round_trips_through_yaml(tmp_path: Path, hardware: str, model: str,
                                                   recipe: str, classes: set[type]) -> None:
    hw = (pysim.gpu.preset(hardware[4:]) if hardware.startswith("gpu:")
          else pysim.load_hardware(ROOT / "configs" / f"{hardware}.yaml"))
    graph = training.step(hw, model, "adamw", recipe).graph.workload
    assert classes <= {type(op) for op in graph.ops}
    path = tmp_path / "step.yaml"
    dump_workload(graph, path)
    again = load_workload(path)
    assert again == graph
    assert [type(op) for op in again.ops] == [type(op) for op in graph.ops]
    # the classes keep their base types in memory, their own in the file
    assert {op.type for op in graph.ops if isinstance(op, WeightGrad)} == {"matmul"}
    text = path.read_text()
    assert "type: weight_grad" in text and "type: vector_work" in text
    first, second = pysim.simulate(hw, graph), pysim.simulate(hw, again)
    assert (first.latency_cycles, first.energy_j, first.dram_bytes) == \
        (second.latency_cycles, second.energy_j, second.dram_bytes)


def test_equal_shapes_stay_shapes_in_yaml() -> None:
    """A vector op reading two tensors of one shape, a square output: written as shapes (an
    (h, w) pair of equal ints is written as one int only for the fields that take one)."""
    data = {"name": "w", "inputs": [{"name": "a", "shape": [8, 8], "bits": 16},
                                    {"name": "b", "shape": [8, 8], "bits": 16}],
            "ops": [{"name": "v", "type": "vector_work", "inputs": ["a", "b"],
                     "shapes": [[8, 8], [8, 8]], "out_shape": [8, 8], "act_bits": 16,
                     "weight_bits": 16, "out_bits": 16, "dtype": "float"}]}
    wl = workload_from_dict(data)
    assert wl.to_dict()["ops"][0]["shapes"] == [[8, 8], [8, 8]]
    assert wl.to_dict()["ops"][0]["out_shape"] == [8, 8]
    assert workload_from_dict(wl.to_dict()) == wl


def test_an_unknown_training_op_field_is_named() -> None:
    data = {"name": "w", "inputs": [{"name": "a", "shape": [8, 8], "bits": 16}],
            "ops": [{"name": "v", "type": "vector_work", "inputs": ["a"], "shapes": [[8, 8]],
                     "out_shape": [8, 8], "per_element": 2}]}
    with pytest.raises(WorkloadError, match=r"ops\[0\]\.per_element .*is not a field of "
                                            r"VectorWork"):
        workload_from_dict(data)
    data["ops"][0]["type"] = "weight_gradient"
    with pytest.raises(WorkloadError, match=r"unknown op type 'weight_gradient'; known: .*"
                                            r"vector_work, weight_grad, attention_backward"):
        workload_from_dict(data)


def test_pysim_train_saves_the_graph_that_pysim_run_reads(tmp_path: Path, capsys) -> None:
    path = tmp_path / "r18.yaml"
    code = main(["train", str(TPU), "resnet18", "--recipe", "int8", "--save-graph",
                 str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert f"wrote {path}: 205 ops" in out
    assert path.read_text().startswith("# The training graph of resnet18 (int8, adam)")
    step = training.step(pysim.load_hardware(TPU), "resnet18", "adam", "int8")
    assert load_workload(path) == step.graph.workload
    code = main(["run", str(TPU), str(path)])
    out, err = capsys.readouterr()
    assert code == 0, err
    assert "resnet18.train" in out


def test_pysim_train_refuses_a_graph_file_it_cannot_write_before_the_step(capsys) -> None:
    code = main(["train", str(TPU), "resnet18", "--recipe", "int8", "--save-graph",
                 "/no/such/dir/g.yaml"])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == ("pysim train: error: --save-graph /no/such/dir/g.yaml: no directory "
                           "/no/such/dir to write it in")


def test_pysim_train_refuses_a_directory_as_the_graph_file(tmp_path: Path, capsys) -> None:
    code = main(["train", str(TPU), "resnet18", "--recipe", "int8", "--save-graph",
                 str(tmp_path)])
    out, err = capsys.readouterr()
    assert code == 2 and out == ""
    assert err.strip() == (f"pysim train: error: --save-graph {tmp_path}: a directory; give "
                           f"the file to write, e.g. {tmp_path / 'step.yaml'}")
