"""
pysim C++ core: cycle-level unit models, functional kernels, compat accounting
"""
from __future__ import annotations
import numpy
import numpy.typing
import typing
__all__: list[str] = ['BankConflictStats', 'BitSerialCost', 'BitSerialSpec', 'Conv2dShape', 'ConvWindowSpec', 'DoubleBufferReport', 'DramSpec', 'DramStats', 'GemmCost', 'GemmShape', 'GpuSpec', 'RowStationaryCost', 'RowStationarySpec', 'ScratchpadSpec', 'SystolicCost', 'SystolicSpec', 'XnorCost', 'XnorSpec', 'bit_fusion_factor', 'bit_serial_cost', 'bit_serial_peak_macs_per_cycle', 'bit_serial_simulate_cycles', 'bit_serial_simulate_gemm', 'bitserial_gemm', 'conv2d_to_gemm', 'count_bank_conflicts', 'csr_from_dense', 'csr_matmul', 'dequantize_fused', 'double_buffer_occupancy', 'dram_map_address', 'dram_peak_bandwidth_gb_per_s', 'dram_simulate_stream', 'encode_codebook', 'encode_float', 'encode_int', 'encode_isa', 'gpu_gemm_candidates', 'gpu_gemm_cost', 'gpu_gemm_cost_tile', 'gpu_gemm_simulate', 'gpu_gemm_simulate_tile', 'im2col', 'int_gemm', 'mma_b1', 'mma_float', 'mma_int', 'nm_compress', 'nm_matmul', 'op_pipeline_cycles', 'op_pipeline_lower_bound', 'pack_pm1', 'place_stays', 'plan_candidates', 'port_cycles_table', 'quantize_fused', 'repair_plan', 'round_plan', 'round_to_tf32', 'row_stationary_cost', 'row_stationary_reference', 'scalesim_fold_averages', 'search_plans', 'strided_conflict_stalls', 'systolic_cost', 'systolic_fetch_pattern', 'systolic_fetch_predicted_stalls', 'systolic_simulate_cycles', 'systolic_simulate_gemm', 'systolic_tile_sums', 'tc_archs', 'tc_default_acc', 'tc_dtypes', 'tc_input_bits', 'tc_macs_per_clk_per_sm', 'tc_mma_shape', 'tc_mma_sync_on_hopper', 'tc_supported_accs', 'tc_supported_dtypes', 'tc_supports', 'xnor_cost', 'xnor_gemm', 'xnor_gemm_isa', 'xnor_gemm_packed', 'xnor_simulate_cycles', 'xnor_simulate_gemm']
class SystolicSpec:
    """
    An R x C systolic array with a dataflow and a timing mode.
    """
    def __init__(self, rows: typing.SupportsInt | typing.SupportsIndex, cols: typing.SupportsInt | typing.SupportsIndex, dataflow: str = 'os', timing: str = 'scalesim') -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def cols(self) -> int:
        ...
    @property
    def dataflow(self) -> str:
        ...
    @property
    def rows(self) -> int:
        ...
    @property
    def timing(self) -> str:
        ...
class GemmShape:
    """
    C[M, N] = A[M, K] x B[K, N].
    """
    def __init__(self, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def k(self) -> int:
        ...
    @property
    def m(self) -> int:
        ...
    @property
    def n(self) -> int:
        ...
class SystolicCost:
    """
    Cycles, folds and access counts of one GEMM.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def col_folds(self) -> int:
        ...
    @property
    def cycles(self) -> int:
        ...
    @property
    def filter_reads(self) -> int:
        ...
    @property
    def folds(self) -> int:
        ...
    @property
    def ifmap_reads(self) -> int:
        ...
    @property
    def macs(self) -> int:
        ...
    @property
    def mapping_efficiency(self) -> float:
        ...
    @property
    def ofmap_reads(self) -> int:
        ...
    @property
    def ofmap_writes(self) -> int:
        ...
    @property
    def row_folds(self) -> int:
        ...
    @property
    def utilization(self) -> float:
        ...
class Conv2dShape:
    """
    A 2-D convolution layer (NHWC input).
    """
    def __init__(self, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, in_h: typing.SupportsInt | typing.SupportsIndex, in_w: typing.SupportsInt | typing.SupportsIndex, in_c: typing.SupportsInt | typing.SupportsIndex, filter_h: typing.SupportsInt | typing.SupportsIndex, filter_w: typing.SupportsInt | typing.SupportsIndex, filters: typing.SupportsInt | typing.SupportsIndex, stride_h: typing.SupportsInt | typing.SupportsIndex = 1, stride_w: typing.SupportsInt | typing.SupportsIndex = 1, pad_h: typing.SupportsInt | typing.SupportsIndex = 0, pad_w: typing.SupportsInt | typing.SupportsIndex = 0, dilation_h: typing.SupportsInt | typing.SupportsIndex = 1, dilation_w: typing.SupportsInt | typing.SupportsIndex = 1) -> None:
        ...
    @property
    def batch(self) -> int:
        ...
    @property
    def dilation_h(self) -> int:
        ...
    @property
    def dilation_w(self) -> int:
        ...
    @property
    def filter_h(self) -> int:
        ...
    @property
    def filter_w(self) -> int:
        ...
    @property
    def filters(self) -> int:
        ...
    @property
    def in_c(self) -> int:
        ...
    @property
    def in_h(self) -> int:
        ...
    @property
    def in_w(self) -> int:
        ...
    @property
    def out_h(self) -> int:
        ...
    @property
    def out_w(self) -> int:
        ...
    @property
    def pad_h(self) -> int:
        ...
    @property
    def pad_w(self) -> int:
        ...
    @property
    def stride_h(self) -> int:
        ...
    @property
    def stride_w(self) -> int:
        ...
class ScratchpadSpec:
    """
    A banked SRAM scratchpad: size, banks, ports, word width, interleaving and double buffering.
    """
    def __init__(self, size_bytes: typing.SupportsInt | typing.SupportsIndex, banks: typing.SupportsInt | typing.SupportsIndex, ports_per_bank: typing.SupportsInt | typing.SupportsIndex = 1, word_bytes: typing.SupportsInt | typing.SupportsIndex = 8, interleave: str = 'word', block_bytes: typing.SupportsInt | typing.SupportsIndex = 0, double_buffered: bool = True) -> None:
        ...
    def __repr__(self) -> str:
        ...
    def bank_of(self, address: typing.SupportsInt | typing.SupportsIndex) -> int:
        """
        Bank of a byte address.
        """
    @property
    def banks(self) -> int:
        ...
    @property
    def block_bytes(self) -> int:
        ...
    @property
    def double_buffered(self) -> bool:
        ...
    @property
    def interleave(self) -> str:
        ...
    @property
    def ports_per_bank(self) -> int:
        ...
    @property
    def size_bytes(self) -> int:
        ...
    @property
    def word_bytes(self) -> int:
        ...
class BankConflictStats:
    """
    Bank conflicts of a per-cycle scratchpad access stream.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def accesses(self) -> int:
        ...
    @property
    def bank_accesses(self) -> numpy.typing.NDArray[numpy.int64]:
        ...
    @property
    def conflict_stall_cycles(self) -> int:
        ...
    @property
    def cycles_requested(self) -> int:
        ...
    @property
    def max_bank_load(self) -> int:
        ...
    @property
    def requests(self) -> int:
        ...
    @property
    def total_cycles(self) -> int:
        ...
class DoubleBufferReport:
    """
    Occupancy of a (double-)buffered scratchpad over a tile plan.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def buffers(self) -> int:
        ...
    @property
    def capacity_per_buffer_bytes(self) -> int:
        ...
    @property
    def first_oversized_tile(self) -> int:
        ...
    @property
    def fits(self) -> bool:
        ...
    @property
    def oversized_tiles(self) -> int:
        ...
    @property
    def peak_occupancy_bytes(self) -> int:
        ...
    @property
    def peak_resident_tiles(self) -> int:
        ...
    @property
    def tiles(self) -> int:
        ...
class DramSpec:
    """
    DRAM channels, banks, row buffers, bus and JEDEC timings (ns).
    """
    def __init__(self, *, channels: typing.SupportsInt | typing.SupportsIndex = 1, banks_per_channel: typing.SupportsInt | typing.SupportsIndex, row_bytes: typing.SupportsInt | typing.SupportsIndex, burst_bytes: typing.SupportsInt | typing.SupportsIndex, data_rate_mtps: typing.SupportsFloat | typing.SupportsIndex, bus_bits: typing.SupportsInt | typing.SupportsIndex, tRCD_ns: typing.SupportsFloat | typing.SupportsIndex, tCL_ns: typing.SupportsFloat | typing.SupportsIndex, tRP_ns: typing.SupportsFloat | typing.SupportsIndex, tRAS_ns: typing.SupportsFloat | typing.SupportsIndex, tREFI_ns: typing.SupportsFloat | typing.SupportsIndex, tRFC_ns: typing.SupportsFloat | typing.SupportsIndex, mapping: str = 'row:bank:column:channel') -> None:
        ...
    def __repr__(self) -> str:
        ...
    def to_dict(self) -> dict:
        ...
    @property
    def banks_per_channel(self) -> int:
        ...
    @property
    def burst_bytes(self) -> int:
        ...
    @property
    def bus_bits(self) -> int:
        ...
    @property
    def channels(self) -> int:
        ...
    @property
    def clocks(self) -> dict:
        """
        Timings in whole clocks (rounded up) and beats per burst.
        """
    @property
    def data_rate_mtps(self) -> float:
        ...
    @property
    def mapping(self) -> str:
        ...
    @property
    def peak_bandwidth_gb_per_s(self) -> float:
        ...
    @property
    def row_bytes(self) -> int:
        ...
    @property
    def tCL_ns(self) -> float:
        ...
    @property
    def tRAS_ns(self) -> float:
        ...
    @property
    def tRCD_ns(self) -> float:
        ...
    @property
    def tREFI_ns(self) -> float:
        ...
    @property
    def tRFC_ns(self) -> float:
        ...
    @property
    def tRP_ns(self) -> float:
        ...
    @property
    def tck_ns(self) -> float:
        ...
class DramStats:
    """
    Timing and row-buffer statistics of a DRAM stream.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def achieved_bandwidth_gb_per_s(self) -> float:
        ...
    @property
    def avg_latency_ns(self) -> float:
        ...
    @property
    def bursts(self) -> int:
        ...
    @property
    def bytes(self) -> int:
        ...
    @property
    def channel_bursts(self) -> list[int]:
        ...
    @property
    def channel_refreshes(self) -> list[int]:
        ...
    @property
    def channel_time_ns(self) -> list[float]:
        ...
    @property
    def peak_bandwidth_gb_per_s(self) -> float:
        ...
    @property
    def read_bytes(self) -> int:
        ...
    @property
    def refreshes(self) -> int:
        ...
    @property
    def row_conflicts(self) -> int:
        ...
    @property
    def row_hit_rate(self) -> float:
        ...
    @property
    def row_hits(self) -> int:
        ...
    @property
    def row_misses(self) -> int:
        ...
    @property
    def time_ns(self) -> float:
        ...
    @property
    def write_bytes(self) -> int:
        ...
class GpuSpec:
    """
    A GPU for the tensor-core GEMM model (docs/tensor_cores.md).
    """
    def __init__(self, *, arch: str, sms: typing.SupportsInt | typing.SupportsIndex, clock_mhz: typing.SupportsFloat | typing.SupportsIndex, register_file_bytes_per_sm: typing.SupportsInt | typing.SupportsIndex, smem_bytes_per_sm: typing.SupportsInt | typing.SupportsIndex, l2_bytes: typing.SupportsInt | typing.SupportsIndex, hbm_bandwidth_gb_per_s: typing.SupportsFloat | typing.SupportsIndex, l2_bandwidth_bytes_per_clk: typing.SupportsFloat | typing.SupportsIndex, smem_bandwidth_bytes_per_clk: typing.SupportsFloat | typing.SupportsIndex, launch_overhead_us: typing.SupportsFloat | typing.SupportsIndex, fp32_acc_half_rate: bool = False, kernel_latency_us: typing.SupportsFloat | typing.SupportsIndex = 0.0, pipeline_latency_us: typing.SupportsFloat | typing.SupportsIndex = 0.0, mma_clock_mhz: typing.SupportsFloat | typing.SupportsIndex = 0.0, mma_efficiency: typing.SupportsFloat | typing.SupportsIndex = 1.0) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def arch(self) -> str:
        ...
    @property
    def clock_mhz(self) -> float:
        ...
    @property
    def fp32_acc_half_rate(self) -> bool:
        ...
    @property
    def hbm_bandwidth_gb_per_s(self) -> float:
        ...
    @property
    def kernel_latency_us(self) -> float:
        ...
    @property
    def l2_bandwidth_bytes_per_clk(self) -> float:
        ...
    @property
    def l2_bytes(self) -> int:
        ...
    @property
    def launch_overhead_us(self) -> float:
        ...
    @property
    def mma_clock_mhz(self) -> float:
        ...
    @property
    def mma_efficiency(self) -> float:
        ...
    @property
    def pipeline_latency_us(self) -> float:
        ...
    @property
    def register_file_bytes_per_sm(self) -> int:
        ...
    @property
    def smem_bandwidth_bytes_per_clk(self) -> float:
        ...
    @property
    def smem_bytes_per_sm(self) -> int:
        ...
    @property
    def sms(self) -> int:
        ...
class GemmCost:
    """
    Time and traffic of one GEMM kernel on a GPU, with its configuration.
    """
    def __repr__(self) -> str:
        ...
    def to_dict(self) -> dict:
        ...
    @property
    def batch(self) -> int:
        ...
    @property
    def bound(self) -> str:
        ...
    @property
    def candidates(self) -> int:
        ...
    @property
    def cluster_m(self) -> int:
        ...
    @property
    def cluster_n(self) -> int:
        ...
    @property
    def compute_s(self) -> float:
        ...
    @property
    def ctas(self) -> int:
        ...
    @property
    def ctas_per_sm(self) -> int:
        ...
    @property
    def dequant_s(self) -> float:
        ...
    @property
    def epilogue_s(self) -> float:
        ...
    @property
    def hbm_read_bytes(self) -> int:
        ...
    @property
    def hbm_s(self) -> float:
        ...
    @property
    def hbm_write_bytes(self) -> int:
        ...
    @property
    def issued_macs(self) -> int:
        ...
    @property
    def l2_read_bytes(self) -> int:
        ...
    @property
    def l2_s(self) -> float:
        ...
    @property
    def last_wave_ctas(self) -> int:
        ...
    @property
    def latency_s(self) -> float:
        ...
    @property
    def launch_s(self) -> float:
        ...
    @property
    def load_s(self) -> float:
        """
        smem_s's global -> shared loads alone (narrow vectors; an sm80 kernel's cp.async on Hopper / Blackwell), summed over waves
        """
    @property
    def macs(self) -> int:
        ...
    @property
    def mainloop_s(self) -> float:
        ...
    @property
    def metadata_bytes(self) -> int:
        ...
    @property
    def mma_instructions(self) -> int:
        ...
    @property
    def reduction_s(self) -> float:
        ...
    @property
    def smem_read_bytes(self) -> int:
        ...
    @property
    def smem_read_s(self) -> float:
        """
        smem_s's shared-memory reads by the warps alone, summed over waves
        """
    @property
    def smem_s(self) -> float:
        ...
    @property
    def split_k(self) -> int:
        ...
    @property
    def stages(self) -> int:
        ...
    @property
    def tflops(self) -> float:
        ...
    @property
    def tile_k(self) -> int:
        ...
    @property
    def tile_m(self) -> int:
        ...
    @property
    def tile_n(self) -> int:
        ...
    @property
    def time_s(self) -> float:
        ...
    @property
    def utilization(self) -> float:
        ...
    @property
    def wave_efficiency(self) -> float:
        ...
    @property
    def waves(self) -> int:
        ...
class BitSerialSpec:
    """
    A bit-serial array of dm x dn dot-product units, dk lanes each, in mode 'bismo', 'stripes' or 'bitfusion'.
    """
    def __init__(self, dm: typing.SupportsInt | typing.SupportsIndex, dn: typing.SupportsInt | typing.SupportsIndex, dk: typing.SupportsInt | typing.SupportsIndex, mode: str = 'bismo', acc_bits: typing.SupportsInt | typing.SupportsIndex = 32) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def acc_bits(self) -> int:
        ...
    @property
    def dk(self) -> int:
        ...
    @property
    def dm(self) -> int:
        ...
    @property
    def dn(self) -> int:
        ...
    @property
    def mode(self) -> str:
        ...
class BitSerialCost:
    """
    Cycles, tiling, bit operations and operand traffic of one GEMM on a bit-serial array.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def a_read_bits(self) -> int:
        ...
    @property
    def b_read_bits(self) -> int:
        ...
    @property
    def bit_ops(self) -> int:
        ...
    @property
    def compute_cycles(self) -> int:
        ...
    @property
    def cycles(self) -> int:
        ...
    @property
    def fill_cycles(self) -> int:
        ...
    @property
    def k_steps(self) -> int:
        ...
    @property
    def m_tiles(self) -> int:
        ...
    @property
    def macs(self) -> int:
        ...
    @property
    def n_tiles(self) -> int:
        ...
    @property
    def out_write_bits(self) -> int:
        ...
    @property
    def out_writes(self) -> int:
        ...
    @property
    def passes(self) -> int:
        ...
    @property
    def products_per_lane(self) -> int:
        ...
    @property
    def utilization(self) -> float:
        ...
class XnorSpec:
    """
    An XNOR / popcount array: pe processing elements with simd XNOR lanes and a simd-bit popcount tree each (FINN's PE / SIMD folding).
    """
    def __init__(self, pe: typing.SupportsInt | typing.SupportsIndex, simd: typing.SupportsInt | typing.SupportsIndex, acc_bits: typing.SupportsInt | typing.SupportsIndex = 32) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def acc_bits(self) -> int:
        ...
    @property
    def pe(self) -> int:
        ...
    @property
    def simd(self) -> int:
        ...
class XnorCost:
    """
    Cycles, FINN folds, binary MACs and bit traffic of one +-1 GEMM.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def a_read_bits(self) -> int:
        ...
    @property
    def b_read_bits(self) -> int:
        ...
    @property
    def bit_ops(self) -> int:
        ...
    @property
    def compute_cycles(self) -> int:
        ...
    @property
    def cycles(self) -> int:
        ...
    @property
    def fill_cycles(self) -> int:
        ...
    @property
    def macs(self) -> int:
        ...
    @property
    def neuron_folds(self) -> int:
        ...
    @property
    def out_write_bits(self) -> int:
        ...
    @property
    def out_writes(self) -> int:
        ...
    @property
    def synapse_folds(self) -> int:
        ...
    @property
    def threshold_ops(self) -> int:
        ...
    @property
    def utilization(self) -> float:
        ...
class RowStationarySpec:
    """
    Eyeriss's row-stationary PE array: rows x cols PEs (1..4096 each), pe_weights filter-spad words per PE (1..4096) and arrays identical arrays (1..256).
    """
    def __init__(self, rows: typing.SupportsInt | typing.SupportsIndex, cols: typing.SupportsInt | typing.SupportsIndex, pe_weights: typing.SupportsInt | typing.SupportsIndex = 1, arrays: typing.SupportsInt | typing.SupportsIndex = 1) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def arrays(self) -> int:
        ...
    @property
    def cols(self) -> int:
        ...
    @property
    def pe_weights(self) -> int:
        ...
    @property
    def rows(self) -> int:
        ...
class ConvWindowSpec:
    """
    The convolution loops row stationary unrolls (pysim.mapping.tile_model.ConvWindow): filter rows x cols, output rows x cols, stride, dilation (each >= 1). out_h 0 is a GEMM: a 1 x 1 convolution over an M x 1 image.
    """
    def __init__(self, kernel_h: typing.SupportsInt | typing.SupportsIndex = 1, kernel_w: typing.SupportsInt | typing.SupportsIndex = 1, out_h: typing.SupportsInt | typing.SupportsIndex = 0, out_w: typing.SupportsInt | typing.SupportsIndex = 1, stride_h: typing.SupportsInt | typing.SupportsIndex = 1, stride_w: typing.SupportsInt | typing.SupportsIndex = 1, dilation_h: typing.SupportsInt | typing.SupportsIndex = 1, dilation_w: typing.SupportsInt | typing.SupportsIndex = 1) -> None:
        ...
    def __repr__(self) -> str:
        ...
    @property
    def dilation_h(self) -> int:
        ...
    @property
    def dilation_w(self) -> int:
        ...
    @property
    def kernel_h(self) -> int:
        ...
    @property
    def kernel_w(self) -> int:
        ...
    @property
    def out_h(self) -> int:
        ...
    @property
    def out_w(self) -> int:
        ...
    @property
    def stride_h(self) -> int:
        ...
    @property
    def stride_w(self) -> int:
        ...
class RowStationaryCost:
    """
    Cycles (steady + fill), passes, MACs and array accesses of one row-stationary tile.
    """
    def to_dict(self) -> dict:
        ...
    @property
    def cycles(self) -> int:
        ...
    @property
    def fill(self) -> int:
        ...
    @property
    def filter_reads(self) -> int:
        ...
    @property
    def ifmap_reads(self) -> int:
        ...
    @property
    def macs(self) -> int:
        ...
    @property
    def passes(self) -> int:
        ...
    @property
    def psum_reads(self) -> int:
        ...
    @property
    def psum_writes(self) -> int:
        ...
    @property
    def steady(self) -> int:
        ...
def bit_fusion_factor(a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Bit Fusion products per fusion unit per cycle: floor(8/max(a,2)) * floor(8/max(b,2)) on the widths capped at 8.
    """
def bit_serial_cost(spec: BitSerialSpec, shape: GemmShape, a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex) -> BitSerialCost:
    """
    Closed-form cost of a GEMM with a_bits-bit A and b_bits-bit B (O(1)).
    """
def bit_serial_peak_macs_per_cycle(spec: BitSerialSpec, a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex) -> float:
    """
    Peak MACs per cycle at these widths (binary ops/s at 1x1 bit = 2 * this * clock).
    """
def bit_serial_simulate_cycles(spec: BitSerialSpec, shape: GemmShape, a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex) -> BitSerialCost:
    """
    Cycle-stepped reference run without data; returns the counted cost.
    """
def bit_serial_simulate_gemm(spec: BitSerialSpec, a: numpy.ndarray, b: numpy.ndarray, a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex, a_signed: bool = True, b_signed: bool = True) -> tuple:
    """
    Cycle-stepped reference with integer operands: returns (a @ b as int64, counted cost, DPU updates).
    """
def bitserial_gemm(a: numpy.ndarray, b: numpy.ndarray, a_bits: typing.SupportsInt | typing.SupportsIndex, b_bits: typing.SupportsInt | typing.SupportsIndex, a_signed: bool = True, b_signed: bool = True) -> numpy.ndarray:
    """
    a @ b by bit planes for integers within a_bits / b_bits (two's complement when signed) -> int64.
    """
def conv2d_to_gemm(conv: Conv2dShape) -> GemmShape:
    """
    Lower a convolution to GEMM: M = batch*out_h*out_w, N = filters, K = Fh*Fw*Cin.
    """
def count_bank_conflicts(spec: ScratchpadSpec, addresses: typing.Any, cycle_offsets: typing.Any) -> BankConflictStats:
    """
    Bank conflicts of byte addresses requested per cycle, in CSR form: cycle c requests addresses[cycle_offsets[c]:cycle_offsets[c + 1]]; len(cycle_offsets) = cycles + 1.
    """
def csr_from_dense(x: numpy.ndarray) -> tuple:
    """
    Dense 2-D array -> (indptr, indices, values) of its nonzeros.
    """
def csr_matmul(indptr: numpy.ndarray, indices: numpy.ndarray, values: numpy.ndarray, rows: typing.SupportsInt | typing.SupportsIndex, cols: typing.SupportsInt | typing.SupportsIndex, b: numpy.ndarray) -> numpy.ndarray:
    """
    CSR (rows x cols) x dense b -> dense; int8 accumulates in int32.
    """
def dequantize_fused(codes: numpy.ndarray, *, table: numpy.ndarray, scales: numpy.ndarray | None = None, block: typing.SupportsInt | typing.SupportsIndex = 1, half: str = '', out: numpy.ndarray | None = None) -> typing.Any:
    """
    float32 values (flattened) table[codes] * scales[i // block] (a float32 product, as NumPy's), codes 8- or 16-bit read as unsigned; scales None: table[codes]. None if a code is not below len(table) (the NumPy path raises IndexError there). half 'bf16' / 'fp16': the codes are unscaled bfloat16 / binary16 words and table their decode table (NaN canonical), converted rather than looked up. out: a writeable C-contiguous float32 array of len(codes) values to write them into (returned), else a new one.
    """
def double_buffer_occupancy(spec: ScratchpadSpec, tile_bytes: typing.Any, fill_start: typing.Any = None, fill_end: typing.Any = None, drain_start: typing.Any = None, drain_end: typing.Any = None) -> DoubleBufferReport:
    """
    Peak resident tiles and bytes of a tile plan; tile i occupies a buffer from fill_start[i] to drain_end[i]. Without times: the ideal pipeline (fill i, drain i - 1).
    """
def dram_map_address(spec: DramSpec, address: typing.SupportsInt | typing.SupportsIndex) -> dict:
    """
    {'channel', 'bank', 'row', 'column'} of a byte address (column in bursts).
    """
def dram_peak_bandwidth_gb_per_s(spec: DramSpec) -> float:
    """
    channels * bus_bits / 8 * data_rate_mtps * 1e6 / 1e9.
    """
def dram_simulate_stream(spec: DramSpec, addresses: typing.Any, sizes: typing.Any, is_write: typing.Any = None) -> DramStats:
    """
    Time a stream of transfers (byte addresses, sizes in bytes, optional write flags; 1-D arrays of one length) through the DRAM; in order per channel, open page.
    """
def encode_codebook(x: numpy.ndarray, *, values: numpy.ndarray, u: numpy.ndarray | None = None, scales: numpy.ndarray | None = None, block: typing.SupportsInt | typing.SupportsIndex = 1) -> numpy.ndarray:
    """
    Code-book indices (uint8, flattened) of finite float64 x: the nearest of the sorted `values`, ties to the even index, or stochastic with u (encode_codebook, bit for bit); scales as for encode_float.
    """
def encode_float(x: numpy.ndarray, *, ebits: typing.SupportsInt | typing.SupportsIndex, mbits: typing.SupportsInt | typing.SupportsIndex, emin: typing.SupportsInt | typing.SupportsIndex, max_code: typing.SupportsInt | typing.SupportsIndex, specials: str, saturate: bool, u: numpy.ndarray | None = None, scales: numpy.ndarray | None = None, block: typing.SupportsInt | typing.SupportsIndex = 1) -> numpy.ndarray:
    """
    Codes (uint8 / 16 / 32 by width, flattened) of float64 x in a binary float format (pysim/formats/elements.py's encode_float, bit for bit); u: one uniform draw per element for stochastic rounding, else nearest-even. scales: x is divided by one scale per `block` consecutive elements first (a NaN scale gives 0). NaN is the caller's to refuse where the format has none.
    """
def encode_int(x: numpy.ndarray, *, bits: typing.SupportsInt | typing.SupportsIndex, signed: bool, frac_bits: typing.SupportsInt | typing.SupportsIndex, qmin: typing.SupportsInt | typing.SupportsIndex, qmax: typing.SupportsInt | typing.SupportsIndex, u: numpy.ndarray | None = None, scales: numpy.ndarray | None = None, block: typing.SupportsInt | typing.SupportsIndex = 1) -> numpy.ndarray:
    """
    Integer codes (int8 / int16, or unsigned, by bits and signed; flattened) of finite float64 x: round(x * 2^frac_bits) clamped to qmin..qmax (encode_int, bit for bit); scales as for encode_float.
    """
def encode_isa() -> str:
    """
    The loops encode_float / encode_int run: 'avx512' (vectorised) or 'portable' (PYSIM_DISABLE_CPU_FEATURES=avx512 forces it).
    """
def gpu_gemm_candidates(spec: GpuSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, dtype: str = 'fp16', sparse: bool = False, out_bytes: typing.SupportsInt | typing.SupportsIndex = 0, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, acc: str | None = None, a_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_group: typing.SupportsInt | typing.SupportsIndex = 0, out_bits: typing.SupportsInt | typing.SupportsIndex = 0, a_row: typing.SupportsInt | typing.SupportsIndex = 0, b_row: typing.SupportsInt | typing.SupportsIndex = 0) -> list[tuple]:
    """
    (tile_m, tile_n, tile_k, split_k, cluster_m, cluster_n) of every configuration the search evaluates.
    """
def gpu_gemm_cost(spec: GpuSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, dtype: str = 'fp16', sparse: bool = False, out_bytes: typing.SupportsInt | typing.SupportsIndex = 0, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, acc: str | None = None, a_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_group: typing.SupportsInt | typing.SupportsIndex = 0, out_bits: typing.SupportsInt | typing.SupportsIndex = 0, a_row: typing.SupportsInt | typing.SupportsIndex = 0, b_row: typing.SupportsInt | typing.SupportsIndex = 0, l2_resident: bool = False) -> GemmCost:
    """
    Closed-form time of the fastest candidate configuration; batch: independent GEMMs of this shape in one kernel (strided batched); acc: accumulator dtype (None: the dtype's default).
    """
def gpu_gemm_cost_tile(spec: GpuSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, dtype: str, sparse: bool, out_bytes: typing.SupportsInt | typing.SupportsIndex, tile_m: typing.SupportsInt | typing.SupportsIndex, tile_n: typing.SupportsInt | typing.SupportsIndex, tile_k: typing.SupportsInt | typing.SupportsIndex, split_k: typing.SupportsInt | typing.SupportsIndex = 1, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, acc: str | None = None, a_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_group: typing.SupportsInt | typing.SupportsIndex = 0, out_bits: typing.SupportsInt | typing.SupportsIndex = 0, cluster_m: typing.SupportsInt | typing.SupportsIndex = 1, cluster_n: typing.SupportsInt | typing.SupportsIndex = 1, a_row: typing.SupportsInt | typing.SupportsIndex = 0, b_row: typing.SupportsInt | typing.SupportsIndex = 0, l2_resident: bool = False) -> GemmCost:
    """
    Closed-form time of one configuration.
    """
def gpu_gemm_simulate(spec: GpuSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, dtype: str = 'fp16', sparse: bool = False, out_bytes: typing.SupportsInt | typing.SupportsIndex = 0, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, acc: str | None = None, a_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_group: typing.SupportsInt | typing.SupportsIndex = 0, out_bits: typing.SupportsInt | typing.SupportsIndex = 0, a_row: typing.SupportsInt | typing.SupportsIndex = 0, b_row: typing.SupportsInt | typing.SupportsIndex = 0, l2_resident: bool = False) -> GemmCost:
    """
    Step-level reference (CTA by CTA, k-block by k-block) over the same candidates.
    """
def gpu_gemm_simulate_tile(spec: GpuSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, dtype: str, sparse: bool, out_bytes: typing.SupportsInt | typing.SupportsIndex, tile_m: typing.SupportsInt | typing.SupportsIndex, tile_n: typing.SupportsInt | typing.SupportsIndex, tile_k: typing.SupportsInt | typing.SupportsIndex, split_k: typing.SupportsInt | typing.SupportsIndex = 1, *, batch: typing.SupportsInt | typing.SupportsIndex = 1, acc: str | None = None, a_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_bits: typing.SupportsInt | typing.SupportsIndex = 0, b_group: typing.SupportsInt | typing.SupportsIndex = 0, out_bits: typing.SupportsInt | typing.SupportsIndex = 0, cluster_m: typing.SupportsInt | typing.SupportsIndex = 1, cluster_n: typing.SupportsInt | typing.SupportsIndex = 1, a_row: typing.SupportsInt | typing.SupportsIndex = 0, b_row: typing.SupportsInt | typing.SupportsIndex = 0, l2_resident: bool = False) -> GemmCost:
    ...
def im2col(conv: Conv2dShape, x: numpy.ndarray) -> numpy.ndarray:
    """
    NHWC input -> (M, K) patch matrix, zeros for padding.
    """
def int_gemm(a: numpy.ndarray, b: numpy.ndarray) -> numpy.ndarray:
    """
    a @ b for int8 / int16 matrices with int32 accumulation (wrapping as NumPy's int32).
    """
def mma_b1(a: numpy.ndarray, b: numpy.ndarray, c: typing.Any, op: str) -> numpy.typing.NDArray[numpy.int32]:
    """
    Binary MMA: c + popcount(a op b) over K, a and b holding 0 / 1.
    """
def mma_float(a: numpy.ndarray, b: numpy.ndarray, c: typing.Any, k_step: typing.SupportsInt | typing.SupportsIndex, tf32_inputs: bool) -> numpy.typing.NDArray[numpy.float32]:
    """
    fp32 accumulation of exact products, rounded once per k_step (see kernels/mma.hpp).
    """
def mma_int(a: numpy.ndarray, b: numpy.ndarray, c: typing.Any, bits: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.int32]:
    """
    int8 / int4 (held in int8) products accumulated in int32 with wrap-around.
    """
def nm_compress(x: numpy.ndarray, n: typing.SupportsInt | typing.SupportsIndex, m: typing.SupportsInt | typing.SupportsIndex) -> tuple:
    """
    Rows cut into groups of m along the columns, n kept per group -> (values, index); ValueError if a group holds more than n nonzeros.
    """
def nm_matmul(values: numpy.ndarray, index: numpy.ndarray, n: typing.SupportsInt | typing.SupportsIndex, m: typing.SupportsInt | typing.SupportsIndex, cols: typing.SupportsInt | typing.SupportsIndex, b: numpy.ndarray) -> numpy.ndarray:
    """
    N:M-compressed A (rows x cols) x dense b -> dense.
    """
def op_pipeline_cycles(steps: typing.SupportsInt | typing.SupportsIndex, compute: typing.SupportsFloat | typing.SupportsIndex, read: typing.SupportsFloat | typing.SupportsIndex, write: typing.SupportsFloat | typing.SupportsIndex, halves: typing.SupportsInt | typing.SupportsIndex = 2) -> float:
    """
    Cycles from an op's first load to its last store as the SimPy engine runs it alone: steps in `halves` buffer halves, loads and stores on one bus (first come, first served; a load first on a tie), `read` / `write` the bus cycles of all loads / stores.
    """
def op_pipeline_lower_bound(steps: typing.SupportsInt | typing.SupportsIndex, compute: typing.SupportsFloat | typing.SupportsIndex, read: typing.SupportsFloat | typing.SupportsIndex, write: typing.SupportsFloat | typing.SupportsIndex) -> float:
    """
    What no schedule of the op beats: the bus moves every byte; one load, all compute and one store run in sequence; every load precedes the last compute and store; the first load and compute precede every store.
    """
def pack_pm1(x: numpy.ndarray) -> numpy.ndarray:
    """
    Pack the rows of an int8 +-1 matrix (rows x k) into uint64 words (rows x ceil(k/64)): bit k%64 of word k//64 is 1 for +1; padding bits are zero.
    """
def place_stays(first: numpy.ndarray, nbytes: numpy.ndarray, start: numpy.ndarray, ends: numpy.ndarray, budget: typing.SupportsInt | typing.SupportsIndex, lowest: bool = False, give_up_at: typing.SupportsInt | typing.SupportsIndex = -1) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]] | None:
    """
    Best fit (or with `lowest` first fit) of kept stays in the order given: (offset per stay, -1 if dropped; gaps kept per stay); None once the stays placed have lost `give_up_at` bytes x gaps (>= 0; -1: never). Internal to pysim.mapping.kept_area.place; kept_area._place_in_reference computes the same in Python.
    """
def plan_candidates(dims: tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex], cands: tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray], grains: tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex], bits: tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex], a_on_chip: bool, a_per_k: numpy.ndarray | None, scales: tuple[typing.SupportsFloat | typing.SupportsIndex, typing.SupportsFloat | typing.SupportsIndex], fit: numpy.ndarray, anywhere: numpy.ndarray, passes: tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray, numpy.ndarray], a_pass_dim: typing.SupportsInt | typing.SupportsIndex, slow: tuple[numpy.ndarray, numpy.ndarray, numpy.ndarray] | None, timed: bool, max_steps: typing.SupportsInt | typing.SupportsIndex, held_terms: numpy.ndarray, held_which: numpy.ndarray, vary: typing.SupportsInt | typing.SupportsIndex = -1, vary_anywhere: numpy.ndarray | None = None) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.float64], numpy.typing.NDArray[numpy.bool], typing.Any]:
    """
    A GEMM's tiling candidates for the search: (the fitting tilings' indices into the product of the candidate sizes, (11, n) int64 figures, (20, n) search_plans rows, (slices, n) fits, and where `vary` names a fit row (a group whose bytes change from call to call; `vary_anywhere` flags its anywhere rows) the (lo, hi) bytes of that group, inclusive, over which all of them stay the same, else None). Internal to pysim.mapping.tiling.plan_gemm; pysim.mapping.tiling._setup_reference computes the same in NumPy.
    """
def port_cycles_table(rates: numpy.ndarray, home: tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex], rows: numpy.ndarray, a_on_chip: bool, trips_m: numpy.ndarray, trips_n: numpy.ndarray, trips_k: numpy.ndarray, a_bits: numpy.ndarray, b_bits: numpy.ndarray, psum_r: numpy.ndarray, psum_w: numpy.ndarray, a_pass: numpy.ndarray, b_pass: numpy.ndarray, c_pass: numpy.ndarray, p_pass: numpy.ndarray, drain: numpy.ndarray, accumulate: numpy.ndarray, chains: typing.Any = None, c_kept: bool = False) -> numpy.typing.NDArray[numpy.float64]:
    """
    The scratchpads' port cycles of every (slice, candidate) of a GEMM's tiling search (slices x candidates). Internal to pysim.mapping.tiling.plan_gemm; pysim.mapping.tiling.slice_port_cycles_reference computes the same in NumPy.
    """
def quantize_fused(x: numpy.ndarray, *, block: typing.SupportsInt | typing.SupportsIndex, element: str, ebits: typing.SupportsInt | typing.SupportsIndex = 0, mbits: typing.SupportsInt | typing.SupportsIndex = 0, emin: typing.SupportsInt | typing.SupportsIndex = 0, max_code: typing.SupportsInt | typing.SupportsIndex = 0, specials: str = 'ieee', saturate: bool = False, bits: typing.SupportsInt | typing.SupportsIndex = 8, frac_bits: typing.SupportsInt | typing.SupportsIndex = 0, qmin: typing.SupportsInt | typing.SupportsIndex = 0, qmax: typing.SupportsInt | typing.SupportsIndex = 0, values: numpy.ndarray | None = None, scale: str = 'none', scale_ebits: typing.SupportsInt | typing.SupportsIndex = 8, scale_mbits: typing.SupportsInt | typing.SupportsIndex = 23, scale_emin: typing.SupportsInt | typing.SupportsIndex = -126, scale_max_code: typing.SupportsInt | typing.SupportsIndex = 2139095039, scale_specials: str = 'ieee', emax: typing.SupportsInt | typing.SupportsIndex = 0, max_abs: typing.SupportsFloat | typing.SupportsIndex = 1.0, reject: str = 'none', u: numpy.ndarray | None = None) -> typing.Any:
    """
    pysim.formats.quantize's path in one or two passes over x (float16, bfloat16, float32 or float64, flattened, read in its own dtype): per block of `block` elements its largest magnitude, its scale (scale: 'e8m0' MX v1.0 Section 6.3, 'float' absmax / max_abs rounded to nearest even in the scale_* float format, 'none' unscaled), and the codes of x / scale in the element format (element 'float' with ebits.. saturate, 'int' with bits.. qmax, 'codebook' with values); bit for bit the NumPy path. Returns (codes uint8 / 16 / 32 flattened, scales float32 or None), or None where the NumPy path raises (a value `reject` names, a scale out of range): the caller reruns it for the message. u: one draw per element for stochastic rounding.
    """
def repair_plan(nbytes: numpy.ndarray, lo: numpy.ndarray, hi: numpy.ndarray, save: numpy.ndarray, owner: numpy.ndarray, w_bytes: numpy.ndarray, w_gaps: numpy.ndarray, steps: typing.SupportsInt | typing.SupportsIndex, keep: numpy.ndarray, order: numpy.ndarray, positive: numpy.ndarray, budget: typing.SupportsInt | typing.SupportsIndex, extra: typing.SupportsInt | typing.SupportsIndex, passes: typing.SupportsInt | typing.SupportsIndex, seconds: typing.SupportsFloat | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.bool]:
    """
    The plan `keep` repaired (pysim.mapping.planned_residency._improve): each gap the relaxation keeps in part (`positive`) that `keep` drops forced in, then `extra` dropped gaps of largest saving, the kept gaps in its way dropped greedily and the rest re-kept in `order`; a move stands where the bytes kept grow; at most `passes` passes, no move after `seconds`. Gap k holds nbytes[k] bytes during steps lo[k]..hi[k] and saves save[k] kept; owner[k] indexes w_bytes / w_gaps (a write-back saved once all w_gaps[w] of the owner's gaps are kept; -1: never). Internal; _improve_reference computes the same.
    """
def round_plan(nbytes: numpy.ndarray, lo: numpy.ndarray, hi: numpy.ndarray, save: numpy.ndarray, owner: numpy.ndarray, w_bytes: numpy.ndarray, w_gaps: numpy.ndarray, steps: typing.SupportsInt | typing.SupportsIndex, order: numpy.ndarray, budget: typing.SupportsInt | typing.SupportsIndex) -> numpy.typing.NDArray[numpy.bool]:
    """
    The gaps in `order`, each kept where the area of `budget` bytes has room throughout its span: a bool per gap. Gap k holds nbytes[k] bytes during steps lo[k]..hi[k] and saves save[k] kept; owner[k] indexes w_bytes / w_gaps (a write-back saved once all w_gaps[w] of the owner's gaps are kept; -1: never). Internal to pysim.mapping.planned_residency; _round_reference computes the same.
    """
def round_to_tf32(x: typing.SupportsFloat | typing.SupportsIndex) -> float:
    """
    fp32 -> tf32 (10-bit mantissa, round to nearest, ties away from zero).
    """
def row_stationary_cost(spec: RowStationarySpec, window: ConvWindowSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex) -> RowStationaryCost:
    """
    Closed-form cost of an m x n x k tile on the row-stationary array (O(1)); equals RowStationaryTiles.evaluate.
    """
def row_stationary_reference(spec: RowStationarySpec, window: ConvWindowSpec, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex) -> RowStationaryCost:
    """
    Cycle-stepped reference of the same tile: steps every pass's PEs and walks the data movement; returns the counted cost. Raises ValueError for tiles over 2^32 PE updates.
    """
def scalesim_fold_averages(spec: SystolicSpec, shape: GemmShape) -> tuple[float, float]:
    """
    SCALE-Sim 3.0.0's (Mapping Efficiency %, Compute Util %), summed fold by fold in its order so the floats match its reports bit for bit.
    """
def search_plans(kind: typing.SupportsInt | typing.SupportsIndex, prices: dict, candidates: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], refetch: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], served: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], slice_pj: typing.Annotated[numpy.typing.ArrayLike, numpy.float64], kept: typing.Annotated[numpy.typing.ArrayLike, numpy.int64], fits: typing.Annotated[numpy.typing.ArrayLike, numpy.uint8], port_cycles: typing.Annotated[numpy.typing.ArrayLike, numpy.float64] | None = None) -> tuple[int, float, float]:
    """
    The mapping search's winner over every (slice, candidate): (slice x n + candidate or -1, latency cycles, energy pJ). Internal to pysim.mapping.tiling.plan_gemm.
    """
def strided_conflict_stalls(spec: ScratchpadSpec, lanes: typing.SupportsInt | typing.SupportsIndex, stride_words: typing.SupportsInt | typing.SupportsIndex) -> int:
    """
    Closed-form stall cycles of one cycle in which `lanes` requesters read words at a stride: ceil(lanes / (banks / gcd(stride, banks)) / ports_per_bank) - 1.
    """
def systolic_cost(spec: SystolicSpec, shape: GemmShape) -> SystolicCost:
    """
    Closed-form cost of a GEMM on the array (O(1)).
    """
def systolic_fetch_pattern(spec: ScratchpadSpec, lanes: typing.SupportsInt | typing.SupportsIndex, elements: typing.SupportsInt | typing.SupportsIndex, row_pitch_words: typing.SupportsInt | typing.SupportsIndex, base_address: typing.SupportsInt | typing.SupportsIndex = 0, element_bytes: typing.SupportsInt | typing.SupportsIndex = 0, skewed: bool = True) -> tuple[numpy.typing.NDArray[numpy.int64], numpy.typing.NDArray[numpy.int64]]:
    """
    (addresses, cycle_offsets) of a systolic edge reading a row-major tile: lane l reads row l (at base_address + l * row_pitch_words * word_bytes), element t - l at cycle t when skewed, element t otherwise. element_bytes=0 means word_bytes.
    """
def systolic_fetch_predicted_stalls(spec: ScratchpadSpec, lanes: typing.SupportsInt | typing.SupportsIndex, elements: typing.SupportsInt | typing.SupportsIndex, row_pitch_words: typing.SupportsInt | typing.SupportsIndex, base_address: typing.SupportsInt | typing.SupportsIndex = 0, element_bytes: typing.SupportsInt | typing.SupportsIndex = 0, skewed: bool = True) -> int:
    """
    Closed-form conflict stalls of systolic_fetch_pattern (element_bytes == word_bytes, word-aligned base).
    """
def systolic_simulate_cycles(spec: SystolicSpec, shape: GemmShape) -> SystolicCost:
    """
    Cycle-stepped reference run without data; returns the counted cost.
    """
def systolic_simulate_gemm(spec: SystolicSpec, a: numpy.ndarray, b: numpy.ndarray) -> tuple:
    """
    Cycle-stepped reference with data: returns (output, cost, pe_updates). int8 -> int32, int16 -> int64, float32 -> float32 accumulation.
    """
def systolic_tile_sums(rows: typing.SupportsInt | typing.SupportsIndex, cols: typing.SupportsInt | typing.SupportsIndex, spatial: tuple[typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex, typing.SupportsInt | typing.SupportsIndex], scalesim: bool, pe_weights: typing.SupportsInt | typing.SupportsIndex, arrays: typing.SupportsInt | typing.SupportsIndex, m: typing.SupportsInt | typing.SupportsIndex, n: typing.SupportsInt | typing.SupportsIndex, k: typing.SupportsInt | typing.SupportsIndex, mt: numpy.ndarray, nt: numpy.ndarray, kt: numpy.ndarray) -> numpy.typing.NDArray[numpy.int64]:
    """
    A systolic array's tile model summed over an M x N x K GEMM per candidate tiling: (5, candidates) int64 rows of cycles, A reads, B reads, partial sums written and read back. Internal to pysim.mapping.tiling.plan_gemm; pysim.mapping.tiling.tile_sums_reference computes the same in NumPy.
    """
def tc_archs() -> list[str]:
    """
    GPU architectures the tensor-core model knows.
    """
def tc_default_acc(dtype: str) -> str:
    """
    The accumulator an input dtype uses by default (fp32 or int32).
    """
def tc_dtypes() -> list[str]:
    """
    Tensor-core input dtypes the model knows.
    """
def tc_input_bits(dtype: str) -> int:
    ...
def tc_macs_per_clk_per_sm(arch: str, dtype: str, sparse: bool = False, acc: str | None = None, fp32_acc_half_rate: bool = False) -> int:
    """
    Tensor-core MACs per SM per clock for (dtype, acc, sparse); fp32_acc_half_rate halves float inputs accumulating in fp32 (GeForce parts). ValueError where the architecture lacks the combination.
    """
def tc_mma_shape(arch: str, dtype: str, sparse: bool = False) -> tuple[int, int, int]:
    """
    (m, n, k) of the warp-level MMA instruction.
    """
def tc_supported_accs(arch: str, dtype: str) -> list[str]:
    """
    Accumulator dtypes the architecture's MMA offers for the input dtype (empty if none).
    """
def tc_supported_dtypes(arch: str) -> list[str]:
    """
    Dtypes the architecture's tensor cores run.
    """
def tc_supports(arch: str, dtype: str, sparse: bool = False, acc: str | None = None) -> bool:
    """
    Whether the architecture's tensor cores run the dtype (sparse, with accumulator acc).
    """
def xnor_cost(spec: XnorSpec, shape: GemmShape, thresholded: bool = True) -> XnorCost:
    """
    Closed-form cost of a +-1 GEMM (O(1)).
    """
def xnor_gemm(a: numpy.ndarray, b: numpy.ndarray, threads: typing.SupportsInt | typing.SupportsIndex = 0, isa: str = 'auto') -> numpy.ndarray:
    """
    a @ b for int8 +-1 matrices by XNOR-popcount on 64-bit words -> int32.
    """
def xnor_gemm_isa() -> str:
    """
    The popcount kernel xnor_gemm uses on this machine.
    """
def xnor_gemm_packed(a_packed: numpy.ndarray, b_packed: numpy.ndarray, k: typing.SupportsInt | typing.SupportsIndex, threads: typing.SupportsInt | typing.SupportsIndex = 0, isa: str = 'auto') -> numpy.ndarray:
    """
    A @ B from packed rows of A (m x ceil(k/64)) and packed rows of B^T (n x ceil(k/64)), as pack_pm1 makes them -> int32 (m x n).
    """
def xnor_simulate_cycles(spec: XnorSpec, shape: GemmShape, thresholded: bool = True) -> XnorCost:
    """
    Cycle-stepped reference run without data; returns the counted cost.
    """
def xnor_simulate_gemm(spec: XnorSpec, a: numpy.ndarray, b: numpy.ndarray, thresholds: typing.Any = None) -> tuple:
    """
    Cycle-stepped reference with int8 +-1 operands: returns (a @ b as int32, or +-1 where thresholds are given: +1 if a @ b >= thresholds[n]; counted cost; PE updates).
    """
tc_mma_sync_on_hopper: float = 0.6666666666666666
