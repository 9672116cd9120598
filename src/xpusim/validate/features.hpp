#pragma once
// The named modelling features that validation records may need (data/validation/
// training_dev.json, each record's "needs"). This is the ONE list: a feature lands by flipping
// its `implemented` flag here; a record whose needs are all implemented is then evaluated and
// counted. A name a record uses that is not listed here is an input error.

#include <array>
#include <string_view>

namespace xpusim {

struct TrainingFeature {
  std::string_view name;
  bool implemented;  ///< the library models it today
  /// While missing: today's closest approximation still gives a provisional prediction (shown,
  /// never counted); false when the record cannot be expressed at all (no model, no chip, ...).
  bool approximated;
  std::string_view what;
};

inline constexpr std::array kTrainingFeatures = {
    TrainingFeature{"fp8-recipe", true, true,
                    "FP8 recipes (delayed/current scaling, blockwise): GEMM efficiency per "
                    "GemmKind, quantize, amax and transpose kernels, bf16 LM head and router"},
    TrainingFeature{"mxfp8", true, true,
                    "MXFP8 block-32 GEMMs (Blackwell) with rowwise and columnwise copies"},
    TrainingFeature{"nvfp4", true, true,
                    "NVFP4 block-16 GEMMs (Blackwell): amax pass, both copies, Hadamard on wgrad "
                    "operands"},
    TrainingFeature{"fp8-attention", false, true, "FP8 attention (TE DPA); today bf16 attention"},
    TrainingFeature{"fsdp-fp8-allgather", true, true,
                    "FSDP all-gather of fp8 weights under tensorwise fp8 (torchao; "
                    "DataParallelSpec::fp8_all_gather)"},
    TrainingFeature{"fsdp-per-layer", true, true,
                    "FSDP2 / ZeRO-3 per-layer all-gather and reduce-scatter overlapped with "
                    "compute (train/training.cpp, FsdpPass)"},
    TrainingFeature{"fsdp-expert-degree", true, true,
                    "a separate FSDP degree for routed experts (torchtitan MoE): experts shard and "
                    "gather over dp cp / ep ranks, dense weights over dp cp"},
    TrainingFeature{"moe-load-imbalance", true, true,
                    "uneven tokens per expert (TrainingJob::moe_load_imbalance; the dev set runs "
                    "balanced, 1.0, no record states a measured imbalance)"},
    TrainingFeature{
        "ep-over-tp", false, false,
        "expert parallelism spanning tensor-parallel ranks (Megatron-Core with expert "
        "tensor parallelism 1: ep x etp divides tp x dp x cp); today ep divides dp x cp"},
    TrainingFeature{"moe-capacity-factor", false, true,
                    "token-dropping MoE with a capacity factor (dense dispatch)"},
    TrainingFeature{"cpu-offload", false, true,
                    "activations offloaded to host memory (MaxText remat policy 'offload')"},
    TrainingFeature{"maxtext-remat-policy", false, true,
                    "MaxText 'custom' remat policies; today selective recomputation"},
    TrainingFeature{"uneven-pipeline", true, false,
                    "pipeline stages with unequal layer counts (layers not divisible by pp x vpp, "
                    "embedding/loss as stages)"},
    TrainingFeature{
        "partial-scale-up-domain", true, false,
        "clusters that use part of each scale-up domain (e.g. 256 GPUs of NVL72 racks)"},
    TrainingFeature{"lora", true, false,
                    "LoRA fine-tuning: frozen base weights, adapters with gradients and optimizer"},
    TrainingFeature{"maxtext-auto-sharding", false, false,
                    "MaxText's sharding of the record's unstated config (plan not stated)"},
    TrainingFeature{"unstated-plan", true, false,
                    "a plan search standing in for a parallel plan the source does not state"},
    TrainingFeature{"model-llama4", true, false,
                    "Llama 4 (llama4_text) configs in the model loader: MoE with a shared expert, "
                    "chunked attention"},
    TrainingFeature{"model-nemotron4", true, false,
                    "Nemotron-4 (nemotron) configs: squared-ReLU MLP, LayerNorm1p, partial RoPE"},
    TrainingFeature{"hw-mi355x", true, false, "an AMD Instinct MI355X entry in data/hardware"},
    TrainingFeature{"record-inconsistent", false, false,
                    "the source's degrees do not multiply to its device count: re-read the source"},
};

/// The entry named `name`, or nullptr.
[[nodiscard]] const TrainingFeature* find_training_feature(std::string_view name);

/// The named serving features that records of data/validation/inference_dev.json may need; the
/// same rules as the training list (one list; a feature lands by flipping `implemented`).
inline constexpr std::array kServingFeatures = {
    TrainingFeature{"expert-parallel-serving", false, false,
                    "expert parallelism with attention data parallelism (DEP) in a serving "
                    "replica: dispatch and combine over the fabric"},
    TrainingFeature{"multi-node-serving", false, false,
                    "a replica spanning nodes (scale-out tensor or expert parallelism)"},
    TrainingFeature{"prefill-only-throughput", false, false,
                    "a prefill pool measured alone, its decode side assumed unlimited"},
    TrainingFeature{"decode-only-throughput", false, false,
                    "a decode pool measured alone at a fixed batch and KV length (prefill "
                    "assumed unlimited)"},
    TrainingFeature{"mxfp4-moe-weights", false, true,
                    "MXFP4 expert weights (gpt-oss) with bf16 attention; today every weight "
                    "GEMM as fp4"},
    TrainingFeature{"unstated-deployment", false, true,
                    "the source does not state tensor parallelism, replicas or precision; "
                    "today the record's stand-in (MLPerf AMD: tp 1 x 8 replicas, fp8 weights)"},
    TrainingFeature{"model-variant-unstated", false, true,
                    "the model variant is not stated (Llama-3 vs 3.1 70B); the 3.1 config "
                    "stands in (same architecture, longer context)"},
};

/// The serving entry named `name`, or nullptr.
[[nodiscard]] const TrainingFeature* find_serving_feature(std::string_view name);

}  // namespace xpusim
