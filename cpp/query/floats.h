// float32 values as Qdrant writes them in JSON (Rust's f32 Display): by their shortest decimal.
#pragma once

#include <cstddef>

namespace vqdb {

// Each value as the double its shortest round-tripping decimal names (so that a double
// printer writes that decimal); NaN and infinities as they are.
void shortest_doubles(const float* values, size_t n, double* out);

}  // namespace vqdb
