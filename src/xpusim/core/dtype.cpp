#include "xpusim/core/dtype.hpp"

namespace xpusim {

double bytes_per_element(DType dtype) {
  switch (dtype) {
    case DType::kFp32:
    case DType::kTf32:
      return 4.0;
    case DType::kBf16:
    case DType::kFp16:
      return 2.0;
    case DType::kFp8:
    case DType::kInt8:
      return 1.0;
    case DType::kInt4:
    case DType::kFp4:
      return 0.5;
  }
  return 0.0;
}

std::string_view to_string(DType dtype) {
  switch (dtype) {
    case DType::kFp32:
      return "fp32";
    case DType::kTf32:
      return "tf32";
    case DType::kBf16:
      return "bf16";
    case DType::kFp16:
      return "fp16";
    case DType::kFp8:
      return "fp8";
    case DType::kInt8:
      return "int8";
    case DType::kInt4:
      return "int4";
    case DType::kFp4:
      return "fp4";
  }
  return "?";
}

std::optional<DType> parse_dtype(std::string_view name) {
  for (DType dtype : kAllDTypes) {
    if (to_string(dtype) == name) return dtype;
  }
  return std::nullopt;
}

std::string_view to_string(GemmKind kind) {
  switch (kind) {
    case GemmKind::kBf16:
      return "bf16";
    case GemmKind::kFp16:
      return "fp16";
    case GemmKind::kTf32:
      return "tf32";
    case GemmKind::kFp32:
      return "fp32";
    case GemmKind::kInt8:
      return "int8";
    case GemmKind::kFp8:
      return "fp8";
    case GemmKind::kFp8Blockwise:
      return "fp8_blockwise";
    case GemmKind::kMxfp8:
      return "mxfp8";
    case GemmKind::kNvfp4:
      return "nvfp4";
  }
  return "?";
}

std::optional<GemmKind> parse_gemm_kind(std::string_view name) {
  for (GemmKind kind : kAllGemmKinds) {
    if (to_string(kind) == name) return kind;
  }
  return std::nullopt;
}

DType peak_dtype(GemmKind kind) {
  switch (kind) {
    case GemmKind::kBf16:
      return DType::kBf16;
    case GemmKind::kFp16:
      return DType::kFp16;
    case GemmKind::kTf32:
      return DType::kTf32;
    case GemmKind::kFp32:
      return DType::kFp32;
    case GemmKind::kInt8:
      return DType::kInt8;
    case GemmKind::kFp8:
    case GemmKind::kFp8Blockwise:
    case GemmKind::kMxfp8:
      return DType::kFp8;
    case GemmKind::kNvfp4:
      return DType::kFp4;
  }
  return DType::kBf16;
}

std::optional<GemmKind> fallback(GemmKind kind) {
  switch (kind) {
    case GemmKind::kBf16:
      return std::nullopt;
    case GemmKind::kFp16:
    case GemmKind::kTf32:
    case GemmKind::kFp32:
    case GemmKind::kFp8:
      return GemmKind::kBf16;
    case GemmKind::kInt8:
    case GemmKind::kFp8Blockwise:
    case GemmKind::kMxfp8:
    case GemmKind::kNvfp4:
      return GemmKind::kFp8;
  }
  return std::nullopt;
}

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
    case AttentionKernel::kVendor:
      return "vendor";
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

}  // namespace xpusim
