"""Storage of tensors in each format, checked by hand: values packed at their widths, scales
at the scale dtype's width."""

from __future__ import annotations

import numpy as np
import pytest

from pysim import formats


@pytest.mark.parametrize("shape,fmt,gran,sdt,total_bytes,bits_per_element", [
    # 4096 x 4096 NF4, QLoRA blocks of 64 with fp32 absmax: 2^24 * 4 bits = 8 MiB values,
    # 2^24 / 64 = 262144 scales * 4 B = 1 MiB -> 9 MiB, 4.5 bits per weight
    ((4096, 4096), "nf4", None, None, 9 * 2**20, 4.5),
    # MXFP4: 32 x 4 bits + 8 bits = 136 bits per block of 32 -> 4.25 bits, 17 B per block
    ((1024, 1024), "mxfp4", None, None, 2**20 // 32 * 17, 4.25),
    ((32,), "mxfp6_e2m3", None, None, 25, 6.25),  # 192 + 8 bits
    ((64,), "mxint8", None, None, 66, 8.25),
    # int4 in groups of 128 along K with fp16 scales: 8 MiB + 4096 * 32 * 2 B = 8.25 MiB
    ((4096, 4096), "int4", formats.per_group(128), "fp16", 8 * 2**20 + 4096 * 32 * 2, 4.125),
    ((3, 5), "int8", formats.per_channel(0), "fp32", 27, 216 / 15),  # 120 + 3 * 32 bits
    ((10,), "ternary", None, None, 3, 2.0),  # 20 bits -> 3 bytes
    ((10,), "tf32", None, None, 40, 32.0),  # tf32 lives in a 32-bit word
    ((7,), "fp6_e3m2", None, None, 6, 6.0),  # 42 bits -> 6 bytes
    ((2, 3), "bf16", "tensor", "e8m0", 13, 104 / 6),
])
def test_storage_by_hand(shape: tuple[int, ...], fmt: str, gran: object, sdt: str | None,
                         total_bytes: int, bits_per_element: float) -> None:
    st = formats.storage_bits(shape, fmt, gran, sdt)
    assert st.total_bytes == total_bytes
    assert st.bits_per_element == pytest.approx(bits_per_element)


@pytest.mark.parametrize("fmt,gran", [("mxfp8_e5m2", None), ("nf4", None),
                                      ("uint3", formats.per_group(16, 0)), ("fp16", None)])
def test_storage_counts_what_quantize_stores(fmt: str, gran: object) -> None:
    x = np.random.default_rng(0).standard_normal((64, 128))
    q = formats.quantize(x, fmt, gran)
    st = formats.storage_bits(x.shape, fmt, gran)
    sbits = {"fp32": 32, "e8m0": 8}
    assert st.values_bits == q.codes.size * q.fmt.bits
    assert st.scales_bits == (0 if q.scales is None else q.scales.size * sbits[q.scale_dtype])
