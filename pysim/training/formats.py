"""Number formats of a training step and the recipes that assign them to tensor roles.

A training step touches tensors in several roles: the operands of the forward GEMM (X, W), of
the input-gradient GEMM dX = dY W^T and of the weight-gradient GEMM dW = X^T dY; activations
and their gradients between GEMMs; fp32 master weights, their gradients and the optimizer's
states. A `Recipe` names the format of each role. The simulator prices an operand by its
workload number format (``dtype`` "int" / "float" and ``bits``); the format's name (E4M3 vs
E5M2) records the recipe and is reported, it does not change a MAC's cost.

Recipes (``RECIPES``):

- ``fp32``: everything fp32 (GPUs run it as tf32 tensor-core MMAs, pysim.gpu.dtypes).
- ``mixed_fp16`` / ``mixed_bf16``: GEMMs and activations in 16 bits, fp32 master weights,
  gradients and Adam states; fp16 with dynamic loss scaling (Micikevicius et al., "Mixed
  Precision Training", ICLR 2018). Every activation is 16 bits, as Megatron-LM and Apex O2
  keep them.
- ``amp_fp16`` / ``amp_bf16``: PyTorch's automatic mixed precision (``torch.autocast``, the
  default mixed precision of PyTorch training scripts): the model and its activations stay
  fp32, GEMMs and convolutions run in 16 bits on cast copies of their inputs and weights, and
  the ops on autocast's fp32 list (softmax, layer and RMS norms, the loss, exp / log / pow,
  sums) run in fp32, the rest in the widest of their inputs (``autocast``;
  pysim/training/graph.py). fp16 with dynamic loss scaling (``torch.cuda.amp.GradScaler``).
- ``fp8``: forward GEMM operands E4M3, gradient operands E5M2, activations bf16, each GEMM
  input cast to fp8 before it runs (Micikevicius et al., "FP8 Formats for Deep Learning",
  2022; NVIDIA Transformer Engine's hybrid recipe).
- ``fp4``: all three GEMMs in fp4 E2M1 with block scales, stochastic rounding of gradients and
  a 16-point random Hadamard transform on the dW GEMM's inputs (NVIDIA, "Pretraining Large
  Language Models with NVFP4", 2025; Tseng et al., "Training LLMs with MXFP4", 2025).
- ``int8`` and ``fixed<N>`` (e.g. ``fixed6``): fixed-point GEMMs of N bits in every role with
  fp32 master weights, as AdaPT's per-layer word lengths (Kummer et al., "AdaPT: Fast Training
  of Deep Neural Networks with Adaptive Precision", 2021).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Literal

from pysim.errors import WorkloadError


@dataclass(frozen=True)
class Format:
    """A number format: ``name``, the workload ``dtype`` ("int" / "float") and ``bits``."""

    name: str
    dtype: Literal["int", "float"]
    bits: int


FORMATS: dict[str, Format] = {f.name: f for f in (
    Format("fp32", "float", 32),
    Format("tf32", "float", 32),  # stored as fp32; tensor cores read 19 bits
    Format("bf16", "float", 16),
    Format("fp16", "float", 16),
    Format("fp8_e4m3", "float", 8),
    Format("fp8_e5m2", "float", 8),
    Format("fp6_e2m3", "float", 6),
    Format("fp4_e2m1", "float", 4),
    *(Format(f"int{b}", "int", b) for b in (16, 8, 4, 2)),
)}
"""Named formats; ``fixed<N>`` / ``int<N>`` for any N in 1..32 is a fixed-point format too."""


def get_format(value: str | int | Format, field: str = "format") -> Format:
    """The format named ``value`` (a FORMATS key, ``fixed<N>`` / ``int<N>``), or an int N as
    N-bit fixed point (AdaPT's word length). Raises WorkloadError naming the allowed ones."""
    if isinstance(value, Format):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        if 1 <= value <= 32:
            return Format(f"fixed{value}", "int", value)
        raise WorkloadError(f"{field}: a fixed-point word length is 1..32 bits, got {value}")
    if isinstance(value, str):
        if value in FORMATS:
            return FORMATS[value]
        m = re.fullmatch(r"(?:fixed|int)(\d+)", value)
        if m and 1 <= int(m.group(1)) <= 32:
            return Format(value, "int", int(m.group(1)))
    raise WorkloadError(f"{field}: unknown number format {value!r}; known: "
                        f"{', '.join(FORMATS)}, fixed<N> / int<N> (N = 1..32) or an int N")


@dataclass(frozen=True)
class Recipe:
    """Formats of every tensor role in a training step.

    ``forward``: both operands of the forward GEMM; ``grad``: the gradient operand dY of the
    dX and dW GEMMs (their other operand, W or the saved X, stays in ``forward``), unless
    ``grad_dx`` / ``grad_dw`` set it for one of them (`with_formats`: roles ``dX``, ``dW``);
    ``activation``: activations and activation gradients between GEMMs, and every vector op;
    ``master``: the weights the optimizer updates (fp32 master weights under mixed precision);
    ``weight_grad``: accumulated weight gradients; ``state``: optimizer states.
    ``loss_scale``: dynamic loss scaling (scale the loss gradient, unscale and check the
    weight gradients for inf/NaN). ``stochastic_rounding``: gradient casts round
    stochastically (one random number and an add per element more). ``hadamard``: block size
    of the random Hadamard transform applied to the dW GEMM's inputs (0: none).
    ``autocast``: PyTorch autocast's per-op formats instead of ``activation`` everywhere (the
    model fp32, MAC ops in ``forward`` on cast copies, autocast's fp32 ops in fp32, the rest
    in the widest of their inputs; pysim/training/graph.py); its weight copies are cast before
    each forward GEMM (``weight_copy="forward"``).
    """

    name: str
    forward: Format
    grad: Format
    activation: Format
    master: Format
    weight_grad: Format
    state: Format
    loss_scale: bool = False
    stochastic_rounding: bool = False
    hadamard: int = 0
    grad_dx: Format | None = None
    grad_dw: Format | None = None
    autocast: bool = False

    @property
    def dx_grad(self) -> Format:
        """dY's format in the dX GEMM: ``grad_dx`` where set, else ``grad``."""
        return self.grad_dx or self.grad

    @property
    def dw_grad(self) -> Format:
        """dY's format in the dW GEMM: ``grad_dw`` where set, else ``grad``."""
        return self.grad_dw or self.grad

    def with_layer_format(self, fmt: Format) -> Recipe:
        """The recipe with forward and gradient GEMMs in ``fmt`` (a per-layer override)."""
        return replace(self, forward=fmt, grad=fmt, grad_dx=None, grad_dw=None)

    def with_formats(self, formats: Mapping[str, str | int | Format]) -> Recipe:
        """The recipe with the roles in ``formats`` ({role: format name, Format or fixed-point
        bits}) changed; roles are `ROLES`: ``dX`` / ``dW`` set dY's format in that GEMM alone
        (``grad`` both), ``state`` the optimizer states'. Its name lists the changes. Raises
        WorkloadError naming an unknown role or format."""
        if not isinstance(formats, Mapping):
            raise WorkloadError(f"formats must be a mapping {{role: format}}, got {formats!r}")
        fields: dict[str, Format] = {}
        for role, value in formats.items():
            if role not in ROLES:
                raise WorkloadError(f"formats: unknown role {role!r}; roles: {', '.join(ROLES)}")
            fields[ROLES[role]] = get_format(value, f"formats[{role!r}]")
        if not fields:
            return self
        if "grad" in fields:  # ``grad`` sets both GEMMs' dY unless dX / dW say otherwise
            fields.setdefault("grad_dx", fields["grad"])
            fields.setdefault("grad_dw", fields["grad"])
        shown = ",".join(f"{role}={get_format(v).name}" for role, v in formats.items())
        return replace(self, name=f"{self.name}[{shown}]", **fields)  # type: ignore[arg-type]


ROLES: dict[str, str] = {
    "forward": "forward", "grad": "grad", "dX": "grad_dx", "dW": "grad_dw",
    "activation": "activation", "master": "master", "weight_grad": "weight_grad",
    "state": "state",
}
"""Roles `Recipe.with_formats` sets, and the Recipe field each names."""

_F = FORMATS


def _mixed(name: str, half: str, loss_scale: bool, autocast: bool = False) -> Recipe:
    return Recipe(name, _F[half], _F[half], _F[half], _F["fp32"], _F["fp32"], _F["fp32"],
                  loss_scale=loss_scale, autocast=autocast)


RECIPES: dict[str, Recipe] = {r.name: r for r in (
    Recipe("fp32", _F["fp32"], _F["fp32"], _F["fp32"], _F["fp32"], _F["fp32"], _F["fp32"]),
    _mixed("mixed_fp16", "fp16", True),
    _mixed("mixed_bf16", "bf16", False),
    _mixed("amp_fp16", "fp16", True, autocast=True),
    _mixed("amp_bf16", "bf16", False, autocast=True),
    Recipe("fp8", _F["fp8_e4m3"], _F["fp8_e5m2"], _F["bf16"], _F["fp32"], _F["fp32"],
           _F["fp32"]),
    Recipe("fp4", _F["fp4_e2m1"], _F["fp4_e2m1"], _F["bf16"], _F["fp32"], _F["fp32"],
           _F["fp32"], stochastic_rounding=True, hadamard=16),
    Recipe("int8", _F["int8"], _F["int8"], _F["int8"], _F["fp32"], _F["fp32"], _F["fp32"]),
)}
"""Named recipes (see the module docstring); ``fixed<N>`` builds an N-bit fixed-point one."""


def get_recipe(value: str | Recipe) -> Recipe:
    """The recipe ``value`` (a RECIPES key or ``fixed<N>``). Raises WorkloadError."""
    if isinstance(value, Recipe):
        return value
    if isinstance(value, str):
        if value in RECIPES:
            return RECIPES[value]
        m = re.fullmatch(r"fixed(\d+)", value)
        if m and 1 <= int(m.group(1)) <= 32:
            fmt = get_format(value)
            return Recipe(value, fmt, fmt, fmt, _F["fp32"], _F["fp32"], _F["fp32"])
    raise WorkloadError(f"recipe: unknown training recipe {value!r}; known: "
                        f"{', '.join(RECIPES)}, fixed<N> (N = 1..32)")
