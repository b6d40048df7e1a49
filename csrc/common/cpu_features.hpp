// Which x86 vector extensions a kernel may use: the CPU's, less those named in the environment
// variable PYSIM_DISABLE_CPU_FEATURES (comma- or space-separated, read once), which is how the
// tests reach the code paths a CPU without a feature takes.
#pragma once

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define PYSIM_X86 1
#endif

namespace pysim {

// True if `feature` is named in PYSIM_DISABLE_CPU_FEATURES.
bool cpu_feature_disabled(const char* feature);

// AVX-512 F, DQ, VL and BW (double <-> int64 conversions in vector registers), not disabled as
// "avx512".
bool cpu_has_avx512_dq();

}  // namespace pysim
