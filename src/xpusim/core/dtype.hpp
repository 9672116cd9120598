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

/// A matrix-multiply kernel family: the data type the matrix units compute in and, for 8- and
/// 4-bit formats, how the operands are scaled. Kernels of one family reach one share of the
/// data type's peak on a chip (`efficiency.gemm_fraction_of_peak` in data/hardware/*.yaml).
enum class GemmKind {
  kBf16,
  kFp16,
  kTf32,
  kFp32,
  kInt8,
  kFp8,           ///< e4m3 with one scale per tensor (cuBLASLt, torch._scaled_mm, hipBLASLt)
  kFp8Blockwise,  ///< e4m3 with 1x128 / 128x128 block scales (DeepGEMM, TE blockwise recipe)
  kMxfp8,         ///< OCP MX: e4m3 with an e8m0 scale per 32 elements (Blackwell)
  kNvfp4,         ///< e2m1 with an e4m3 scale per 16 elements and a tensor scale (Blackwell)
};
inline constexpr std::array<GemmKind, 9> kAllGemmKinds = {
    GemmKind::kBf16, GemmKind::kFp16,         GemmKind::kTf32,  GemmKind::kFp32, GemmKind::kInt8,
    GemmKind::kFp8,  GemmKind::kFp8Blockwise, GemmKind::kMxfp8, GemmKind::kNvfp4};
inline constexpr std::size_t kGemmKindCount = kAllGemmKinds.size();
/// "bf16", "fp8", "fp8_blockwise", "mxfp8", "nvfp4", ...
[[nodiscard]] std::string_view to_string(GemmKind kind);
[[nodiscard]] std::optional<GemmKind> parse_gemm_kind(std::string_view name);
/// The data type whose dense peak bounds the kind (fp8 for the scaled 8-bit kinds, fp4 for nvfp4).
[[nodiscard]] DType peak_dtype(GemmKind kind);
/// The kind whose measured share stands in for `kind` on a chip without its own figure, or
/// nullopt for bf16 (always measured): fp16 -> bf16, tf32/fp32 -> bf16, int8 -> fp8,
/// fp8_blockwise -> fp8, mxfp8 -> fp8, nvfp4 -> fp8, fp8 -> bf16 (docs/model.md, section 6).
[[nodiscard]] std::optional<GemmKind> fallback(GemmKind kind);
[[nodiscard]] constexpr std::size_t index_of(GemmKind kind) {
  return static_cast<std::size_t>(kind);
}

/// A fused attention kernel (or none): each reaches its own share of peak on a chip, forward and
/// backward (`efficiency.attention_fraction_of_peak`).
enum class AttentionKernel {
  kFlash2,   ///< FlashAttention-2 (Dao 2023), also PyTorch SDPA's flash backend
  kFlash3,   ///< FlashAttention-3 (Hopper: warp specialization, TMA, wgmma)
  kCudnn,    ///< cuDNN fused attention (TransformerEngine, SDPA cudnn backend)
  kCk,       ///< AMD Composable Kernel / aiter FlashAttention
  kSplash,   ///< TPU Pallas splash attention (MaxText)
  kVendor,   ///< the vendor library's fused attention (Gaudi FusedSDPA, Neuron NKI, ...)
  kUnfused,  ///< scores through memory: batched GEMMs and a softmax kernel
};
inline constexpr std::array<AttentionKernel, 7> kAllAttentionKernels = {
    AttentionKernel::kFlash2, AttentionKernel::kFlash3, AttentionKernel::kCudnn,
    AttentionKernel::kCk,     AttentionKernel::kSplash, AttentionKernel::kVendor,
    AttentionKernel::kUnfused};
inline constexpr std::size_t kAttentionKernelCount = kAllAttentionKernels.size();
[[nodiscard]] std::string_view to_string(AttentionKernel kernel);
[[nodiscard]] std::optional<AttentionKernel> parse_attention_kernel(std::string_view name);
[[nodiscard]] constexpr std::size_t index_of(AttentionKernel kernel) {
  return static_cast<std::size_t>(kernel);
}

}  // namespace xpusim
