#pragma once
// Training at cluster scale: one optimizer step of a model on a system under a parallel plan
// (tensor, sequence, pipeline with virtual stages, data with ZeRO, context, expert), with its
// time breakdown, memory per device, throughput and utilization (docs/model.md, "Training").

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/recipe.hpp"
#include "xpusim/core/units.hpp"
#include "xpusim/model/model.hpp"
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"

namespace xpusim {

enum class Recompute { kNone, kSelective, kFull };
[[nodiscard]] std::string_view to_string(Recompute recompute);
[[nodiscard]] std::optional<Recompute> parse_recompute(std::string_view name);

/// What one model chunk (virtual pipeline stage) holds: Megatron-Core's layout slots.
struct ChunkSlots {
  int layers = 0;          ///< transformer layers ('t')
  bool embedding = false;  ///< 'E': the input embedding
  bool loss = false;       ///< 'L': final norm, LM head and loss
  /// 'm': multi-token-prediction modules (DeepSeek-V3), each one more transformer layer and one
  /// more pass through the (shared) LM head and loss; not counted in the model's layers.
  int mtp_layers = 0;
  bool operator==(const ChunkSlots&) const = default;
};

/// Megatron-Core's `pipeline_model_parallel_layout`: chunks separated by '|', each a run of
/// 'E', 't', 'm' (an MTP module) and 'L'; "X*n" repeats a slot, "(...)*n" a group (chunks
/// included), ',' and spaces are ignored. "Et*3|t*4|t*4|t*3L" is 4 chunks of 3, 4, 4, 3 layers.
/// Chunk k runs on pipeline stage k mod pp as its model chunk k / pp. Throws Error(kInput) naming
/// the position.
[[nodiscard]] std::vector<ChunkSlots> parse_pipeline_layout(std::string_view layout);

/// The layout back as text, one chunk per '|' ("Et*3|t*4|t*3L").
[[nodiscard]] std::string to_string(const std::vector<ChunkSlots>& layout);

/// What one pipeline stage (one device of the pp group) holds over all its model chunks.
struct StageLoad {
  int layers = 0;  ///< transformer layers, MTP modules included
  int mtp_layers = 0;
  bool embedding = false;
  bool loss = false;
};

/// How the devices split the work. dp follows from the device count: devices / (tp pp cp).
struct ParallelPlan {
  int tp = 1;
  int pp = 1;
  int vpp = 1;  ///< virtual stages (model chunks) per pipeline stage: interleaved 1F1B when > 1
  int cp = 1;   ///< context parallelism (ring attention)
  int ep = 1;   ///< expert parallelism, inside the data-parallel group
  int dp = 1;
  bool sequence_parallel = false;
  int64_t micro_batch = 1;  ///< sequences per micro-batch
  Recompute recompute = Recompute::kNone;
  int zero_stage = 0;  ///< 0: plain data parallelism; 1-3: ZeRO stages (3 = FSDP)
  /// Uneven pipeline (Megatron --decoder-first/last-pipeline-num-layers): layers on the first
  /// and on the last stage, the rest split evenly over the others; nullopt: an even share.
  std::optional<int> first_stage_layers;
  std::optional<int> last_stage_layers;
  /// Megatron-Core's pipeline_model_parallel_layout (pp x vpp chunks); overrides the counts
  /// above. Empty: the embedding on the first stage, the loss on the last.
  std::vector<ChunkSlots> layout;
  /// ZeRO-Offload / FSDP CPUOffload: the fp32 master weights and Adam moments live in host
  /// memory and are streamed over the host link for the update.
  bool offload_optimizer = false;
  /// Megatron/TransformerEngine activation offloading: saved activations go to host memory in
  /// the forward and come back for the backward, overlapped with the compute.
  bool offload_activations = false;
};

/// Stage `stage` (0 .. pp-1) of `plan` for `model`; the plan must have passed plan_problem.
[[nodiscard]] StageLoad stage_load(const ModelSpec& model, const ParallelPlan& plan, int stage);

/// What is trained and how the software behaves, independent of the split.
struct TrainingJob {
  int64_t global_batch = 0;  ///< sequences per optimizer step
  int64_t seq_len = 0;
  /// How the GEMMs are quantized (core/recipe.hpp); weights are kept in bf16 in every recipe.
  PrecisionRecipe recipe = PrecisionRecipe::kBf16;
  bool fused_attention = true;   ///< FlashAttention; false: scores stored (Megatron-LM 2021)
  bool overlap_dp_comm = true;   ///< gradient reduction overlapped with the last backward pass
  bool overlap_tp_comm = false;  ///< tensor-parallel collectives overlapped with their GEMMs
  /// How data parallelism gathers, reduces and prefetches (from the stack, stack/stack.hpp).
  /// The default is Megatron's: bf16 gradients reduced once per step.
  DataParallelSpec data_parallel = megatron_data_parallel();
  /// The MoE token dispatcher and its host synchronisation; nullopt: all-to-all, no host sync.
  std::optional<MoeDispatchSpec> moe_dispatch;
  /// Tokens of the busiest expert over the mean (>= 1): the expert GEMMs and dispatch run at the
  /// pace of the most loaded rank. 1: perfectly balanced routing.
  double moe_load_imbalance = 1.0;
  /// LoRA fine-tuning (Hu et al. 2021): 0 trains every weight; r > 0 freezes the base weights
  /// and trains rank-r adapters on the attention projections (q, k, v, o). Frozen GEMMs skip
  /// their weight-gradient GEMM; only adapters carry gradients, optimizer state and reductions.
  int lora_rank = 0;

  /// Megatron's data parallelism: distributed optimizer semantics are set by the plan's ZeRO stage.
  [[nodiscard]] static DataParallelSpec megatron_data_parallel() {
    DataParallelSpec spec;
    spec.reduce_dtype = DType::kBf16;
    return spec;
  }
};

/// Where the time of a step goes, per device, on the slowest pipeline stage.
struct StepBreakdown {
  Seconds forward;          ///< compute of the forward passes (all micro-batches)
  Seconds backward;         ///< compute of the backward passes
  Seconds recompute;        ///< forward work repeated in the backward pass
  Seconds tp_comm;          ///< exposed tensor/sequence-parallel collectives
  Seconds cp_comm;          ///< exposed ring-attention key/value exchange
  Seconds ep_comm;          ///< expert-parallel all-to-all (dispatch and combine)
  Seconds pp_comm;          ///< pipeline point-to-point sends on the critical path
  Seconds pipeline_bubble;  ///< idle time of the pipeline fill and drain
  Seconds dp_comm;          ///< exposed gradient reduction / ZeRO gathers
  Seconds optimizer;        ///< Adam update of the parameters this device owns
  Seconds offload;          ///< exposed host-link transfers of offloaded states and activations
};

struct TrainingMemory {
  Bytes weights;
  Bytes gradients;
  Bytes optimizer_states;
  Bytes activations;
  Bytes comm_buffers;
  Bytes workspace;
  [[nodiscard]] Bytes total() const {
    return weights + gradients + optimizer_states + activations + comm_buffers + workspace;
  }
  Bytes host;     ///< offloaded to host memory (optimizer states, activations); not in total()
  int stage = 0;  ///< the pipeline stage these figures are for (the one that needs the most)
};

struct TrainingResult {
  Seconds step_time;
  StepBreakdown breakdown;
  double tokens_per_s = 0.0;             ///< all devices together
  double model_flops_per_step = 0.0;     ///< PaLM convention: 6N + 12 L H Q T per token
  double hardware_flops_per_step = 0.0;  ///< model FLOPs plus recomputation
  double model_tflops_per_device = 0.0;
  double mfu = 0.0;
  double hfu = 0.0;
  TrainingMemory memory;  ///< per device, on the stage that needs the most (memory.stage)
  int slowest_stage = 0;  ///< the pipeline stage that sets the pace
  Bytes memory_capacity;
  bool fits = false;
  int64_t micro_batches = 0;  ///< per data-parallel replica per step
};

/// Why `plan` cannot run `job` on `system` (degrees that do not divide the devices, the layers,
/// the heads or the batch, a tensor-parallel group larger than the scale-up domain, ...), or
/// nullopt when it can. Cheap: the search calls it before evaluating.
[[nodiscard]] std::optional<std::string> plan_problem(const ModelSpec& model,
                                                      const SystemSpec& system,
                                                      const TrainingJob& job,
                                                      const ParallelPlan& plan);

/// plan_problem(...) == nullopt, without building any message (the search's fast path).
[[nodiscard]] bool plan_is_valid(const ModelSpec& model, const SystemSpec& system,
                                 const TrainingJob& job, const ParallelPlan& plan);

/// One optimizer step. `plan` must have passed plan_problem. Allocates nothing.
[[nodiscard]] TrainingResult evaluate_training(const ModelSpec& model, const SystemSpec& system,
                                               const TrainingJob& job, const ParallelPlan& plan);

/// One layer and one micro-batch on one device, averaged over the model's layer kinds: what a
/// step costs before the pipeline, data-parallel and optimizer terms. It depends only on tp,
/// cp, ep, the micro-batch and sequence parallelism, so a search computes it once for all the
/// pipeline, ZeRO and recomputation choices that share them.
struct LayerCost {
  Seconds forward;
  Seconds backward;
  Seconds attention_forward;
  Seconds gemm_forward;
  Seconds tp_comm;        ///< forward; the backward has as many collectives
  Seconds cp_comm;        ///< forward key/value ring exchange, before overlap
  Seconds ep_comm;        ///< forward dispatch + combine (the backward has as many)
  Seconds moe_host_sync;  ///< the dispatcher's CPU-GPU synchronisation, forward and backward
  double moe_share = 0.0;
};

struct MicroBatchCost {
  LayerCost layer;
  Seconds head_forward;  ///< embedding, final norm, LM head
  Seconds head_backward;
  Seconds embedding_forward;  ///< the embedding's share of head_forward (the 'E' slot)
  Seconds embedding_backward;
  Seconds embedding_tp_forward;  ///< the vocabulary-parallel embedding's tp reduction
  Seconds head_tp_forward;       ///< the LM head input's tp gather (sp only)
  Seconds head_tp_backward;      ///< the LM head input gradient's tp reduction
};

/// One model chunk of one micro-batch on its stage, as the pipeline schedule runs it:
/// its layers with their exposed collectives, recomputation and activation offload, plus the
/// embedding and loss slots it holds.
struct ChunkTime {
  Seconds forward;
  Seconds backward;
};

/// Every chunk of `plan` (pp x vpp, in layout order: chunk k on stage k mod pp).
[[nodiscard]] std::vector<ChunkTime> chunk_times(const ModelSpec& model, const SystemSpec& system,
                                                 const TrainingJob& job, const ParallelPlan& plan,
                                                 const MicroBatchCost& costs);

[[nodiscard]] MicroBatchCost micro_batch_cost(const ModelSpec& model, const SystemSpec& system,
                                              const TrainingJob& job, const ParallelPlan& plan);

/// The step of `plan` given its micro-batch costs; evaluate_training =
/// finish_step(micro_batch_cost).
[[nodiscard]] TrainingResult finish_step(const ModelSpec& model, const SystemSpec& system,
                                         const TrainingJob& job, const ParallelPlan& plan,
                                         const MicroBatchCost& costs);

/// Activation bytes one layer keeps for the backward pass, for one micro-batch, per device
/// (Korthikanti et al. 2022, generalized to grouped-query attention and gated MLPs).
[[nodiscard]] Bytes layer_activation_bytes(const ModelSpec& model, const TrainingJob& job,
                                           const ParallelPlan& plan);

/// Megatron-LM's FLOP count per step (Narayanan et al. 2021, eq. 3, full recomputation):
/// 96 B s l h^2 (1 + s / 6h + V / 16 l h).
[[nodiscard]] double megatron_flops_per_step(const ModelSpec& model, int64_t global_batch,
                                             int64_t seq_len);

}  // namespace xpusim
