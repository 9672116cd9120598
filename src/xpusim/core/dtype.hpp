#pragma once
// Numeric formats in which weights, activations and KV caches are stored and computed.

#include <array>
#include <optional>
#include <string>
#include <string_view>

namespace xpusim {

enum class DType { kFp32, kTf32, kBf16, kFp16, kFp8, kInt8, kInt4, kFp4 };

inline constexpr std::array<DType, 8> kAllDTypes = {DType::kFp32, DType::kTf32, DType::kBf16,
                                                    DType::kFp16, DType::kFp8,  DType::kInt8,
                                                    DType::kInt4, DType::kFp4};
inline constexpr std::size_t kDTypeCount = kAllDTypes.size();

/// Storage size of one element, in bytes (int4 and fp4: half a byte).
[[nodiscard]] double bytes_per_element(DType dtype);
/// "bf16", "fp8", ...
[[nodiscard]] std::string_view to_string(DType dtype);
/// The format named `name`, or nullopt.
[[nodiscard]] std::optional<DType> parse_dtype(std::string_view name);
[[nodiscard]] constexpr std::size_t index_of(DType dtype) {
  return static_cast<std::size_t>(dtype);
}

}  // namespace xpusim
