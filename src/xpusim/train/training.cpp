// One training step: per-layer costs from the operator model, collectives placed on the
// system's fabrics, the 1F1B pipeline schedule, data-parallel reduction and the optimizer.
// Every formula is in docs/model.md, "Training"; keep the two in step.

#include "xpusim/train/training.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/comm/group.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/cost/operators.hpp"

namespace xpusim {

std::string_view to_string(Recompute recompute) {
  switch (recompute) {
    case Recompute::kNone:
      return "none";
    case Recompute::kSelective:
      return "selective";
    case Recompute::kFull:
      return "full";
  }
  return "?";
}

std::optional<Recompute> parse_recompute(std::string_view name) {
  for (Recompute r : {Recompute::kNone, Recompute::kSelective, Recompute::kFull}) {
    if (to_string(r) == name) return r;
  }
  return std::nullopt;
}

namespace {

/// Mixed-precision Adam (Rajbhandari et al. 2020, ZeRO, section 3.1): bf16 weights and
/// gradients, fp32 master weights, momentum and variance.
constexpr double kWeightBytes = 2.0;
constexpr double kGradientBytes = 2.0;
constexpr double kOptimizerBytes = 12.0;
/// Bytes the Adam update moves per parameter it owns: reads master, m, v, gradient (fp32 main
/// gradient in Megatron) and writes master, m, v and the bf16 weight copy.
constexpr double kAdamBytesPerParameter = 4 * 4 + 3 * 4 + 2;
/// Megatron's default gradient-reduction bucket (40M parameters), double-buffered.
constexpr double kBucketParameters = 40e6;
constexpr double kBucketBytes = 2.0 * kBucketParameters * kGradientBytes;
/// Backward over forward time: two GEMMs per forward GEMM (input and weight gradients);
/// FlashAttention's backward does 2.5x the forward FLOPs (Dao 2023); elementwise kernels
/// read the gradient and their saved input and write one gradient.
constexpr double kGemmBackward = 2.0;
constexpr double kAttentionBackward = 2.5;
constexpr double kElementwiseBackward = 2.0;

bool is_gemm(OpKind kind) {
  switch (kind) {
    case OpKind::kQkvProjection:
    case OpKind::kOutProjection:
    case OpKind::kRouter:
    case OpKind::kMlpUp:
    case OpKind::kMlpDown:
    case OpKind::kExpertsUp:
    case OpKind::kExpertsDown:
    case OpKind::kLmHead:
      return true;
    case OpKind::kEmbedding:
    case OpKind::kNorm:
    case OpKind::kRotary:
    case OpKind::kAttention:
    case OpKind::kActivation:
    case OpKind::kTokenPermutation:
    case OpKind::kTensorParallelComm:
    case OpKind::kCount:
      return false;
  }
  return false;
}

/// `weight_gradients`: false for frozen weights (LoRA), whose GEMMs only propagate the input
/// gradient (one GEMM per forward GEMM instead of two).
Seconds backward_of(const PassCost& forward, bool weight_gradients = true) {
  Seconds total;
  for (std::size_t i = 0; i < kOpKindCount; ++i) {
    const auto kind = static_cast<OpKind>(i);
    if (kind == OpKind::kAttention && forward.attention_backward > Seconds(0.0)) {
      total += forward.attention_backward;  // the fused kernel's own backward rate
      continue;
    }
    const double gemm = weight_gradients ? kGemmBackward : 1.0;
    const double factor = is_gemm(kind)                ? gemm
                          : kind == OpKind::kAttention ? kAttentionBackward
                                                       : kElementwiseBackward;
    total += forward.by_op[i].time * factor;
  }
  return total;
}

Seconds op_time(const PassCost& pass, OpKind kind) {
  return pass.by_op[static_cast<std::size_t>(kind)].time;
}

/// Layer counts by kind, as fractions of all layers (the pipeline splits them evenly).
struct LayerMix {
  double share[2][2] = {{0, 0}, {0, 0}};  // [sliding][moe]
};

LayerMix layer_mix(const ModelSpec& m) {
  LayerMix mix;
  for (int64_t layer = 0; layer < m.layers; ++layer) {
    mix.share[m.layer_sliding[static_cast<std::size_t>(layer)] ? 1 : 0]
             [m.is_moe_layer(layer) ? 1 : 0] += 1.0;
  }
  for (auto& row : mix.share) {
    for (double& x : row) x /= static_cast<double>(m.layers);
  }
  return mix;
}

Deployment deployment_for(const ModelSpec& m, const TrainingJob& job, const ParallelPlan& plan) {
  Deployment d;
  d.tensor_parallel = plan.tp;
  d.weight_dtype = job.recipe == PrecisionRecipe::kBf16 ? DType::kBf16 : DType::kFp8;
  d.fp8_kind = gemm_kind(job.recipe);
  d.fused_attention = job.fused_attention;
  d.expert_parallel = plan.ep;
  d.expert_load_imbalance = job.moe_load_imbalance;
  d.dropout = m.dropout;
  return d;
}

/// A micro-batch's slice of the sequence under context parallelism: s/cp queries that attend,
/// load-balanced (zig-zag), to (s + 1) / 2 keys on average.
PassShape micro_batch_shape(const TrainingJob& job, const ParallelPlan& plan) {
  const int64_t local = job.seq_len / plan.cp;
  return {plan.micro_batch, local, plan.cp > 1 ? (job.seq_len - local) / 2 : 0};
}

/// Megatron's rank order, innermost first: tp, cp, dp (with ep inside it), pp. Gradient
/// reduction groups are placed where they are used (GradientGroups).
struct Placements {
  GroupPlacement tp, cp, ep, pp;
};

Placements place(const SystemSpec& s, const ParallelPlan& p) {
  return {place_group(p.tp, 1, s), place_group(p.cp, p.tp, s), place_group(p.ep, p.tp * p.cp, s),
          place_group(p.pp, p.tp * p.cp * p.dp, s)};
}

/// One MoE layer's forward token exchange over the expert-parallel group, dispatch and combine.
/// All-to-all (NCCL, DeepEP): each rank sends its T k routed copies; the busiest receiver, with
/// `moe_load_imbalance` times the mean, sets the pace. Under sequence parallelism a tp rank
/// holds T/tp of the tokens: it exchanges those, and the tp ranks, whose experts are split like
/// the dense MLP, all-gather what they received and reduce-scatter it back (Megatron-Core
/// MoEAlltoAllTokenDispatcher, gather_from_sequence_parallel_region over the tp group).
/// All-gather dispatcher: every rank gathers all ep x T tokens and reduce-scatters the outputs.
Seconds expert_exchange(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                        const ParallelPlan& plan, const Placements& groups, double tokens) {
  const GroupPlacement& ep = groups.ep;
  const double act = bytes_per_element(DType::kBf16);
  const double hidden = tokens * static_cast<double>(m.hidden) * act;
  const MoeDispatcher dispatcher =
      job.moe_dispatch ? job.moe_dispatch->dispatcher : MoeDispatcher::kAllToAll;
  switch (dispatcher) {
    case MoeDispatcher::kAllToAll:
    case MoeDispatcher::kDeepEp: {
      const Bytes routed(hidden * static_cast<double>(m.moe->experts_per_token) *
                         std::max(1.0, job.moe_load_imbalance));
      if (!plan.sequence_parallel || plan.tp == 1)
        return collective_time(Collective::kAllToAll, routed, ep, sys) * 2.0;
      const Seconds exchange = collective_time(Collective::kAllToAll, routed / plan.tp, ep, sys);
      const Seconds within_tp = collective_time(Collective::kAllGather, routed, groups.tp, sys) +
                                collective_time(Collective::kReduceScatter, routed, groups.tp, sys);
      return exchange * 2.0 + within_tp;
    }
    case MoeDispatcher::kAllGather: {
      const Bytes gathered(hidden * ep.ranks);
      return collective_time(Collective::kAllGather, gathered, ep, sys) +
             collective_time(Collective::kReduceScatter, gathered, ep, sys);
    }
  }
  return Seconds(0.0);
}

LayerCost layer_cost(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                     const ParallelPlan& plan, const Placements& groups) {
  const Deployment d = deployment_for(m, job, plan);
  const PassShape shape = micro_batch_shape(job, plan);
  const LayerMix mix = layer_mix(m);
  LayerCost cost;
  for (int sliding = 0; sliding < 2; ++sliding) {
    for (int moe = 0; moe < 2; ++moe) {
      const double share = mix.share[sliding][moe];
      if (share == 0.0) continue;
      const PassCost f = cost_layer_forward(m, sys.accelerator, d, shape, sliding == 1, moe == 1);
      cost.forward += f.time * share;
      cost.backward += backward_of(f, job.lora_rank == 0) * share;
      cost.attention_forward += op_time(f, OpKind::kAttention) * share;
      Seconds gemms;
      for (std::size_t i = 0; i < kOpKindCount; ++i) {
        if (is_gemm(static_cast<OpKind>(i))) gemms += f.by_op[i].time;
      }
      cost.gemm_forward += gemms * share;
      if (moe == 1) cost.moe_share += share;
    }
  }
  const double tokens = static_cast<double>(shape.sequences * shape.new_tokens);
  const double act = bytes_per_element(DType::kBf16);
  const Bytes hidden(tokens * static_cast<double>(m.hidden) * act);
  // Two collectives per layer (after attention and after the MLP; one with a parallel
  // residual). Sequence parallelism replaces each all-reduce by a reduce-scatter and an
  // all-gather of the same total volume.
  const double collectives = m.parallel_residual ? 1.0 : 2.0;
  const Seconds one = plan.sequence_parallel
                          ? collective_time(Collective::kReduceScatter, hidden, groups.tp, sys) +
                                collective_time(Collective::kAllGather, hidden, groups.tp, sys)
                          : collective_time(Collective::kAllReduce, hidden, groups.tp, sys);
  cost.tp_comm = one * collectives;
  if (job.overlap_tp_comm) cost.tp_comm = max(Seconds(0.0), cost.tp_comm - cost.gemm_forward);
  if (plan.cp > 1) {
    // Ring attention passes each rank's key/value chunk around the cp ranks.
    const double kv_width =
        m.mla ? static_cast<double>(m.mla->kv_lora_rank + m.mla->qk_rope_head_dim)
              : static_cast<double>(2 * std::max<int64_t>(1, m.kv_heads / plan.tp) * m.head_dim);
    const Bytes chunk(tokens * kv_width * act);
    cost.cp_comm = collective_time(Collective::kPointToPoint, chunk, groups.cp, sys) *
                   static_cast<double>(plan.cp - 1);
  }
  if (m.moe && plan.ep > 1)
    cost.ep_comm = expert_exchange(m, sys, job, plan, groups, tokens) * cost.moe_share;
  if (m.moe && job.moe_dispatch)
    cost.moe_host_sync = job.moe_dispatch->host_sync_per_layer * cost.moe_share;
  return cost;
}

/// Parameters one device holds for its pipeline stage before ZeRO sharding.
struct StageParameters {
  double total = 0.0;   ///< the stage's layers, plus its embedding and LM head slots
  double expert = 0.0;  ///< of which the routed-expert weights (replicated over dp cp / ep)
  double max() const { return total; }
  double dense() const { return total - expert; }
};

/// Replicas that share a parameter and reduce its gradient: Megatron reduces dense gradients
/// over dp x cp, and expert gradients over the dp x cp / ep ranks that hold the same experts.
struct GradientGroups {
  double dense;
  double expert;
};

GradientGroups gradient_groups(const ParallelPlan& p) {
  const double replicas = static_cast<double>(p.dp) * p.cp;
  return {replicas, replicas / p.ep};
}

/// Share of a GPU's compute units that a collective kernel holds while it overlaps compute, so
/// that the overlapped kernels run that much slower. Measured case: NCCL's all-gather launched
/// 24 thread blocks on a 132-SM H100 during an FSDP-style prefetch (NVIDIA developer forum,
/// "Compute-Communication Overlap Causes Severe GEMM Performance Degradation because of Tail
/// Effect", 2025; the GEMM fell from ~80% to ~47% MFU there through a second, mostly idle wave).
/// xpusim charges the SM share alone (24 / compute units), not that worst-case tail: an estimate
/// resting on that one measurement, applied to every GPU with its own unit count. TPUs, Gaudi
/// and Neuron move collectives with DMA engines and on-chip NICs: 0 (estimate).
constexpr double kCollectiveThreadBlocks = 24.0;

double collective_compute_share(const AcceleratorSpec& hw) {
  const auto family = architecture_family(hw.vendor, hw.architecture);
  if (family == ArchitectureFamily::kGoogleTpu || family == ArchitectureFamily::kIntelGaudi ||
      family == ArchitectureFamily::kAwsNeuron || hw.compute_units <= 0)
    return 0.0;
  return std::min(0.5, kCollectiveThreadBlocks / hw.compute_units);
}

/// How ZeRO-3 / FSDP runs: from the job's data-parallel spec when it shards parameters, else the
/// common ZeRO-3 schedule (DeepSpeed ZeRO-3 and FSDP2 defaults): weights freed after the forward
/// and gathered again for the backward, gradients reduce-scattered every micro-batch, the next
/// layer prefetched.
struct FsdpSchedule {
  bool reshard_after_forward = true;
  bool reduce_per_micro_batch = true;
  double reduce_bytes = 2.0;  ///< per gradient element
  double gather_bytes = 2.0;  ///< per weight element gathered (bf16, or fp8)
  int prefetch_layers = 1;
};

FsdpSchedule fsdp_schedule(const TrainingJob& job) {
  FsdpSchedule s;
  const DataParallelSpec& dp = job.data_parallel;
  s.reduce_bytes = bytes_per_element(dp.reduce_dtype);
  if (!shards_parameters(dp.sharding)) return s;
  s.reshard_after_forward = dp.reshard_after_forward;
  s.reduce_per_micro_batch = dp.gradient_reduce == GradientReduce::kPerMicroBatch;
  s.prefetch_layers = dp.prefetch_layers;
  // torchao gathers fp8 weights (with one scale per tensor) for tensorwise fp8 recipes only.
  const bool tensorwise =
      job.recipe == PrecisionRecipe::kFp8Delayed || job.recipe == PrecisionRecipe::kFp8Current;
  if (dp.fp8_all_gather && tensorwise) s.gather_bytes = 1.0;
  return s;
}

/// One pass (forward or backward) over a run of n identical FSDP units: each computes for
/// `compute` while the communication stream moves `comm` (its gathers and reduce-scatters, one
/// collective at a time). With prefetch the collective of the next unit runs under this unit's
/// compute, which it slows by the compute share it holds: a steady slot s = max(P + f C, C).
/// `edge` cannot hide at all: the first gather of the forward, the first gather and the last
/// reduce-scatter of the backward. Without prefetch (or overlap) every collective waits.
struct FsdpPass {
  Seconds compute;
  Seconds comm;
  Seconds edge;
  double contention = 0.0;
  bool overlapped = true;

  /// Time of n units beyond their compute: n (s - P) + max(0, edge - (s - P)).
  [[nodiscard]] Seconds exposed(int n) const {
    if (n <= 0 || comm <= Seconds(0.0)) return Seconds(0.0);
    if (!overlapped) return comm * n;
    const Seconds per = max(compute + comm * contention, comm) - compute;
    return per * n + max(Seconds(0.0), edge - per);
  }
};

/// An FSDP unit's passes: its backward reduces its gradients (`backward`) or, under a per-step
/// reduction, keeps them local on all micro-batches but the last (`backward_kept`).
struct FsdpUnit {
  FsdpPass forward, backward, backward_kept;
};

/// The collectives of one FSDP unit of `dense` + `expert` parameters per device (before
/// sharding): the dense part over the dp x cp replicas, the routed experts over dp x cp / ep.
struct FsdpComm {
  Seconds gather, reduce;
};

FsdpComm fsdp_comm(const SystemSpec& sys, const ParallelPlan& p, const FsdpSchedule& sched,
                   double dense, double expert) {
  const GradientGroups replicas = gradient_groups(p);
  const GroupPlacement dense_group = place_group(static_cast<int>(replicas.dense), p.tp, sys);
  const GroupPlacement expert_group =
      place_group(static_cast<int>(replicas.expert), p.tp * p.ep, sys);
  FsdpComm c;
  c.gather =
      collective_time(Collective::kAllGather, Bytes(dense * sched.gather_bytes), dense_group, sys) +
      collective_time(Collective::kAllGather, Bytes(expert * sched.gather_bytes), expert_group,
                      sys);
  c.reduce = collective_time(Collective::kReduceScatter, Bytes(dense * sched.reduce_bytes),
                             dense_group, sys) +
             collective_time(Collective::kReduceScatter, Bytes(expert * sched.reduce_bytes),
                             expert_group, sys);
  return c;
}

/// A unit computing `forward` and `backward` per micro-batch with collectives `c`. `edges`: a run
/// of layers, whose first forward gather, first backward gather and last reduce-scatter have
/// nothing to hide under; a slot unit (embedding, loss) hides like any steady layer.
FsdpUnit fsdp_unit(const FsdpComm& c, const FsdpSchedule& sched, Seconds forward, Seconds backward,
                   double contention, bool overlapped, bool edges) {
  const Seconds zero;
  const Seconds regather = sched.reshard_after_forward ? c.gather : zero;
  FsdpUnit u;
  u.forward = {forward, c.gather, edges ? c.gather : zero, contention, overlapped};
  u.backward = {backward, regather + c.reduce, edges ? regather + c.reduce : zero, contention,
                overlapped};
  u.backward_kept = {backward, regather, edges ? regather : zero, contention, overlapped};
  if (sched.reduce_per_micro_batch) u.backward_kept = u.backward;
  return u;
}

/// A device's parameters per transformer layer and per slot, before ZeRO sharding.
struct ParameterShares {
  double per_layer = 0.0;         ///< dense and expert weights of one layer, split over tp (ep)
  double expert_per_layer = 0.0;  ///< of which routed experts
  double embedding = 0.0;         ///< the 'E' slot
  double lm_head = 0.0;           ///< the 'L' slot (the embedding again when tied)
};

ParameterShares parameter_shares(const ModelSpec& m, const ParallelPlan& p) {
  const ParameterCount count = count_parameters(m);
  const double layers_total = static_cast<double>(count.total - count.embedding - count.lm_head);
  double expert = 0.0;  // routed-expert weights, split over ep as well as tp
  if (m.moe) {
    const double one =
        static_cast<double>((m.mlp == MlpKind::kGated ? 3 : 2) * m.hidden * m.moe->expert_ffn_dim);
    expert = one * static_cast<double>(m.moe->num_experts * m.moe_layers());
  }
  const double layers = static_cast<double>(m.layers);
  ParameterShares shares;
  shares.per_layer = ((layers_total - expert) / p.tp + expert / (p.tp * p.ep)) / layers;
  shares.expert_per_layer = expert / (p.tp * p.ep) / layers;
  shares.embedding = static_cast<double>(count.embedding) / p.tp;
  shares.lm_head = static_cast<double>(m.tied_embeddings ? count.embedding : count.lm_head) / p.tp;
  return shares;
}

StageParameters parameters_of(const ParameterShares& shares, const StageLoad& load,
                              bool tied_embeddings) {
  StageParameters s;
  s.expert = shares.expert_per_layer * load.layers;
  s.total = shares.per_layer * load.layers;
  if (load.embedding) s.total += shares.embedding;
  // A tied LM head on the embedding's own stage shares its weights.
  if (load.loss && !(tied_embeddings && load.embedding)) s.total += shares.lm_head;
  return s;
}

/// LoRA adapters one device holds per transformer layer: rank-r A (r x in) and B (out x r) on
/// the q, k, v and o projections, split over tp with their projections.
double lora_parameters_per_layer(const ModelSpec& m, int rank, int tp) {
  const double h = static_cast<double>(m.hidden);
  const double q = static_cast<double>(m.heads * m.head_dim);
  const double kv = static_cast<double>(m.kv_heads * m.head_dim);
  return rank * ((h + q) + 2.0 * (h + kv) + (q + h)) / tp;
}

/// The parameters whose gradients are reduced and whose optimizer state is kept: every
/// parameter, or under LoRA the stage's adapters only (dense: replicated over dp x cp).
StageParameters trainable_parameters(const ModelSpec& m, const TrainingJob& job,
                                     const ParallelPlan& p, const StageParameters& params,
                                     const StageLoad& load) {
  if (job.lora_rank == 0) return params;
  return {lora_parameters_per_layer(m, job.lora_rank, p.tp) * load.layers, 0.0};
}

/// The heaviest stage's parameters (the one whose gradient reduction and update take longest).
StageParameters stage_parameters(const ModelSpec& m, const ParallelPlan& p,
                                 const ParameterShares& shares) {
  StageParameters heaviest;
  for (int stage = 0; stage < p.pp; ++stage) {
    const StageParameters s = parameters_of(shares, stage_load(m, p, stage), m.tied_embeddings);
    if (s.total > heaviest.total) heaviest = s;
  }
  return heaviest;
}

/// Micro-batches whose activations stage `stage` holds at the peak of Megatron's schedule:
/// pp - stage under 1F1B; under the interleaved schedule its warm-up chunks plus one, in
/// micro-batches (pp + (pp - 1)/vpp on the first stage: Korthikanti et al. 2022, section 4.2.3).
double in_flight(const ParallelPlan& p, int stage, int64_t micro_batches) {
  if (p.vpp == 1) return static_cast<double>(std::min<int64_t>(micro_batches, p.pp - stage));
  const int64_t chunks =
      std::min<int64_t>(micro_batches * p.vpp, 2 * (p.pp - stage - 1) + (p.vpp - 1) * p.pp + 1);
  return static_cast<double>(chunks) / p.vpp;
}

/// Bytes of activations one layer keeps per micro-batch: the full set, or under full
/// recomputation its input only (what activation offloading moves to the host).
double kept_per_layer(const ModelSpec& m, const TrainingJob& job, const ParallelPlan& p) {
  if (p.recompute != Recompute::kFull) return layer_activation_bytes(m, job, p).value();
  const double tokens = static_cast<double>(p.micro_batch * job.seq_len / p.cp);
  return tokens * static_cast<double>(m.hidden) * 2.0 / (p.sequence_parallel ? p.tp : 1);
}

/// A layer's activations per micro-batch: the full set and what is kept until the backward.
struct LayerActivations {
  double full = 0.0;
  double kept = 0.0;
};

TrainingMemory stage_memory(const ModelSpec& m, const TrainingJob& job, const ParallelPlan& p,
                            const ParameterShares& shares, const LayerActivations& act, int stage,
                            int64_t micro_batches) {
  const StageLoad load = stage_load(m, p, stage);
  const StageParameters params = parameters_of(shares, load, m.tied_embeddings);
  const GradientGroups replicas = gradient_groups(p);
  // Parameters' worth of state per device once sharded over their replicas.
  const double sharded = params.dense() / replicas.dense + params.expert / replicas.expert;
  const StageParameters trained = trainable_parameters(m, job, p, params, load);
  const double trained_sharded =
      trained.dense() / replicas.dense + trained.expert / replicas.expert;
  TrainingMemory mem;
  mem.stage = stage;
  const double weight_bytes = kWeightBytes + (job.recipe == PrecisionRecipe::kBf16 ? 0.0 : 1.0);
  mem.weights = Bytes((p.zero_stage >= 3 ? sharded : params.max()) * weight_bytes);
  mem.gradients = Bytes((p.zero_stage >= 2 ? trained_sharded : trained.max()) * kGradientBytes);
  const FsdpSchedule fsdp = fsdp_schedule(job);
  // FSDP accumulating over micro-batches without reducing (a per-step reduction) keeps every
  // layer's unsharded gradient until the last micro-batch (FSDP2 set_requires_gradient_sync).
  if (p.zero_stage >= 3 && !fsdp.reduce_per_micro_batch && micro_batches > 1)
    mem.gradients = Bytes(trained.max() * kGradientBytes);
  if (job.lora_rank > 0) mem.weights += Bytes(trained.max() * kWeightBytes);
  mem.optimizer_states =
      Bytes((p.zero_stage >= 1 ? trained_sharded : trained.max()) * kOptimizerBytes);
  if (p.offload_optimizer) std::swap(mem.host, mem.optimizer_states);

  const double layers = static_cast<double>(load.layers);
  const double tokens = static_cast<double>(p.micro_batch * job.seq_len / p.cp);
  const double hidden = tokens * static_cast<double>(m.hidden) * 2.0;
  const double per_layer = act.full;
  const double kept = act.kept * layers * in_flight(p, stage, micro_batches);
  // Under full recomputation one layer's full set is rebuilt at a time.
  const double rebuilt = p.recompute == Recompute::kFull && load.layers > 0 ? per_layer : 0.0;
  double activations = kept + rebuilt;
  if (p.offload_activations && load.layers > 0) {
    // Two layers stay on the device: the one being sent or fetched and the one in use.
    const double resident = std::min(kept, 2.0 * act.kept) + rebuilt;
    mem.host += Bytes(activations - resident);
    activations = resident;
  }
  // fp32 logits of the micro-batch for the loss.
  if (load.loss) activations += tokens * static_cast<double>(m.vocab) / p.tp * 4.0;
  mem.activations = Bytes(activations);
  mem.comm_buffers = Bytes(kBucketBytes + 2.0 * hidden);
  if (p.zero_stage >= 3) {
    // FSDP holds the layer in use and the prefetched ones gathered, and one layer's unsharded
    // gradient in the reduce type for its reduce-scatter.
    const double layer_params = load.layers > 0 ? shares.per_layer : params.max();
    const double gathered = 1.0 + std::max(0, fsdp.prefetch_layers);
    mem.comm_buffers += Bytes(layer_params * (gathered * fsdp.gather_bytes + fsdp.reduce_bytes));
  }
  mem.workspace = kRuntimeWorkspace;
  return mem;
}

/// The stage that needs the most device memory, with its figures.
TrainingMemory memory_of(const ModelSpec& m, const TrainingJob& job, const ParallelPlan& p,
                         const ParameterShares& shares, int64_t micro_batches) {
  const LayerActivations act{layer_activation_bytes(m, job, p).value(), kept_per_layer(m, job, p)};
  TrainingMemory worst;
  for (int stage = 0; stage < p.pp; ++stage) {
    const TrainingMemory mem = stage_memory(m, job, p, shares, act, stage, micro_batches);
    if (stage == 0 || mem.total() > worst.total()) worst = mem;
  }
  return worst;
}

}  // namespace

namespace {

/// Layers of pipeline stage `stage` without a layout: Megatron's first and last stage counts,
/// the rest split evenly over the other stages.
int stage_layers(const ModelSpec& m, const ParallelPlan& p, int stage) {
  const bool first = p.first_stage_layers.has_value();
  const bool last = p.last_stage_layers.has_value();
  if (p.pp == 1) return static_cast<int>(m.layers);
  if (stage == 0 && first) return *p.first_stage_layers;
  if (stage == p.pp - 1 && last) return *p.last_stage_layers;
  const int others = p.pp - (first ? 1 : 0) - (last ? 1 : 0);
  const int64_t rest =
      m.layers - p.first_stage_layers.value_or(0) - p.last_stage_layers.value_or(0);
  return static_cast<int>(rest / others);
}

/// Chunk `k` of the pp x vpp chunks (on stage k mod pp, as its model chunk k / pp).
ChunkSlots chunk_slots(const ModelSpec& m, const ParallelPlan& p, int k) {
  if (!p.layout.empty()) return p.layout[static_cast<std::size_t>(k)];
  const int chunks = p.pp * p.vpp;
  return {stage_layers(m, p, k % p.pp) / p.vpp, k == 0, k == chunks - 1};
}

}  // namespace

StageLoad stage_load(const ModelSpec& m, const ParallelPlan& p, int stage) {
  StageLoad load;
  for (int v = 0; v < p.vpp; ++v) {
    const ChunkSlots c = chunk_slots(m, p, stage + v * p.pp);
    load.layers += c.layers + c.mtp_layers;
    load.mtp_layers += c.mtp_layers;
    load.embedding = load.embedding || c.embedding;
    load.loss = load.loss || c.loss;
  }
  return load;
}

namespace {

[[noreturn]] void layout_error(std::string_view layout, std::size_t at, const std::string& what) {
  throw Error(Error::Kind::kInput,
              fmt::format("pipeline layout '{}': at character {}: {}", layout, at + 1, what));
}

/// Expands "(...)*n" and "X*n" into a flat run of 'E', 't', 'm', 'L' and '|' (recursive descent).
class LayoutExpander {
 public:
  explicit LayoutExpander(std::string_view text) : text_(text) {}
  std::string expand() {
    std::string out = sequence();
    if (pos_ < text_.size()) layout_error(text_, pos_, "unmatched ')'");
    return out;
  }

 private:
  std::string sequence() {
    std::string out;
    while (pos_ < text_.size() && text_[pos_] != ')') {
      const char c = text_[pos_];
      if (c == ',' || c == ' ') {
        ++pos_;
        continue;
      }
      std::string item;
      if (c == '(') {
        const std::size_t open = pos_++;
        item = sequence();
        if (pos_ >= text_.size()) layout_error(text_, open, "'(' is never closed");
        ++pos_;
      } else if (c == 'E' || c == 't' || c == 'm' || c == 'L' || c == '|') {
        item = std::string(1, c);
        ++pos_;
      } else {
        layout_error(text_, pos_,
                     fmt::format("unexpected '{}'; expected E, t, m, L, |, (, ), *n or ','", c));
      }
      const int64_t times = repeat();
      for (int64_t i = 0; i < times; ++i) out += item;
      if (out.size() > 1'000'000) layout_error(text_, pos_, "expands to over a million slots");
    }
    return out;
  }
  int64_t repeat() {
    if (pos_ >= text_.size() || text_[pos_] != '*') return 1;
    const std::size_t star = pos_++;
    int64_t n = 0;
    std::size_t digits = 0;
    while (pos_ < text_.size() && text_[pos_] >= '0' && text_[pos_] <= '9' && digits < 7) {
      n = n * 10 + (text_[pos_++] - '0');
      ++digits;
    }
    if (digits == 0) layout_error(text_, star, "'*' needs a count");
    return n;
  }

  std::string_view text_;
  std::size_t pos_ = 0;
};

}  // namespace

std::vector<ChunkSlots> parse_pipeline_layout(std::string_view layout) {
  const std::string flat = LayoutExpander(layout).expand();
  std::vector<ChunkSlots> chunks(1);
  for (char c : flat) {
    switch (c) {
      case '|':
        chunks.emplace_back();
        break;
      case 't':
        ++chunks.back().layers;
        break;
      case 'E':
        chunks.back().embedding = true;
        break;
      case 'L':
        chunks.back().loss = true;
        break;
      case 'm':
        ++chunks.back().mtp_layers;
        break;
      default:
        break;
    }
  }
  return chunks;
}

std::string to_string(const std::vector<ChunkSlots>& layout) {
  std::string out;
  for (std::size_t i = 0; i < layout.size(); ++i) {
    const ChunkSlots& c = layout[i];
    if (i > 0) out += '|';
    if (c.embedding) out += 'E';
    if (c.layers == 1) out += 't';
    if (c.layers > 1) out += fmt::format("t*{}", c.layers);
    if (c.mtp_layers == 1) out += 'm';
    if (c.mtp_layers > 1) out += fmt::format("m*{}", c.mtp_layers);
    if (c.loss) out += 'L';
  }
  return out;
}

Bytes layer_activation_bytes(const ModelSpec& m, const TrainingJob& job, const ParallelPlan& p) {
  // Korthikanti et al. 2022, section 4.1, for 16-bit activations: attention 11 s b h + 5 a s^2 b,
  // MLP 19 s b h, norms 4 s b h; generalized to kv heads and a (gated) MLP width f.
  const double s = static_cast<double>(job.seq_len / p.cp);
  const double b = static_cast<double>(p.micro_batch);
  const double h = static_cast<double>(m.hidden);
  const double t = p.tp;
  const double sp = p.sequence_parallel ? t : 1.0;  // tensors replicated across tp unless sp
  const double q = static_cast<double>(m.heads * m.qk_head_dim());
  const double kv =
      static_cast<double>(m.kv_heads) * static_cast<double>(m.qk_head_dim() + m.v_head_dim());
  double ffn = static_cast<double>(m.ffn_dim);
  if (m.moe)
    ffn = static_cast<double>(m.moe->experts_per_token * m.moe->expert_ffn_dim +
                              m.moe->shared_experts * m.moe->shared_ffn_dim);
  const double gate_up = (m.mlp == MlpKind::kGated ? 2.0 : 1.0) * ffn;
  const double dropout =
      m.dropout ? 1.0 : 0.0;  // a one-byte mask after attention and after the MLP
  double bytes = 0.0;
  bytes +=
      (2.0 * 2.0 * h + 2.0 * 2.0 * h + dropout * 2.0 * h) / sp;  // norm inputs, norm outputs, masks
  bytes += 2.0 * (q + kv + q) / t;                               // q, k, v and the attention output
  bytes += 2.0 * (gate_up + ffn) / t;  // activation input and down-projection input
  bytes *= s * b;
  const bool stored_scores = !job.fused_attention && p.recompute == Recompute::kNone;
  if (stored_scores) bytes += 5.0 * static_cast<double>(m.heads) * s * s * b / t;
  return Bytes(bytes);
}

double megatron_flops_per_step(const ModelSpec& m, int64_t global_batch, int64_t seq_len) {
  const double B = static_cast<double>(global_batch), s = static_cast<double>(seq_len);
  const double l = static_cast<double>(m.layers), h = static_cast<double>(m.hidden);
  const double V = static_cast<double>(m.vocab);
  return 96.0 * B * s * l * h * h * (1.0 + s / (6.0 * h) + V / (16.0 * l * h));
}

namespace {

/// The layers, embedding and loss of pipeline split `p`: a layout string, Megatron's first and
/// last stage counts, or an even split.
template <class Fail>
bool check_layout(const ModelSpec& m, const ParallelPlan& p, Fail fail) {
  const std::size_t chunks = static_cast<std::size_t>(p.pp) * p.vpp;
  if (p.first_stage_layers || p.last_stage_layers) {
    return fail([&] {
      return std::string("a pipeline layout replaces the first and last stage layer counts");
    });
  }
  if (p.layout.size() != chunks) {
    return fail([&] {
      return fmt::format("the pipeline layout has {} chunks; pp x vpp = {} needs {}",
                         p.layout.size(), chunks, chunks);
    });
  }
  int64_t layers = 0;
  int embeddings = 0, losses = 0;
  for (const ChunkSlots& c : p.layout) {
    layers += c.layers;
    embeddings += c.embedding ? 1 : 0;
    losses += c.loss ? 1 : 0;
  }
  if (layers != m.layers) {
    return fail([&] {
      return fmt::format("the pipeline layout holds {} layers; the model has {}", layers, m.layers);
    });
  }
  if (embeddings != 1 || !p.layout.front().embedding || losses != 1 || !p.layout.back().loss) {
    return fail([&] {
      return std::string(
          "the pipeline layout needs one embedding 'E', in the first chunk, and one loss 'L', in "
          "the last");
    });
  }
  return true;
}

template <class Fail>
bool check_pipeline_split(const ModelSpec& m, const ParallelPlan& p, Fail fail) {
  if (!p.layout.empty()) return check_layout(m, p, fail);
  if (!p.first_stage_layers && !p.last_stage_layers) {
    if (m.layers % (static_cast<int64_t>(p.pp) * p.vpp) == 0) return true;
    return fail([&] {
      return fmt::format("pp x vpp = {} does not divide the {} layers", p.pp * p.vpp, m.layers);
    });
  }
  if (p.pp < 2) {
    return fail([&] {
      return std::string("first and last stage layer counts need pipeline parallelism (pp > 1)");
    });
  }
  const int first = p.first_stage_layers.value_or(0);
  const int last = p.last_stage_layers.value_or(0);
  if ((p.first_stage_layers && first < 1) || (p.last_stage_layers && last < 1)) {
    return fail([&] {
      return fmt::format("first and last stage layer counts must be at least 1, got {} and {}",
                         first, last);
    });
  }
  const int others = p.pp - (p.first_stage_layers ? 1 : 0) - (p.last_stage_layers ? 1 : 0);
  const int64_t rest = m.layers - first - last;
  if (others == 0 ? rest != 0 : rest < others || rest % others != 0) {
    return fail([&] {
      return fmt::format(
          "{} layers less {} on the first and {} on the last stage do not split evenly over the "
          "other {} stages",
          m.layers, first, last, others);
    });
  }
  const int64_t middle = others > 0 ? rest / others : p.vpp;
  if (first % p.vpp != 0 || last % p.vpp != 0 || middle % p.vpp != 0) {
    return fail([&] {
      return fmt::format(
          "vpp {} does not divide every stage's layers ({} first, {} others, {} last)", p.vpp,
          first, middle, last);
    });
  }
  return true;
}

template <class Fail>
bool check_offload(const SystemSpec& sys, const ParallelPlan& p, Fail fail) {
  if (!(p.offload_optimizer || p.offload_activations) || sys.accelerator.host_link_bandwidth)
    return true;
  return fail([&] {
    return fmt::format(
        "offloading to host memory needs {}'s host-link bandwidth "
        "(host_link.bandwidth_bytes_per_s), which its file does not give",
        sys.accelerator.id);
  });
}

/// Checks every constraint; `fail(formatter)` is called with a lambda that builds the message,
/// so the search's fast path formats nothing.
template <class Fail>
bool check_plan(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                const ParallelPlan& p, Fail fail) {
  const int devices = sys.devices();
  if (p.tp < 1 || p.pp < 1 || p.vpp < 1 || p.cp < 1 || p.ep < 1 || p.dp < 1 || p.micro_batch < 1) {
    return fail([&] { return std::string("every degree and the micro-batch must be at least 1"); });
  }
  if (static_cast<int64_t>(p.tp) * p.pp * p.cp * p.dp != devices) {
    return fail([&] {
      return fmt::format("tp x pp x cp x dp = {} x {} x {} x {} must equal the {} devices", p.tp,
                         p.pp, p.cp, p.dp, devices);
    });
  }
  if (p.tp > sys.scale_up.domain_devices) {
    return fail([&] {
      return fmt::format("tp {} exceeds the scale-up domain of {} devices", p.tp,
                         sys.scale_up.domain_devices);
    });
  }
  if (m.heads % p.tp != 0)
    return fail(
        [&] { return fmt::format("tp {} does not divide the {} attention heads", p.tp, m.heads); });
  if (m.kv_heads >= p.tp && m.kv_heads % p.tp != 0) {
    return fail([&] {
      return fmt::format("tp {} does not divide the {} key/value heads", p.tp, m.kv_heads);
    });
  }
  const int64_t ffn = m.moe ? m.moe->expert_ffn_dim : m.ffn_dim;
  if (ffn % p.tp != 0)
    return fail([&] { return fmt::format("tp {} does not divide the MLP width {}", p.tp, ffn); });
  if (p.vpp > 1 && p.pp == 1)
    return fail([&] { return std::string("virtual stages need pipeline parallelism (pp > 1)"); });
  if (!check_pipeline_split(m, p, fail)) return false;
  if (!check_offload(sys, p, fail)) return false;
  if (p.cp > 1 && job.seq_len % (2 * p.cp) != 0) {
    return fail([&] {
      return fmt::format("cp {} needs a sequence length divisible by 2 cp, got {}", p.cp,
                         job.seq_len);
    });
  }
  if (p.ep > 1 && (!m.moe || m.moe->num_experts % p.ep != 0)) {
    return fail(
        [&] { return fmt::format("ep {} does not divide the model's number of experts", p.ep); });
  }
  if (p.ep > 1 && (p.dp * p.cp) % p.ep != 0)
    return fail([&] { return fmt::format("ep {} must divide dp x cp = {}", p.ep, p.dp * p.cp); });
  if (p.sequence_parallel && p.tp == 1)
    return fail([&] { return std::string("sequence parallelism needs tp > 1"); });
  if (p.zero_stage < 0 || p.zero_stage > 3)
    return fail([&] { return fmt::format("ZeRO stage {} is not 0-3", p.zero_stage); });
  if (job.global_batch % (static_cast<int64_t>(p.dp) * p.micro_batch) != 0) {
    return fail([&] {
      return fmt::format("the global batch {} does not split into dp {} x micro-batches of {}",
                         job.global_batch, p.dp, p.micro_batch);
    });
  }
  const int64_t micro_batches = job.global_batch / (static_cast<int64_t>(p.dp) * p.micro_batch);
  if (p.vpp > 1 && micro_batches % p.pp != 0) {
    return fail([&] {
      return fmt::format(
          "the interleaved schedule needs the {} micro-batches to be a multiple of pp {}",
          micro_batches, p.pp);
    });
  }
  return true;
}

}  // namespace

std::optional<std::string> plan_problem(const ModelSpec& m, const SystemSpec& sys,
                                        const TrainingJob& job, const ParallelPlan& p) {
  std::optional<std::string> why;
  check_plan(m, sys, job, p, [&](auto message) {
    why = message();
    return false;
  });
  return why;
}

bool plan_is_valid(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                   const ParallelPlan& p) {
  return check_plan(m, sys, job, p, [](auto) { return false; });
}

namespace {

/// The tensor-parallel collectives of the embedding and LM head slots (Megatron-LM
/// mpu/layers.py, model/language_model.py): the vocabulary-parallel embedding sums its shards
/// (an all-reduce of X, a reduce-scatter under sp) in the forward; the LM head copies its
/// input to every tp rank, so its backward all-reduces the input gradient (sp: an all-gather
/// forward, a reduce-scatter backward). The cross-entropy's T-element reductions are left out.
struct SlotCollectives {
  Seconds embedding_forward, loss_forward, loss_backward;
};

SlotCollectives slot_collectives(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                                 const ParallelPlan& p) {
  SlotCollectives c;
  if (p.tp == 1) return c;
  const PassShape shape = micro_batch_shape(job, p);
  const Bytes hidden(static_cast<double>(shape.sequences * shape.new_tokens * m.hidden) *
                     bytes_per_element(DType::kBf16));
  const GroupPlacement tp = place_group(p.tp, 1, sys);
  if (p.sequence_parallel) {
    c.embedding_forward = collective_time(Collective::kReduceScatter, hidden, tp, sys);
    c.loss_forward = collective_time(Collective::kAllGather, hidden, tp, sys);
    c.loss_backward = c.embedding_forward;
  } else {
    c.embedding_forward = collective_time(Collective::kAllReduce, hidden, tp, sys);
    c.loss_backward = c.embedding_forward;
  }
  return c;
}

}  // namespace

MicroBatchCost micro_batch_cost(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                                const ParallelPlan& p) {
  MicroBatchCost cost;
  cost.layer = layer_cost(m, sys, job, p, place(sys, p));
  const PassCost head = cost_embedding_and_head_forward(
      m, sys.accelerator, deployment_for(m, job, p), micro_batch_shape(job, p));
  cost.head_forward = head.time;
  cost.head_backward = backward_of(head, job.lora_rank == 0);
  cost.embedding_forward = op_time(head, OpKind::kEmbedding);
  cost.embedding_backward = cost.embedding_forward * kElementwiseBackward;
  const SlotCollectives slot_comm = slot_collectives(m, sys, job, p);
  cost.embedding_tp_forward = slot_comm.embedding_forward;
  cost.head_tp_forward = slot_comm.loss_forward;
  cost.head_tp_backward = slot_comm.loss_backward;
  return cost;
}

TrainingResult evaluate_training(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                                 const ParallelPlan& p) {
  return finish_step(m, sys, job, p, micro_batch_cost(m, sys, job, p));
}

namespace {

/// One micro-batch's times per transformer layer and per slot on a stage, as the pipeline runs
/// them (exposed collectives and recomputation included).
struct SlotTimes {
  Seconds layer_forward;                          ///< F_l + tp_l + cpF + ep_l
  Seconds layer_backward;                         ///< B_l + tp_l + cpB + ep_l + R_l
  Seconds recompute;                              ///< R_l
  Seconds cp_forward;                             ///< cpF
  Seconds cp_backward;                            ///< cpB
  Seconds embedding_forward, embedding_backward;  ///< the 'E' slot
  Seconds loss_forward, loss_backward;            ///< the 'L' slot: final norm, LM head, loss
  Seconds offload_per_layer;  ///< one layer's kept activations over the host link, one way
  /// ZeRO-3 / FSDP: a transformer layer's gathers and reduce-scatters, and the E and L slots'.
  FsdpUnit fsdp_layer, fsdp_embedding, fsdp_loss;
  bool tied_embeddings = false;  ///< the L slot shares the E slot's weights
};

/// The FSDP units of a stage: every transformer layer, and the embedding and loss slots (torchtitan
/// wraps each block, the embedding and the output as units). The layers' first and last
/// collectives are exposed; the slots' hide like a layer's steady ones (the output unit is not
/// resharded after the forward in torchtitan; the embedding's are few bytes next to a stage).
void fsdp_slot_times(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                     const ParallelPlan& p, SlotTimes& t) {
  const FsdpSchedule sched = fsdp_schedule(job);
  const ParameterShares shares = parameter_shares(m, p);
  const double f = collective_compute_share(sys.accelerator);
  const bool overlapped = job.overlap_dp_comm && sched.prefetch_layers >= 1;
  FsdpComm layer =
      fsdp_comm(sys, p, sched, shares.per_layer - shares.expert_per_layer, shares.expert_per_layer);
  FsdpComm embedding = fsdp_comm(sys, p, sched, shares.embedding, 0.0);
  FsdpComm loss = fsdp_comm(sys, p, sched, shares.lm_head, 0.0);
  if (job.lora_rank > 0) {
    // LoRA: the frozen base weights are gathered; only the adapters' gradients are reduced.
    layer.reduce =
        fsdp_comm(sys, p, sched, lora_parameters_per_layer(m, job.lora_rank, p.tp), 0.0).reduce;
    embedding.reduce = loss.reduce = Seconds(0.0);
  }
  t.fsdp_layer =
      fsdp_unit(layer, sched, t.layer_forward, t.layer_backward, f, overlapped, /*edges=*/true);
  t.fsdp_embedding = fsdp_unit(embedding, sched, t.embedding_forward, t.embedding_backward, f,
                               overlapped, /*edges=*/false);
  t.fsdp_loss =
      fsdp_unit(loss, sched, t.loss_forward, t.loss_backward, f, overlapped, /*edges=*/false);
  t.tied_embeddings = m.tied_embeddings;
}

SlotTimes slot_times(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                     const ParallelPlan& p, const MicroBatchCost& costs) {
  const LayerCost& layer = costs.layer;
  SlotTimes t;
  if (p.recompute == Recompute::kFull) t.recompute = layer.forward + layer.tp_comm;
  if (p.recompute == Recompute::kSelective && !job.fused_attention)
    t.recompute = layer.attention_forward;
  t.cp_forward = max(Seconds(0.0), layer.cp_comm - layer.attention_forward);
  t.cp_backward =
      max(Seconds(0.0), layer.cp_comm * 2.0 - layer.attention_forward * kAttentionBackward);
  // The dispatcher's host synchronisation (forward and backward together) is charged to the
  // forward, where the token counts are first read.
  t.layer_forward =
      layer.forward + layer.tp_comm + t.cp_forward + layer.ep_comm + layer.moe_host_sync;
  t.layer_backward = layer.backward + layer.tp_comm + t.cp_backward + layer.ep_comm + t.recompute;
  t.embedding_forward = costs.embedding_forward + costs.embedding_tp_forward;
  t.embedding_backward = costs.embedding_backward;
  t.loss_forward = costs.head_forward - costs.embedding_forward + costs.head_tp_forward;
  t.loss_backward = costs.head_backward - costs.embedding_backward + costs.head_tp_backward;
  if (p.offload_activations && sys.accelerator.host_link_bandwidth)
    t.offload_per_layer = Bytes(kept_per_layer(m, job, p)) / *sys.accelerator.host_link_bandwidth;
  if (p.zero_stage >= 3) fsdp_slot_times(m, sys, job, p, t);
  return t;
}

/// A chunk's forward and backward; its activations go to the host during the forward and come
/// back during the backward, hidden under each as far as they last.
struct ChunkCost {
  Seconds forward, backward, offload_exposed;
  Seconds dp_forward, dp_backward;  ///< ZeRO-3 / FSDP collectives not hidden, per micro-batch
  Seconds dp_once;  ///< once per step: the last micro-batch's gradient reduce-scatters
  [[nodiscard]] Seconds dp_exposed() const { return dp_forward + dp_backward; }
};

/// `n` units of `u` in a chunk: their exposed collectives per micro-batch, and the reduce-scatters
/// a per-step reduction adds on the last micro-batch.
void add_fsdp(ChunkCost& cost, const FsdpUnit& u, int n) {
  cost.dp_forward += u.forward.exposed(n);
  cost.dp_backward += u.backward_kept.exposed(n);
  cost.dp_once += u.backward.exposed(n) - u.backward_kept.exposed(n);
}

ChunkCost chunk_cost(const SlotTimes& t, const ChunkSlots& c) {
  ChunkCost cost;
  // An MTP module is one more transformer layer and one more pass through the head and loss.
  cost.forward = t.layer_forward * (c.layers + c.mtp_layers) + t.loss_forward * c.mtp_layers;
  cost.backward = t.layer_backward * (c.layers + c.mtp_layers) + t.loss_backward * c.mtp_layers;
  add_fsdp(cost, t.fsdp_layer, c.layers + c.mtp_layers);
  if (c.embedding) add_fsdp(cost, t.fsdp_embedding, 1);
  if (c.loss && !(t.tied_embeddings && c.embedding)) add_fsdp(cost, t.fsdp_loss, 1);
  if (c.embedding) {
    cost.forward += t.embedding_forward;
    cost.backward += t.embedding_backward;
  }
  if (c.loss) {
    cost.forward += t.loss_forward;
    cost.backward += t.loss_backward;
  }
  const Seconds transfer = t.offload_per_layer * c.layers;
  cost.offload_exposed =
      max(Seconds(0.0), transfer - cost.forward) + max(Seconds(0.0), transfer - cost.backward);
  return cost;
}

/// The pipeline's pace: the slowest stage's micro-batch (all its chunks) and the sum over
/// stages, from which the fill and drain follow.
struct PipelinePace {
  int slowest = 0;
  ChunkCost stage;  ///< of the slowest stage, per micro-batch
  Seconds sum;      ///< over all stages of their micro-batch time
  [[nodiscard]] Seconds slot() const {
    return stage.forward + stage.backward + stage.offload_exposed + stage.dp_exposed();
  }
};

PipelinePace pipeline_pace(const ModelSpec& m, const ParallelPlan& p, const SlotTimes& t) {
  PipelinePace pace;
  for (int s = 0; s < p.pp; ++s) {
    ChunkCost stage;
    for (int v = 0; v < p.vpp; ++v) {
      const ChunkCost c = chunk_cost(t, chunk_slots(m, p, s + v * p.pp));
      stage.forward += c.forward;
      stage.backward += c.backward;
      stage.offload_exposed += c.offload_exposed;
      stage.dp_forward += c.dp_forward;
      stage.dp_backward += c.dp_backward;
      stage.dp_once += c.dp_once;
    }
    const Seconds total =
        stage.forward + stage.backward + stage.offload_exposed + stage.dp_exposed();
    pace.sum += total;
    if (s == 0 || total > pace.slot()) {
      pace.slowest = s;
      pace.stage = stage;
    }
  }
  return pace;
}

}  // namespace

namespace {

/// ZeRO-Offload's states streamed through the device for the update: the fp32 master weights
/// and both moments of every owned parameter come in and go back over the host link, the two
/// directions at once; nothing of it overlaps the backward.
Seconds optimizer_offload_time(const SystemSpec& sys, const ParallelPlan& p, double owned) {
  if (!p.offload_optimizer || !sys.accelerator.host_link_bandwidth) return Seconds(0.0);
  return Bytes(owned * kOptimizerBytes) / *sys.accelerator.host_link_bandwidth;
}

}  // namespace

namespace {

/// Megatron all-reduces the gradient of a tied word embedding between the stage that holds
/// the embedding and the one that holds the LM head copy, after the backward and before the
/// optimizer (finalize_model_grads: _allreduce_word_embedding_grads); nothing when they are
/// one stage or the embedding is untied.
Seconds tied_embedding_sync(const ModelSpec& m, const SystemSpec& sys, const ParallelPlan& p,
                            const ParameterShares& shares) {
  // The embedding is on stage 0 and the loss on stage pp - 1 (plan_problem holds layouts to it).
  if (!m.tied_embeddings || p.pp == 1) return Seconds(0.0);
  const Bytes gradient(shares.embedding * kGradientBytes);
  const int stride = p.tp * p.cp * p.dp * (p.pp - 1);
  return collective_time(Collective::kAllReduce, gradient, place_group(2, stride, sys), sys);
}

}  // namespace

namespace {

/// A collective over `bytes` split into buckets of `bucket`: the whole, and its last bucket (the
/// one that cannot start before the pass it hides under ends).
struct Bucketed {
  Seconds whole, last;
};

Bucketed bucketed(Collective kind, double bytes, double bucket, const GroupPlacement& group,
                  const SystemSpec& sys) {
  return {collective_time(kind, Bytes(bytes), group, sys),
          collective_time(kind, Bytes(std::min(bytes, bucket)), group, sys)};
}

/// Exposed part of a bucketed collective hidden under `under`: what outlasts it, and never less
/// than its last bucket.
Seconds exposed_under(const Bucketed& c, Seconds under) {
  return max(c.last, c.whole - under);
}

/// ZeRO 0-2 once per step. DDP all-reduces the gradients under the last micro-batch's backward.
/// Megatron's distributed optimizer (ZeRO 1-2) reduce-scatters them there and all-gathers the
/// updated weights under the next step's first forward (overlap_grad_reduce and
/// overlap_param_gather, Megatron-Core distributed_data_parallel_config.py); each leaves its last
/// bucket exposed. Without overlap, all of it is exposed.
Seconds replicated_dp_exposed(const SystemSpec& sys, const TrainingJob& job, const ParallelPlan& p,
                              const StageParameters& params, const ChunkCost& stage) {
  const GradientGroups replicas = gradient_groups(p);
  const GroupPlacement dense = place_group(static_cast<int>(replicas.dense), p.tp, sys);
  const GroupPlacement expert = place_group(static_cast<int>(replicas.expert), p.tp * p.ep, sys);
  const double grad_bytes = bytes_per_element(job.data_parallel.reduce_dtype);
  const double bucket_params =
      job.data_parallel.bucket ? job.data_parallel.bucket->value() / grad_bytes : kBucketParameters;
  const Seconds backward = job.overlap_dp_comm ? stage.backward : Seconds(0.0);
  const Seconds forward = job.overlap_dp_comm ? stage.forward : Seconds(0.0);
  const auto over = [&](Collective kind, double bytes_per_param, Seconds under) {
    return exposed_under(bucketed(kind, params.dense() * bytes_per_param,
                                  bucket_params * bytes_per_param, dense, sys),
                         under) +
           exposed_under(bucketed(kind, params.expert * bytes_per_param,
                                  bucket_params * bytes_per_param, expert, sys),
                         under);
  };
  if (p.zero_stage == 0) return over(Collective::kAllReduce, grad_bytes, backward);
  return over(Collective::kReduceScatter, grad_bytes, backward) +
         over(Collective::kAllGather, kWeightBytes, forward);
}

}  // namespace

std::vector<ChunkTime> chunk_times(const ModelSpec& m, const SystemSpec& sys,
                                   const TrainingJob& job, const ParallelPlan& p,
                                   const MicroBatchCost& costs) {
  const SlotTimes t = slot_times(m, sys, job, p, costs);
  std::vector<ChunkTime> out;
  for (int k = 0; k < p.pp * p.vpp; ++k) {
    const ChunkCost c = chunk_cost(t, chunk_slots(m, p, k));
    const Seconds half = c.offload_exposed * 0.5;
    out.push_back({c.forward + c.dp_forward + half, c.backward + c.dp_backward + half});
  }
  return out;
}

TrainingResult finish_step(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                           const ParallelPlan& p, const MicroBatchCost& costs) {
  const Placements groups = place(sys, p);
  const LayerCost& layer = costs.layer;
  const int64_t micro_batches = job.global_batch / (static_cast<int64_t>(p.dp) * p.micro_batch);
  const double mb = static_cast<double>(micro_batches);

  const ParameterShares shares = parameter_shares(m, p);
  // The slowest stage sets the pipeline's pace; the others fill and drain around it.
  const SlotTimes slots = slot_times(m, sys, job, p, costs);
  const PipelinePace pace = pipeline_pace(m, p, slots);
  const StageLoad slow = stage_load(m, p, pace.slowest);
  const double layers = static_cast<double>(slow.layers);

  TrainingResult r;
  r.micro_batches = micro_batches;
  r.slowest_stage = pace.slowest;
  StepBreakdown& bd = r.breakdown;
  const Seconds zero;
  const double heads = (slow.loss ? 1.0 : 0.0) + slow.mtp_layers;  // loss passes on the stage
  bd.forward = (layer.forward * layers + (slow.embedding ? slots.embedding_forward : zero) +
                slots.loss_forward * heads) *
               mb;
  bd.backward = (layer.backward * layers + (slow.embedding ? slots.embedding_backward : zero) +
                 slots.loss_backward * heads) *
                mb;
  bd.recompute = slots.recompute * layers * mb;
  bd.tp_comm = layer.tp_comm * (2.0 * layers * mb);
  bd.cp_comm = (slots.cp_forward + slots.cp_backward) * layers * mb;
  bd.ep_comm = (layer.ep_comm * 2.0 + layer.moe_host_sync) * (layers * mb);
  bd.offload = pace.stage.offload_exposed * mb;
  // 1F1B: the other stages' micro-batch times of fill and drain ((pp - 1) slots when even),
  // shortened vpp-fold by interleaving.
  bd.pipeline_bubble = (pace.sum - pace.slot()) / static_cast<double>(p.vpp);
  if (p.pp > 1) {
    // Activations (split across tp by Megatron's scatter/gather) cross each stage boundary
    // once forward and once backward per micro-batch and model chunk.
    const PassShape shape = micro_batch_shape(job, p);
    const Bytes boundary(static_cast<double>(shape.sequences * shape.new_tokens * m.hidden) * 2.0 /
                         p.tp);
    const Seconds send = collective_time(Collective::kPointToPoint, boundary, groups.pp, sys);
    bd.pp_comm = send * (2.0 * (mb * p.vpp + p.pp - 1.0)) + tied_embedding_sync(m, sys, p, shares);
  }

  const StageParameters params = stage_parameters(m, p, shares);
  const StageParameters trained = trainable_parameters(m, job, p, params, slow);
  const GradientGroups replicas = gradient_groups(p);
  if (p.zero_stage >= 3) {
    // FSDP: every micro-batch's collectives are in the stage's pace; a per-step reduction adds
    // the last micro-batch's reduce-scatters once.
    bd.dp_comm = pace.stage.dp_exposed() * mb + pace.stage.dp_once;
  } else {
    bd.dp_comm = replicated_dp_exposed(sys, job, p, trained, pace.stage);
  }
  const double owned = p.zero_stage >= 1
                           ? trained.dense() / replicas.dense + trained.expert / replicas.expert
                           : trained.max();
  const AcceleratorSpec& hw = sys.accelerator;
  bd.optimizer = Bytes(owned * kAdamBytesPerParameter) /
                 (hw.memory_bandwidth * hw.efficiency.memory_bandwidth_fraction);

  bd.offload += optimizer_offload_time(sys, p, owned);

  r.step_time = (pace.stage.forward + pace.stage.backward) * mb + bd.offload + bd.pipeline_bubble +
                bd.pp_comm + bd.dp_comm + bd.optimizer;
  const double tokens = static_cast<double>(job.global_batch * job.seq_len);
  r.tokens_per_s = tokens / r.step_time.value();
  // PaLM (Chowdhery et al. 2022, appendix B): 6N + 12 L H Q T per token, attention over the
  // full sequence, i.e. 3x the forward FLOPs at T attended tokens.
  r.model_flops_per_step =
      3.0 * forward_flops_per_token(m, static_cast<double>(job.seq_len)) * tokens;
  // LoRA: the frozen weights' gradient GEMMs (as many FLOPs as the forward's GEMMs) are not run.
  if (job.lora_rank > 0) r.model_flops_per_step -= forward_flops_per_token(m, 0.0) * tokens;
  double repeated = 0.0;
  if (p.recompute == Recompute::kFull) repeated = r.model_flops_per_step / 3.0;
  if (p.recompute == Recompute::kSelective) {
    const double attention = forward_flops_per_token(m, static_cast<double>(job.seq_len)) -
                             forward_flops_per_token(m, 0.0);
    repeated = attention * tokens;
  }
  r.hardware_flops_per_step = r.model_flops_per_step + repeated;
  const double devices = sys.devices();
  const DType peak_dtype = job.recipe == PrecisionRecipe::kBf16 ? DType::kBf16 : DType::kFp8;
  const double peak = hw.peak(peak_dtype).value_or(*hw.peak(DType::kBf16)).value();
  r.model_tflops_per_device = r.model_flops_per_step / r.step_time.value() / devices / 1e12;
  r.mfu = r.model_flops_per_step / (r.step_time.value() * devices * peak);
  r.hfu = r.hardware_flops_per_step / (r.step_time.value() * devices * peak);
  r.memory = memory_of(m, job, p, shares, micro_batches);
  r.memory_capacity = hw.memory_capacity;
  r.fits = r.memory.total() <= hw.memory_capacity;
  return r;
}

}  // namespace xpusim
