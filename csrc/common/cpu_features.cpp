#include "common/cpu_features.hpp"

#include <algorithm>
#include <cstdlib>
#include <string>

namespace pysim {

bool cpu_feature_disabled(const char* feature) {
  static const std::string list = [] {
    const char* env = std::getenv("PYSIM_DISABLE_CPU_FEATURES");
    return std::string(env == nullptr ? "" : env);
  }();
  const std::string name = feature;
  for (size_t pos = 0; pos < list.size();) {
    const size_t end = std::min(list.find_first_of(", ", pos), list.size());
    if (list.compare(pos, end - pos, name) == 0) return true;
    pos = end + 1;
  }
  return false;
}

bool cpu_has_avx512_dq() {
  static const bool yes = [] {
#ifdef PYSIM_X86
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512bw") &&
           !cpu_feature_disabled("avx512");
#else
    return false;
#endif
  }();
  return yes;
}

namespace {
// Built when the library loads, while one thread runs (see binary_gemm.cpp's g_statics_built).
[[maybe_unused]] const bool g_statics_built = (cpu_feature_disabled(""), cpu_has_avx512_dq(), true);
}  // namespace

}  // namespace pysim
