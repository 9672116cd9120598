#include "xpusim/core/kernel_kinds.hpp"

namespace xpusim {

std::string_view to_string(AttentionKernel kernel) {
  switch (kernel) {
    case AttentionKernel::kFlash2:
      return "flash2";
    case AttentionKernel::kFlash3:
      return "flash3";
    case AttentionKernel::kCudnn:
      return "cudnn";
    case AttentionKernel::kCk:
      return "ck";
    case AttentionKernel::kSplash:
      return "splash";
    case AttentionKernel::kUnfused:
      return "unfused";
  }
  return "?";
}

std::optional<AttentionKernel> parse_attention_kernel(std::string_view name) {
  for (AttentionKernel kernel : kAllAttentionKernels) {
    if (to_string(kernel) == name) return kernel;
  }
  return std::nullopt;
}

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

}  // namespace xpusim
