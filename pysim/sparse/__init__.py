"""Sparsity: patterns (unstructured, N:M, block), storage formats with value and metadata
bytes, and functional sparse kernels (CSR x dense, N:M-compressed x dense, in C++).

    mask = pysim.sparse.random_mask((512, 512), density=0.2, seed=0)
    pysim.sparse.footprint(mask, "csr", value_bits=8)   # value_bytes, metadata_bytes
    w24 = pysim.sparse.prune_nm(w, 2, 4)
    pysim.sparse.nm_matmul(pysim.sparse.compress_nm(w24), x)   # == w24 @ x

docs/sparsity.md has the formats' formulas.
"""

from pysim.sparse.formats import FORMATS, Footprint, footprint
from pysim.sparse.kernels import (
    CsrMatrix,
    NMCompressed,
    compress_nm,
    csr_matmul,
    nm_matmul,
    to_csr,
)
from pysim.sparse.patterns import (
    apply_mask,
    block_mask,
    check_mask,
    check_nm,
    density_of,
    nm_mask,
    prune_nm,
    random_mask,
)

__all__ = [
    "FORMATS",
    "CsrMatrix",
    "Footprint",
    "NMCompressed",
    "apply_mask",
    "block_mask",
    "check_mask",
    "check_nm",
    "compress_nm",
    "csr_matmul",
    "density_of",
    "footprint",
    "nm_mask",
    "nm_matmul",
    "prune_nm",
    "random_mask",
    "to_csr",
]
