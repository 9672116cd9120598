#include "xpusim/core/checked.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <string>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

[[noreturn]] void internal(std::string_view what, const std::string& detail) {
  throw Error(Error::Kind::kInternal, fmt::format("internal error: {}: {}", what, detail));
}

}  // namespace

bool signed_result_key(std::string_view key) {
  return key == "relative_error" || key == "worst_error" || key == "memory_margin_bytes" ||
         key == "time_change" || key == "time_elasticity" || key == "cost_change";
}

namespace {

void check_node(const nlohmann::json& node, const std::string& pointer, std::string_view key) {
  switch (node.type()) {
    case nlohmann::json::value_t::object:
      for (const auto& [k, v] : node.items()) check_node(v, pointer + "/" + k, k);
      return;
    case nlohmann::json::value_t::array:
      for (std::size_t i = 0; i < node.size(); ++i)
        check_node(node[i], fmt::format("{}/{}", pointer, i), key);
      return;
    case nlohmann::json::value_t::number_float: {
      const double x = node.get<double>();
      if (!std::isfinite(x)) internal("result " + pointer, fmt::format("{} is not finite", x));
      if (x < 0.0 && !signed_result_key(key))
        internal("result " + pointer, fmt::format("{} < 0", x));
      return;
    }
    case nlohmann::json::value_t::number_integer:
      if (node.get<int64_t>() < 0 && !signed_result_key(key))
        internal("result " + pointer, fmt::format("{} < 0", node.get<int64_t>()));
      return;
    case nlohmann::json::value_t::null:
    case nlohmann::json::value_t::string:
    case nlohmann::json::value_t::boolean:
    case nlohmann::json::value_t::number_unsigned:
    case nlohmann::json::value_t::binary:
    case nlohmann::json::value_t::discarded:
      return;
  }
}

}  // namespace

int64_t checked_int64(double x, std::string_view what) {
  // 2^63 is exact in a double; every double below it converts without overflow.
  constexpr double kLimit = 9223372036854775808.0;
  if (!(x >= -kLimit && x < kLimit)) internal(what, fmt::format("{} is not a 64-bit integer", x));
  return static_cast<int64_t>(x);
}

int checked_int(double x, std::string_view what) {
  constexpr double kMin = std::numeric_limits<int>::min();
  constexpr double kMax = std::numeric_limits<int>::max();
  if (!(x >= kMin && x < kMax + 1.0)) internal(what, fmt::format("{} is not a 32-bit integer", x));
  return static_cast<int>(x);
}

int64_t checked_mul(int64_t a, int64_t b, std::string_view what) {
  int64_t product = 0;
  if (__builtin_mul_overflow(a, b, &product))
    internal(what, fmt::format("{} x {} overflows 64 bits", a, b));
  return product;
}

int64_t checked_add(int64_t a, int64_t b, std::string_view what) {
  int64_t sum = 0;
  if (__builtin_add_overflow(a, b, &sum))
    internal(what, fmt::format("{} + {} overflows 64 bits", a, b));
  return sum;
}

double checked_non_negative(double x, std::string_view what) {
  if (!(std::isfinite(x) && x >= 0.0)) internal(what, fmt::format("expected >= 0, got {}", x));
  return x;
}

void check_result_numbers(const nlohmann::json& result) {
  check_node(result, "", "");
}

bool is_valid_utf8(std::string_view text) {
  std::size_t i = 0;
  while (i < text.size()) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c < 0x80) {
      ++i;
      continue;
    }
    std::size_t length = 0;
    uint32_t code = 0;
    if ((c & 0xE0) == 0xC0) {
      length = 2;
      code = c & 0x1Fu;
    } else if ((c & 0xF0) == 0xE0) {
      length = 3;
      code = c & 0x0Fu;
    } else if ((c & 0xF8) == 0xF0) {
      length = 4;
      code = c & 0x07u;
    } else {
      return false;
    }
    if (i + length > text.size()) return false;
    for (std::size_t k = 1; k < length; ++k) {
      const auto next = static_cast<unsigned char>(text[i + k]);
      if ((next & 0xC0) != 0x80) return false;
      code = (code << 6) | (next & 0x3Fu);
    }
    constexpr uint32_t kMinimum[] = {0, 0, 0x80, 0x800, 0x10000};
    if (code < kMinimum[length] || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF))
      return false;
    i += length;
  }
  return true;
}

}  // namespace xpusim
