"""Bad workload YAML: always a pysim.WorkloadError (a ValueError) whose message names the file,
the field path (``ops[i].field``), the value and what is allowed; never a crash, never a
pydantic error leaking out."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from pysim.errors import WorkloadError
from pysim.workload import load_workload

CONV = {"name": "c", "type": "conv2d", "inputs": ["x"], "in_h": 8, "in_w": 8, "in_c": 4,
        "out_c": 4, "kernel": 3, "padding": 1}
X = {"name": "x", "shape": [1, 8, 8, 4]}


def _write(tmp_path: Path, data: Any) -> Path:
    path = tmp_path / "bad.yaml"
    path.write_text(data if isinstance(data, str) else yaml.safe_dump(data, sort_keys=False))
    return path


def _error(tmp_path: Path, data: Any) -> str:
    path = _write(tmp_path, data)
    with pytest.raises(WorkloadError) as err:
        load_workload(path)
    msg = str(err.value)
    assert str(path) in msg  # every message names the file
    return msg


def _conv(**changes: Any) -> dict:
    op = {**CONV, **changes}
    return {"name": "w", "inputs": [X], "ops": [{k: v for k, v in op.items() if v is not None}]}


def test_missing_file(tmp_path):
    with pytest.raises(WorkloadError, match="cannot read workload file"):
        load_workload(tmp_path / "nope.yaml")


def test_not_yaml(tmp_path):
    msg = _error(tmp_path, "name: a\nops: [{name: c,\n  - 1\n")
    assert re.search(r"invalid YAML: line \d+, column \d+: ", msg)


@pytest.mark.parametrize(
    ("data", "match"),
    [
        ("- 1\n- 2\n", "must be a mapping with keys name, inputs, ops, got list"),
        ("", "must be a mapping"),
        ({"name": "w", "ops": [CONV], "inputs": [X], "layers": 1}, "layers: unknown top-level key"),
        ({"ops": [CONV], "inputs": [X]}, "name: is required"),
        ({"name": "w", "inputs": [X]}, "ops: is required"),
        ({"name": "", "ops": [CONV], "inputs": [X]}, "name: must be a non-empty string, got ''"),
        ({"name": 3, "ops": [CONV], "inputs": [X]}, "name: must be a non-empty string, got 3"),
        ({"name": "w", "ops": "conv", "inputs": [X]}, "ops: must be a list, got 'conv'"),
        ({"name": "w", "ops": [], "inputs": [X]}, "ops: a workload needs at least one op"),
        ({"name": "w", "ops": [CONV], "inputs": {"x": 1}}, "inputs: must be a list"),
        ({"name": "w", "ops": [[1]], "inputs": [X]}, r"ops\[0\]: an op must be a mapping"),
        ({"name": "w", "ops": [CONV], "inputs": ["x"]}, r"inputs\[0\]: a tensor must be a mapping"),
    ],
)
def test_bad_document(tmp_path, data, match):
    assert re.search(match, _error(tmp_path, data))


def test_missing_type_lists_known_types(tmp_path):
    msg = _error(tmp_path, _conv(type=None))
    assert re.search(r"ops\[0\]\.type: is required; known: conv2d, gemm, linear, matmul", msg)


def test_unknown_type_lists_known_types(tmp_path):
    msg = _error(tmp_path, _conv(type="conv3d"))
    assert "ops[0].type: unknown op type 'conv3d'" in msg
    for name in ("conv2d", "gemm", "linear", "matmul", "elementwise", "softmax", "layernorm",
                 "pool"):
        assert name in msg


@pytest.mark.parametrize(
    ("changes", "path", "what"),
    [
        ({"in_h": None}, "ops[0].in_h", "is required; Conv2d needs: name, inputs, in_h"),
        ({"kernel": None}, "ops[0].kernel", "is required"),
        ({"name": None}, "ops[0].name", "is required"),
        ({"in_h": 0}, "ops[0].in_h", "must be greater than or equal to 1, got 0"),
        ({"out_c": -3}, "ops[0].out_c", "must be greater than or equal to 1, got -3"),
        ({"batch": 0}, "ops[0].batch", "must be greater than or equal to 1, got 0"),
        ({"batch": 2**31}, "ops[0].batch", "less than or equal to 2147483647, got 2147483648"),
        ({"kernel": [3, 0]}, "ops[0].kernel[1]", "must be greater than or equal to 1, got 0"),
        ({"kernel": [3, 3, 3]}, "ops[0].kernel", "at most 2 items"),
        ({"padding": -1}, "ops[0].padding[0]", "greater than or equal to 0, got -1"),
        ({"in_w": "8"}, "ops[0].in_w", "must be a valid integer, got '8'"),
        ({"in_w": 8.5}, "ops[0].in_w", "must be a valid integer, got 8.5"),
        ({"in_w": True}, "ops[0].in_w", "must be a valid integer, got True"),
        ({"stride": "two"}, "ops[0].stride", "must be a list, got 'two'"),
        ({"bias": "yes"}, "ops[0].bias", "must be a valid boolean, got 'yes'"),
        ({"weight_bits": 0}, "ops[0].weight_bits", "greater than or equal to 1, got 0"),
        ({"act_bits": 33}, "ops[0].act_bits", "less than or equal to 32, got 33"),
        ({"out_bits": 64}, "ops[0].out_bits", "less than or equal to 32, got 64"),
        ({"bias_bits": 0}, "ops[0].bias_bits", "greater than or equal to 1, got 0"),
        ({"dtype": "bfloat"}, "ops[0].dtype", "must be 'int' or 'float', got 'bfloat'"),
        ({"name": ""}, "ops[0].name", "at least 1 character"),
        ({"inputs": "x"}, "ops[0].inputs", "must be a list, got 'x'"),
        ({"inputs": ["x", "x"]}, "ops[0].inputs", "a conv2d op reads 1 tensor(s), got 2"),
        ({"kernell": 3}, "ops[0].kernell", "is not a field of Conv2d; allowed: name, inputs"),
        ({"groups": 3}, "ops[0].groups", "groups must divide in_c=4 and out_c=4, got 3"),
        ({"kernel": 11, "padding": 0}, "ops[0].kernel",
         "dilated kernel height 11 exceeds the padded input height 8"),
    ],
)
def test_bad_conv_field(tmp_path, changes, path, what):
    msg = _error(tmp_path, _conv(**changes))
    assert f"{path} (conv2d" in msg or f"{path} (conv2d)" in msg
    assert what in msg


@pytest.mark.parametrize(
    ("op", "path", "what"),
    [
        ({"type": "elementwise", "op": "swish", "shape": [1, 8, 8, 4]}, "ops[0].op",
         "unknown elementwise op 'swish'; known: add, sub, mul"),
        ({"type": "elementwise", "op": "add", "shape": [1, 8, 8, 4]}, "ops[0].inputs",
         "reads 2 tensor(s), got 1"),
        ({"type": "elementwise", "op": "relu", "shape": []}, "ops[0].shape", "at least 1 item"),
        ({"type": "elementwise", "op": "relu", "shape": [1, 0]}, "ops[0].shape[1]",
         "greater than or equal to 1, got 0"),
        ({"type": "pool", "mode": "mean", "in_h": 8, "in_w": 8, "channels": 4, "kernel": 2},
         "ops[0].mode", "must be 'max' or 'avg', got 'mean'"),
        ({"type": "pool", "mode": "max", "in_h": 8, "in_w": 8, "channels": 4}, "ops[0].kernel",
         "a pool needs a kernel unless global_pool is true"),
        ({"type": "pool", "mode": "avg", "in_h": 8, "in_w": 8, "channels": 4,
          "global_pool": True, "kernel": 2}, "ops[0].kernel", "a global pool takes no kernel"),
        ({"type": "pool", "mode": "max", "in_h": 8, "in_w": 8, "channels": 4, "kernel": 9},
         "ops[0].kernel", "kernel height 9 exceeds the padded input height 8"),
        ({"type": "gemm", "m": 1, "n": 0, "k": 256}, "ops[0].n",
         "greater than or equal to 1, got 0"),
        ({"type": "linear", "m": 1, "k": 256}, "ops[0].n", "is required"),
        ({"type": "matmul", "m": 1, "n": 1, "k": 256}, "ops[0].inputs",
         "reads 2 tensor(s), got 1"),
        ({"type": "matmul", "batch": [2, -1], "m": 1, "n": 1, "k": 1}, "ops[0].batch[1]",
         "greater than or equal to 1, got -1"),
        ({"type": "softmax", "rows": 0, "cols": 256}, "ops[0].rows",
         "greater than or equal to 1, got 0"),
        ({"type": "layernorm", "rows": 1, "cols": 256, "affine": 1}, "ops[0].affine",
         "must be a valid boolean, got 1"),
    ],
)
def test_bad_op_field(tmp_path, op, path, what):
    data = {"name": "w", "inputs": [X], "ops": [{"name": "o", "inputs": ["x"], **op}]}
    msg = _error(tmp_path, data)
    assert f"{path} ({op['type']} 'o')" in msg
    assert what in msg


@pytest.mark.parametrize(
    ("tensor", "path", "what"),
    [
        ({"shape": [1, 8, 8, 4]}, "inputs[0].name", "is required"),
        ({"name": "x", "shape": [1, 0, 8, 4]}, "inputs[0].shape[1]", "greater than or equal to 1"),
        ({"name": "x", "shape": []}, "inputs[0].shape", "at least 1 item"),
        ({"name": "x", "shape": [1, 8, 8, 4], "bits": 0}, "inputs[0].bits", "got 0"),
        ({"name": "x", "shape": [1, 8, 8, 4], "bits": 33}, "inputs[0].bits", "got 33"),
        ({"name": "x", "shape": [1, 8, 8, 4], "role": "activation"}, "inputs[0].role",
         "a declared tensor is an 'input' or a 'weight', got 'activation'"),
        ({"name": "x", "shape": [1, 8, 8, 4], "role": "bias"}, "inputs[0].role",
         "must be 'input', 'weight' or 'activation'"),
        ({"name": "x", "shape": [1, 8, 8, 4], "size": 3}, "inputs[0].size", "not a field"),
    ],
)
def test_bad_declared_tensor(tmp_path, tensor, path, what):
    msg = _error(tmp_path, {"name": "w", "inputs": [tensor], "ops": [CONV]})
    assert path in msg and what in msg


def test_duplicate_declared_tensor(tmp_path):
    msg = _error(tmp_path, {"name": "w", "inputs": [X, X], "ops": [CONV]})
    assert "inputs[1].name: tensor 'x' is declared twice" in msg


def test_every_problem_of_an_op_is_reported(tmp_path):
    msg = _error(tmp_path, _conv(in_h=0, in_w=-1, kernel=None))
    assert msg.count("\n") == 2
    assert "ops[0].in_h" in msg and "ops[0].in_w" in msg and "ops[0].kernel" in msg


def test_shape_chain_error_in_a_file(tmp_path):
    second = {**CONV, "name": "d", "inputs": ["c"], "in_c": 8}
    msg = _error(tmp_path, {"name": "w", "inputs": [X], "ops": [CONV, second]})
    assert "ops[1].inputs[0] (conv2d 'd')" in msg
    assert "(1, 8, 8, 4)" in msg and "(1, 8, 8, 8) = (batch, in_h, in_w, in_c)" in msg
