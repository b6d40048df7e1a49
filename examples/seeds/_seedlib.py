"""Helpers shared by the seed-paper scripts (examples/seeds/*.py): the papers' figures from
their fixtures (tests/data/seeds/*.yaml) and rewrites of a pysim workload in its plain-data
form (``Workload.to_dict()``), e.g. every MAC op at other widths with quantize ops inserted.

Nothing here holds a pysim figure: the scripts compute every one by running pysim."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import yaml

from pysim.workload import Workload, workload_from_dict

ROOT = Path(__file__).resolve().parents[2]
FIXTURES = ROOT / "tests" / "data" / "seeds"
MAC_TYPES = ("gemm", "linear", "matmul", "conv2d")


def paper(name: str) -> dict[str, Any]:
    """The fixture ``tests/data/seeds/<name>.yaml``: the paper's figures and their source."""
    with open(FIXTURES / f"{name}.yaml") as f:
        data: dict[str, Any] = yaml.safe_load(f)
    return data


def as_dict(wl: Workload) -> dict[str, Any]:
    """A deep copy of the workload's plain-data form, to edit."""
    return copy.deepcopy(wl.to_dict())


def build(data: dict[str, Any]) -> Workload:
    """The workload of an edited plain-data form (validated again)."""
    return workload_from_dict(data)


def tensor_shapes(data: dict[str, Any]) -> dict[str, tuple[int, ...]]:
    """Shape of every tensor of a plain-data workload (declared inputs and op outputs)."""
    wl = build(data)
    return {name: tuple(t.shape) for name, t in wl.tensors.items()}


def recast(data: dict[str, Any], *, mac: dict[str, Any], other: dict[str, Any],
           input_bits: int, input_dtype: str) -> dict[str, Any]:
    """Every op's widths replaced: MAC ops take the fields ``mac``, the others ``other``;
    graph inputs that are activations take ``input_bits`` / ``input_dtype``."""
    out = copy.deepcopy(data)
    for t in out["inputs"]:
        if t.get("role", "input") == "input":
            t["bits"], t["dtype"] = input_bits, input_dtype
    for op in out["ops"]:
        op.update(mac if op["type"] in MAC_TYPES else other)
    return out


def insert_quantizers(data: dict[str, Any], shapes: dict[str, tuple[int, ...]], *,
                      to_bits: int, from_bits: int, dtype: str) -> dict[str, Any]:
    """Before the MAC ops (already at ``act_bits == to_bits``), one elementwise ``quantize``
    op per distinct tensor they read (``from_bits`` -> ``to_bits``), shared by all its MAC
    readers: the sign / round of the activations a low-precision layer needs. ``shapes``:
    every tensor's shape (``tensor_shapes`` of the workload before its widths changed)."""
    out = copy.deepcopy(data)
    weights = {t["name"] for t in out["inputs"] if t.get("role") == "weight"}
    made: dict[str, str] = {}
    ops: list[dict[str, Any]] = []
    for op in out["ops"]:
        if op["type"] in MAC_TYPES:
            new_inputs = []
            for name in op["inputs"]:
                if name in weights:
                    new_inputs.append(name)
                    continue
                if name not in made:
                    made[name] = f"{name}.quant{to_bits}"
                    ops.append({"name": made[name], "type": "elementwise", "op": "quantize",
                                "inputs": [name], "shape": list(shapes[name]),
                                "act_bits": from_bits, "out_bits": to_bits, "dtype": dtype})
                new_inputs.append(made[name])
            op["inputs"] = new_inputs
        ops.append(op)
    out["ops"] = ops
    return out
