#pragma once
// Inference on one node: a batch of requests with a fixed prompt and output length, served by
// a tensor-parallel group over the scale-up fabric.

#include <cstdint>
#include <optional>
#include <string>

#include "xpusim/cost/operators.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/accelerator.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

/// Longest sequence any request may ask for (2^24 tokens, 16x the longest published context).
inline constexpr int64_t kMaxSequenceTokens = int64_t{1} << 24;

struct InferenceRequest {
  int devices = 1;  ///< the tensor-parallel degree
  int64_t batch = 1;
  int64_t input_len = 128;
  int64_t output_len = 128;
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  int weight_group_size = 128;
  bool fused_gate_up = true;  ///< false: gate and up projections as two GEMMs (TensorRT-LLM <= 0.5
                              ///< without --use_fused_mlp)
};

/// Memory one device needs.
struct MemoryUse {
  Bytes weights;
  Bytes kv_cache;
  Bytes activations;
  Bytes workspace;
  [[nodiscard]] Bytes total() const { return weights + kv_cache + activations + workspace; }
};

struct InferenceResult {
  Seconds ttft;        ///< prefill of the whole batch, first token out
  Seconds tpot;        ///< mean time per output token after the first
  Seconds tpot_first;  ///< decode step at the start of generation
  Seconds tpot_last;   ///< decode step at the end (longest context)
  Seconds e2e_latency;
  double throughput_tokens_per_s = 0.0;  ///< generated tokens of the batch, all devices
  MemoryUse memory;                      ///< per device
  Bytes memory_capacity;                 ///< per device
  bool fits = false;
  int64_t max_batch = 0;  ///< largest batch that fits (0: not even one request)
  Joules energy_per_token;
  std::optional<double> cost_per_million_tokens_usd;
  std::string cost_basis;            ///< "cloud", "owned" or "" when the catalog has no price
  PassCost prefill;                  ///< breakdown of the prefill pass (per device)
  PassCost decode_last;              ///< breakdown of the last decode step (per device)
  bool decode_memory_bound = false;  ///< last decode step: memory time exceeds compute time
};

/// Checks the request against the model and device (degrees that do not divide the heads,
/// formats the device cannot compute in, a context past the model's); throws Error(kInput).
void validate_request(const ModelSpec& model, const AcceleratorSpec& hw,
                      const InferenceRequest& request);

/// Memory per device for a batch; allocates nothing.
[[nodiscard]] MemoryUse memory_per_device(const ModelSpec& model, const AcceleratorSpec& hw,
                                          const InferenceRequest& request);

/// Weight bytes one device of a tensor-parallel group holds (the whole model, all layers).
[[nodiscard]] Bytes weight_bytes_per_device(const ModelSpec& model, const Deployment& deployment);

/// KV-cache bytes one device of a tensor-parallel group holds for one sequence of `context`
/// tokens (all layers; sliding-window layers hold at most their window).
[[nodiscard]] Bytes kv_bytes_per_device(const ModelSpec& model, const Deployment& deployment,
                                        int64_t context);

/// Activation bytes one device needs for a prefill step of `tokens` tokens that samples
/// `sequences` rows of logits (fp32).
[[nodiscard]] Bytes activation_bytes_per_device(const ModelSpec& model,
                                                const Deployment& deployment, int64_t tokens,
                                                int64_t sequences);

/// CUDA/ROCm context, GEMM library workspace and collective buffers per device (estimate).
[[nodiscard]] Bytes workspace_bytes_per_device();

/// Largest batch whose memory fits the device (0 when none does).
[[nodiscard]] int64_t max_batch_that_fits(const ModelSpec& model, const AcceleratorSpec& hw,
                                          const InferenceRequest& request);

/// The whole estimate on the accelerator's default system of as many nodes as the
/// tensor-parallel group needs (`default_system_for`). `request` must have passed
/// validate_request.
[[nodiscard]] InferenceResult estimate_inference(const ModelSpec& model, const AcceleratorSpec& hw,
                                                 const InferenceRequest& request,
                                                 const Economics& economics);
/// The same on a given system (its accelerator, node and fabric): what callers that evaluate
/// many points on one system use, so that no system is built per call.
[[nodiscard]] InferenceResult estimate_inference(const ModelSpec& model, const SystemSpec& system,
                                                 const InferenceRequest& request,
                                                 const Economics& economics);

[[nodiscard]] Deployment deployment_for(const InferenceRequest& request);

}  // namespace xpusim
