#include "units/tensor_core.hpp"

#include "common/checked.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <iterator>
#include <numeric>
#include <stdexcept>
#include <utility>

namespace pysim {

namespace {

struct Rate {
  int64_t dense = 0;  // MACs per SM per clock, 0 = no tensor-core support
  bool sparse = false;
};

// Dense tensor-core MACs per SM per clock at the full rate (data-centre parts; fp16 accumulate
// on GeForce ones). Sources (docs/tensor_cores.md has the table):
//   Volta  V100 whitepaper (2017): 8 tensor cores/SM x 64 fp16 FMA/clk; fp16 only.
//   Turing Turing architecture whitepaper (2018) and T4 datasheet (2019): 8 tensor cores/SM x
//          64 fp16 FMA/clk = 512/SM (T4: 40 SMs x 512 x 2 x 1.59 GHz = 65 TFLOPS fp16, int8
//          130, int4 260 TOPS); no bf16, tf32, fp8 or sparsity. The binary (b1) MMA exists
//          on sm_75 (PTX mma.m8n8k128.b1) but no rate is published, so it is refused.
//   Ampere A100 whitepaper (2020), Table 3: 4 TCs/SM x 256 fp16 FMA/clk = 1024/SM; tf32 half,
//          int8 2x, int4 4x, binary 16x the fp16 rate; 2:4 sparsity 2x except binary.
//   GA10x  GA102 whitepaper (2020), RTX 3090 column: 4 TCs/SM x 128 fp16 FMA/clk = 512/SM
//          (142 TFLOPS fp16 with fp16 accumulate; 71 with fp32 accumulate, the GeForce half
//          rate); tf32 half, int8 2x, int4 4x the fp16 rate; the A40 datasheet (GA102, data
//          centre) has fp16 and bf16 with fp32 accumulate and tf32 at the full rate. No binary
//          rate is listed.
//   GA10b  Jetson AGX Orin technical brief (2022): 16 SMs, 64 TCs, 170 sparse int8 TOPS at
//          1.3 GHz = 2048 int8 MACs/clk/SM, GA100's tensor core. fp16 / bf16 / tf32 follow
//          GA100's ratios (the Orin documents give only int8); int4 and binary not listed.
//   Ada    Ada Lovelace whitepaper (2022), RTX 4090 column: 512 fp16 MACs/clk/SM (330 TFLOPS
//          with fp16 accumulate, 165 with fp32); fp8 and int8 2x, int4 4x, tf32 half; the
//          L40S datasheet (data centre) has fp16 / bf16 / tf32 / fp8 at the full rate.
//   Hopper H100 whitepaper (2022), Table 3: 4 TCs/SM x 512 fp16 FMA/clk = 2048/SM; tf32 half,
//          fp8 and int8 2x; 2:4 sparsity 2x; no int4 or binary tensor-core rate listed.
//   Blackwell HGX B200 datasheet (2024): fp16 2.25, tf32 1.1 (2.2 sparse), fp8 / fp6 / int8
//          4.5, fp4 9 PFLOPS dense; with 148 SMs that is 4096 fp16 MACs/clk/SM (twice
//          Hopper's), fp8 / fp6 / int8 2x, fp4 4x, tf32 half. No int4 or binary rate listed.
Rate rate(GpuArch arch, TcDtype dtype) {
  switch (arch) {
    case GpuArch::Volta:
      return dtype == TcDtype::FP16 ? Rate{512, false} : Rate{};
    case GpuArch::Turing:
      switch (dtype) {
        case TcDtype::FP16: return {512, false};
        case TcDtype::INT8: return {1024, false};
        case TcDtype::INT4: return {2048, false};
        default: return {};
      }
    case GpuArch::Ampere:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {1024, true};
        case TcDtype::TF32: return {512, true};
        case TcDtype::INT8: return {2048, true};
        case TcDtype::INT4: return {4096, true};
        case TcDtype::B1: return {16384, false};
        default: return {};
      }
    case GpuArch::Ga10x:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {512, true};
        case TcDtype::TF32: return {256, true};
        case TcDtype::INT8: return {1024, true};
        case TcDtype::INT4: return {2048, true};
        default: return {};
      }
    case GpuArch::Ga10b:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {1024, true};
        case TcDtype::TF32: return {512, true};
        case TcDtype::INT8: return {2048, true};
        default: return {};
      }
    case GpuArch::Ada:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {512, true};
        case TcDtype::TF32: return {256, true};
        case TcDtype::FP8_E4M3:
        case TcDtype::FP8_E5M2:
        case TcDtype::INT8: return {1024, true};
        case TcDtype::INT4: return {2048, true};
        default: return {};
      }
    case GpuArch::Hopper:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {2048, true};
        case TcDtype::TF32: return {1024, true};
        case TcDtype::FP8_E4M3:
        case TcDtype::FP8_E5M2:
        case TcDtype::INT8: return {4096, true};
        default: return {};
      }
    case GpuArch::Blackwell:
      switch (dtype) {
        case TcDtype::FP16:
        case TcDtype::BF16: return {4096, true};
        case TcDtype::TF32: return {2048, true};
        case TcDtype::FP8_E4M3:
        case TcDtype::FP8_E5M2:
        case TcDtype::FP6_E2M3:
        case TcDtype::FP6_E3M2:
        case TcDtype::INT8: return {8192, true};
        case TcDtype::FP4_E2M1: return {16384, true};
        default: return {};
      }
  }
  return {};
}

bool is_float(TcDtype dtype) {
  return dtype != TcDtype::INT8 && dtype != TcDtype::INT4 && dtype != TcDtype::B1;
}

std::string quoted_list(const std::vector<std::string>& names) {
  std::string out;
  for (const std::string& n : names) out += std::string(out.empty() ? "'" : ", '") + n + "'";
  return out;
}

// Kernel shape per architecture, after CUTLASS's defaults: sm70 and sm75 kernels double-buffer
// through registers (2 stages: GenerateSM70_TensorOp_884 and GenerateSM75_TensorOp_1688 list
// stages 2), sm80 use cp.async with 3+ stages (and so do sm86 / sm87 / sm89, which
// run the sm80 kernels: CUTLASS's GenerateSM80_* list min_cc 80, max_cc 1024, and
// GenerateSM89_TensorOp_16832_fp8 keeps their 3-6 stage cp.async pipelines), sm90 TMA with 4+
// and sm100 too; a k-block is 64 B of K (128 B with TMA, its swizzle width).
bool tma_arch(GpuArch arch) { return arch == GpuArch::Hopper || arch == GpuArch::Blackwell; }
int64_t pipeline_stages(GpuArch arch) {
  return arch == GpuArch::Volta || arch == GpuArch::Turing ? 2 : tma_arch(arch) ? 4 : 3;
}
int64_t k_block_bytes(GpuArch arch) { return tma_arch(arch) ? 128 : 64; }

// Resident thread blocks per SM (CUDA C++ Programming Guide, technical specifications per
// compute capability): 32 on 7.0, 8.0, 9.0 and 10.0; 16 on 7.5, 8.6 and 8.7; 24 on 8.9.
int64_t max_ctas_per_sm(GpuArch arch) {
  switch (arch) {
    case GpuArch::Turing:
    case GpuArch::Ga10x:
    case GpuArch::Ga10b: return 16;
    case GpuArch::Ada: return 24;
    default: return 32;
  }
}
constexpr int64_t kMetadataBits = 2;  // per kept value of a 2:4 (1:2) sparse A

// CTA tiles (BM x BN) the candidate search tries, per architecture, after the tile shapes CUTLASS
// instantiates (NVIDIA/cutlass, python/cutlass_library/generator.py and sm90_shapes.py, main
// branch at 7107b05, August 2026). The six shapes the model started with come first, in their old order
// (ties go to the first candidate), then:
//   256x64, 64x256: GenerateSM70_TensorOp_884 and GenerateSM80_TensorOp_16816 list
//     TileDescription([256, 64, 32], .., [4, 1, 1]) and ([64, 256, 32], .., [1, 4, 1]); on sm90
//     they are wgmma m64n64 x MMA multiplier (4, 1, 4) and m64n256 x (1, 1, 4).
//   Skinny tiles for decode-like GEMMs (M or N of 1..32), Ampere and Hopper only:
//     sm80: GenerateSM80_TensorOp_16816_mixed_input_upcast_a / _upcast_b list [128, 32, 64]
//       (warps [2, 2, 1]), [128, 16, 64] ([2, 1, 1]) and [256, 16, 32] ([2, 1, 1]);
//     sm90: wgmma m64n16 and m64n32 (SM90_WGMMA_SHAPES_*_DENSE) x multipliers (1, 1, 4) and
//       (2, 1, 4): 64x16, 64x32, 128x16, 128x32.
//   CUTLASS puts the narrow side on N; cuBLAS, column-major, computes a row-major C = A x B as
//   C^T = B^T x A^T, so a decode GEMM's few rows (M here) are its N. The list holds both
//   orientations (narrow M first: the common case). The warp layout still follows the model's
//   rule in geometry(), not CUTLASS's warp counts (docs/tensor_cores.md).
// Volta: sm70 CUTLASS has no tile narrower than 64 (cuBLAS runs 1..16-row shapes as GEMV-like
// kernels off the tensor cores, which the model does not cover), so its list ends at 64x64.
// Turing takes the same list: GenerateSM75_TensorOp_1688 lists the same eight BM x BN shapes.
// GA10x, GA10b and Ada run the sm80 kernels (max_cc 1024 in the generators above; sm89's fp8
// generator lists the same shapes): Ampere's list. Blackwell takes Hopper's first 16: each tile
// is a tcgen05 1-SM MMA shape (sm100_shapes.py, SM100_MMA_SHAPES_16b_DENSE_1SM: M 64 or 128 x N
// 16..256) or its transpose, the 256-row ones from the 2-SM shapes (M 256 over an SM pair).
constexpr CtaTile kVoltaTiles[] = {{256, 128, 0, 1}, {128, 256, 0, 1}, {128, 128, 0, 1},
                                   {128, 64, 0, 1},  {64, 128, 0, 1},  {64, 64, 0, 1},
                                   {256, 64, 0, 1},  {64, 256, 0, 1}};
constexpr CtaTile kAmpereTiles[] = {{256, 128, 0, 1}, {128, 256, 0, 1}, {128, 128, 0, 1},
                                    {128, 64, 0, 1},  {64, 128, 0, 1},  {64, 64, 0, 1},
                                    {256, 64, 0, 1},  {64, 256, 0, 1},  {32, 128, 0, 1},
                                    {16, 128, 0, 1},  {16, 256, 0, 1},  {128, 32, 0, 1},
                                    {128, 16, 0, 1},  {256, 16, 0, 1}};
// Hopper adds, after those 16 (kCutlassTiles), the tiles cuBLAS 12.x's nvjet kernels run on an H200
// (benchmarks/data/h200_kernels/gemm.csv, the `kernels` column: nvjet_sm90_<types>_<tile>_
// <BK>x<stages>_<cluster>): wgmma m64 x N multiples, 3-5 warp groups high. Their names are
// in cuBLAS's column-major orientation (its M is this model's N), so both orientations are
// listed, this model's M first.
constexpr std::ptrdiff_t kCutlassTiles = 16;  // Hopper's list before the nvjet tiles
constexpr CtaTile kHopperTiles[] = {
    {256, 128, 0, 1}, {128, 256, 0, 1}, {128, 128, 0, 1}, {128, 64, 0, 1}, {64, 128, 0, 1},
    {64, 64, 0, 1},   {256, 64, 0, 1},  {64, 256, 0, 1},  {32, 128, 0, 1}, {32, 64, 0, 1},
    {16, 128, 0, 1},  {16, 64, 0, 1},   {128, 32, 0, 1},  {64, 32, 0, 1},  {128, 16, 0, 1},
    {64, 16, 0, 1},
    {96, 192, 0, 1},  {192, 96, 0, 1},  {128, 192, 0, 1}, {192, 128, 0, 1}, {192, 192, 0, 1},
    {128, 320, 0, 1}, {320, 128, 0, 1}, {256, 160, 0, 1}, {160, 256, 0, 1}, {64, 96, 0, 1},
    {96, 64, 0, 1},   {48, 64, 0, 1},   {64, 48, 0, 1}};

struct TileList {
  const CtaTile* begin_ = nullptr;
  const CtaTile* end_ = nullptr;
  const CtaTile* begin() const { return begin_; }
  const CtaTile* end() const { return end_; }
};

TileList tile_list(GpuArch arch) {
  switch (arch) {
    case GpuArch::Volta:
    case GpuArch::Turing: return {std::begin(kVoltaTiles), std::end(kVoltaTiles)};
    case GpuArch::Ampere:
    case GpuArch::Ga10x:
    case GpuArch::Ga10b:
    case GpuArch::Ada: return {std::begin(kAmpereTiles), std::end(kAmpereTiles)};
    case GpuArch::Hopper: return {std::begin(kHopperTiles), std::end(kHopperTiles)};
    case GpuArch::Blackwell:
      return {std::begin(kHopperTiles), std::begin(kHopperTiles) + kCutlassTiles};
  }
  return {};
}
// split-K factors for skinny shapes: up to 64, as cuBLAS's sm80 tf32 kernel split 128 x 128 x
// 65536 on the H200 (two 64x128 tiles streaming 50 MB each ran in 26.6 us: at
// kAsyncCopyBytesPerClk, 40 or more CTAs per tile)
const int64_t kSplits[] = {1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64};

const char* const kBoundNames[4] = {"compute", "smem", "l2", "hbm"};

std::string tile_error(const CtaTile& t, const std::string& why) {
  return "tile " + std::to_string(t.bm) + "x" + std::to_string(t.bn) + "x" + std::to_string(t.bk) +
         " split_k=" + std::to_string(t.split_k) + ": " + why;
}

}  // namespace

const GpuArch kAllArchs[8] = {GpuArch::Volta, GpuArch::Ampere, GpuArch::Hopper,
                              GpuArch::Ga10x, GpuArch::Ga10b,  GpuArch::Ada,
                              GpuArch::Blackwell, GpuArch::Turing};

const TcDtype kAllDtypes[11] = {TcDtype::FP16,     TcDtype::BF16,     TcDtype::TF32,
                                TcDtype::FP8_E4M3, TcDtype::FP8_E5M2, TcDtype::FP6_E2M3,
                                TcDtype::FP6_E3M2, TcDtype::FP4_E2M1, TcDtype::INT8,
                                TcDtype::INT4,     TcDtype::B1};

const char* to_string(GpuArch arch) {
  switch (arch) {
    case GpuArch::Volta: return "volta";
    case GpuArch::Turing: return "turing";
    case GpuArch::Ampere: return "ampere";
    case GpuArch::Hopper: return "hopper";
    case GpuArch::Ga10x: return "ga10x";
    case GpuArch::Ga10b: return "ga10b";
    case GpuArch::Ada: return "ada";
    case GpuArch::Blackwell: return "blackwell";
  }
  return "?";
}

const char* to_string(TcDtype dtype) {
  switch (dtype) {
    case TcDtype::FP16: return "fp16";
    case TcDtype::BF16: return "bf16";
    case TcDtype::TF32: return "tf32";
    case TcDtype::FP8_E4M3: return "fp8_e4m3";
    case TcDtype::FP8_E5M2: return "fp8_e5m2";
    case TcDtype::FP6_E2M3: return "fp6_e2m3";
    case TcDtype::FP6_E3M2: return "fp6_e3m2";
    case TcDtype::FP4_E2M1: return "fp4_e2m1";
    case TcDtype::INT8: return "int8";
    case TcDtype::INT4: return "int4";
    case TcDtype::B1: return "b1";
  }
  return "?";
}

const char* to_string(TcAcc acc) {
  switch (acc) {
    case TcAcc::Default: return "default";
    case TcAcc::FP32: return "fp32";
    case TcAcc::FP16: return "fp16";
    case TcAcc::INT32: return "int32";
  }
  return "?";
}

GpuArch parse_gpu_arch(const std::string& name) {
  const std::string s = lower(name);
  std::string known;
  for (GpuArch a : kAllArchs) {
    if (s == to_string(a)) return a;
    known += std::string(known.empty() ? "'" : ", '") + to_string(a) + "'";
  }
  throw std::invalid_argument("arch must be one of " + known + ", got '" + name + "'");
}

TcAcc parse_tc_acc(const std::string& name) {
  const std::string s = lower(name);
  for (TcAcc a : {TcAcc::FP32, TcAcc::FP16, TcAcc::INT32, TcAcc::Default}) {
    if (s == to_string(a)) return a;
  }
  throw std::invalid_argument("acc must be one of 'fp32', 'fp16', 'int32', got '" + name + "'");
}

TcDtype parse_tc_dtype(const std::string& name) {
  const std::string s = lower(name);
  std::string known;
  for (TcDtype d : kAllDtypes) {
    if (s == to_string(d)) return d;
    known += std::string(known.empty() ? "'" : ", '") + to_string(d) + "'";
  }
  throw std::invalid_argument("dtype must be one of " + known + ", got '" + name + "'");
}

int64_t tc_input_bits(TcDtype dtype) {
  switch (dtype) {
    case TcDtype::FP16:
    case TcDtype::BF16: return 16;
    case TcDtype::TF32: return 32;
    case TcDtype::FP8_E4M3:
    case TcDtype::FP8_E5M2:
    case TcDtype::INT8: return 8;
    case TcDtype::FP6_E2M3:
    case TcDtype::FP6_E3M2: return 6;
    case TcDtype::FP4_E2M1:
    case TcDtype::INT4: return 4;
    case TcDtype::B1: return 1;
  }
  return 0;
}

int64_t tc_out_bits(const TcGemm& gemm) {
  if (gemm.out_bits) return gemm.out_bits;
  return 8 * (gemm.out_bytes ? gemm.out_bytes : tc_default_out_bytes(gemm.dtype));
}

int64_t tc_c_bytes(const TcGemm& gemm, int64_t elements) {
  const int64_t bits = checked_mul(elements, tc_out_bits(gemm), "C bits");
  return bits / 8 + (bits % 8 != 0);
}

int64_t tc_default_out_bytes(TcDtype dtype) {
  switch (dtype) {
    case TcDtype::FP16:
    case TcDtype::BF16:
    case TcDtype::FP8_E4M3:
    case TcDtype::FP8_E5M2:
    case TcDtype::FP6_E2M3:
    case TcDtype::FP6_E3M2:
    case TcDtype::FP4_E2M1: return 2;
    default: return 4;
  }
}

bool tc_supports(GpuArch arch, TcDtype dtype) { return rate(arch, dtype).dense > 0; }
bool tc_supports_sparse(GpuArch arch, TcDtype dtype) { return rate(arch, dtype).sparse; }

std::vector<TcDtype> tc_supported_dtypes(GpuArch arch) {
  std::vector<TcDtype> out;
  for (TcDtype d : kAllDtypes) {
    if (tc_supports(arch, d)) out.push_back(d);
  }
  return out;
}

void tc_require(GpuArch arch, TcDtype dtype, bool sparse) {
  if (!tc_supports(arch, dtype)) {
    std::string known;
    for (TcDtype d : tc_supported_dtypes(arch)) {
      known += std::string(known.empty() ? "'" : ", '") + to_string(d) + "'";
    }
    throw std::invalid_argument("dtype '" + std::string(to_string(dtype)) + "' has no " +
                                to_string(arch) + " tensor-core support; supported: " + known);
  }
  if (sparse && !tc_supports_sparse(arch, dtype)) {
    std::string known;
    for (TcDtype d : kAllDtypes) {
      if (tc_supports_sparse(arch, d)) {
        known += std::string(known.empty() ? "'" : ", '") + to_string(d) + "'";
      }
    }
    throw std::invalid_argument("sparse=True: " + std::string(to_string(arch)) +
                                " tensor cores have no structured sparsity for dtype '" +
                                to_string(dtype) + "'" +
                                (known.empty() ? std::string(" (none at all)")
                                               : "; sparse dtypes: " + known));
  }
}

TcAcc tc_default_acc(TcDtype dtype) { return is_float(dtype) ? TcAcc::FP32 : TcAcc::INT32; }

TcAcc tc_resolve_acc(TcDtype dtype, TcAcc acc) {
  return acc == TcAcc::Default ? tc_default_acc(dtype) : acc;
}

int64_t tc_acc_bytes(TcAcc acc) { return acc == TcAcc::FP16 ? 2 : 4; }

// Accumulators of the MMA instructions (PTX ISA): mma.sync f16 inputs take .f16 or .f32 C / D
// (sm_70+), bf16 and tf32 .f32 only; e4m3 / e5m2 .f16 or .f32 (mma.sync on sm_89, wgmma on
// sm_90, tcgen05 kind::f8f6f4 on sm_100, which also takes fp6 with either); fp4 at its own rate
// is the block-scaled kind::mxf4 MMA, .f32 only; integers .s32.
std::vector<TcAcc> tc_supported_accs(GpuArch arch, TcDtype dtype) {
  if (!tc_supports(arch, dtype)) return {};
  switch (dtype) {
    case TcDtype::FP16:
    case TcDtype::FP8_E4M3:
    case TcDtype::FP8_E5M2:
    case TcDtype::FP6_E2M3:
    case TcDtype::FP6_E3M2: return {TcAcc::FP32, TcAcc::FP16};
    case TcDtype::BF16:
    case TcDtype::TF32:
    case TcDtype::FP4_E2M1: return {TcAcc::FP32};
    default: return {TcAcc::INT32};
  }
}

bool tc_supports_acc(GpuArch arch, TcDtype dtype, TcAcc acc) {
  const TcAcc a = tc_resolve_acc(dtype, acc);
  for (TcAcc s : tc_supported_accs(arch, dtype)) {
    if (s == a) return true;
  }
  return false;
}

void tc_require(GpuArch arch, TcDtype dtype, bool sparse, TcAcc acc) {
  tc_require(arch, dtype, sparse);
  if (tc_supports_acc(arch, dtype, acc)) return;
  std::vector<std::string> names;
  for (TcAcc s : tc_supported_accs(arch, dtype)) names.emplace_back(to_string(s));
  throw std::invalid_argument(std::string(to_string(arch)) + " tensor cores have no (" +
                              to_string(dtype) + ", " + to_string(acc) + ") MMA: " +
                              to_string(dtype) + " accumulates in " + quoted_list(names));
}

MmaShape mma_shape(GpuArch arch, TcDtype dtype, bool sparse) {
  tc_require(arch, dtype, sparse);
  MmaShape s{16, 8, 0};
  if (arch == GpuArch::Volta) {
    s = {8, 8, 4};  // HMMA.884 (PTX mma.sync.m8n8k4)
  } else if (arch == GpuArch::Turing) {
    // sm_75's shapes (PTX ISA, mma.sync): m16n8k8 for fp16, m8n8k16 for s8, m8n8k32 for s4
    s = dtype == TcDtype::FP16 ? MmaShape{16, 8, 8}
        : dtype == TcDtype::INT8 ? MmaShape{8, 8, 16} : MmaShape{8, 8, 32};
  } else {
    switch (dtype) {
      case TcDtype::FP16:
      case TcDtype::BF16: s.k = 16; break;
      case TcDtype::TF32: s.k = 8; break;
      case TcDtype::FP8_E4M3:
      case TcDtype::FP8_E5M2:
      case TcDtype::FP6_E2M3:  // kind::f8f6f4 m16n8k32
      case TcDtype::FP6_E3M2:
      case TcDtype::INT8: s.k = 32; break;
      case TcDtype::FP4_E2M1:  // kind::mxf4 m16n8k64
      case TcDtype::INT4: s.k = 64; break;
      case TcDtype::B1: s.k = 256; break;
    }
  }
  if (sparse) s.k *= 2;
  return s;
}

int64_t tc_macs_per_clk_per_sm(GpuArch arch, TcDtype dtype, bool sparse, TcAcc acc,
                               bool fp32_acc_half_rate) {
  tc_require(arch, dtype, sparse, acc);
  const int64_t full = rate(arch, dtype).dense * (sparse ? 2 : 1);
  const bool halved = fp32_acc_half_rate && is_float(dtype) &&
                      tc_resolve_acc(dtype, acc) == TcAcc::FP32;
  return halved ? full / 2 : full;
}

static bool tf32_sm80_on_hopper(const TcGemm& gemm) {
  // cuBLAS 12 on an H200 runs tf32 through sm80 CUTLASS kernels (cutlass_80_tensorop_s1688gemm,
  // mma.sync) where the output is thin or small, and through sm90_xmma (wgmma) kernels
  // otherwise: of h200_kernels/gemm.csv's 38 tf32 GEMM-kernel shapes, the 13 sm80 ones are
  // those with min(M, N) <= 128 (8, 16, 32, 64, 128 x up to 22016; 12544 x 64) or
  // max(M, N) <= 640 with K <= 4096 (64^3 .. 640^3, 512 x 512 x 4096), against 768^3,
  // 784 x 512 x 2304, 196 x 2048 x 4608 and 512 x 512 x 16384 on sm90 (M = 1 ran a GEMV,
  // 4095^3 an align-1 kernel: neither modelled).
  const int64_t lo = std::min(gemm.m, gemm.n), hi = std::max(gemm.m, gemm.n);
  return lo <= 128 || (hi <= 640 && gemm.k <= 4096);
}

int64_t tc_alignment_bytes(const TcGemm& gemm) {
  const int64_t a_bits = tc_input_bits(gemm.dtype);
  int64_t bits = 128;  // 16 bytes: TMA's stride alignment, cp.async's widest vector
  // A's rows (K values) and C's (N), both row-major as activations are; B's where b_row says
  // (its layout is not known otherwise: a weight or a K cache is N x K, rows of K; V is
  // K x N). One row, or one value a row, is a contiguous vector: no stride to align.
  const int64_t row = gemm.a_row > 0 ? gemm.a_row : gemm.k;
  if (gemm.m > 1 && row > 1) bits = std::gcd(bits, row * a_bits);
  // C's rows in bytes (TMA's stores), and in elements at the input width: cuBLAS's kernels
  // take one alignment, in elements, for A, B and C (h200_kernels/gemm.csv: int8 at N = 1000
  // and 5000 ran ..._tn_align4, their int32 rows 16-byte aligned; M = 196 ran _align16)
  if (gemm.m > 1 && gemm.n > 1) {
    bits = std::gcd(bits, gemm.n * tc_out_bits(gemm));
    bits = std::gcd(bits, gemm.n * a_bits);
  }
  if (gemm.k > 1 && gemm.b_row > 1) bits = std::gcd(bits, gemm.b_row * a_bits);
  return bits / 8;
}

int64_t tc_load_vector_bytes(const TcGemm& gemm) {
  const int64_t aligned = tc_alignment_bytes(gemm);
  if (aligned >= 16) return 16;
  const int64_t element = std::max<int64_t>(1, tc_input_bits(gemm.dtype) / 8);
  if (element == 1 && aligned >= 4) return 4;
  return std::max(aligned, element);
}

GpuArch tc_kernel_arch(const GpuSpec& spec, const TcGemm& gemm) {
  // unaligned rows: no TMA, so CUTLASS's Ampere-style kernels, for the dtypes they have
  const bool ampere_dtype = gemm.dtype == TcDtype::FP16 || gemm.dtype == TcDtype::BF16 ||
                            gemm.dtype == TcDtype::TF32 || gemm.dtype == TcDtype::INT8;
  if (tma_arch(spec.arch) && ampere_dtype && tc_alignment_bytes(gemm) < 16) {
    return GpuArch::Ampere;
  }
  if (spec.arch != GpuArch::Hopper) return spec.arch;
  const bool sm80 = gemm.dtype == TcDtype::INT8 ||
                    (gemm.dtype == TcDtype::TF32 && tf32_sm80_on_hopper(gemm));
  return sm80 ? GpuArch::Ampere : spec.arch;
}

double tc_issue_macs_per_clk_per_sm(const GpuSpec& spec, const TcGemm& gemm) {
  const double rate = static_cast<double>(tc_macs_per_clk_per_sm(spec, gemm));
  // sm80 kernels on Hopper (and Blackwell): mma.sync's share of the wgmma rate (cuBLAS's sm80
  // int8 8192^3 on the H200 within 1 % at it); the GPU's own kernels: the main loop's measured
  // efficiency
  return rate * (tc_kernel_arch(spec, gemm) != spec.arch ? kMmaSyncOnHopper
                                                          : spec.mma_efficiency);
}

int64_t tc_macs_per_clk_per_sm(const GpuSpec& spec, const TcGemm& gemm) {
  return tc_macs_per_clk_per_sm(spec.arch, gemm.dtype, gemm.sparse, gemm.acc,
                                spec.fp32_acc_half_rate);
}

void validate(const GpuSpec& s) {
  auto positive = [](const char* field, double v) {
    if (!(v > 0) || !std::isfinite(v)) {
      throw std::invalid_argument(std::string(field) + " must be a finite number > 0, got " +
                                  std::to_string(v));
    }
  };
  if (s.sms < 1 || s.sms > 65536) {
    throw std::invalid_argument("sms must be in 1..65536, got " + std::to_string(s.sms));
  }
  positive("clock_mhz", s.clock_mhz);
  if (s.clock_mhz < 1 || s.clock_mhz > 1e5) {  // 1 MHz .. 100 GHz: a subnormal clock is inf
    throw std::invalid_argument("clock_mhz must be in 1..100000, got " +
                                std::to_string(s.clock_mhz));
  }
  if (!(s.mma_efficiency > 0 && s.mma_efficiency <= 1)) {
    throw std::invalid_argument("mma_efficiency must be in (0, 1], got " +
                                std::to_string(s.mma_efficiency));
  }
  if (!(s.mma_clock_mhz == 0 || (s.mma_clock_mhz >= 1 && s.mma_clock_mhz <= 1e5))) {
    throw std::invalid_argument("mma_clock_mhz must be 0 (the boost clock) or in 1..100000, got " +
                                std::to_string(s.mma_clock_mhz));
  }
  positive("register_file_bytes_per_sm", static_cast<double>(s.register_file_bytes_per_sm));
  positive("smem_bytes_per_sm", static_cast<double>(s.smem_bytes_per_sm));
  // Bandwidths at least 1e-3 (GB/s, bytes per clock): a subnormal one passes "> 0" but makes
  // every transfer time inf.
  auto bandwidth = [&positive](const char* field, double v) {
    positive(field, v);
    if (v < 1e-3) {
      char got[32];
      std::snprintf(got, sizeof(got), "%.3g", v);
      throw std::invalid_argument(std::string(field) + " must be >= 0.001, got " + got);
    }
  };
  bandwidth("hbm_bandwidth_gb_per_s", s.hbm_bandwidth_gb_per_s);
  bandwidth("l2_bandwidth_bytes_per_clk", s.l2_bandwidth_bytes_per_clk);
  bandwidth("smem_bandwidth_bytes_per_clk", s.smem_bandwidth_bytes_per_clk);
  if (s.l2_bytes < 0) {
    throw std::invalid_argument("l2_bytes must be >= 0, got " + std::to_string(s.l2_bytes));
  }
  if (!(s.launch_overhead_us >= 0) || !std::isfinite(s.launch_overhead_us)) {
    throw std::invalid_argument("launch_overhead_us must be a finite number >= 0, got " +
                                std::to_string(s.launch_overhead_us));
  }
  for (const auto& [name, value] : {std::pair<const char*, double>{"kernel_latency_us",
                                                                  s.kernel_latency_us},
                                    {"pipeline_latency_us", s.pipeline_latency_us}}) {
    if (!(value >= 0) || !std::isfinite(value) || value > 1e6) {
      throw std::invalid_argument(std::string(name) + " must be a finite number in 0..1e6, got " +
                                  std::to_string(value));
    }
  }
}

int64_t tc_fp32_lanes_per_sm(GpuArch arch) {
  switch (arch) {
    case GpuArch::Volta:
    case GpuArch::Turing:
    case GpuArch::Ampere: return 64;
    case GpuArch::Ga10x:
    case GpuArch::Ga10b:
    case GpuArch::Ada:
    case GpuArch::Hopper:
    case GpuArch::Blackwell: return 128;
  }
  return 64;
}

int64_t tc_a_bits(const TcGemm& g) { return g.a_bits ? g.a_bits : tc_input_bits(g.dtype); }
int64_t tc_b_bits(const TcGemm& g) { return g.b_bits ? g.b_bits : tc_input_bits(g.dtype); }

int64_t tc_b_scale_bytes(const TcGemm& g, int64_t cols, int64_t bk) {
  return g.b_group > 0 ? ceil_div(2 * cols * bk, g.b_group) : 0;
}

int64_t tc_dequant_elements(const TcGemm& g, int64_t bm, int64_t bn, int64_t bk) {
  const int64_t width = tc_input_bits(g.dtype);
  int64_t n = 0;
  if (tc_a_bits(g) < width) n += bm * (g.sparse ? bk / 2 : bk);
  if (tc_b_bits(g) < width) n += bn * bk;
  return n;
}

void validate(const TcGemm& g) {
  const std::pair<const char*, int64_t> dims[] = {{"M", g.m}, {"N", g.n}, {"K", g.k}};
  for (const auto& [name, value] : dims) {
    if (value < 1) {
      throw std::invalid_argument(std::string(name) + " must be >= 1, got " +
                                  std::to_string(value));
    }
  }
  checked_mul(checked_mul(checked_mul(g.m, g.n, "M*N"), g.k, "M*N*K"), 16, "M*N*K");
  if (g.batch < 1) {
    throw std::invalid_argument("batch must be >= 1, got " + std::to_string(g.batch));
  }
  int64_t total = 0;
  if (__builtin_mul_overflow(g.m * g.n * g.k * 16, g.batch, &total)) {
    throw std::invalid_argument("batch=" + std::to_string(g.batch) +
                                ": batch x M x N x K overflows 64-bit integers");
  }
  if (g.out_bytes < 0 || g.out_bytes > 8) {
    throw std::invalid_argument("out_bytes must be in 0..8 (0: the dtype's default), got " +
                                std::to_string(g.out_bytes));
  }
  if (g.out_bits < 0 || g.out_bits > 64) {
    throw std::invalid_argument("out_bits must be in 0..64 (0: 8 x out_bytes), got " +
                                std::to_string(g.out_bits));
  }
  const int64_t width = tc_input_bits(g.dtype);
  const std::pair<const char*, int64_t> widths[] = {{"a_bits", g.a_bits}, {"b_bits", g.b_bits}};
  for (const auto& [name, v] : widths) {
    const bool known = v == 0 || v == 1 || v == 2 || v == 4 || v == 8 || v == 16 || v == 32 ||
                       v == width;
    if (!known) {
      throw std::invalid_argument(std::string(name) + " must be 0 (the dtype's width) or one of "
                                  "1, 2, 4, 8, 16, 32, got " + std::to_string(v));
    }
    if (v > width) {
      throw std::invalid_argument(std::string(name) + "=" + std::to_string(v) +
                                  " is wider than the " + to_string(g.dtype) + " MMA input (" +
                                  std::to_string(width) + " bits)");
    }
  }
  if (g.b_group != 0) {
    const bool pow2 = g.b_group >= 16 && g.b_group <= 65536 && (g.b_group & (g.b_group - 1)) == 0;
    if (g.b_group < 0 || !(pow2 || g.b_group == g.k)) {
      throw std::invalid_argument("b_group must be 0 (no scales), a power of two in 16..65536 "
                                  "or K (one scale per column), got " +
                                  std::to_string(g.b_group));
    }
    if (tc_b_bits(g) >= width) {
      throw std::invalid_argument("b_group=" + std::to_string(g.b_group) +
                                  " needs b_bits below the " + to_string(g.dtype) +
                                  " MMA input width (" + std::to_string(width) +
                                  " bits): scales belong to quantized weights");
    }
  }
}

namespace {

// The geometry, or an empty one with *error set when the tile does not fit (no exceptions: the
// candidate search tries many).
TileGeometry geometry(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& t,
                      std::string* error) {
  const auto fail = [&](const std::string& why) {
    *error = tile_error(t, why);
    return TileGeometry{};
  };
  const MmaShape mma = mma_shape(spec.arch, gemm.dtype, gemm.sparse);
  if (t.bm < 1 || t.bn < 1 || t.bm > 1024 || t.bn > 1024 || t.bk < 1 || t.bk > 65536 ||
      t.split_k < 1 || t.split_k > 65536) {
    return fail("tile_m, tile_n must be in 1..1024, tile_k and split_k in 1..65536");
  }
  if (t.bm % mma.m || t.bn % mma.n || t.bk % mma.k) {
    return fail("must be a multiple of the MMA shape m" + std::to_string(mma.m) + "n" +
                std::to_string(mma.n) + "k" + std::to_string(mma.k));
  }
  const int64_t bits = tc_input_bits(gemm.dtype);
  if ((t.bk * bits) % 64) return fail("bk must span whole 8-byte words");
  const int64_t a_bits = tc_a_bits(gemm), b_bits = tc_b_bits(gemm);
  TileGeometry g;
  g.acc_bytes = tc_acc_bytes(tc_resolve_acc(gemm.dtype, gemm.acc));
  const GpuArch karch = tc_kernel_arch(spec, gemm);  // the architecture the kernel targets
  if (karch == GpuArch::Hopper) {  // a warpgroup (4 warps) computes 64 rows x BN (wgmma)
    g.warp_m = std::min<int64_t>(64, t.bm);
    g.warp_n = t.bn;
  } else if (karch == GpuArch::Blackwell) {  // one tcgen05.mma of up to 128 rows x BN
    g.warp_m = std::min<int64_t>(128, t.bm);
    g.warp_n = t.bn;
  } else {  // warps tile the CTA 2 x 2 (up to 64 x 64 each, as CUTLASS's defaults do)
    g.warp_m = std::max(mma.m, std::min<int64_t>(64, t.bm / 2));
    g.warp_n = std::max(mma.n, std::min<int64_t>(64, t.bn / 2));
  }
  if (t.bm % g.warp_m || t.bn % g.warp_n) return fail("does not divide into warp tiles");
  const int64_t cluster = t.cluster_m * t.cluster_n;
  if (t.cluster_m < 1 || t.cluster_n < 1 || cluster > kMaxCluster) {
    return fail("cluster_m x cluster_n must be 1..8 CTAs (the portable cluster size)");
  }
  if (cluster > 1 && !tma_arch(karch)) {
    if (tma_arch(spec.arch) && tc_alignment_bytes(gemm) < 16) {
      return fail("no thread-block clusters: rows of K=" + std::to_string(gemm.k) + ", N=" +
                  std::to_string(gemm.n) + " " + to_string(gemm.dtype) + " elements are " +
                  std::to_string(tc_alignment_bytes(gemm)) +
                  "-byte aligned, TMA needs 16 (cuBLAS runs CUTLASS's sm80 kernels)");
    }
    return fail(tma_arch(spec.arch)
                    ? std::string("no thread-block clusters: cuBLAS runs ") +
                          to_string(gemm.dtype) + " on " + to_string(spec.arch) +
                          " through sm80 (mma.sync) kernels"
                    : std::string("thread-block clusters need TMA multicast (hopper, "
                                  "blackwell), not ") + to_string(spec.arch));
  }
  if (cluster > spec.sms) return fail("a cluster of more CTAs than the GPU has SMs");
  // The grid is padded to whole clusters (the padding CTAs count as whole tiles, as ragged ones).
  g.tiles_m = ceil_div(ceil_div(gemm.m, t.bm), t.cluster_m) * t.cluster_m;
  g.tiles_n = ceil_div(ceil_div(gemm.n, t.bn), t.cluster_n) * t.cluster_n;
  g.k_blocks = ceil_div(gemm.k, t.bk);
  g.k_blocks_per_split = ceil_div(g.k_blocks, t.split_k);
  if ((t.split_k - 1) * g.k_blocks_per_split >= g.k_blocks) {
    return fail("split_k leaves a K slice empty (K has " + std::to_string(g.k_blocks) +
                " k-blocks)");
  }
  g.a_block_bytes = tc_a_block_bytes(gemm, t.bm, t.bk);
  const int64_t b_values = t.bn * t.bk * b_bits / 8;
  g.b_block_bytes = tc_b_block_bytes(gemm, t.bn, t.bk);
  g.full_m = gemm.m / t.bm;
  g.real_m = ceil_div(gemm.m, t.bm);
  g.full_n = gemm.n / t.bn;
  g.real_n = ceil_div(gemm.n, t.bn);
  g.a_last_bytes = tc_a_block_bytes(gemm, gemm.m - g.full_m * t.bm, t.bk);
  g.b_last_bytes = tc_b_block_bytes(gemm, gemm.n - g.full_n * t.bn, t.bk);
  g.dequant_cycles_per_block =
      static_cast<double>(tc_dequant_elements(gemm, t.bm, t.bn, t.bk) * kDequantOpsPerElement) /
      static_cast<double>(tc_fp32_lanes_per_sm(spec.arch));
  // (a TMA kernel moves whole boxes: its rows are 16-byte aligned or it could not run)
  const int64_t vector = tma_arch(karch) ? 16 : tc_load_vector_bytes(gemm);
  const double narrow =
      vector < 16 ? static_cast<double>((t.bm + t.bn) * t.bk * tc_input_bits(gemm.dtype)) /
                        static_cast<double>(8 * vector) / kNarrowLoadsPerClk
                  : 0.0;
  // an sm80 kernel on a TMA architecture brings its k-blocks (A, B and B's scales) in through
  // cp.async at kAsyncCopyBytesPerClk per SM at most
  const double copy = !tma_arch(karch) && tma_arch(spec.arch)
                          ? static_cast<double>(g.a_block_bytes + g.b_block_bytes) /
                                kAsyncCopyBytesPerClk
                          : 0.0;
  g.load_cycles_per_block = std::max(narrow, copy);
  // sm90 / sm100 kernels size their pipeline to the shared memory (CUTLASS's
  // StageCountAutoCarveout): up to the default depth, fewer (at least 2) for a tile too large.
  const int64_t stage_bytes = g.a_block_bytes + g.b_block_bytes;
  g.stages = pipeline_stages(karch);
  if (tma_arch(karch) && g.stages * stage_bytes > spec.smem_bytes_per_sm) {
    g.stages = std::max<int64_t>(2, spec.smem_bytes_per_sm / stage_bytes);
  }
  g.smem_bytes_per_cta = g.stages * stage_bytes;
  const int64_t by_smem = spec.smem_bytes_per_sm / g.smem_bytes_per_cta;
  // Registers: mma.sync keeps the accumulators plus operand fragments and addresses, twice the
  // accumulator tile; wgmma / tcgen05 read both operands from shared memory, so the accumulators
  // plus a quarter (addresses, the producer warp group).
  const int64_t reg_bytes = tma_arch(karch) ? t.bm * t.bn * g.acc_bytes * 5 / 4
                                                : 2 * t.bm * t.bn * g.acc_bytes;
  const int64_t by_regs = spec.register_file_bytes_per_sm / reg_bytes;
  g.ctas_per_sm = std::min({by_smem, by_regs, max_ctas_per_sm(spec.arch)});
  if (g.ctas_per_sm < 1) {
    return fail(by_smem < 1 ? "needs " + std::to_string(g.smem_bytes_per_cta) +
                                  " B of shared memory, the SM has " +
                                  std::to_string(spec.smem_bytes_per_sm)
                            : "accumulators do not fit the register file");
  }
  // A cluster's CTAs run at once on SMs of one GPC: whole clusters fill a wave.
  g.wave_ctas = spec.sms / cluster * cluster * g.ctas_per_sm;
  g.batch = gemm.batch;
  const auto too_many = [&] {
    return fail("batch=" + std::to_string(gemm.batch) +
                ": more than 2^20 waves of CTAs (the model's limit)");
  };
  int64_t slices = 0;  // (batch entry, K slice) pairs
  if (__builtin_mul_overflow(gemm.batch, t.split_k, &slices) ||
      g.tiles_m > kMaxWaves * g.wave_ctas / g.tiles_n / slices) {
    return too_many();
  }
  g.ctas = g.tiles_m * g.tiles_n * slices;
  g.waves = ceil_div(g.ctas, g.wave_ctas);
  if (g.waves > kMaxWaves) return too_many();
  int64_t issued = 0;  // whole-tile MACs, x64 headroom for the byte counts
  if (__builtin_mul_overflow(g.ctas, t.bm * t.bn * t.bk, &issued) ||
      __builtin_mul_overflow(issued, g.k_blocks_per_split * 64, &issued)) {
    return fail("whole-tile counts overflow 64-bit integers");
  }
  g.mma_per_block = (t.bm / mma.m) * (t.bn / mma.n) * (t.bk / mma.k);
  g.mma_cycles_per_instruction =
      static_cast<double>(mma.m * mma.n * mma.k) / tc_issue_macs_per_clk_per_sm(spec, gemm);
  // Each warp reads its rows of A and its columns of B (with those columns' scales).
  g.smem_read_bytes_per_block =
      (t.bn / g.warp_n) * g.a_block_bytes +
      (t.bm / g.warp_m) * (b_values + (t.bn / g.warp_n) * tc_b_scale_bytes(gemm, g.warp_n, t.bk));
  // Accumulators staged through shared memory (written, then read back for coalesced stores).
  g.epilogue_cycles_per_cta = static_cast<double>(2 * t.bm * t.bn * g.acc_bytes) /
                              spec.smem_bandwidth_bytes_per_clk;
  return g;
}

}  // namespace

TileGeometry tile_geometry(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& t) {
  std::string error;
  TileGeometry g = geometry(spec, gemm, t, &error);
  if (!error.empty()) throw std::invalid_argument(error);
  return g;
}

int64_t tc_multicast_bytes(int64_t bytes, int64_t sharers) { return ceil_div(bytes, sharers); }

int64_t tc_a_block_bytes(const TcGemm& gemm, int64_t rows, int64_t bk) {
  const int64_t a_bits = tc_a_bits(gemm);
  // sparse: the kept half of the values, each with a 2-bit position index
  return gemm.sparse ? rows * (bk / 2) * (a_bits + kMetadataBits) / 8 : rows * bk * a_bits / 8;
}

int64_t tc_b_block_bytes(const TcGemm& gemm, int64_t cols, int64_t bk) {
  return cols * bk * tc_b_bits(gemm) / 8 + tc_b_scale_bytes(gemm, cols, bk);
}

int64_t tc_count_mod(int64_t a, int64_t b, int64_t period, int64_t lo, int64_t hi) {
  const auto upto = [&](int64_t x) {
    return (x / period) * (hi - lo) + std::clamp<int64_t>(x % period - lo, 0, hi - lo);
  };
  return upto(b) - upto(a);
}

int64_t l2_miss_bytes(int64_t footprint, int64_t loads, int64_t live, int64_t l2_bytes) {
  if (live <= l2_bytes || live == 0) return footprint;
  const long double miss = static_cast<long double>(live - l2_bytes) / live;
  return footprint + static_cast<int64_t>(static_cast<long double>(loads - footprint) * miss);
}

void add_wave(const GpuSpec& spec, const TcGemm& gemm, const WaveTerms& w, GemmCost& c,
              int64_t bound_counts[4]) {
  const double hz = spec.clock_mhz * 1e6;
  // tensor-core-bound work: the power-limited clock, never above the boost clock
  const double mma_hz =
      (spec.mma_clock_mhz > 0 ? std::min(spec.mma_clock_mhz, spec.clock_mhz) : spec.clock_mhz) *
      1e6;
  const double hbm = spec.hbm_bandwidth_gb_per_s * 1e9;
  const double smem_cycles = std::max(w.smem_read_cycles, w.load_cycles);
  const double terms[4] = {(w.mma_cycles + w.dequant_cycles) / mma_hz, smem_cycles / hz,
                           static_cast<double>(w.l2_bytes) / (spec.l2_bandwidth_bytes_per_clk * hz),
                           static_cast<double>(w.hbm_bytes) / hbm};
  int best = 0;
  for (int i = 1; i < 4; ++i) {
    if (terms[i] > terms[best]) best = i;
  }
  bound_counts[best] += 1;
  c.compute_s += terms[0];
  c.dequant_s += w.dequant_cycles / mma_hz;
  c.smem_s += terms[1];
  c.smem_read_s += w.smem_read_cycles / hz;
  c.load_s += w.load_cycles / hz;
  c.l2_s += terms[2];
  c.hbm_s += terms[3];
  c.mainloop_s += terms[best];
  // C's stores go to the HBM, or stay in the L2 where the operands live there
  const double store = gemm.l2_resident ? spec.l2_bandwidth_bytes_per_clk * hz : hbm;
  c.epilogue_s += std::max(w.epilogue_cycles / hz, static_cast<double>(w.c_bytes) / store);
  c.l2_read_bytes += w.l2_bytes;
  c.hbm_read_bytes += w.hbm_bytes;
  if (!gemm.l2_resident) c.hbm_write_bytes += w.c_bytes;
  c.smem_read_bytes += w.smem_bytes;
  c.mma_instructions += w.mma_instructions;
  c.issued_macs += w.issued_macs;
  c.last_wave_ctas = w.ctas;
}

void finish_cost(const GpuSpec& spec, const TcGemm& gemm, const TileGeometry& g,
                 int64_t bound_counts[4], GemmCost& c) {
  const double hbm = spec.hbm_bandwidth_gb_per_s * 1e9;
  c.stages = g.stages;
  c.batch = gemm.batch;
  c.ctas = g.ctas;
  c.ctas_per_sm = g.ctas_per_sm;
  c.waves = g.waves;
  c.wave_efficiency = static_cast<double>(g.ctas) / static_cast<double>(g.waves * g.wave_ctas);
  c.macs = gemm.batch * gemm.m * gemm.n * gemm.k;
  c.metadata_bytes =
      gemm.sparse ? (gemm.batch * gemm.m * ((gemm.k + 1) / 2) * kMetadataBits + 7) / 8 : 0;
  c.launch_s = spec.launch_overhead_us * 1e-6;
  if (c.split_k > 1) {  // a second kernel sums the partials and writes C (every entry)
    const int64_t partials = gemm.batch * c.split_k * gemm.m * gemm.n * g.acc_bytes;
    const int64_t out = tc_c_bytes(gemm, gemm.batch * gemm.m * gemm.n);
    if (gemm.l2_resident) {  // the partials and C stay in the L2
      c.reduction_s = static_cast<double>(partials + out) /
                          (spec.l2_bandwidth_bytes_per_clk * spec.clock_mhz * 1e6) +
                      c.launch_s;
    } else {
      c.hbm_read_bytes += partials;
      c.hbm_write_bytes += out;
      c.reduction_s = static_cast<double>(partials + out) / hbm + c.launch_s;
    }
  }
  // Once per kernel: persistent kernels (CUTLASS's sm90 tile schedulers, cuBLAS) load a
  // tile's first k-blocks while the previous tile's epilogue runs, so only the first fill and
  // the last drain show.
  c.latency_s = (spec.kernel_latency_us * static_cast<double>(c.split_k > 1 ? 2 : 1) +
                 spec.pipeline_latency_us) * 1e-6;
  c.time_s = c.launch_s + c.latency_s + c.mainloop_s + c.epilogue_s + c.reduction_s;
  c.tflops = 2.0 * static_cast<double>(c.macs) / c.time_s / 1e12;
  const double peak = static_cast<double>(spec.sms) * spec.clock_mhz * 1e6 *
                      static_cast<double>(tc_macs_per_clk_per_sm(spec, gemm));
  c.utilization = static_cast<double>(c.macs) / (c.time_s * peak);
  int best = 0;
  for (int i = 1; i < 4; ++i) {
    if (bound_counts[i] > bound_counts[best]) best = i;
  }
  c.bound = kBoundNames[best];
}

namespace {

// In-bounds C elements the CTAs before launch index x store (per entry and K slice: M x N).
// In a slice's row-major tile order the first j tile rows hold min(j x BM, M) rows, the first j
// tile columns min(j x BN, N) columns.
int64_t c_elements_before(const TcGemm& gemm, const CtaTile& tile, const TileGeometry& g,
                          int64_t x) {
  const int64_t per_slice = g.tiles_m * g.tiles_n;
  const int64_t q = x / per_slice, r = x % per_slice;
  const int64_t row = r / g.tiles_n, col = r % g.tiles_n;
  const int64_t rows_in_row = std::clamp<int64_t>(gemm.m - row * tile.bm, 0, tile.bm);
  return q * gemm.m * gemm.n + std::min(row * tile.bm, gemm.m) * gemm.n +
         rows_in_row * std::min(col * tile.bn, gemm.n);
}

GemmCost cost_with(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile,
                   const TileGeometry& g) {
  GemmCost c;
  c.tile_m = tile.bm;
  c.tile_n = tile.bn;
  c.tile_k = tile.bk;
  c.split_k = tile.split_k;
  c.cluster_m = tile.cluster_m;
  c.cluster_n = tile.cluster_n;
  int64_t bound_counts[4] = {0, 0, 0, 0};
  const int64_t kbs = g.k_blocks_per_split;
  const int64_t W = g.tiles_n, S = g.tiles_m * g.tiles_n;
  // In-bounds operand bytes (TileGeometry::full_m ...): a tile row's k-block of A by its row
  // index tm (full, the ragged last, or cluster padding: none), a tile column's of B by tn.
  const int64_t a_share = tc_multicast_bytes(g.a_block_bytes, tile.cluster_n);
  const int64_t a_last_share = tc_multicast_bytes(g.a_last_bytes, tile.cluster_n);
  const int64_t b_share = tc_multicast_bytes(g.b_block_bytes, tile.cluster_m);
  const int64_t b_last_share = tc_multicast_bytes(g.b_last_bytes, tile.cluster_m);
  // k-block bytes of the tile rows r0 <= r < r1 (t / W: each tile row of each slice once)
  const auto a_rows = [&](int64_t r0, int64_t r1) {
    return tc_count_mod(r0, r1, g.tiles_m, 0, g.full_m) * g.a_block_bytes +
           tc_count_mod(r0, r1, g.tiles_m, g.full_m, g.real_m) * g.a_last_bytes;
  };
  // k-block bytes of the tile columns of the CTAs lo <= t < hi of one slice (fewer than W
  // CTAs cover distinct columns; W or more, every column)
  const auto b_cols = [&](int64_t lo, int64_t hi) {
    if (hi - lo >= W) {
      lo = 0;
      hi = W;
    }
    return tc_count_mod(lo, hi, W, 0, g.full_n) * g.b_block_bytes +
           tc_count_mod(lo, hi, W, g.full_n, g.real_n) * g.b_last_bytes;
  };
  for (int64_t w = 0; w < g.waves; ++w) {
    const int64_t a = w * g.wave_ctas;
    const int64_t n = std::min(g.wave_ctas, g.ctas - a);
    const int64_t b = a + n;
    const int64_t busiest = ceil_div(n, spec.sms);  // CTA j of the wave runs on SM j mod SMs
    WaveTerms t;
    t.ctas = n;
    t.mma_instructions = n * kbs * g.mma_per_block;
    t.issued_macs = n * kbs * tile.bm * tile.bn * tile.bk;
    t.mma_cycles = static_cast<double>(busiest * kbs * g.mma_per_block) *
                   g.mma_cycles_per_instruction;
    t.dequant_cycles = static_cast<double>(busiest * kbs) * g.dequant_cycles_per_block;
    t.smem_bytes = n * kbs * g.smem_read_bytes_per_block;
    // the SM's load / store pipe: the warps' shared-memory reads, or the global loads into
    // shared memory (narrow vectors, an sm80 kernel's cp.async), whichever is longer
    t.smem_read_cycles = static_cast<double>(busiest * kbs * g.smem_read_bytes_per_block) /
                         spec.smem_bandwidth_bytes_per_clk;
    t.load_cycles = static_cast<double>(busiest * kbs) * g.load_cycles_per_block;
    // global -> shared, each CTA its in-bounds share of the cluster's multicast k-blocks: CTA
    // t has tile row (t / W) mod tiles_m, i.e. t mod S in [tm W, (tm + 1) W), column t mod W
    t.l2_bytes = kbs * (tc_count_mod(a, b, S, 0, g.full_m * W) * a_share +
                        tc_count_mod(a, b, S, g.full_m * W, g.real_m * W) * a_last_share +
                        tc_count_mod(a, b, W, 0, g.full_n) * b_share +
                        tc_count_mod(a, b, W, g.full_n, g.real_n) * b_last_share);
    // A "slice" is a (batch entry, K slice) pair, index t / S = b * split_k + ks: entries share
    // no panels, so a panel is (slice, tm) for A and (slice, tn) for B. Distinct A panels =
    // distinct t / W; distinct B panels per slice, summed over the slices the wave spans.
    const int64_t a_bytes = a_rows(a / W, (b - 1) / W + 1);
    const int64_t ks0 = a / S, ks1 = (b - 1) / S;
    int64_t b_bytes = 0;
    if (ks0 == ks1) {
      b_bytes = b_cols(a, b);
    } else {
      b_bytes = b_cols(a, (ks0 + 1) * S) + b_cols(ks1 * S, b) + (ks1 - ks0 - 1) * b_cols(0, W);
    }
    const int64_t footprint = kbs * (a_bytes + b_bytes);
    const int64_t live = (a_bytes + b_bytes) * g.stages;
    t.hbm_bytes =
        gemm.l2_resident ? 0 : l2_miss_bytes(footprint, t.l2_bytes, live, spec.l2_bytes);
    // C stores are predicated: a CTA writes its tile's in-bounds elements only (none for the
    // padding CTAs of a cluster-padded grid).
    const int64_t elements =
        c_elements_before(gemm, tile, g, b) - c_elements_before(gemm, tile, g, a);
    t.c_bytes = tile.split_k > 1 ? elements * g.acc_bytes : tc_c_bytes(gemm, elements);
    t.epilogue_cycles = static_cast<double>(busiest) * g.epilogue_cycles_per_cta;
    add_wave(spec, gemm, t, c, bound_counts);
  }
  finish_cost(spec, gemm, g, bound_counts, c);
  return c;
}

}  // namespace

GemmCost gemm_cost_tile(const GpuSpec& spec, const TcGemm& gemm, const CtaTile& tile) {
  validate(spec);
  validate(gemm);
  return cost_with(spec, gemm, tile, tile_geometry(spec, gemm, tile));
}

std::vector<CtaTile> gemm_candidates(const GpuSpec& spec, const TcGemm& gemm) {
  validate(spec);
  validate(gemm);
  tc_require(spec.arch, gemm.dtype, gemm.sparse, gemm.acc);
  // fp6: CUTLASS unpacks kind::f8f6f4 sub-byte operands to one byte per element in shared
  // memory (float_e2m3_unpacksmem_t), so a k-block holds k_block_bytes elements.
  const int64_t bits = tc_input_bits(gemm.dtype);
  const GpuArch karch = tc_kernel_arch(spec, gemm);
  const int64_t bk = bits == 6 ? k_block_bytes(karch) : k_block_bytes(karch) * 8 / bits;
  std::vector<CtaTile> out;
  std::string error;
  // cuBLAS runs tf32 on Hopper through sm90_xmma and sm80 CUTLASS kernels, neither with
  // clusters nor with the nvjet tiles past the first 16 (h200_kernels/gemm.csv).
  const bool tf32 = gemm.dtype == TcDtype::TF32;
  const TileList tiles = tile_list(karch);
  const CtaTile* end = tf32 && karch == GpuArch::Hopper ? tiles.begin() + kCutlassTiles
                                                            : tiles.end();
  for (const CtaTile* it = tiles.begin(); it != end; ++it) {
    const CtaTile& base = *it;
    const CtaTile whole{base.bm, base.bn, bk, 1};
    error.clear();
    const TileGeometry g = geometry(spec, gemm, whole, &error);
    if (!error.empty()) continue;  // does not fit this GPU / shape
    out.push_back(whole);
    // TMA architectures: the same tile in a 2 x 1 or 1 x 2 cluster (cuBLAS's nvjet kernels on
    // an H200 run 1x2 and 2x1 clusters: benchmarks/data/h200_kernels/gemm.csv), where the grid
    // has two tiles along the shared side.
    if (tma_arch(karch) && !tf32) {
      for (const auto& [cm, cn] : {std::pair<int64_t, int64_t>{2, 1}, {1, 2}}) {
        if ((cm > 1 && g.tiles_m < 2) || (cn > 1 && g.tiles_n < 2)) continue;
        const CtaTile t{base.bm, base.bn, bk, 1, cm, cn};
        error.clear();
        geometry(spec, gemm, t, &error);
        if (error.empty()) out.push_back(t);
      }
    }
    // Split K only when the batched grid (g.ctas = batch x tiles_m x tiles_n here) leaves CTA
    // slots of its last wave empty, and one entry's output tiles alone would not fill a wave
    // (the rule a lone GEMM gets: batch = 1 needs only the second test). A batched grid of whole
    // waves gains nothing from splitting K; a ragged one (say 1.1 waves) can, and without the
    // offer a batched kernel could cost more than its entries run as separate split-K kernels.
    if (g.tiles_m * g.tiles_n >= g.wave_ctas || g.ctas % g.wave_ctas == 0) continue;
    // ... and not for cuBLAS's sm80 int8 kernels on Hopper, none of which split K on the H200
    // (36 shapes in h200_kernels/gemm.csv, 128 x 128 x 65536 included); its sm80 tf32 kernels
    // do (a splitKreduce kernel after them: 16 x 8192 x 8192, 128 x 128 x 65536)
    if (karch != spec.arch && gemm.dtype == TcDtype::INT8) continue;
    for (int64_t s : kSplits) {
      if (s == 1) continue;
      const CtaTile t{base.bm, base.bn, bk, s};
      error.clear();
      geometry(spec, gemm, t, &error);
      if (error.empty()) out.push_back(t);
    }
  }
  return out;
}

GemmCost gemm_cost(const GpuSpec& spec, const TcGemm& gemm) {
  const std::vector<CtaTile> tiles = gemm_candidates(spec, gemm);
  if (tiles.empty()) {
    throw std::invalid_argument("no kernel configuration fits: M=" + std::to_string(gemm.m) +
                                ", N=" + std::to_string(gemm.n) + ", K=" +
                                std::to_string(gemm.k) + ", batch=" +
                                std::to_string(gemm.batch) + " needs more than 2^20 waves");
  }
  GemmCost best;
  bool first = true;
  std::string error;
  for (const CtaTile& t : tiles) {
    GemmCost c = cost_with(spec, gemm, t, geometry(spec, gemm, t, &error));
    if (first || tc_faster(c.time_s, best.time_s)) best = c;
    first = false;
  }
  best.candidates = static_cast<int64_t>(tiles.size());
  return best;
}

}  // namespace pysim
