"""Reading and writing workload YAML files (schema: docs/workloads.md).

`load_workload(path)` parses and validates a file into a `Workload`; every problem raises
`pysim.errors.WorkloadError` naming the file, the path of the field (``ops[3].kernel``), the
value and what is allowed. `dump_workload(workload, path)` writes one back so that
``load_workload(path) == workload``.
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from pysim.errors import WorkloadError
from pysim.workload.graph import Workload
from pysim.yamlfile import read_yaml

TOP_LEVEL_KEYS = ("name", "inputs", "ops")


def workload_from_dict(data: Any, source: str | None = None) -> Workload:
    """Build a Workload from plain data in the YAML schema (as `Workload.to_dict()` returns).
    `source` names the file in error messages. Raises WorkloadError on any problem."""
    where = f"{source}: " if source else ""
    if not isinstance(data, dict):
        raise WorkloadError(
            f"{where}a workload must be a mapping with keys {', '.join(TOP_LEVEL_KEYS)}, "
            f"got {type(data).__name__}"
        )
    unknown = [k for k in data if k not in TOP_LEVEL_KEYS]
    if unknown:
        raise WorkloadError(
            f"{where}{unknown[0]}: unknown top-level key; allowed: {', '.join(TOP_LEVEL_KEYS)}"
        )
    for key in ("name", "ops"):
        if key not in data:
            raise WorkloadError(f"{where}{key}: is required")
    inputs = data.get("inputs")
    return Workload(
        name=data["name"],
        ops=data["ops"],
        inputs=() if inputs is None else inputs,
        source=source,
    )


def load_workload(path: str | PathLike[str], **onnx_options: Any) -> Workload:
    """Load and validate the workload YAML file at `path`, or import an ONNX model (a path
    ending in ``.onnx``; `onnx_options` are `batch`, `allow_unsupported`, `quantize_bits` and input
    shapes, see `pysim.workload.onnx_import.load_onnx`).

    Raises WorkloadError if the file cannot be read, is not YAML, or does not describe a valid
    workload (the message names the file, the field, the value and what is allowed)."""
    source = str(path)
    if source.lower().endswith(".onnx"):
        from pysim.errors import require

        require("onnx", f"{path}: ONNX import", "onnx")
        from pysim.workload.onnx_import import load_onnx  # imports onnx only when needed

        return load_onnx(path, **onnx_options)
    if onnx_options:
        raise WorkloadError(f"{source}: {', '.join(onnx_options)}: options of ONNX import; a "
                            f"YAML workload takes none")
    data = read_yaml(path, WorkloadError, "workload file")
    return workload_from_dict(data, source)


def as_workload(wl: Workload | str | PathLike[str]) -> Workload:
    """``wl`` as a Workload: as given; a zoo model for ``[zoo:]NAME[:key=value,...]``, or for a
    bare name that is neither a file nor has a file's suffix (the zoo's error then suggests
    the nearest model); else the YAML / ONNX file at that path (``load_workload``). What
    ``pysim.simulate``, ``pysim.sweep`` and the CLI take."""
    if isinstance(wl, Workload):
        return wl
    if not isinstance(wl, (str, PathLike)):
        raise WorkloadError(f"workload must be a Workload, a YAML / ONNX path or a zoo model "
                            f"name, got {wl!r} ({type(wl).__name__})")
    if isinstance(wl, str):
        from pysim import zoo

        path = Path(wl)
        if zoo.is_spec(wl) or (len(path.parts) == 1 and not path.suffix and not path.exists()):
            return zoo.from_spec(wl)
    return load_workload(wl)


def dump_workload(workload: Workload, path: str | PathLike[str], header: str | None = None) -> None:
    """Write `workload` as YAML to `path` (see `Workload.to_yaml`); `header` becomes comments."""
    Path(path).write_text(workload.to_yaml(header), encoding="utf-8")
