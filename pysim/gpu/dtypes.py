"""Tensor-core dtype names: the canonical ones, their aliases, and the error for an unknown one."""

from __future__ import annotations

import difflib
from typing import Any

from pysim import _core
from pysim.config.units import operand_bits

DTYPES: tuple[str, ...] = tuple(_core.tc_dtypes())

ALIASES: dict[str, str] = {
    "float16": "fp16",
    "half": "fp16",
    "bfloat16": "bf16",
    "fp8": "fp8_e4m3",
    "e4m3": "fp8_e4m3",
    "e5m2": "fp8_e5m2",
    "float8_e4m3fn": "fp8_e4m3",
    "float8_e5m2": "fp8_e5m2",
    "fp6": "fp6_e2m3",
    "e2m3": "fp6_e2m3",
    "e3m2": "fp6_e3m2",
    "float6_e2m3fn": "fp6_e2m3",
    "float6_e3m2fn": "fp6_e3m2",
    "fp4": "fp4_e2m1",
    "e2m1": "fp4_e2m1",
    "float4_e2m1fn": "fp4_e2m1",
    "s8": "int8",
    "s4": "int4",
    "int1": "b1",
    "binary": "b1",
}


def normalize_dtype(dtype: object) -> str:
    """The canonical name of a tensor-core dtype ("fp16", ..., "b1"); aliases accepted.

    Raises ValueError naming the known dtypes (and the closest match) for an unknown one.
    """
    if not isinstance(dtype, str):
        raise ValueError(f"dtype must be a string, one of {DTYPES}, got {dtype!r}")
    key = dtype.strip().lower()
    key = ALIASES.get(key, key)
    if key in DTYPES:
        return key
    close = difflib.get_close_matches(key, [*DTYPES, *ALIASES], n=1)
    hint = f" (did you mean {close[0]!r}?)" if close else ""
    raise ValueError(f"unknown dtype {dtype!r}; known: {', '.join(DTYPES)}{hint}")


def for_operands(number_format: str, bits: int, fp16_as: str = "fp16") -> str | None:
    """The tensor-core dtype that runs ``bits``-wide ``number_format`` ("int" / "float")
    operands: 16-bit floats as ``fp16_as`` (fp16 or bf16), 32 as tf32, 8 as fp8 e4m3, 6 as fp6
    e2m3 and 4 as fp4 e2m1 (Blackwell's OCP MX element formats); 5- to 8-bit integers as int8
    and 2- to 4-bit as int4 (sign-extended, as the MMA takes them), 1-bit as b1; None where no
    MMA takes them."""
    if number_format == "float":
        return {16: fp16_as, 32: "tf32", 8: "fp8_e4m3", 6: "fp6_e2m3", 4: "fp4_e2m1"}.get(bits)
    if 5 <= bits <= 8:
        return "int8"
    return {4: "int4", 3: "int4", 2: "int4", 1: "b1"}.get(bits)


# NF4 (QLoRA's 16-value NormalFloat code book) is no MMA input: bitsandbytes / QLoRA look each
# 4-bit code up in the code book, scale it by its block's absmax and multiply in the compute
# dtype (bf16 in QLoRA; fp16 where the activations are fp16 or the GPU has no bf16). So an NF4
# weight runs as a weight-only GEMM on that dtype's MMAs, dequantized in the main loop.
NF4_COMPUTE = ("bf16", "fp16")


def nf4_compute_dtype(op: Any, supported: tuple[str, ...]) -> str | None:
    """The MMA dtype an op with ``weight_format: nf4`` runs on: bf16 (fp16 with fp16
    activations or where bf16 is missing) for 16-bit float activations, tf32 for 32-bit ones;
    None for other activations (bitsandbytes computes in fp16 / bf16 / fp32) or where the GPU
    has none of them."""
    if op.act_bits == 32:
        return "tf32" if "tf32" in supported else None
    if op.act_bits != 16:
        return None
    order = ("fp16", "bf16") if getattr(op, "act_format", None) == "fp16" else NF4_COMPUTE
    return next((d for d in order if d in supported), None)


def for_op(op: Any, supported: tuple[str, ...], fp16_as: str = "fp16") -> str | None:
    """The tensor-core dtype of MAC op ``op`` among ``supported``: ``nf4_compute_dtype`` for
    NF4 weights, None for NF4 activations (no MMA multiplies a code book; NF4 is a weight
    format), else ``for_operands`` at the wider operand's width."""
    if getattr(op, "act_format", None) == "nf4":
        return None
    if getattr(op, "weight_format", None) == "nf4":
        return nf4_compute_dtype(op, supported)
    dtype = for_operands(op.dtype, max(operand_bits(op)), fp16_as)  # a matmul's B: b_bits
    return dtype if dtype in supported else None
