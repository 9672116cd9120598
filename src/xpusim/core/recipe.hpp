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

/// How a recipe stores one quantized GEMM operand (TransformerEngine
/// docs/features/low_precision_training: fp8_current_scaling, fp8_delayed_scaling,
/// fp8_blockwise_scaling, mxfp8, nvfp4).
struct OperandQuantization {
  double element_bytes = 1.0;  ///< 1 for the fp8 formats, 0.5 for e2m1
  /// Scale bytes per element: 0 per tensor, 4/128 for 1x128 fp32 block scales, 1/32 for MX
  /// e8m0 scales, 1/16 for NVFP4's e4m3 block scales.
  double scale_bytes_per_element = 0.0;
  /// The scale needs the tensor's amax before the cast: a separate pass over the bf16 tensor
  /// (current scaling; NVFP4's per-tensor scale). Delayed scaling uses the amax history, block
  /// scales their block's own amax, computed inside the cast.
  bool amax_pass = false;
  /// Rowwise and columnwise copies differ whatever the chip (block scales run along one
  /// direction); tensorwise FP8 needs a transposed copy only where the matrix units cannot read
  /// FP8 columnwise (Hopper), see OperandCopies in cost/.
  bool directional_scales = false;
  /// The columnwise copies of the weight-gradient operands (input, output gradient) pass a
  /// 16-point random Hadamard transform first (NVFP4 recipe).
  bool hadamard_on_wgrad_operands = false;
};

/// Share of a model's transformer layers the recipe keeps in bf16: NVIDIA's NVFP4 pretraining
/// recipe keeps about 15% of the linear layers, most of them at the end (arXiv 2509.25149,
/// "Pretraining Large Language Models with NVFP4", training methodology); 0 for the others.
[[nodiscard]] double bf16_layer_share(PrecisionRecipe recipe);

/// The operand format of a recipe's quantized GEMMs, or nullopt for bf16.
[[nodiscard]] std::optional<OperandQuantization> operand_quantization(PrecisionRecipe recipe);

}  // namespace xpusim
