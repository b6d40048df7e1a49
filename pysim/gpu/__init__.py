"""GPU tensor cores: real-GPU presets, peak rates, a GEMM time model and functional MMA.

    gpu = pysim.gpu.preset("a100")
    gpu.peak_tflops("fp16")                       # 311.9 (datasheet: 312)
    gpu.gemm_time(4096, 4096, 4096, dtype="fp16")  # seconds, closed form
    gpu.gemm_cost(4096, 4096, 4096).to_dict()      # tile, waves, traffic, bound ...
    gpu.gemm_cost(128, 128, 64, batch=96)          # 96 GEMMs, one strided-batched kernel
    pysim.gpu.gemm(a, b, dtype="bf16")             # what the tensor cores compute

docs/tensor_cores.md has the formulas and sources.
"""

from pysim.gpu.dtypes import ALIASES, DTYPES, normalize_dtype
from pysim.gpu.numerics import MMA_SHAPES, gemm, mma, to_input_format
from pysim.gpu.presets import ARCHS, PRESETS, GpuPreset, preset

__all__ = [
    "ALIASES",
    "ARCHS",
    "DTYPES",
    "MMA_SHAPES",
    "PRESETS",
    "GpuPreset",
    "gemm",
    "mma",
    "normalize_dtype",
    "preset",
    "to_input_format",
]
