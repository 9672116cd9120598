// Single-node inference estimate (docs/model.md, "Inference on one node").

#include "xpusim/infer/inference.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

/// Engines bound the tokens of one prefill step (vLLM max_num_batched_tokens, TensorRT-LLM
/// max_num_tokens, both 8192 by default); activation memory follows that bound.
constexpr int64_t kPrefillChunkTokens = 8192;
constexpr int64_t kMaxBatch = 1 << 20;

/// Parameters kept whole on every device of a tensor-parallel group: norms, routers and the
/// MLA latent down-projections.
double replicated_params(const ModelSpec& m) {
  const double norm = m.norm == NormKind::kRms ? 1.0 : 2.0;
  double per_layer = norm * static_cast<double>(m.hidden) * (m.separate_mlp_norm ? 2.0 : 1.0);
  if (m.mla) {
    per_layer += static_cast<double>(
        m.hidden * (m.mla->q_lora_rank + m.mla->kv_lora_rank + m.mla->qk_rope_head_dim));
  }
  double total = per_layer * static_cast<double>(m.layers) + norm * static_cast<double>(m.hidden);
  if (m.moe) total += static_cast<double>(m.moe_layers() * m.hidden * m.moe->num_experts);
  return total;
}

/// KV-cache elements one device holds per sequence of `context` tokens.
double kv_elements_per_device(const ModelSpec& m, int tp, int64_t context) {
  const double per_token_layer = kv_elements_per_token_layer(m, tp);
  const double window =
      m.sliding_window > 0 ? static_cast<double>(std::min(m.sliding_window, context)) : 0.0;
  const double sliding = static_cast<double>(m.sliding_layers());
  const double full = static_cast<double>(m.layers) - sliding;
  return per_token_layer * (full * static_cast<double>(context) + sliding * window);
}

/// Activation bytes per prefill token alive at once: hidden state and residual, q/k/v,
/// attention output and the MLP intermediate of one layer.
double activation_bytes_per_token(const ModelSpec& m, const Deployment& d) {
  const int tp = d.tensor_parallel;
  const double ffn = m.moe ? static_cast<double>(m.moe->experts_per_token * m.moe->expert_ffn_dim +
                                                 m.moe->shared_experts * m.moe->shared_ffn_dim)
                           : static_cast<double>(m.ffn_dim);
  const double qkv = static_cast<double>((m.heads + 2 * m.kv_heads) * m.qk_head_dim());
  const double elements = 3.0 * static_cast<double>(m.hidden) + (qkv + 3.0 * ffn) / tp;
  return elements * bytes_per_element(d.activation_dtype);
}

/// One pass of the request's shape on the system (its tensor-parallel collectives on its fabric).
PassCost pass(const ModelSpec& model, const SystemSpec& system, const Deployment& d,
              const PassShape& shape) {
  return cost_iteration(model, system, d, IterationShape::uniform(model, shape));
}

Seconds simpson_decode_sum(const ModelSpec& model, const SystemSpec& system, const Deployment& d,
                           const InferenceRequest& r, PassCost& last) {
  const int64_t steps = r.output_len - 1;
  if (steps <= 0) return Seconds(0.0);
  // Decode step j (1..O-1) feeds generated token j with I + j - 1 tokens already cached. Its
  // time is piecewise linear in the context, so Simpson's rule over the steps is near exact.
  const int64_t first = r.input_len;
  const int64_t final_context = r.input_len + steps - 1;
  const PassCost at_first = pass(model, system, d, {r.batch, 1, first});
  last = pass(model, system, d, {r.batch, 1, final_context});
  if (steps == 1) return at_first.time;
  const PassCost at_mid = pass(model, system, d, {r.batch, 1, (first + final_context) / 2});
  return (at_first.time + at_mid.time * 4.0 + last.time) * (static_cast<double>(steps) / 6.0);
}

}  // namespace

Deployment deployment_for(const InferenceRequest& r) {
  Deployment d;
  d.tensor_parallel = r.devices;
  d.weight_dtype = r.weight_dtype;
  d.kv_dtype = r.kv_dtype;
  d.weight_group_size = r.weight_group_size;
  d.fused_gate_up = r.fused_gate_up;
  return d;
}

void validate_request(const ModelSpec& m, const AcceleratorSpec& hw, const InferenceRequest& r) {
  auto fail = [](const char* field, const std::string& what) { throw_field_error(field, what); };
  if (r.devices < 1) fail("devices", fmt::format("expected at least 1, got {}", r.devices));
  if (r.batch < 1 || r.batch > kMaxBatch)
    fail("batch", fmt::format("expected 1 to {}, got {}", kMaxBatch, r.batch));
  if (r.input_len < 1 || r.input_len > kMaxSequenceTokens)
    fail("input_len", fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, r.input_len));
  if (r.output_len < 1 || r.output_len > kMaxSequenceTokens)
    fail("output_len", fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, r.output_len));
  // The last generated token is never fed back, so a request occupies input + output - 1 positions.
  if (r.input_len + r.output_len - 1 > m.max_positions) {
    fail("input_len",
         fmt::format(
             "input + output - 1 = {} positions exceeds the model's context of {} tokens ({})",
             r.input_len + r.output_len - 1, m.max_positions, m.file.string()));
  }
  if (r.devices > hw.scale_up_domain_devices) {
    fail("devices",
         fmt::format(
             "tensor parallelism over {} devices needs them in one scale-up domain, and {} has {}",
             r.devices, hw.id, hw.scale_up_domain_devices));
  }
  switch (tensor_parallel_conflict(m, r.devices)) {
    case TensorParallelConflict::kNone:
      break;
    case TensorParallelConflict::kHeads:
      fail("devices", fmt::format("expected a divisor of the model's {} attention heads, got {}",
                                  m.heads, r.devices));
    case TensorParallelConflict::kKvHeads:
      fail("devices", fmt::format("expected a divisor of the model's {} key/value heads, got {}",
                                  m.kv_heads, r.devices));
    case TensorParallelConflict::kMlpWidth:
      fail("devices", fmt::format("expected a divisor of the MLP width {}, got {}",
                                  tensor_parallel_mlp_width(m), r.devices));
  }
  if (r.weight_dtype == DType::kFp4 && !hw.peak(DType::kFp4)) {
    fail("weight_dtype",
         fmt::format("fp4 needs a device that computes in fp4, and {} does not", hw.id));
  }
  const bool weight_ok = r.weight_dtype == DType::kBf16 || r.weight_dtype == DType::kFp16 ||
                         r.weight_dtype == DType::kFp8 || r.weight_dtype == DType::kInt8 ||
                         r.weight_dtype == DType::kInt4 || r.weight_dtype == DType::kFp4;
  if (!weight_ok)
    fail("weight_dtype", fmt::format("expected bf16, fp16, fp8, int8, int4 or fp4, got {}",
                                     to_string(r.weight_dtype)));
  if (r.kv_dtype != DType::kBf16 && r.kv_dtype != DType::kFp16 && r.kv_dtype != DType::kFp8) {
    fail("kv_dtype", fmt::format("expected bf16, fp16 or fp8, got {}", to_string(r.kv_dtype)));
  }
  if (r.weight_group_size < 1)
    fail("weight_group_size", fmt::format("expected at least 1, got {}", r.weight_group_size));
}

Bytes weight_bytes_per_device(const ModelSpec& m, const Deployment& d) {
  const ParameterCount params = count_parameters(m);
  const double act = bytes_per_element(d.activation_dtype);
  const double replicated = replicated_params(m);
  const int tp = d.tensor_parallel;
  // Matrix-multiply weights (the LM head included) in the weight format, sharded; the
  // embedding table in the activation format, sharded by vocabulary; norms and routers whole.
  // Routed experts are split over ep x tp devices (expert parallelism, then tensor parallelism
  // inside each expert); the rest of the matrix weights over tp.
  const double experts = static_cast<double>(routed_expert_parameters(m));
  const double ep = std::max(1, d.expert_parallel);
  const double sharded =
      static_cast<double>(params.total - params.embedding) - replicated - experts;
  return Bytes((sharded + experts / ep) / tp * weight_bytes_per_element(d) +
               static_cast<double>(params.embedding) / tp * act + replicated * act);
}

Bytes kv_bytes_per_device(const ModelSpec& m, const Deployment& d, int64_t context) {
  return Bytes(kv_elements_per_device(m, d.tensor_parallel, context) *
               bytes_per_element(d.kv_dtype));
}

Bytes activation_bytes_per_device(const ModelSpec& m, const Deployment& d, int64_t tokens,
                                  int64_t sequences) {
  const double logits =
      static_cast<double>(sequences) * static_cast<double>(m.vocab) / d.tensor_parallel * 4.0;
  return Bytes(static_cast<double>(tokens) * activation_bytes_per_token(m, d) + logits);
}

Bytes workspace_bytes_per_device() {
  return kRuntimeWorkspace;
}

MemoryUse memory_per_device(const ModelSpec& m, const AcceleratorSpec&, const InferenceRequest& r) {
  const Deployment d = deployment_for(r);
  MemoryUse use;
  use.weights = weight_bytes_per_device(m, d);
  use.kv_cache =
      kv_bytes_per_device(m, d, r.input_len + r.output_len) * static_cast<double>(r.batch);
  use.activations = activation_bytes_per_device(
      m, d, std::min(r.batch * r.input_len, kPrefillChunkTokens), r.batch);
  use.workspace = workspace_bytes_per_device();
  return use;
}

int64_t max_batch_that_fits(const ModelSpec& m, const AcceleratorSpec& hw,
                            const InferenceRequest& r) {
  auto fits = [&](int64_t batch) {
    InferenceRequest probe = r;
    probe.batch = batch;
    return memory_per_device(m, hw, probe).total() <= hw.memory_capacity;
  };
  if (!fits(1)) return 0;
  int64_t low = 1, high = kMaxBatch;  // fits(low), and memory grows with the batch
  if (fits(high)) return high;
  while (high - low > 1) {
    const int64_t mid = low + (high - low) / 2;
    (fits(mid) ? low : high) = mid;
  }
  return low;
}

InferenceResult estimate_inference(const ModelSpec& model, const AcceleratorSpec& hw,
                                   const InferenceRequest& r, const Economics& economics) {
  // A bare accelerator is the one node of its default system (validate_request keeps the
  // tensor-parallel group inside one scale-up domain).
  return estimate_inference(model, default_system_for(hw, r.devices), r, economics);
}

InferenceResult estimate_inference(const ModelSpec& model, const SystemSpec& system,
                                   const InferenceRequest& r, const Economics& economics) {
  const AcceleratorSpec& hw = system.accelerator;
  const Deployment d = deployment_for(r);
  InferenceResult result;
  result.prefill = pass(model, system, d, {r.batch, r.input_len, 0});
  result.ttft = result.prefill.time;
  result.decode_last = result.prefill;
  const Seconds decode_total = simpson_decode_sum(model, system, d, r, result.decode_last);
  const int64_t steps = r.output_len - 1;
  if (steps > 0) {
    result.tpot = decode_total / static_cast<double>(steps);
    result.tpot_first = pass(model, system, d, {r.batch, 1, r.input_len}).time;
    result.tpot_last = result.decode_last.time;
    result.decode_memory_bound = result.decode_last.memory_time > result.decode_last.compute_time;
  }
  result.e2e_latency = result.ttft + decode_total;
  const double generated = static_cast<double>(r.batch * r.output_len);
  result.throughput_tokens_per_s = generated / result.e2e_latency.value();

  result.memory = memory_per_device(model, hw, r);
  result.memory_capacity = hw.memory_capacity;
  result.fits = result.memory.total() <= hw.memory_capacity;
  result.max_batch = max_batch_that_fits(model, hw, r);

  // Devices draw their TDP for the whole run: an upper bound on the energy (docs/model.md).
  const Seconds device_time = result.e2e_latency * static_cast<double>(r.devices);
  result.energy_per_token = hw.tdp * device_time / generated;
  if (const auto hourly = hourly_cost(hw, economics)) {
    result.cost_per_million_tokens_usd =
        (hourly->per_device * device_time).value() / generated * 1e6;
    result.cost_basis = hourly->basis;
  }
  return result;
}

}  // namespace xpusim
