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

double bf16_layer_share(PrecisionRecipe recipe) {
  return recipe == PrecisionRecipe::kNvfp4 ? 0.15 : 0.0;
}

std::optional<OperandQuantization> operand_quantization(PrecisionRecipe recipe) {
  OperandQuantization q;
  switch (recipe) {
    case PrecisionRecipe::kBf16:
      return std::nullopt;
    case PrecisionRecipe::kFp8Delayed:
      return q;
    case PrecisionRecipe::kFp8Current:
      q.amax_pass = true;
      return q;
    case PrecisionRecipe::kFp8Blockwise:
      q.scale_bytes_per_element = 4.0 / 128.0;
      q.directional_scales = true;
      return q;
    case PrecisionRecipe::kMxfp8:
      q.scale_bytes_per_element = 1.0 / 32.0;
      q.directional_scales = true;
      return q;
    case PrecisionRecipe::kNvfp4:
      q.element_bytes = 0.5;
      q.scale_bytes_per_element = 1.0 / 16.0;
      q.amax_pass = true;
      q.directional_scales = true;
      q.hadamard_on_wgrad_operands = true;
      return q;
  }
  return std::nullopt;
}

}  // namespace xpusim
