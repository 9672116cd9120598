#include "xpusim/core/recipe.hpp"

namespace xpusim {

std::string_view to_string(PrecisionRecipe recipe) {
  switch (recipe) {
    case PrecisionRecipe::kBf16:
      return "bf16";
    case PrecisionRecipe::kFp8Delayed:
      return "fp8-delayed";
    case PrecisionRecipe::kFp8Current:
      return "fp8-current";
    case PrecisionRecipe::kFp8Blockwise:
      return "fp8-blockwise";
    case PrecisionRecipe::kMxfp8:
      return "mxfp8";
    case PrecisionRecipe::kNvfp4:
      return "nvfp4";
  }
  return "?";
}

std::optional<PrecisionRecipe> parse_precision_recipe(std::string_view name) {
  for (PrecisionRecipe recipe : kAllPrecisionRecipes) {
    if (to_string(recipe) == name) return recipe;
  }
  return std::nullopt;
}

GemmKind gemm_kind(PrecisionRecipe recipe) {
  switch (recipe) {
    case PrecisionRecipe::kBf16:
      return GemmKind::kBf16;
    case PrecisionRecipe::kFp8Delayed:
    case PrecisionRecipe::kFp8Current:
      return GemmKind::kFp8;
    case PrecisionRecipe::kFp8Blockwise:
      return GemmKind::kFp8Blockwise;
    case PrecisionRecipe::kMxfp8:
      return GemmKind::kMxfp8;
    case PrecisionRecipe::kNvfp4:
      return GemmKind::kNvfp4;
  }
  return GemmKind::kBf16;
}

}  // namespace xpusim
