#pragma once
// Precision recipes of a training step, shared by the layers above core: software stacks (stack/)
// list the ones they support, training (train/) runs one.

#include <array>
#include <optional>
#include <string_view>

#include "xpusim/core/dtype.hpp"

namespace xpusim {

/// How a training step's GEMMs are quantized: bf16 throughout, or FP8/FP4 with a scaling scheme
/// (per-tensor delayed or current scaling, 1x128/128x128 blocks, MX block-32, NVFP4 block-16).
enum class PrecisionRecipe { kBf16, kFp8Delayed, kFp8Current, kFp8Blockwise, kMxfp8, kNvfp4 };

inline constexpr std::array<PrecisionRecipe, 6> kAllPrecisionRecipes = {
    PrecisionRecipe::kBf16,         PrecisionRecipe::kFp8Delayed, PrecisionRecipe::kFp8Current,
    PrecisionRecipe::kFp8Blockwise, PrecisionRecipe::kMxfp8,      PrecisionRecipe::kNvfp4};

/// "bf16", "fp8-delayed", "fp8-current", "fp8-blockwise", "mxfp8", "nvfp4".
[[nodiscard]] std::string_view to_string(PrecisionRecipe recipe);
/// The recipe named `name`, or nullopt.
[[nodiscard]] std::optional<PrecisionRecipe> parse_precision_recipe(std::string_view name);
/// The GEMM kind a recipe's quantized matrix multiplies run as: bf16 -> kBf16, fp8-delayed and
/// fp8-current -> kFp8 (per-tensor scales), fp8-blockwise -> kFp8Blockwise, mxfp8 -> kMxfp8,
/// nvfp4 -> kNvfp4.
[[nodiscard]] GemmKind gemm_kind(PrecisionRecipe recipe);

}  // namespace xpusim
