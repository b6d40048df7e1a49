"""Workload descriptions: tensors, ops, the validated op graph, and its YAML format.

See docs/workloads.md for the YAML schema and how each op's MACs, vector work and bytes are
counted.
"""

from pysim.workload.data_ops import REDUCE_OPS, Copy, Reduce
from pysim.workload.graph import Workload
from pysim.workload.loader import (
    as_workload,
    dump_workload,
    load_workload,
    workload_from_dict,
)
from pysim.workload.ops import Conv2d, Gemm, GemmView, Matmul, Op, Quant, conv_out
from pysim.workload.quant_ops import DequantAdd, RowQuantize
from pysim.workload.registry import OP_TYPES
from pysim.workload.tensors import Tensor, packed_bytes
from pysim.workload.vector_ops import (
    ELEMENTWISE_OPS,
    Elementwise,
    ElementwiseKind,
    LayerNorm,
    Pool,
    RowDivide,
    Softmax,
)

__all__ = [
    "ELEMENTWISE_OPS",
    "OP_TYPES",
    "REDUCE_OPS",
    "Conv2d",
    "Copy",
    "DequantAdd",
    "Elementwise",
    "ElementwiseKind",
    "Gemm",
    "GemmView",
    "LayerNorm",
    "Matmul",
    "Op",
    "Quant",
    "Pool",
    "Reduce",
    "RowDivide",
    "RowQuantize",
    "Softmax",
    "Tensor",
    "Workload",
    "conv_out",
    "dump_workload",
    "as_workload",
    "load_workload",
    "packed_bytes",
    "workload_from_dict",
]
