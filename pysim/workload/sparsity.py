"""Sparsity of an op's weights and activations, as a workload property.

``Sparsity`` describes the zeros of a tensor: ``unstructured`` (a ``density``, or a real 0/1
``mask`` given from Python, K x N for weights), ``nm`` (N of every M consecutive values along
the reduction dimension are kept, e.g. 2:4) or ``block`` (whole ``block`` tiles zero, kept with
probability ``density``); and the storage ``format`` the nonzeros are kept in (dense, bitmask,
csr, rle, nm, block) -- its metadata bytes count in SRAM and DRAM traffic
(``pysim.sparse.footprint``). Whether a unit exploits it -- gating (energy only) or skipping
(cycles too) -- is a property of the hardware (``units[i].sparsity``).

``sparsify(workload, ...)`` returns the workload with the sparsity applied to every op with a
weight (or to the ops named), e.g. a 2:4-pruned BERT or an 80 %-sparse ResNet-50.
"""

from __future__ import annotations

from typing import Any, Literal

import numpy as np
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from pysim.errors import WorkloadError

DEFAULT_FORMAT = {"unstructured": "bitmask", "nm": "nm", "block": "block"}


class Sparsity(BaseModel):
    """Zeros of a tensor and how they are stored. See the module docstring."""

    model_config = ConfigDict(frozen=True, extra="forbid", arbitrary_types_allowed=True)

    pattern: Literal["unstructured", "nm", "block"] = "unstructured"
    density: float = Field(default=1.0, gt=0.0, le=1.0)
    n: int = Field(default=2, ge=1)
    m: int = Field(default=4, ge=1)
    block: tuple[int, int] = (4, 4)
    format: Literal["dense", "bitmask", "csr", "rle", "nm", "block"] | None = None
    run_bits: int = Field(default=4, ge=1, le=16)  # bits per run of the rle format
    column_density: tuple[float, ...] | None = None  # from a real mask: nonzeros per column

    @model_validator(mode="after")
    def _consistent(self) -> Sparsity:
        if self.pattern == "nm":
            if self.n >= self.m:
                raise ValueError(f"an N:M pattern needs n < m, got {self.n}:{self.m}")
            object.__setattr__(self, "density", self.n / self.m)
        if self.format is None:
            object.__setattr__(self, "format", DEFAULT_FORMAT[self.pattern])
        return self

    @field_validator("block")
    @classmethod
    def _block(cls, value: tuple[int, int]) -> tuple[int, int]:
        if min(value) < 1:
            raise ValueError(f"block sides must be >= 1, got {value}")
        return value

    @classmethod
    def from_mask(cls, mask: Any, format: str = "bitmask") -> Sparsity:
        """Unstructured sparsity of a real 0/1 (or boolean) K x N mask."""
        arr = np.asarray(mask)
        if arr.ndim != 2 or arr.size == 0:
            raise WorkloadError(f"a sparsity mask must be a non-empty 2-D (K x N) array, "
                                f"got shape {arr.shape}")
        nz = arr != 0
        density = float(nz.mean())
        if density == 0.0:
            raise WorkloadError("a sparsity mask must keep at least one value")
        per_col = tuple(float(v) for v in nz.mean(axis=0))
        return cls(pattern="unstructured", density=density, format=format,
                   column_density=per_col)

    @classmethod
    def parse(cls, spec: Any) -> Sparsity:
        """"2:4" -> N:M; a float in (0, 1] -> unstructured density; a dict -> fields."""
        try:
            if isinstance(spec, Sparsity):
                return spec
            if isinstance(spec, str) and ":" in spec:
                n, m = (int(v) for v in spec.split(":"))
                return cls(pattern="nm", n=n, m=m)
            if isinstance(spec, (int, float)) and not isinstance(spec, bool):
                return cls(pattern="unstructured", density=float(spec))
            if isinstance(spec, dict):
                return cls(**spec)
        except (ValueError, TypeError) as exc:
            raise WorkloadError(f"sparsity {spec!r}: {exc}") from None
        raise WorkloadError(f"sparsity must be 'N:M', a density in (0, 1] or a mapping, "
                            f"got {spec!r}")


def sparsify(wl: Any, weights: Any = None, activations: Any = None,
             ops: tuple[str, ...] | None = None) -> Any:
    """``wl`` with weight and/or activation sparsity set on its ops that have weights (or on
    the ops named in ``ops``). ``weights`` / ``activations``: anything ``Sparsity.parse``
    takes. A weight mask must match the op's K x N weight (WorkloadError otherwise)."""
    from pysim.workload.graph import Workload

    w = None if weights is None else Sparsity.parse(weights)
    a = None if activations is None else Sparsity.parse(activations)
    names = set(ops) if ops is not None else None
    new_ops = []
    for op in wl.ops:
        target = (names is None and op.weight_tensors() and op.gemm_view() is not None) or (
            names is not None and op.name in names)
        if not target:
            new_ops.append(op)
            continue
        if w is not None and w.column_density is not None:
            view = op.gemm_view()
            if view is None or len(w.column_density) != view.n:
                raise WorkloadError(f"op {op.name!r}: weight mask has {len(w.column_density)} "
                                    f"columns, the weight has {None if view is None else view.n}")
        update: dict[str, Any] = {}
        if w is not None:
            update["weight_sparsity"] = w
        if a is not None:
            update["act_sparsity"] = a
        new_ops.append(op.model_copy(update=update))
    if names is not None:
        missing = names - {op.name for op in wl.ops}
        if missing:
            raise WorkloadError(f"sparsify: no op named {sorted(missing)}")
    return Workload(name=wl.name, ops=tuple(new_ops), inputs=wl.inputs)
