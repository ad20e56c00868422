// The arrays of plain numbers in a JSON text, parsed to float32 where they stand, with the
// path of keys and indices that leads to each: a request's dense vectors, read without making
// a Python float of each number (server/body.py lifts them out before the body is validated).
#pragma once

#include <charconv>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <limits>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace vqdb {

using JsonStep = std::variant<std::string, size_t>;  // an object's key, an array's index

struct NumberArray {
  std::vector<JsonStep> path;
  size_t start = 0, end = 0;  // the '[' and one past the ']'
  std::vector<float> values;
};

namespace detail {

inline bool json_space(char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; }

// One JSON number (RFC 8259's grammar exactly: no '+', no leading zeros, no bare '.') at
// text[i], as the double nearest its decimal value; i moves past it. An integer is read as
// Python reads it, a value with no sign on zero: -0 is 0. Most numbers (up to 15 significant
// digits, exponents up to 22) take Clinger's exact path, one multiplication or division of
// two exact doubles; the others go to from_chars.
//
// `narrowed`: only the float32 the double narrows to matters (a vector's number), so a number
// of 16-19 digits may take a fast path whose double is that float32 rather than the nearest
// double; it is used only where the float32 is the same either way.
inline bool json_number(std::string_view text, size_t& i, double& value, bool narrowed = false) {
  static constexpr double kPowers[] = {1e0,  1e1,  1e2,  1e3,  1e4,  1e5,  1e6,  1e7,
                                       1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
                                       1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22};
  const char* const begin = text.data() + i;
  const char* const end = text.data() + text.size();
  const char* p = begin;
  auto digit = [](char c) { return unsigned(c - '0') < 10; };
  uint64_t mantissa = 0;  // all the digits, while there are at most 19 (no overflow)
  int count = 0;          // digits read
  int scale = 0;          // the power of ten the mantissa is multiplied by
  const bool negative = p < end && *p == '-';
  p += negative;
  if (p == end || !digit(*p)) return false;
  if (*p == '0') {
    ++p;
  } else {
    for (; p < end && digit(*p); ++p, ++count) mantissa = mantissa * 10 + unsigned(*p - '0');
  }
  const int whole_digits = count;  // before the point: the magnitude, with the exponent
  bool integer = true;
  if (p < end && *p == '.') {
    ++p;
    integer = false;
    const char* const from = p;
    for (; p < end && digit(*p); ++p, ++count) mantissa = mantissa * 10 + unsigned(*p - '0');
    if (p == from) return false;
    scale -= int(p - from);
  }
  int exponent = 0;
  if (p < end && (*p == 'e' || *p == 'E')) {
    ++p;
    integer = false;
    const bool down = p < end && *p == '-';
    if (p < end && (*p == '+' || *p == '-')) ++p;
    const char* const from = p;
    for (; p < end && digit(*p); ++p)
      if (exponent < 100000) exponent = exponent * 10 + (*p - '0');
    if (p == from) return false;
    if (down) exponent = -exponent;
  }
  i += size_t(p - begin);
  const int power = scale + exponent;
  bool done = false;
  if (count <= 19 && power >= -22 && power <= 22) {
    const double m = double(mantissa);  // exact up to 2^53, else within half an ulp
    value = power < 0 ? m / kPowers[-power] : m * kPowers[power];
    if (negative) value = -value;
    if (mantissa <= (uint64_t(1) << 53)) {
      done = true;  // Clinger: one rounding of exact operands, the nearest double
    } else if (narrowed) {
      // 16-19 digits (a float32 that a client printed as a double, 0.04232627898454666):
      // `value` is within 2^-52 of the decimal, relatively, and so is the nearest double.
      // Where every number that close narrows to one float32, so does the nearest double,
      // and that float32 is the answer; only a value next to the midpoint of two float32s
      // (rare) is read exactly below.
      const double margin = std::fabs(value) * 0x1p-50;
      const float low = float(value - margin), high = float(value + margin);
      if (low == high && std::isfinite(low)) {
        value = double(low);
        done = true;
      }
    }
  }
  if (!done) {
    const auto [stop, error] = std::from_chars(begin, p, value);
    if (error == std::errc::result_out_of_range && stop == p) {
      // beyond double: Python reads a tiny one as 0 and a huge one as infinity
      value = whole_digits + exponent > 0 ? std::numeric_limits<double>::infinity() : 0.0;
      if (negative) value = -value;
    } else if (error != std::errc() || stop != p) {
      return false;
    }
  }
  if (integer) value += 0.0;  // -0 is 0 for an integer, as in Python
  return true;
}

// Past the string whose opening quote is at text[i]; false if it never closes. `escaped`
// says whether it holds a backslash (its key is then not read: the array is not lifted).
inline bool json_string(std::string_view text, size_t& i, bool& escaped) {
  escaped = false;
  for (++i; i < text.size(); ++i) {
    if (text[i] == '\\') {
      escaped = true;
      ++i;
    } else if (text[i] == '"') {
      ++i;
      return true;
    }
  }
  return false;
}

}  // namespace detail

// Every array of at least `min_count` plain numbers, each finite in float32, found under
// objects' keys without escapes; none at all if the text is not well formed as far as this
// reads it (the validator then says what is wrong). Arrays are found, not validated against
// any schema: the caller keeps the ones whose path is a vector's.
inline std::vector<NumberArray> number_arrays(std::string_view text, size_t min_count) {
  struct Frame {
    bool array;
    bool plain = true;  // an array holding numbers only, so far
    bool known = true;  // an object's current key has no escape
    bool after_value = false;  // an array's last token was a value (a ',' or ']' may follow)
    bool finite = true;        // every number so far is finite in float32
    size_t index = 0;
    size_t start = 0;
    std::string key;
    std::vector<float> values;
  };
  std::vector<Frame> stack;
  std::vector<NumberArray> found;
  const size_t n = text.size();
  bool expect_key = false;
  auto spoil = [&] {  // a value that is not a number, inside the innermost array
    if (!stack.empty() && stack.back().array) {
      stack.back().plain = false;
      stack.back().after_value = true;
    }
  };
  for (size_t i = 0; i < n;) {
    const char c = text[i];
    if (detail::json_space(c) || c == ':') {
      ++i;
    } else if (c == ',') {
      if (stack.empty()) return {};
      if (stack.back().array) {
        Frame& frame = stack.back();
        if (!frame.after_value) frame.plain = false;  // "[,1]", "[1,,2]": the validator's to refuse
        frame.after_value = false;
        ++frame.index;
      } else {
        expect_key = true;
      }
      ++i;
    } else if (c == '"') {
      const size_t from = i;
      bool escaped = false;
      if (!detail::json_string(text, i, escaped)) return {};
      if (expect_key) {
        if (stack.empty() || stack.back().array) return {};
        stack.back().key.assign(text.substr(from + 1, i - from - 2));
        stack.back().known = !escaped;
        expect_key = false;
      } else {
        spoil();
      }
    } else if (c == '{' || c == '[') {
      spoil();
      if (stack.size() > 1024) return {};
      stack.push_back(Frame{c == '['});
      stack.back().start = i;
      expect_key = c == '{';
      ++i;
    } else if (c == '}' || c == ']') {
      if (stack.empty() || stack.back().array != (c == ']')) return {};
      Frame& frame = stack.back();
      expect_key = false;
      ++i;
      if (frame.array && frame.index > 0 && !frame.after_value) frame.plain = false;  // "[1,]"
      if (frame.array && frame.plain && frame.finite && frame.values.size() >= min_count) {
        NumberArray array;
        bool known = true;
        for (size_t f = 0; f + 1 < stack.size(); ++f) {
          if (stack[f].array) {
            array.path.emplace_back(stack[f].index);
          } else {
            known = known && stack[f].known;
            array.path.emplace_back(stack[f].key);
          }
        }
        if (known) {
          array.start = frame.start;
          array.end = i;
          array.values = std::move(frame.values);
          found.push_back(std::move(array));
        }
      }
      stack.pop_back();
    } else if (c == '-' || (c >= '0' && c <= '9')) {
      double value;
      if (!detail::json_number(text, i, value, /*narrowed=*/true)) return {};
      if (!stack.empty() && stack.back().array) {
        // no branch on the value: the next numbers are read while this one's division runs
        Frame& frame = stack.back();
        const float narrow = float(value);
        frame.plain &= !frame.after_value;      // "[1 2]": the validator's to refuse
        frame.finite &= std::isfinite(narrow);  // beyond float32: the engine's check says so
        frame.values.push_back(narrow);
        frame.after_value = true;
      }
    } else if (text.compare(i, 4, "true") == 0 || text.compare(i, 4, "null") == 0) {
      spoil();
      i += 4;
    } else if (text.compare(i, 5, "false") == 0) {
      spoil();
      i += 5;
    } else {
      return {};
    }
  }
  if (!stack.empty()) return {};
  return found;
}

}  // namespace vqdb
