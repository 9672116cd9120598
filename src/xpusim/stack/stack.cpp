#include "xpusim/stack/stack.hpp"

#include <algorithm>

namespace xpusim {

std::optional<ArchitectureFamily> architecture_family(std::string_view vendor,
                                                      std::string_view architecture) {
  const auto starts_with = [](std::string_view text, std::string_view prefix) {
    return text.substr(0, prefix.size()) == prefix;
  };
  if (vendor == "NVIDIA") {
    if (starts_with(architecture, "Ampere")) return ArchitectureFamily::kNvidiaAmpere;
    if (starts_with(architecture, "Ada")) return ArchitectureFamily::kNvidiaAda;
    if (starts_with(architecture, "Hopper")) return ArchitectureFamily::kNvidiaHopper;
    if (starts_with(architecture, "Blackwell")) return ArchitectureFamily::kNvidiaBlackwell;
    return std::nullopt;
  }
  if (vendor == "AMD" && starts_with(architecture, "CDNA")) return ArchitectureFamily::kAmdCdna;
  if (vendor == "Google") return ArchitectureFamily::kGoogleTpu;
  if (vendor == "Intel" && starts_with(architecture, "Gaudi"))
    return ArchitectureFamily::kIntelGaudi;
  if (starts_with(vendor, "AWS")) return ArchitectureFamily::kAwsNeuron;
  return std::nullopt;
}

bool shards_parameters(Sharding sharding) {
  switch (sharding) {
    case Sharding::kDdp:
    case Sharding::kZero1:
    case Sharding::kDistributedOptimizer:
      return false;
    case Sharding::kFsdp:
    case Sharding::kMegatronFsdp:
    case Sharding::kXlaFsdp:
      return true;
  }
  return false;
}

bool TrainingStack::supports(PrecisionRecipe recipe) const {
  return std::find(recipes.begin(), recipes.end(), recipe) != recipes.end();
}

std::string_view to_string(Framework framework) {
  switch (framework) {
    case Framework::kMegatronCore:
      return "megatron-core";
    case Framework::kMegatronBridge:
      return "megatron-bridge";
    case Framework::kNemo:
      return "nemo";
    case Framework::kTorchtitan:
      return "torchtitan";
    case Framework::kPytorchFsdp:
      return "pytorch-fsdp";
    case Framework::kDeepspeed:
      return "deepspeed";
    case Framework::kMaxtext:
      return "maxtext";
    case Framework::kTrtllm:
      return "trtllm";
    case Framework::kVllm:
      return "vllm";
    case Framework::kSglang:
      return "sglang";
  }
  return "?";
}

std::string_view to_string(StackKind kind) {
  switch (kind) {
    case StackKind::kTraining:
      return "training";
    case StackKind::kServing:
      return "serving";
    case StackKind::kBoth:
      return "both";
  }
  return "?";
}

std::string_view to_string(ArchitectureFamily family) {
  switch (family) {
    case ArchitectureFamily::kNvidiaAmpere:
      return "nvidia_ampere";
    case ArchitectureFamily::kNvidiaAda:
      return "nvidia_ada";
    case ArchitectureFamily::kNvidiaHopper:
      return "nvidia_hopper";
    case ArchitectureFamily::kNvidiaBlackwell:
      return "nvidia_blackwell";
    case ArchitectureFamily::kAmdCdna:
      return "amd_cdna";
    case ArchitectureFamily::kGoogleTpu:
      return "google_tpu";
    case ArchitectureFamily::kIntelGaudi:
      return "intel_gaudi";
    case ArchitectureFamily::kAwsNeuron:
      return "aws_neuron";
  }
  return "?";
}

std::string_view to_string(Sharding sharding) {
  switch (sharding) {
    case Sharding::kDdp:
      return "ddp";
    case Sharding::kZero1:
      return "zero1";
    case Sharding::kDistributedOptimizer:
      return "distributed_optimizer";
    case Sharding::kFsdp:
      return "fsdp";
    case Sharding::kMegatronFsdp:
      return "megatron_fsdp";
    case Sharding::kXlaFsdp:
      return "xla_fsdp";
  }
  return "?";
}

std::string_view to_string(GradientReduce reduce) {
  switch (reduce) {
    case GradientReduce::kPerMicroBatch:
      return "per_micro_batch";
    case GradientReduce::kPerStep:
      return "per_step";
  }
  return "?";
}

std::string_view to_string(MoeDispatcher dispatcher) {
  switch (dispatcher) {
    case MoeDispatcher::kAllToAll:
      return "alltoall";
    case MoeDispatcher::kDeepEp:
      return "deepep";
    case MoeDispatcher::kAllGather:
      return "allgather";
  }
  return "?";
}

std::string_view to_string(DecodeAttention attention) {
  switch (attention) {
    case DecodeAttention::kFlashInfer:
      return "flashinfer";
    case DecodeAttention::kXqa:
      return "xqa";
    case DecodeAttention::kFlashDecoding:
      return "flash_decoding";
    case DecodeAttention::kFlashAttn:
      return "flash_attn";
    case DecodeAttention::kPagedV1:
      return "paged_v1";
    case DecodeAttention::kPagedV2:
      return "paged_v2";
    case DecodeAttention::kTriton:
      return "triton";
    case DecodeAttention::kRaggedPaged:
      return "ragged_paged";
  }
  return "?";
}

std::string_view to_string(SelectiveRecompute recompute) {
  switch (recompute) {
    case SelectiveRecompute::kCoreAttention:
      return "core_attention";
    case SelectiveRecompute::kPerOp:
      return "per_op";
  }
  return "?";
}

std::string_view to_string(WeightQuantization quantization) {
  switch (quantization) {
    case WeightQuantization::kPerStep:
      return "per_step";
    case WeightQuantization::kPerMicroBatch:
      return "per_micro_batch";
  }
  return "?";
}

const StackSpec* newest_serving_stack(const std::vector<StackSpec>& all,
                                      ArchitectureFamily family) {
  const StackSpec* best = nullptr;
  for (const StackSpec& stack : all) {
    if (!stack.serving || !stack.kernels.attention_for(family)) continue;
    // "YYYY-MM" and "YYYY-MM-DD" order as text; ties keep the first id.
    if (best == nullptr || stack.release_date > best->release_date) best = &stack;
  }
  return best;
}

}  // namespace xpusim
