"""Optimizers of a training step: their states and vector work per parameter.

Counts per parameter, each an elementary vector op (pysim/workload/vector_ops.py):

- ``sgd``: w -= lr * g: 2 (multiply, subtract); no state.
- ``momentum``: v = mu v + g; w -= lr v: 4; one state (Sutskever et al., ICML 2013).
- ``adam``: m = b1 m + (1-b1) g (3); v = b2 v + (1-b2) g^2 (4); bias corrections folded into
  the step size (0, per tensor); w -= lr m / (sqrt(v) + eps) (4): 11; two states
  (Kingma & Ba, ICLR 2015).
- ``adamw``: Adam and decoupled weight decay w -= lr wd w (2 more): 13
  (Loshchilov & Hutter, ICLR 2019).

Loss scaling adds 2 per parameter (unscale multiply, inf/NaN check).
"""

from __future__ import annotations

from dataclasses import dataclass

from pysim.errors import WorkloadError


@dataclass(frozen=True)
class Optimizer:
    """An optimizer: ``states`` tensors the size of the weights, ``ops_per_param`` vector
    operations per parameter per step."""

    name: str
    states: int
    ops_per_param: int


OPTIMIZERS: dict[str, Optimizer] = {o.name: o for o in (
    Optimizer("sgd", 0, 2),
    Optimizer("momentum", 1, 4),
    Optimizer("adam", 2, 11),
    Optimizer("adamw", 2, 13),
)}

LOSS_SCALE_OPS_PER_PARAM = 2  # unscale (multiply by 1/scale) and the inf/NaN check


def get_optimizer(value: str | Optimizer) -> Optimizer:
    """The optimizer ``value`` (an OPTIMIZERS key). Raises WorkloadError naming the known."""
    if isinstance(value, Optimizer):
        return value
    if isinstance(value, str) and value.lower() in OPTIMIZERS:
        return OPTIMIZERS[value.lower()]
    raise WorkloadError(f"optimizer: unknown optimizer {value!r}; known: "
                        f"{', '.join(OPTIMIZERS)}")
