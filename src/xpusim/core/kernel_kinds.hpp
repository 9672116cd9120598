#pragma once
// Kernel and numeric-recipe names shared by the layers above core: which fused attention
// kernel runs, and which precision recipe a training step uses. Software stacks (stack/) name
// them in their YAML; training (train/) and the cost model consume them.

#include <array>
#include <optional>
#include <string_view>

namespace xpusim {

/// The fused attention kernel a stack runs (bf16 unless a recipe says otherwise).
enum class AttentionKernel { kFlash2, kFlash3, kCudnn, kCk, kSplash, kUnfused };

inline constexpr std::array<AttentionKernel, 6> kAllAttentionKernels = {
    AttentionKernel::kFlash2, AttentionKernel::kFlash3, AttentionKernel::kCudnn,
    AttentionKernel::kCk,     AttentionKernel::kSplash, AttentionKernel::kUnfused};

/// "flash2", "flash3", "cudnn", "ck", "splash", "unfused".
[[nodiscard]] std::string_view to_string(AttentionKernel kernel);
/// The kernel named `name`, or nullopt.
[[nodiscard]] std::optional<AttentionKernel> parse_attention_kernel(std::string_view name);

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

}  // namespace xpusim
