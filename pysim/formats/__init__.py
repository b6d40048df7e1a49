"""Number formats: integers, floats, NF4, OCP Microscaling (MX) blocks; functional quantize /
dequantize / GEMM in each, and the storage a tensor takes in each (docs/formats.md).

    from pysim import formats
    formats.names()                                  # every format
    q = formats.quantize(x, "mxfp4")                 # QuantizedTensor: codes, scales, metadata
    formats.dequantize(q)                            # float32
    formats.gemm(qa, qb)                             # a @ b in the operands' formats
    formats.storage_bits((4096, 4096), "nf4").total_bytes
    formats.lmul(a, b, mbits=3)                      # L-Mul (pysim/formats/mulfree.py), and
    formats.shift_gemm(a, sign, shift), formats.ternary_gemm(a, w)   # multiplication-free GEMMs
    from pysim.formats import llm_int8                # LLM.int8(): llm_int8_matmul(x, w),
    llm_int8.decompose(wl, outlier_fraction=0.001)    # and the workload transform
    from pysim.formats import ecoformer               # EcoFormer's binary-hashing attention:
    ecoformer.hash_attention(wl, bits=16)             # hashed_attention(hq, hk, v) and transform
"""

from pysim.formats.granularity import Granularity, per_block, per_channel, per_group, per_tensor
from pysim.formats.mulfree import (
    lmul,
    lmul_gemm,
    pow2_parts,
    round_mantissa,
    shift_gemm,
    ternary_gemm,
)
from pysim.formats.quantize import QuantizedTensor, dequantize, gemm, quantize
from pysim.formats.registry import (
    FORMATS,
    NF4_CODEBOOK,
    SCALE_DTYPES,
    CodebookFormat,
    FloatFormat,
    Format,
    IntFormat,
    MXFormat,
    get,
    names,
)
from pysim.formats.storage import StorageBits, storage_bits

__all__ = [
    "FORMATS",
    "NF4_CODEBOOK",
    "SCALE_DTYPES",
    "CodebookFormat",
    "FloatFormat",
    "Format",
    "Granularity",
    "IntFormat",
    "MXFormat",
    "QuantizedTensor",
    "StorageBits",
    "dequantize",
    "gemm",
    "get",
    "lmul",
    "lmul_gemm",
    "names",
    "per_block",
    "per_channel",
    "per_group",
    "per_tensor",
    "pow2_parts",
    "quantize",
    "round_mantissa",
    "shift_gemm",
    "storage_bits",
    "ternary_gemm",
]
