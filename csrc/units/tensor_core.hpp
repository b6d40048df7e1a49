// GPU tensor cores: MMA instruction shapes and per-SM rates by architecture and dtype, and the
// closed-form time of a whole GEMM kernel on a GPU (CTA tiling, waves, memory hierarchy).
//
// Rates are dense multiply-accumulates per SM per clock, from the NVIDIA architecture
// whitepapers and datasheets (Volta V100 2017, Ampere A100 2020, Ampere GA102 2020, Jetson AGX
// Orin 2022, Hopper H100 2022, Ada Lovelace 2022, Blackwell B200 2024); docs/tensor_cores.md has
// the table with its sources. 2:4 structured sparsity (1:2 for tf32) doubles the rate where the
// architecture has it (every architecture but Volta). A rate is keyed by (input dtype,
// accumulator dtype, sparsity): the architecture's rate is the full one; a GPU whose
// GpuSpec::fp32_acc_half_rate is set (GeForce parts) runs float inputs accumulating in fp32 at
// half of it (the whitepapers' "with FP32 Accumulate" rows).
//
// GEMM model (docs/tensor_cores.md derives it). A kernel computes `batch` independent GEMMs of
// one shape (strided batched; batch = 1: a plain GEMM). A candidate kernel is a CTA tile
// BM x BN x BK with split-K s. The batch x s x tiles_m x tiles_n CTAs of all batch entries form
// one grid, launched batch-major in order t = ((b * s + ks) * tiles_m + tm) * tiles_n + tn, and
// run in waves of L = SMs x CTAs-per-SM, CTA j of a wave on SM j mod SMs: a wave may hold CTAs
// of several batch entries, which share no operand panels (each entry's A and B panels count
// separately; C is stored per entry). Per wave:
//   mainloop = max(MMA cycles of the busiest SM / tensor clock,
//                  shared-memory operand reads of the busiest SM / (smem B/clk x clock),
//                  L2->SM operand bytes / L2 bandwidth,
//                  HBM bytes / HBM bandwidth)
//   tensor clock = GpuSpec::mma_clock_mhz (the SM clock under the board's power limit while
//                  the tensor cores are busy, measured) or the boost clock
//   L2->SM bytes: a CTA of a cluster_m x cluster_n cluster reads 1 / cluster_n of each A k-block
//                 and 1 / cluster_m of each B k-block (TMA multicast to the cluster's row /
//                 column); the grid is padded to whole clusters, a wave holds whole clusters
//   HBM bytes = distinct A and B panels the wave touches (L2 hits for the rest), growing towards
//               all its loads when the k-blocks in flight exceed the L2 (see l2_miss_bytes)
//   epilogue  = max(accumulator staging through shared memory, C tile stores / HBM bandwidth)
// time = launch overhead + kernel latency + pipeline latency + sum over waves (mainloop +
//        epilogue) + split-K reduction pass (a second kernel: its launch, kernel latency, bytes).
//
// Operand storage widths (weight-only quantization, W4A16 / W8A16 as in AWQ / GPTQ / Marlin):
// TcGemm::a_bits / b_bits store A / B narrower than the MMA's input (0: the dtype's width), and
// every byte count of an operand (its k-blocks in HBM, L2 and shared memory, the shared-memory
// footprint that sets occupancy) uses the storage width. b_group > 0 adds B's fp16 scales, one
// per (group of b_group K elements, column): a k-block of B carries
// ceil(2 x columns x BK / b_group) scale bytes (tc_b_scale_bytes), amortised over the k-blocks
// one group spans. An operand stored narrower than the MMA input is dequantized in the main
// loop on the CUDA cores, each element of each k-block once per CTA: per CTA per k-block
//   dequant cycles = elements x kDequantOpsPerElement / tc_fp32_lanes_per_sm(arch)
// Combination rule: the SM's compute term is MMA cycles + dequant cycles, i.e.
//   mainloop = max(MMA + dequant, smem, L2, HBM),
// because the dequantizing ALU instructions issue from the same warps (schedulers) as the MMAs
// and serialise with them, while cp.async / TMA loads overlap both: a memory-bound decode GEMM
// hides the dequant, a compute-bound one pays it in full.
// Tiles are counted whole (ragged edge tiles load and multiply a full tile); C stores are
// predicated, so a wave writes only its tiles' in-bounds elements.
// gemm_cost searches a small list of tiles and split-K factors, like a library heuristic, and
// returns the fastest. tensor_core_reference.hpp steps the same kernel CTA by CTA.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace pysim {

// Turing is TU10x (sm_75: T4, GeForce RTX 20, Titan RTX), Ampere GA100 (sm_80), Ga10x the GA102..GA107 parts (sm_86: GeForce RTX 30, A40, A10),
// Ga10b Jetson Orin's GPU (sm_87), Ada AD10x (sm_89), Blackwell B200's GB100 (sm_100).
enum class GpuArch { Volta, Turing, Ampere, Hopper, Ga10x, Ga10b, Ada, Blackwell };
enum class TcDtype {
  FP16, BF16, TF32, FP8_E4M3, FP8_E5M2, FP6_E2M3, FP6_E3M2, FP4_E2M1, INT8, INT4, B1
};
// Accumulator (C / D) type. Default: the input dtype's usual one (tc_default_acc).
enum class TcAcc { Default, FP32, FP16, INT32 };

// FP32 lanes (CUDA cores) per SM: 64 on Volta, Turing and Ampere GA100, 128 on GA10x, GA10B, Ada,
// Hopper and Blackwell (the architecture whitepapers).
int64_t tc_fp32_lanes_per_sm(GpuArch arch);
// CUDA-core operations to dequantize one stored operand element in the main loop: unpack /
// convert to the MMA type, then the scale FMA (int4 / int8 -> fp16 / bf16, as Marlin does).
constexpr int64_t kDequantOpsPerElement = 2;

struct MmaShape {
  int64_t m = 0, n = 0, k = 0;
};

const char* to_string(GpuArch arch);
const char* to_string(TcDtype dtype);
const char* to_string(TcAcc acc);  // "default", "fp32", "fp16", "int32"
GpuArch parse_gpu_arch(const std::string& name);  // "volta" ... "blackwell" (see kAllArchs)
TcDtype parse_tc_dtype(const std::string& name);  // "fp16" ... "b1" (see kAllDtypes)
TcAcc parse_tc_acc(const std::string& name);      // "fp32" | "fp16" | "int32" | "default"

extern const GpuArch kAllArchs[8];
extern const TcDtype kAllDtypes[11];

// Bits of one input element in memory (tf32 is stored as fp32).
int64_t tc_input_bits(TcDtype dtype);
// Default bytes of one output element: fp16/bf16 -> same type, fp8 -> bf16, others -> 32-bit.
int64_t tc_default_out_bytes(TcDtype dtype);

bool tc_supports(GpuArch arch, TcDtype dtype);
bool tc_supports_sparse(GpuArch arch, TcDtype dtype);
std::vector<TcDtype> tc_supported_dtypes(GpuArch arch);
// Throw std::invalid_argument naming the architecture, the dtype and what it supports.
void tc_require(GpuArch arch, TcDtype dtype, bool sparse);

// fp32 for float inputs, int32 for int8 / int4 / b1.
TcAcc tc_default_acc(TcDtype dtype);
// `acc`, or the dtype's default for TcAcc::Default.
TcAcc tc_resolve_acc(TcDtype dtype, TcAcc acc);
// Bytes of one accumulator element (fp16: 2; fp32, int32: 4).
int64_t tc_acc_bytes(TcAcc acc);
// Accumulator types the architecture's MMA instructions offer for the dtype (empty where it
// lacks the dtype): fp16 and fp8 (and Blackwell's fp6) accumulate in fp32 or fp16, bf16 / tf32 /
// fp4 in fp32 only, integers in int32.
std::vector<TcAcc> tc_supported_accs(GpuArch arch, TcDtype dtype);
bool tc_supports_acc(GpuArch arch, TcDtype dtype, TcAcc acc);
// tc_require, then throw std::invalid_argument (one line) naming the architecture, the
// (dtype, acc) pair and the accumulators the dtype has.
void tc_require(GpuArch arch, TcDtype dtype, bool sparse, TcAcc acc);

// Warp-level MMA instruction (PTX mma.sync / mma.sp) the architecture issues for the dtype;
// sparse shapes have twice the K of the dense ones.
MmaShape mma_shape(GpuArch arch, TcDtype dtype, bool sparse = false);
// Tensor-core multiply-accumulates per SM per clock (dense; doubled when sparse), for the
// accumulator `acc`; halved for a float input accumulating in fp32 when fp32_acc_half_rate
// (GeForce parts). Throws std::invalid_argument where the architecture lacks the combination.
int64_t tc_macs_per_clk_per_sm(GpuArch arch, TcDtype dtype, bool sparse = false,
                               TcAcc acc = TcAcc::Default, bool fp32_acc_half_rate = false);

// cuBLAS (12.x / 13.0) runs int8 GEMMs on Hopper through CUTLASS's sm80 kernels
// (cutlass_80_tensorop_i16832gemm_s8_*, benchmarks/data/h200_kernels/gemm.csv): Ampere's tiles,
// cp.async pipelines and warp layout, no clusters, and Ampere's warp-level mma.sync, which on
// Hopper reaches about 2/3 of the wgmma rate (Shah et al., "FlashAttention-3", 2024, Sec. 2).
constexpr double kMmaSyncOnHopper = 2.0 / 3.0;

// A configuration replaces the best so far only if it is faster by more than this fraction:
// the closed form (a count times a per-instruction time) and the stepped reference (a sum of
// them) round differently where that time is no binary fraction (kMmaSyncOnHopper,
// GpuSpec::mma_efficiency), and ties must go to the same, first, candidate in both.
constexpr double kFasterBy = 1e-9;
inline bool tc_faster(double candidate_s, double best_s) {
  return candidate_s < best_s * (1.0 - kFasterBy);
}

struct GpuSpec {
  GpuArch arch = GpuArch::Ampere;
  int64_t sms = 1;
  double clock_mhz = 1000.0;  // tensor-core boost clock
  int64_t register_file_bytes_per_sm = 65536 * 4;
  int64_t smem_bytes_per_sm = 0;  // most shared memory a kernel may configure per SM
  int64_t l2_bytes = 0;
  double hbm_bandwidth_gb_per_s = 0.0;
  double l2_bandwidth_bytes_per_clk = 0.0;    // whole chip
  double smem_bandwidth_bytes_per_clk = 0.0;  // per SM
  double launch_overhead_us = 0.0;  // host: issuing one kernel (hidden behind longer kernels)
  // Device-side fixed times (docs/tensor_cores.md, "Kernel latency"): kernel_latency_us between
  // back-to-back kernels of a stream (grid launch and drain, as a CUDA graph replays them);
  // pipeline_latency_us once per GEMM kernel (barrier and descriptor set-up, the first
  // k-blocks' load before the main loop streams, the last stores). Measured on an H200.
  double kernel_latency_us = 0.0;
  double pipeline_latency_us = 0.0;
  // The SM clock while the tensor cores bound a kernel, under the board's power limit (0: the
  // boost clock; capped at clock_mhz): the compute term runs at it, the memory terms at
  // clock_mhz. Measured.
  double mma_clock_mhz = 0.0;
  // The fraction of the MMA peak at that clock a long cuBLAS GEMM's main loop sustains beyond
  // what the model's waves, padding, epilogue and latencies take (wgmma issue gaps, producer /
  // consumer synchronisation): the GPU's own kernels issue MMAs at that fraction of the rate
  // (tc_issue_macs_per_clk_per_sm; sm80 kernels on Hopper at kMmaSyncOnHopper instead).
  // 1: none. Measured.
  double mma_efficiency = 1.0;
  // GeForce parts: float MMAs accumulating in fp32 run at half the architecture's rate.
  bool fp32_acc_half_rate = false;
};
void validate(const GpuSpec& spec);

struct TcGemm {
  int64_t m = 1, n = 1, k = 1;
  TcDtype dtype = TcDtype::FP16;
  bool sparse = false;    // A (M x K) is 2:4 structured sparse along K (1:2 for tf32)
  int64_t out_bytes = 0;  // 0: tc_default_out_bytes(dtype)
  int64_t batch = 1;      // independent GEMMs of this shape in one kernel (strided batched)
  TcAcc acc = TcAcc::Default;  // accumulator: rate, register / epilogue / split-K partial bytes
  // Storage widths of A and B in memory (0: tc_input_bits(dtype)); narrower than the MMA input
  // means dequantized in the main loop. b_group: K elements sharing one fp16 scale of B (0: none).
  int64_t a_bits = 0, b_bits = 0, b_group = 0;
  // Bits of one stored C element when not whole bytes (0: 8 x out_bytes): an fp4 / int4 C packs
  // two elements a byte, fp6 four in three bytes.
  int64_t out_bits = 0;
  // Values of A that lie contiguous in memory, a row's worth for tc_alignment_bytes (0: K). An
  // implicit-GEMM convolution gathers A's rows from NHWC pixels: its rows of C input channels
  // (cuDNN and TensorRT pad an odd count: a first layer's 3 to 4).
  int64_t a_row = 0;
  // Values of B contiguous in memory, a row's worth, where B's layout is known (0: not known,
  // not counted): a weight gradient's dY, rows of N.
  int64_t b_row = 0;
  // A, B, C (and split-K partials) already in the L2 and kept there: a kernel replayed on the
  // same buffers, as a benchmark's timing loop replays it, when they fit. Its k-blocks, stores
  // and partials then move between the L2 and the SMs only (no HBM term, HBM bytes 0; C's
  // stores and the partials at the L2's bandwidth).
  bool l2_resident = false;
};
// Bits of one stored C element: out_bits, else 8 x (out_bytes or the dtype's default).
int64_t tc_out_bits(const TcGemm& gemm);
// Bytes of `elements` stored C elements, packed: ceil(elements x tc_out_bits / 8).
int64_t tc_c_bytes(const TcGemm& gemm, int64_t elements);
// Bits of one stored A / B element: a_bits / b_bits, or the dtype's input width when 0.
int64_t tc_a_bits(const TcGemm& gemm);
int64_t tc_b_bits(const TcGemm& gemm);
// Bytes of B's scales in one k-block of `cols` columns and `bk` K elements:
// ceil(2 x cols x bk / b_group), 0 when b_group is 0.
int64_t tc_b_scale_bytes(const TcGemm& gemm, int64_t cols, int64_t bk);
// Stored operand elements of one CTA k-block (A: kept values when sparse) that are dequantized.
int64_t tc_dequant_elements(const TcGemm& gemm, int64_t bm, int64_t bn, int64_t bk);
// Throws std::invalid_argument (one line, naming the field and its value) on M, N, K or batch
// < 1, batch x M x N x K past 64-bit integers, out_bytes outside 0..8, out_bits outside 0..64, a_bits / b_bits not 0 or
// one of 1, 2, 4, 8, 16, 32 (or the dtype's own width) or wider than the MMA input, or b_group
// not 0, a power of two in 16..65536 or K itself (per-channel scales), or b_group without a B
// narrower than the MMA input.
void validate(const TcGemm& gemm);
// The GEMM's tensor-core rate on this GPU: tc_macs_per_clk_per_sm for its dtype, sparsity and
// accumulator, with the GPU's fp32_acc_half_rate.
int64_t tc_macs_per_clk_per_sm(const GpuSpec& spec, const TcGemm& gemm);
// Bytes (a power of two, at most 16) every operand row starts on: the largest that divides the
// leading dimensions of row-major A (K elements) and C (N elements) at their widths, where they
// have more than one row and value, and of B's rows where TcGemm::b_row gives them. TMA
// (Hopper, Blackwell) needs 16-byte strides; a CUTLASS kernel loads an operand in vectors of
// its alignment (cp.async takes 4, 8 or 16 bytes).
int64_t tc_alignment_bytes(const TcGemm& gemm);
// Bytes of one global load of A or B by the kernel cuBLAS picks: 16 for aligned rows; else the
// widest vector the rows allow, but 4 for 1-byte inputs whose rows are 4- or 8-byte aligned
// (cuBLAS's sm80 int8 kernels come as _align16 and _align4: h200_kernels/gemm.csv ran 1000^3,
// rows 8-byte aligned, as ..._s8_128x128_128x5_tn_align4), and never under one element.
int64_t tc_load_vector_bytes(const TcGemm& gemm);
// Kernels with narrow vectors issue one load per vector, and an SM issues about
// kNarrowLoadsPerClk of them a clock: a k-block's (BM + BN) x BK elements take at least
// (their bytes / vector bytes) / kNarrowLoadsPerClk clocks. Fitted on the align1 kernels (one
// element a load, through registers): on the H200 cuBLAS's cutlass_75 / cutlass_80 align1
// kernels ran 4095^3 at 150 TFLOP/s in fp16 and bf16 and 135 in tf32 (h200_kernels/gemm.csv),
// the same element rate at either width. Not fitted on the align4 int8 kernels (4-byte
// cp.async), which ran at 2.0-2.6 loads a clock: docs/tensor_cores.md.
constexpr double kNarrowLoadsPerClk = 3.6;
// cuBLAS's sm80 kernels on Hopper (mma.sync, cp.async: int8, small or skinny tf32, unaligned
// rows) stream their k-blocks into shared memory at about kAsyncCopyBytesPerClk bytes per SM a
// clock, however few CTAs share the L2 (a k-block's A and B bytes take at least their bytes /
// kAsyncCopyBytesPerClk clocks; TMA kernels are not held to it). Fitted on the H200's int8
// kernels (h200_kernels/gemm.csv: the 64x64 and 128x64 kernels of 13 shapes ran at 31-35 B/clk
// at 1830 MHz: 128 x 128 x 65536 on 4 CTAs, 512 x 512 x 16384 on 64, 3072^3 on 1152); cuBLAS's
// 128x256 kernels, MMA-bound, ran at 21-23 B/clk. docs/tensor_cores.md.
constexpr double kAsyncCopyBytesPerClk = 34.0;
// The architecture whose kernels run the GEMM (its tiles, pipeline, warp layout, clusters):
// the GPU's, but Ampere for int8 on Hopper (kMmaSyncOnHopper), for cuBLAS's small tf32 GEMMs
// there, and for an fp16 / bf16 / tf32 / int8 GEMM whose rows are not 16-byte aligned on a TMA
// architecture (cuBLAS falls back to CUTLASS's sm75 / sm80 kernels).
GpuArch tc_kernel_arch(const GpuSpec& spec, const TcGemm& gemm);
// MACs per SM per clock those kernels issue: the rate, x kMmaSyncOnHopper for an sm80 kernel on
// Hopper, x GpuSpec::mma_efficiency for the GPU's own. The peak (utilization) stays the
// datasheet rate.
double tc_issue_macs_per_clk_per_sm(const GpuSpec& spec, const TcGemm& gemm);

// One kernel configuration; pipeline stages and warp tile follow from the architecture.
// cluster_m x cluster_n: a thread-block cluster (Hopper, Blackwell): the cluster_n CTAs of a
// cluster that share a tile row load their A k-block from the L2 once and multicast it (TMA
// multicast), the cluster_m CTAs sharing a tile column likewise B; each CTA reads 1 / cluster_n of
// A and 1 / cluster_m of B from the L2. 1 x 1: no cluster (every architecture).
struct CtaTile {
  int64_t bm = 128, bn = 128, bk = 32;  // bk in elements
  int64_t split_k = 1;
  int64_t cluster_m = 1, cluster_n = 1;
};

// Derived per-CTA quantities of one configuration (shared by the closed form and reference).
struct TileGeometry {
  int64_t stages = 0, warp_m = 0, warp_n = 0;
  int64_t tiles_m = 0, tiles_n = 0, k_blocks = 0, k_blocks_per_split = 0;  // grid padded to
                                                                           // whole clusters
  int64_t batch = 1;  // GEMMs in the grid; ctas = batch x split_k x tiles_m x tiles_n
  int64_t ctas = 0, ctas_per_sm = 0, wave_ctas = 0, waves = 0;
  int64_t a_block_bytes = 0;  // one k-block of the A tile in memory (values + sparse metadata)
  int64_t b_block_bytes = 0;  // one k-block of the B tile (values at b_bits + its scales)
  // Loads fetch only a tile's in-bounds rows of A and columns of B (TMA and predicated
  // cp.async fill the rest of shared memory with zeros, reading nothing): full_m tile rows of
  // BM rows, then (real_m > full_m) one of M mod BM rows (a_last_bytes a k-block), then the
  // cluster padding, none; B likewise by columns.
  int64_t full_m = 0, real_m = 0, full_n = 0, real_n = 0;
  int64_t a_last_bytes = 0, b_last_bytes = 0;
  double dequant_cycles_per_block = 0;  // CUDA-core cycles to dequantize one CTA k-block
  double load_cycles_per_block = 0;  // a narrow-vector kernel's loads of one k-block
  int64_t smem_bytes_per_cta = 0;
  int64_t acc_bytes = 4;                 // one accumulator element (fp16 accumulate: 2)
  int64_t mma_per_block = 0;             // MMA instructions per CTA per k-block
  double mma_cycles_per_instruction = 0; // SM cycles one instruction occupies the tensor cores
  int64_t smem_read_bytes_per_block = 0; // operand fetches by the warps of one CTA, one k-block
  double epilogue_cycles_per_cta = 0;
};

struct GemmCost {
  int64_t tile_m = 0, tile_n = 0, tile_k = 0, split_k = 1, stages = 0;
  int64_t cluster_m = 1, cluster_n = 1;
  int64_t batch = 1;  // GEMMs the kernel computes (macs, bytes and times cover all of them)
  int64_t ctas = 0, ctas_per_sm = 0, waves = 0, last_wave_ctas = 0;
  double wave_efficiency = 0;  // ctas / (waves x SMs x CTAs per SM)
  int64_t macs = 0;            // useful batch x M x N x K
  int64_t issued_macs = 0;     // whole tiles
  int64_t mma_instructions = 0;
  int64_t smem_read_bytes = 0;
  int64_t l2_read_bytes = 0;  // L2 -> SM operand loads
  int64_t hbm_read_bytes = 0;
  int64_t hbm_write_bytes = 0;
  int64_t metadata_bytes = 0;  // sparse metadata read from HBM (part of hbm_read_bytes)
  // Each sum over waves of one bound alone; mainloop_s sums the per-wave maxima. compute_s is
  // the SM's MMA + dequant term; dequant_s its dequant part alone (0 without narrow operands).
  double dequant_s = 0;
  double compute_s = 0, smem_s = 0, l2_s = 0, hbm_s = 0;
  // smem_s's two parts, each summed over waves alone (smem_s sums their per-wave maximum): the
  // warps' shared-memory reads, and the SM's global -> shared loads (narrow vectors, or an sm80
  // kernel's cp.async on a TMA architecture; 0 for the others)
  double smem_read_s = 0, load_s = 0;
  double mainloop_s = 0, epilogue_s = 0, reduction_s = 0, launch_s = 0, time_s = 0;
  // Device-side fixed time: kernel latency per kernel (2 with a split-K reduction) + pipeline
  // latency once. reduction_s holds the reduction's launch and bytes, not its latency.
  double latency_s = 0;
  double tflops = 0;       // useful 2 x MACs / time
  double utilization = 0;  // useful MACs / (time x peak MACs/s)
  std::string bound;       // the mainloop term that bounds the most waves
  int64_t candidates = 0;  // configurations evaluated (gemm_cost only)
};

// Most CTAs in a thread-block cluster (CUDA's portable cluster size).
constexpr int64_t kMaxCluster = 8;
// L2 bytes one CTA reads of a k-block that `sharers` CTAs of its cluster receive by multicast:
// its share, ceil(bytes / sharers).
int64_t tc_multicast_bytes(int64_t bytes, int64_t sharers);
// Bytes of one k-block (bk elements of K) of `rows` rows of A (values at tc_a_bits, sparse: the
// kept half with 2-bit metadata) and of `cols` columns of B (values at tc_b_bits + scales).
int64_t tc_a_block_bytes(const TcGemm& gemm, int64_t rows, int64_t bk);
int64_t tc_b_block_bytes(const TcGemm& gemm, int64_t cols, int64_t bk);
// How many t in [a, b) have t mod period in [lo, hi) (0 <= lo <= hi <= period): O(1).
int64_t tc_count_mod(int64_t a, int64_t b, int64_t period, int64_t lo, int64_t hi);

// Library-heuristic candidates: every tile of the architecture's list (tensor_core.cpp, after
// CUTLASS's tile shapes) that fits, and split-K factors for a tile whose output tiles do not
// fill one wave (skinny shapes) unless the batched grid of all entries fills whole waves.
std::vector<CtaTile> gemm_candidates(const GpuSpec& spec, const TcGemm& gemm);
// Throws std::invalid_argument when the tile does not fit or does not divide into MMAs.
TileGeometry tile_geometry(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile);
// HBM bytes of a wave whose CTAs load `loads` bytes from the L2, `footprint` of them distinct.
// The CTAs of a wave stream K in step, so a re-read hits when the L2 holds the k-blocks in flight
// (`live` = distinct panels' k-blocks x pipeline stages); past that, hits fall to l2 / live.
int64_t l2_miss_bytes(int64_t footprint, int64_t loads, int64_t live, int64_t l2_bytes);

// Closed form: O(1) arithmetic per wave, no loop over CTAs or k-blocks. Configurations of more
// than kMaxWaves waves are not modelled (gemm_candidates drops them; gemm_cost_tile throws).
constexpr int64_t kMaxWaves = int64_t{1} << 20;
GemmCost gemm_cost_tile(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile);
// The fastest candidate (ties: the first in gemm_candidates order).
GemmCost gemm_cost(const GpuSpec& spec, const TcGemm& gemm);

// Shared by the closed form and the reference: the kernel's totals from per-wave terms.
struct WaveTerms {
  int64_t ctas = 0;
  double mma_cycles = 0, epilogue_cycles = 0;  // of the busiest SM
  // the busiest SM's load / store pipe: its warps' shared-memory reads, its global -> shared
  // loads (load_cycles_per_block each k-block); the term is the longer
  double smem_read_cycles = 0, load_cycles = 0;
  double dequant_cycles = 0;  // of the busiest SM; adds to mma_cycles (compute term)
  int64_t l2_bytes = 0, hbm_bytes = 0, c_bytes = 0;             // of the whole wave
  int64_t smem_bytes = 0, mma_instructions = 0, issued_macs = 0;  // of the whole wave
};
void add_wave(const GpuSpec& spec, const TcGemm& gemm, const WaveTerms& w, GemmCost& cost,
              int64_t bound_counts[4]);
void finish_cost(const GpuSpec& spec, const TcGemm& gemm, const TileGeometry& g,
                 int64_t bound_counts[4], GemmCost& cost);

}  // namespace pysim
