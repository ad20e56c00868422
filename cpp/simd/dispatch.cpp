#include <atomic>
#include <stdexcept>

#include "simd/kernels.h"

namespace vqdb::simd {
namespace {

Level detect() {
#if defined(VQDB_X86)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq") &&
      __builtin_cpu_supports("avx512vnni") && __builtin_cpu_supports("avx512vpopcntdq"))
    return Level::avx512;
  // F16C (float16 originals) came with AVX2 on every Intel and AMD core; asked all the same.
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") &&
      __builtin_cpu_supports("popcnt") && __builtin_cpu_supports("bmi2") &&
      __builtin_cpu_supports("f16c"))
    return Level::avx2;
#endif
  return Level::serial;
}

const Kernels* table_for(Level level) {
  switch (level) {
#if defined(VQDB_X86)
    case Level::avx512: return &kAvx512;
    case Level::avx2: return &kAvx2;
#endif
    default: return &kSerial;
  }
}

const Level kMax = detect();
std::atomic<Level> current{kMax};
std::atomic<const Kernels*> table{table_for(kMax)};

}  // namespace

const Kernels& active() { return *table.load(std::memory_order_relaxed); }
Level level() { return current.load(); }
Level max_level() { return kMax; }

void set_level(Level level) {
  if (static_cast<int>(level) > static_cast<int>(kMax))
    throw std::invalid_argument(std::string("SIMD level '") + level_name(level) +
                                "' is not supported by this CPU (maximum: " +
                                level_name(kMax) + ")");
  current.store(level);
  table.store(table_for(level));
}

const char* level_name(Level level) {
  switch (level) {
    case Level::avx512: return "avx512";
    case Level::avx2: return "avx2";
    default: return "serial";
  }
}

Level parse_level(const std::string& name) {
  if (name == "serial") return Level::serial;
  if (name == "avx2") return Level::avx2;
  if (name == "avx512") return Level::avx512;
  throw std::invalid_argument("unknown SIMD level '" + name +
                              "' (expected 'serial', 'avx2' or 'avx512')");
}

}  // namespace vqdb::simd
