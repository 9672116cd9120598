#pragma once
// The operator-level cost model: a forward pass of a model is lowered to its kernels with
// shapes, and each kernel is timed on a device by a calibrated roofline (docs/model.md).

#include <array>
#include <cstdint>
#include <optional>
#include <string_view>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/hw/accelerator.hpp"
#include "xpusim/model/model.hpp"

namespace xpusim {

/// The kernels a transformer layer is lowered to (the fusion convention of docs/model.md).
enum class OpKind {
  kEmbedding,
  kNorm,           ///< RMSNorm/LayerNorm with the residual add fused in
  kQkvProjection,  ///< MLA: the four latent projections
  kRotary,
  kAttention,  ///< fused FlashAttention-style kernel (prefill) or flash-decoding (decode)
  kOutProjection,
  kRouter,
  kMlpUp,       ///< gate and up projections fused (dense MLP, shared experts)
  kActivation,  ///< SiLU(gate) * up, or GELU
  kMlpDown,
  kExpertsUp,  ///< routed experts, grouped GEMM
  kExpertsDown,
  kTokenPermutation,  ///< routed tokens gathered into expert order and scattered back (MoE)
  kLmHead,
  kTensorParallelComm,  ///< all-reduces of the tensor-parallel group, logits all-gather
  kCount
};
inline constexpr std::size_t kOpKindCount = static_cast<std::size_t>(OpKind::kCount);
[[nodiscard]] std::string_view to_string(OpKind kind);

/// Device memory the runtime keeps for itself: CUDA/ROCm context, GEMM library workspace and
/// collective buffers (an estimate; docs/model.md). Inference, training and serving all reserve it.
inline constexpr Bytes kRuntimeWorkspace{1.0 * (1 << 30)};

/// How the model is placed and stored.
struct Deployment {
  int tensor_parallel = 1;
  DType weight_dtype = DType::kBf16;
  DType activation_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  /// int4 weight-only quantization: one bf16 scale and zero per group of this many weights.
  int weight_group_size = 128;
  /// Gate and up projections as one GEMM (vLLM, TensorRT-LLM >= 0.6).
  bool fused_gate_up = true;
  /// Fused FlashAttention-style kernel, or the unfused sequence of earlier frameworks
  /// (Megatron-LM 2021): batched QK^T GEMM, softmax/mask/dropout over the stored scores, AV GEMM.
  bool fused_attention = true;
  /// Expert parallelism: each device holds num_experts / expert_parallel experts and receives
  /// the tokens routed to them from its expert-parallel group.
  int expert_parallel = 1;
  /// Token-expert pairs of the busiest expert-parallel rank over the mean (>= 1): its expert
  /// GEMMs and token permutation run on that many more rows and set the layer's pace.
  double expert_load_imbalance = 1.0;
  /// Training a model with hidden dropout: bias-dropout-add kernels after attention and MLP.
  bool dropout = false;
  /// The scaled-FP8 kernel family fp8 GEMMs run as (tensorwise, blockwise, MX).
  GemmKind fp8_kind = GemmKind::kFp8;
  /// The fused attention kernel; nullopt: the chip's fastest (ignored when !fused_attention).
  std::optional<AttentionKernel> attention_kernel;
};

/// One forward pass: `sequences` sequences each adding `new_tokens` tokens after `context`
/// tokens already in the KV cache. Prefill: new_tokens = prompt, context = 0; decode: 1, c.
struct PassShape {
  int64_t sequences = 1;
  int64_t new_tokens = 1;
  int64_t context = 0;
};

/// A batch of sequences in one forward pass, each adding new tokens after the tokens already in
/// its KV cache: mixed prefill chunks and decode steps, as continuous batching runs them. Kept as
/// the sums the cost model needs, so that adding a sequence is O(1).
struct IterationShape {
  int64_t sequences = 0;
  int64_t new_tokens = 0;         ///< summed over the sequences
  int64_t sampled = 0;            ///< sequences that produce a token (rows of the LM head)
  double attended_full = 0.0;     ///< sum over new tokens of the tokens each attends to
  double attended_sliding = 0.0;  ///< the same in sliding-window layers (window-capped)
  double kv_full = 0.0;           ///< sum over sequences of the tokens whose keys/values are read
  double kv_sliding = 0.0;        ///< the same, window-capped
  bool all_decode = true;         ///< every sequence adds exactly one token

  /// Adds a sequence with `new_tokens` after `context` cached tokens; `sampled`: it emits a token.
  void add(const ModelSpec& model, int64_t new_tokens, int64_t context, bool sampled = true);
  /// `shape.sequences` identical sequences, in O(1).
  [[nodiscard]] static IterationShape uniform(const ModelSpec& model, const PassShape& shape);
};

struct OpTotals {
  Seconds time;
  Flops flops;
  Bytes bytes;
  int64_t kernels = 0;
};

/// Time and work of a pass per device, in total and per operator kind.
struct PassCost {
  Seconds time;
  /// Backward time of the fused attention kernels of the pass (training): 2.5x the forward
  /// FLOPs at the kernel's backward rate, q, k, v, o and their gradients through memory.
  Seconds attention_backward;
  Seconds compute_time;  ///< sum over kernels of their compute-bound time
  Seconds memory_time;   ///< sum over kernels of their memory-bound time
  Flops flops;           ///< per device
  Bytes bytes;           ///< moved to and from device memory, per device
  std::array<OpTotals, kOpKindCount> by_op{};
};

/// Times one forward pass on one device of a tensor-parallel group. Allocates nothing.
[[nodiscard]] PassCost cost_pass(const ModelSpec& model, const AcceleratorSpec& hw,
                                 const Deployment& deployment, const PassShape& shape);

/// Times one iteration of a batch of mixed sequences (the serving simulator's step).
[[nodiscard]] PassCost cost_iteration(const ModelSpec& model, const AcceleratorSpec& hw,
                                      const Deployment& deployment, const IterationShape& batch);

/// The forward pass of one transformer layer (sliding-window or not, MoE or dense MLP) on one
/// device, without its tensor-parallel communication, which the caller places on its fabric.
[[nodiscard]] PassCost cost_layer_forward(const ModelSpec& model, const AcceleratorSpec& hw,
                                          const Deployment& deployment, const PassShape& shape,
                                          bool sliding, bool moe);

/// Embedding lookup, final norm and LM head over every token (training computes the loss on
/// all positions), without communication.
[[nodiscard]] PassCost cost_embedding_and_head_forward(const ModelSpec& model,
                                                       const AcceleratorSpec& hw,
                                                       const Deployment& deployment,
                                                       const PassShape& shape);

/// A matrix multiply C[M,N] = A[M,K] B[K,N] repeated over `groups` independent problems
/// (grouped GEMM for experts), with B the weights.
struct GemmShape {
  int64_t m = 0;
  int64_t n = 0;
  int64_t k = 0;
  int64_t groups = 1;
};

struct KernelCost {
  Seconds time;
  Seconds compute_time;
  Seconds memory_time;
  Flops flops;
  Bytes bytes;
};

/// Roofline time of one GEMM kernel with tile/wave quantization and split-K on the device's
/// compute units; weight-only formats add their dequantization on the vector units.
[[nodiscard]] KernelCost gemm_cost(const GemmShape& shape, const AcceleratorSpec& hw,
                                   const Deployment& deployment);

/// Bytes of one weight element as stored (int4 includes its group scales and zeros).
[[nodiscard]] double weight_bytes_per_element(const Deployment& deployment);

/// The data type the matrix units compute in for this deployment on this device.
[[nodiscard]] DType gemm_compute_dtype(const Deployment& deployment, const AcceleratorSpec& hw);

/// The GEMM kernel family of this deployment's weight GEMMs on this device.
[[nodiscard]] GemmKind gemm_kind(const Deployment& deployment, const AcceleratorSpec& hw);

/// The fused attention kernel a deployment runs: its choice where the chip has figures for it,
/// else the chip's fastest.
[[nodiscard]] AttentionKernel attention_kernel(const Deployment& deployment,
                                               const AcceleratorSpec& hw);

/// Share of the long-sequence attention rate a kernel reaches on sequences of `kv_tokens`:
/// s (16384 + s0) / (16384 (s + s0)), s0 = the chip's attention_overhead_tokens.
[[nodiscard]] double attention_length_factor(double kv_tokens, const AcceleratorSpec& hw);

}  // namespace xpusim
