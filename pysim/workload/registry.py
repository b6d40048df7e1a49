"""The op registry (YAML `type` -> op class) and parsing of ops and tensors from plain dicts.

Every error raised here is a `pysim.errors.WorkloadError` whose lines read
``<file>: ops[i].<field> (<type> '<name>'): <what is wrong and what is allowed>``.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from pysim.errors import WorkloadError
from pysim.workload.attention import Attention
from pysim.workload.data_ops import Copy, Reduce
from pysim.workload.ops import Conv2d, Gemm, Matmul, Op, OpFieldError
from pysim.workload.quant_ops import DequantAdd, RowQuantize
from pysim.workload.tensors import Tensor
from pysim.workload.vector_ops import Elementwise, LayerNorm, Pool, RowDivide, Softmax

OP_TYPES: dict[str, type[Op]] = {
    "conv2d": Conv2d,
    "gemm": Gemm,
    "linear": Gemm,
    "matmul": Matmul,
    "attention": Attention,
    "elementwise": Elementwise,
    "softmax": Softmax,
    "layernorm": LayerNorm,
    "pool": Pool,
    "reduce": Reduce,
    "copy": Copy,
    "row_quantize": RowQuantize,
    "dequant_add": DequantAdd,
    "row_divide": RowDivide,
}
"""YAML op `type` -> op class; `linear` is an alias of `gemm`. A training graph's own ops
(`TRAINING_OP_TYPES`) are looked up as well."""

TRAINING_OP_TYPES = ("vector_work", "weight_grad", "attention_backward")
"""The YAML types of pysim.training.ops' classes, imported when a workload names one (the
training package imports the simulator, which imports this module)."""


def op_class(op_type: str) -> type[Op] | None:
    """The op class of YAML type ``op_type`` (None: no such type)."""
    found = OP_TYPES.get(op_type)
    if found is None and op_type in TRAINING_OP_TYPES:
        from pysim.training.ops import AttentionBackward, VectorWork, WeightGrad

        classes: dict[str, type[Op]] = {"vector_work": VectorWork, "weight_grad": WeightGrad,
                                        "attention_backward": AttentionBackward}
        found = classes[op_type]
    return found


def located(source: str | None, path: str) -> str:
    """`path` prefixed by the file it came from, if any: ``workloads/x.yaml: ops[3].kernel``."""
    return f"{source}: {path}" if source else path


def _loc_path(loc: tuple[int | str, ...] | list[int | str]) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def validation_message(
    exc: ValidationError, path: str, source: str | None, model: type[BaseModel], label: str = ""
) -> str:
    """Turn a pydantic ValidationError on `model` at `path` into readable lines, one per
    problem, each naming the file, the field path, the value and what is allowed."""
    lines = []
    fields = [f for f in model.model_fields if f != "type"]
    # `output` is filled in from `name` before validation, so it is never really required.
    required = [f for f, i in model.model_fields.items() if i.is_required() and f != "output"]
    for err in exc.errors():
        loc = list(err["loc"])
        cause = (err.get("ctx") or {}).get("error")
        if isinstance(cause, OpFieldError):
            loc.append(cause.field)
        where = located(source, path + _loc_path(loc)) + label
        kind = err["type"]
        if kind == "missing":
            text = f"is required; {model.__name__} needs: {', '.join(required)}"
        elif kind == "extra_forbidden":
            text = f"is not a field of {model.__name__}; allowed: {', '.join(fields)}"
        elif kind == "value_error" and cause is not None:
            text = str(cause)
            if not isinstance(cause, OpFieldError) and repr(err["input"]) not in text:
                text += f", got {_shown(err['input'])}"
        else:
            text = err["msg"].replace("Input should", "must").replace("a valid tuple", "a list")
            text += f", got {_shown(err['input'])}"
        lines.append(f"{where}: {text}")
    return "\n".join(lines)


def parse_op(data: Any, index: int, source: str | None = None) -> Op:
    """Build the op `data` (a dict with a `type`, or an Op, returned as is) found at
    ``ops[index]`` of `source`. Raises WorkloadError naming the field on any problem."""
    if isinstance(data, Op):
        return data
    path = f"ops[{index}]"
    known = ", ".join((*OP_TYPES, *TRAINING_OP_TYPES))
    if not isinstance(data, dict):
        raise WorkloadError(
            f"{located(source, path)}: an op must be a mapping of fields, got {data!r}"
        )
    op_type = data.get("type")
    if op_type is None:
        raise WorkloadError(f"{located(source, path + '.type')}: is required; known: {known}")
    cls = op_class(op_type) if isinstance(op_type, str) else None
    if cls is None:
        raise WorkloadError(
            f"{located(source, path + '.type')}: unknown op type {op_type!r}; known: {known}"
        )
    name = data.get("name")
    label = f" ({op_type} {name!r})" if isinstance(name, str) else f" ({op_type})"
    try:
        return cls.model_validate({**data, "type": cls.model_fields["type"].default})
    except ValidationError as exc:
        raise WorkloadError(validation_message(exc, path, source, cls, label)) from None


def parse_tensor(data: Any, index: int, source: str | None = None) -> Tensor:
    """Build a declared graph tensor from `data` (a dict, or a Tensor returned as is) found at
    ``inputs[index]``. Raises WorkloadError naming the field on any problem."""
    if isinstance(data, Tensor):
        return data
    path = f"inputs[{index}]"
    if not isinstance(data, dict):
        raise WorkloadError(
            f"{located(source, path)}: a tensor must be a mapping of fields, got {data!r}"
        )
    try:
        return Tensor.model_validate(data)
    except ValidationError as exc:
        raise WorkloadError(validation_message(exc, path, source, Tensor)) from None


def _shown(value: Any) -> str:
    """A user's value for an error message, cut to an excerpt."""
    from pysim.yamlfile import excerpt

    return excerpt(value)
