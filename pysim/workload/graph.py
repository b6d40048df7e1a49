"""A workload: a DAG of ops over named tensors, validated on construction.

`Workload(name, ops, inputs)` checks that op names are unique, that every tensor is written
once, that every tensor an op reads is a declared graph input (or weight) or the output of some
op, that there is no cycle, and that ops chain: each tensor an op reads has the shape (or, for
ops that view their operands as matrices, the element count) and the bit width the op expects.
Problems raise `pysim.errors.WorkloadError` naming the file (when loaded from one), the op by
index and name, the field and both shapes. The ops are stored in a topological order (the
given order when it already is one).
"""

from __future__ import annotations

import difflib
import functools
import heapq
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from types import MappingProxyType
from typing import Any

import yaml

from pysim.errors import WorkloadError
from pysim.workload.ops import Op
from pysim.workload.registry import located, parse_op, parse_tensor
from pysim.workload.tensors import Tensor
from pysim.yamlfile import excerpt


def _where(source: str | None, index: int, op: Op, suffix: str = "") -> str:
    return f"{located(source, f'ops[{index}]{suffix}')} ({op.type} {op.name!r})"


def _writer(index: int | None, ops: tuple[Op, ...]) -> str:
    return "a graph input" if index is None else f"ops[{index}] {ops[index].name!r}"


def _as_tuple(value: Any, what: str, source: str | None) -> tuple[Any, ...]:
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Iterable):
        raise WorkloadError(f"{located(source, what)}: must be a list, got {excerpt(value)}")
    return tuple(value)


def _cycle(ops: tuple[Op, ...], remaining: set[int], writer: dict[str, int | None]) -> str:
    """A cycle among the ops left over by Kahn's algorithm, as 'a (ops[1]) -> b (ops[2]) ...'."""
    start = min(remaining)
    path = [start]
    while True:
        deps = [writer[t] for t in ops[path[-1]].inputs]
        nxt = min(d for d in deps if d is not None and d in remaining)
        if nxt in path:
            loop = path[path.index(nxt):] + [nxt]
            return " -> ".join(f"{ops[i].name!r} (ops[{i}])" for i in loop)
        path.append(nxt)


def _check_chain(i: int, op: Op, j: int, tensor: Tensor, writer: int | None,
                 ops: tuple[Op, ...], source: str | None) -> None:
    """``op`` (ops[i]) reads ``tensor`` as its input ``j`` in the shape, format and width it
    expects; ``writer`` is the index of the op writing it (None: a graph input). The error
    messages are built only for an error (every input of every op is checked)."""
    expected = op.input_shapes()[j]
    if (op.input_match == "shape" and tensor.shape != expected) or (
            op.input_match == "elements" and tensor.elements != math.prod(expected)):
        doc = op.shape_doc[min(j, len(op.shape_doc) - 1)] if op.shape_doc else \
            "its parameters"
        where = _where(source, i, op, f".inputs[{j}]")
        wrote = _writer(writer, ops)
        if op.input_match == "shape":
            raise WorkloadError(
                f"{where}: tensor {tensor.name!r} has shape {tensor.shape} (written by "
                f"{wrote}), but {op.type} {op.name!r} expects shape {expected} = {doc}"
            )
        raise WorkloadError(
            f"{where}: tensor {tensor.name!r} has shape {tensor.shape} = {tensor.elements} "
            f"elements (written by {wrote}), but {op.type} {op.name!r} expects shape "
            f"{expected} = {doc} = {math.prod(expected)} elements"
        )
    if tensor.format == op.act_format and tensor.bits == op.input_bits()[j]:
        return
    wrote = _writer(writer, ops)
    if tensor.format != op.act_format:
        fix = (f"set act_format: {tensor.format}" if tensor.format is not None
               else f"give the tensor format {op.act_format!r}")
        raise WorkloadError(
            f"{_where(source, i, op, '.act_format')}: reads tensor {tensor.name!r} in format "
            f"{tensor.format!r} (written by {wrote}), but act_format is {op.act_format!r}; "
            f"{fix}"
        )
    bits = op.input_bits()[j]
    if tensor.bits != bits:
        expects = f"act_bits is {bits}" if bits == op.act_bits else \
            f"{op.type} {op.name!r} reads inputs[{j}] at {bits} bits"
        raise WorkloadError(
            f"{_where(source, i, op, '.act_bits')}: reads tensor {tensor.name!r} of "
            f"{tensor.bits} bits (written by {wrote}), but {expects}; make them "
            f"agree (an elementwise quantize op converts between widths)"
        )


@dataclass(frozen=True)
class Footprint:
    """What a workload holds in memory: each weight once (by name, in the order ops first read
    it), the bytes of the graph inputs that are not weights (a KV cache is one), and the largest
    op's activations (its inputs and output) at once (``Workload.footprint``)."""

    weights: Mapping[str, int]
    inputs: int
    live: int

    @property
    def weight_bytes(self) -> int:
        return sum(self.weights.values())


@dataclass(frozen=True, repr=False)
class Workload:
    """A named DAG of `ops` (Op instances or dicts with a `type`) reading declared graph
    `inputs` (Tensors or dicts, role "input" or "weight"). `source` is the file it was loaded
    from, used in error messages only (not compared). `unsupported` lists the nodes an
    importer skipped, as (op type, node name, reason) (not compared; see docs/workloads.md,
    "ONNX import"). Raises WorkloadError if the graph is malformed (see the module docstring)."""

    name: str
    ops: tuple[Op, ...]
    inputs: tuple[Tensor, ...] = ()
    source: str | None = field(default=None, compare=False)
    unsupported: tuple[tuple[str, str, str], ...] = field(default=(), compare=False)

    def __post_init__(self) -> None:
        src = self.source
        if not isinstance(self.name, str) or not self.name:
            raise WorkloadError(f"{located(src, 'name')}: must be a non-empty string, "
                                f"got {self.name!r}")
        ops = tuple(parse_op(o, i, src) for i, o in enumerate(_as_tuple(self.ops, "ops", src)))
        if not ops:
            raise WorkloadError(f"{located(src, 'ops')}: a workload needs at least one op")
        inputs = tuple(
            parse_tensor(t, i, src) for i, t in enumerate(_as_tuple(self.inputs, "inputs", src))
        )
        tensors: dict[str, Tensor] = {}
        writer: dict[str, int | None] = {}  # activation/input tensor -> index of its op
        declared_at: dict[str, str] = {}
        for i, t in enumerate(inputs):
            if t.role == "activation":
                raise WorkloadError(f"{located(src, f'inputs[{i}].role')}: a declared tensor is "
                                    f"an 'input' or a 'weight', got 'activation'")
            if t.name in tensors:
                raise WorkloadError(f"{located(src, f'inputs[{i}].name')}: tensor {t.name!r} "
                                    f"is declared twice")
            tensors[t.name], writer[t.name], declared_at[t.name] = t, None, f"inputs[{i}]"
        op_index: dict[str, int] = {}
        written: list[tuple[Tensor, ...]] = []  # per op, its weights and output (built once)
        for i, op in enumerate(ops):
            if op.name in op_index:
                raise WorkloadError(f"{_where(src, i, op, '.name')}: op name {op.name!r} is "
                                    f"already used by ops[{op_index[op.name]}]")
            op_index[op.name] = i
            written.append((*op.weight_tensors(), op.output_tensor()))
            for t in written[-1]:
                if t.name in tensors:
                    what = "output" if t.role == "activation" else "name"
                    raise WorkloadError(
                        f"{_where(src, i, op, '.' + what)}: {t.role} tensor {t.name!r} is "
                        f"already defined by {declared_at[t.name]}; each tensor is written once"
                    )
                tensors[t.name], declared_at[t.name] = t, f"ops[{i}] {op.name!r}"
            writer[op.output] = i
        for i, op in enumerate(ops):
            for j, name in enumerate(op.inputs):
                if name not in writer:
                    near = difflib.get_close_matches(name, list(writer), n=1)
                    hint = f"; did you mean {near[0]!r}?" if near else ""
                    raise WorkloadError(
                        f"{_where(src, i, op, f'.inputs[{j}]')}: tensor {name!r} is not written "
                        f"by any op nor declared in the workload's inputs{hint}"
                    )
        order = self._topological(ops, writer)
        for i, op in enumerate(ops):
            for j, name in enumerate(op.inputs):
                _check_chain(i, op, j, tensors[name], writer[name], ops, src)
        consumers: dict[str, list[str]] = {n: [] for n in writer}
        for i in order:
            for name in dict.fromkeys(ops[i].inputs):
                consumers[name].append(ops[i].name)
        object.__setattr__(self, "ops", tuple(ops[i] for i in order))
        object.__setattr__(self, "inputs", inputs)
        object.__setattr__(self, "unsupported", tuple(self.unsupported))
        object.__setattr__(self, "_tensors", MappingProxyType(
            {n: tensors[n] for n in [t.name for t in inputs] + [
                t.name for i in order for t in written[i]]}))
        object.__setattr__(self, "_producers", MappingProxyType(
            {ops[i].output: ops[i].name for i in order}))
        object.__setattr__(self, "_consumers", MappingProxyType(
            {n: tuple(c) for n, c in consumers.items()}))

    def _topological(self, ops: tuple[Op, ...], writer: dict[str, int | None]) -> list[int]:
        """Kahn's algorithm, smallest index first: the given order if it is topological."""
        deps = [{writer[t] for t in op.inputs} - {None} for op in ops]
        users: list[list[int]] = [[] for _ in ops]
        for i, d in enumerate(deps):
            for j in d:
                users[j].append(i)  # type: ignore[index]
        waiting = [len(d) for d in deps]
        ready = [i for i, n in enumerate(waiting) if n == 0]
        heapq.heapify(ready)
        order: list[int] = []
        while ready:
            i = heapq.heappop(ready)
            order.append(i)
            for u in users[i]:
                waiting[u] -= 1
                if waiting[u] == 0:
                    heapq.heappush(ready, u)
        if len(order) < len(ops):
            loop = _cycle(ops, set(range(len(ops))) - set(order), writer)
            raise WorkloadError(f"{located(self.source, 'ops')}: the ops form a cycle: {loop}")
        return order

    # -- graph -------------------------------------------------------------------------------
    @property
    def tensors(self) -> Mapping[str, Tensor]:
        """Every tensor by name: graph inputs, then each op's weights and output in order."""
        return self._tensors  # type: ignore[attr-defined,no-any-return]

    @property
    def producers(self) -> Mapping[str, str]:
        """Activation tensor name -> name of the op that writes it."""
        return self._producers  # type: ignore[attr-defined,no-any-return]

    @property
    def consumers(self) -> Mapping[str, tuple[str, ...]]:
        """Input or activation tensor name -> names of the ops that read it (topological
        order; empty for graph outputs)."""
        return self._consumers  # type: ignore[attr-defined,no-any-return]

    @functools.cached_property
    def weights_read(self) -> tuple[Mapping[str, int], ...]:
        """Per op, in order, the weights it reads, by name with their bytes: its own
        parameters (``weight_tensors``) and declared weight inputs (a matmul's weight operand:
        pysim.zoo's decode graphs). Computed once per workload (memory capacity and
        host-memory offload read it on every simulation)."""
        tensors, producers = self.tensors, self.producers
        out = []
        for op in self.ops:
            weights = {t.name: t.bytes for t in op.weight_tensors()}
            for name in op.inputs:
                t = tensors[name]
                if t.role == "weight" and name not in producers:
                    weights[name] = t.bytes
            out.append(MappingProxyType(weights))
        return tuple(out)

    @functools.cached_property
    def footprint(self) -> Footprint:
        """What the workload holds in memory (``Footprint``): computed once (the capacity check
        of every simulation reads it)."""
        declared = [t for name, t in self.tensors.items() if name not in self.producers]
        # each weight once, however many ops read it (a training graph's forward and dX GEMMs
        # both declare the layer's weight), in the order ops first read them
        weights = {name: nbytes for read in self.weights_read for name, nbytes in read.items()}
        for t in declared:
            if t.role == "weight":
                weights.setdefault(t.name, t.bytes)
        inputs = sum(t.bytes for t in declared if t.role != "weight")
        live = max((sum(self.tensors[t].bytes for t in set(op.inputs) if t in self.producers)
                    + op.output_memory_bytes for op in self.ops), default=0)
        return Footprint(MappingProxyType(weights), inputs, live)

    @property
    def outputs(self) -> tuple[str, ...]:
        """Names of the activation tensors no op reads: the graph's results."""
        return tuple(n for n in self.producers if not self.consumers[n])

    def topological_order(self) -> tuple[Op, ...]:
        """The ops in a topological order (producers before consumers); equal to `ops`."""
        return self.ops

    def op(self, name: str) -> Op:
        """The op called `name`. Raises KeyError if there is none."""
        for op in self.ops:
            if op.name == name:
                return op
        raise KeyError(name)

    # -- totals ------------------------------------------------------------------------------
    @property
    def macs(self) -> int:
        """Multiply-accumulates of all ops."""
        return sum(op.macs for op in self.ops)

    @property
    def weight_bytes(self) -> int:
        """Bytes of all weight tensors (op parameters and declared weights)."""
        return sum(t.bytes for t in self.tensors.values() if t.role == "weight")

    def vector_work(self) -> int:
        """Elementary vector-unit operations of all ops."""
        return sum(op.vector_work() for op in self.ops)

    def __reduce__(self) -> tuple[Any, ...]:
        # Rebuild (and re-validate) from the fields: the derived mappings do not pickle.
        return (Workload, (self.name, self.ops, self.inputs, self.source, self.unsupported))

    def __repr__(self) -> str:
        return (f"Workload(name={self.name!r}, ops={len(self.ops)}, macs={self.macs}, "
                f"weight_bytes={self.weight_bytes})")

    # -- serialisation -----------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Plain data in the YAML schema (docs/workloads.md); `workload_from_dict` inverts it."""
        return {
            "name": self.name,
            "inputs": [_tensor_dict(t) for t in self.inputs],
            "ops": [_op_dict(op) for op in self.ops],
        }

    def to_yaml(self, header: str | None = None) -> str:
        """The workload as YAML, one op per line; `header` lines become leading comments."""
        def flow(item: dict[str, Any]) -> str:
            return yaml.safe_dump(item, default_flow_style=True, sort_keys=False,
                                  width=1 << 30).strip()

        data = self.to_dict()
        lines = [f"# {line}".rstrip() for line in (header or "").splitlines()]
        lines.append(yaml.safe_dump({"name": data["name"]}).strip())
        lines.append("inputs:" if data["inputs"] else "inputs: []")
        lines += [f"- {flow(t)}" for t in data["inputs"]]
        lines.append("ops:")
        lines += [f"- {flow(op)}" for op in data["ops"]]
        return "\n".join(lines) + "\n"


_BITS_LAST = ("weight_bits", "act_bits", "out_bits", "bias_bits", "dtype")


def _plain(value: Any) -> Any:
    if isinstance(value, tuple):
        if len(value) == 2 and value[0] == value[1] and isinstance(value[0], int):
            return value[0]  # an (h, w) pair written as one int
        return [_listed(v) for v in value]
    return value


def _listed(value: Any) -> Any:
    """``value`` with every tuple in it a list (YAML's safe dumper writes no tuples)."""
    return [_listed(v) for v in value] if isinstance(value, tuple) else value


# fields that are shapes, written as lists whatever their values (``_plain`` would write an
# (h, w) pair of equal values as one int)
_SHAPES = ("shape", "batch", "out_shape", "x_shape", "dy_shape", "shapes")


def _tensor_dict(t: Tensor) -> dict[str, Any]:
    d: dict[str, Any] = {"name": t.name, "shape": list(t.shape), "bits": t.bits}
    if t.dtype != "int":
        d["dtype"] = t.dtype
    if t.role != "input":
        d["role"] = t.role
    if t.format is not None:
        d["format"] = t.format
    return d


def _op_dict(op: Op) -> dict[str, Any]:
    d: dict[str, Any] = {"name": op.name, "type": type(op).yaml_type or op.type,
                         "inputs": list(op.inputs)}
    if op.output != op.name:
        d["output"] = op.output
    rest = op.model_dump(exclude_defaults=True, exclude={"name", "type", "inputs", "output"})
    for key in [k for k in rest if k not in _BITS_LAST] + [k for k in _BITS_LAST if k in rest]:
        value = rest[key]
        # shapes and a matmul's leading batch dimensions are tuples; other ops' batch an int
        d[key] = _listed(value) if isinstance(value, tuple) and key in _SHAPES \
            else _plain(value)
    return d
