#include "query/floats.h"

#include <charconv>
#include <cmath>
#include <cstdlib>

namespace vqdb {

void shortest_doubles(const float* values, size_t n, double* out) {
  char text[64];
  for (size_t i = 0; i < n; ++i) {
    if (!std::isfinite(values[i])) {
      out[i] = double(values[i]);
      continue;
    }
    // to_chars without a precision: the fewest digits that read back as the same float, the
    // closest to it where several are that short (as Rust's Display picks). Scientific: in
    // fixed notation it writes a big float's integer part in full (63083592, not 63083590).
    const auto end =
        std::to_chars(text, text + sizeof(text) - 1, values[i], std::chars_format::scientific).ptr;
    *end = '\0';
    out[i] = std::strtod(text, nullptr);
  }
}

}  // namespace vqdb
