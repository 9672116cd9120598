#pragma once
// Arithmetic that cannot go wrong silently: float-to-integer conversions, 64-bit products of
// shapes, and the check that every number a command prints is finite and non-negative. A failure
// here is a bug (or a bound missing at a parser), so it throws an internal error: exit status 3,
// never a wrong number.

#include <nlohmann/json_fwd.hpp>

#include <cstdint>
#include <string_view>

namespace xpusim {

/// `x` rounded toward zero as an int64; throws an internal error naming `what` when `x` is NaN,
/// infinite or outside [-2^63, 2^63). Example: checked_int64(1e19, "blocks") throws.
[[nodiscard]] int64_t checked_int64(double x, std::string_view what);

/// `x` as an int (toward zero), checked like checked_int64 against the int range.
[[nodiscard]] int checked_int(double x, std::string_view what);

/// a x b, throwing an internal error naming `what` on 64-bit overflow.
[[nodiscard]] int64_t checked_mul(int64_t a, int64_t b, std::string_view what);

/// a + b, throwing an internal error naming `what` on 64-bit overflow.
[[nodiscard]] int64_t checked_add(int64_t a, int64_t b, std::string_view what);

/// `x` itself when finite and >= 0; else an internal error naming `what`.
double checked_non_negative(double x, std::string_view what);

/// Throws an internal error at the first number of `result` that is NaN, infinite or negative,
/// naming its JSON pointer ("/rows/3/ttft_s"). NaN and infinity would print as `null`; an
/// explicit null (a figure that does not exist, such as an unlisted price) is left alone. Only keys
/// that hold a signed quantity by definition may be negative: `relative_error` (a prediction
/// against a measurement) and a family's `worst_error`, `memory_margin_bytes` (negative: by how
/// much a plan does not fit) and the changes and elasticities of a sensitivity study.
void check_result_numbers(const nlohmann::json& result);

/// True for the keys whose values are signed by definition (listed above); everything else a
/// command prints is a time, a size, a count, a rate or a share, which a correct model never makes
/// negative.
[[nodiscard]] bool signed_result_key(std::string_view key);

/// True when `text` is well-formed UTF-8 (no overlong forms, surrogates or code points past
/// U+10FFFF).
[[nodiscard]] bool is_valid_utf8(std::string_view text);

}  // namespace xpusim
