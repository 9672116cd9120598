// One training step: per-layer costs from the operator model, collectives placed on the
// system's fabrics, the 1F1B pipeline schedule, data-parallel reduction and the optimizer.
// Every formula is in docs/model.md, "Training"; keep the two in step.

#include "xpusim/train/training.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/comm/group.hpp"
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
constexpr double kBucketBytes = 2.0 * 40e6 * kGradientBytes;
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
    case OpKind::kTensorParallelComm:
    case OpKind::kCount:
      return false;
  }
  return false;
}

Seconds backward_of(const PassCost& forward) {
  Seconds total;
  for (std::size_t i = 0; i < kOpKindCount; ++i) {
    const auto kind = static_cast<OpKind>(i);
    if (kind == OpKind::kAttention && forward.attention_backward > Seconds(0.0)) {
      total += forward.attention_backward;  // the fused kernel's own backward rate
      continue;
    }
    const double factor = is_gemm(kind)                ? kGemmBackward
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
  d.weight_dtype = job.dtype == DType::kFp8 ? DType::kFp8 : DType::kBf16;
  d.fused_attention = job.fused_attention;
  d.expert_parallel = plan.ep;
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
      cost.backward += backward_of(f) * share;
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
  if (m.moe && plan.ep > 1) {
    const Bytes routed(tokens * static_cast<double>(m.moe->experts_per_token) *
                       static_cast<double>(m.hidden) * act);
    cost.ep_comm =
        collective_time(Collective::kAllToAll, routed, groups.ep, sys) * (2.0 * cost.moe_share);
  }
  return cost;
}

/// Parameters one device holds for its pipeline stage before ZeRO sharding.
struct StageParameters {
  double first = 0.0;   ///< stage with the embedding
  double last = 0.0;    ///< stage with the final norm and LM head
  double expert = 0.0;  ///< of either, the routed-expert weights (replicated over dp cp / ep)
  double max() const { return std::max(first, last); }
  double dense() const { return max() - expert; }
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

StageParameters stage_parameters(const ModelSpec& m, const ParallelPlan& p) {
  const ParameterCount count = count_parameters(m);
  const double layers_total = static_cast<double>(count.total - count.embedding - count.lm_head);
  double expert = 0.0;  // routed-expert weights, split over ep as well as tp
  if (m.moe) {
    const double one =
        static_cast<double>((m.mlp == MlpKind::kGated ? 3 : 2) * m.hidden * m.moe->expert_ffn_dim);
    expert = one * static_cast<double>(m.moe->num_experts * m.moe_layers());
  }
  const double per_stage = ((layers_total - expert) / p.tp + expert / (p.tp * p.ep)) / p.pp;
  StageParameters s;
  s.expert = expert / (p.tp * p.ep) / p.pp;
  s.first = per_stage + static_cast<double>(count.embedding) / p.tp;
  s.last =
      per_stage + static_cast<double>(m.tied_embeddings ? count.embedding : count.lm_head) / p.tp;
  if (p.pp == 1)
    s.first = s.last = per_stage + static_cast<double>(count.embedding + count.lm_head) / p.tp;
  return s;
}

TrainingMemory memory_of(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                         const ParallelPlan& p, int64_t micro_batches) {
  const StageParameters stage = stage_parameters(m, p);
  const double params = stage.max();
  const GradientGroups replicas = gradient_groups(p);
  // Parameters' worth of state per device once sharded over their replicas.
  const double sharded = stage.dense() / replicas.dense + stage.expert / replicas.expert;
  TrainingMemory mem;
  const double weight_bytes = kWeightBytes + (job.dtype == DType::kFp8 ? 1.0 : 0.0);
  mem.weights = Bytes((p.zero_stage >= 3 ? sharded : params) * weight_bytes);
  mem.gradients = Bytes((p.zero_stage >= 2 ? sharded : params) * kGradientBytes);
  mem.optimizer_states = Bytes((p.zero_stage >= 1 ? sharded : params) * kOptimizerBytes);

  // The first stage keeps the activations of pp micro-batches in flight under 1F1B; the
  // interleaved schedule adds (pp - 1) / (pp vpp) (Korthikanti et al. 2022, section 4.2.3).
  const double layers_per_stage = static_cast<double>(m.layers) / p.pp;
  const double in_flight = static_cast<double>(std::min<int64_t>(micro_batches, p.pp)) *
                           (p.vpp > 1 ? 1.0 + (p.pp - 1.0) / (p.pp * p.vpp) : 1.0);
  const double tokens = static_cast<double>(p.micro_batch * job.seq_len / p.cp);
  const double hidden = tokens * static_cast<double>(m.hidden) * 2.0;
  const double per_layer = layer_activation_bytes(m, job, p).value();
  double activations = 0.0;
  if (p.recompute == Recompute::kFull) {
    // Only each layer's input is kept; one layer's full set is rebuilt at a time.
    const double input = hidden / (p.sequence_parallel ? p.tp : 1);
    activations = layers_per_stage * in_flight * input + per_layer;
  } else {
    activations = layers_per_stage * in_flight * per_layer;
  }
  // fp32 logits of the micro-batch for the loss on the last stage.
  const double logits = tokens * static_cast<double>(m.vocab) / p.tp * 4.0;
  mem.activations = Bytes(activations + logits);
  mem.comm_buffers = Bytes(kBucketBytes + 2.0 * hidden);
  if (p.zero_stage >= 3) {
    // ZeRO-3 gathers a layer's weights before using them, prefetching the next one.
    const double layer_params = params / std::max(1.0, layers_per_stage);
    mem.comm_buffers += Bytes(2.0 * layer_params * kWeightBytes);
  }
  mem.workspace = kRuntimeWorkspace;
  (void)sys;
  return mem;
}

}  // namespace

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
  if (m.layers % (static_cast<int64_t>(p.pp) * p.vpp) != 0) {
    return fail([&] {
      return fmt::format("pp x vpp = {} does not divide the {} layers", p.pp * p.vpp, m.layers);
    });
  }
  if (p.vpp > 1 && p.pp == 1)
    return fail([&] { return std::string("virtual stages need pipeline parallelism (pp > 1)"); });
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

MicroBatchCost micro_batch_cost(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                                const ParallelPlan& p) {
  MicroBatchCost cost;
  cost.layer = layer_cost(m, sys, job, p, place(sys, p));
  const PassCost head = cost_embedding_and_head_forward(
      m, sys.accelerator, deployment_for(m, job, p), micro_batch_shape(job, p));
  cost.head_forward = head.time;
  cost.head_backward = backward_of(head);
  return cost;
}

TrainingResult evaluate_training(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                                 const ParallelPlan& p) {
  return finish_step(m, sys, job, p, micro_batch_cost(m, sys, job, p));
}

TrainingResult finish_step(const ModelSpec& m, const SystemSpec& sys, const TrainingJob& job,
                           const ParallelPlan& p, const MicroBatchCost& costs) {
  const Placements groups = place(sys, p);
  const LayerCost& layer = costs.layer;
  const int64_t micro_batches = job.global_batch / (static_cast<int64_t>(p.dp) * p.micro_batch);
  const double mb = static_cast<double>(micro_batches);
  const double layers_per_stage = static_cast<double>(m.layers) / p.pp;

  // The last stage carries the LM head and is the slowest; it sets the pipeline's pace.
  const Seconds head_forward = costs.head_forward;
  const Seconds head_backward = costs.head_backward;
  Seconds recompute_per_layer;
  if (p.recompute == Recompute::kFull) recompute_per_layer = layer.forward + layer.tp_comm;
  if (p.recompute == Recompute::kSelective && !job.fused_attention)
    recompute_per_layer = layer.attention_forward;
  const Seconds cp_exposed_f = max(Seconds(0.0), layer.cp_comm - layer.attention_forward);
  const Seconds cp_exposed_b =
      max(Seconds(0.0), layer.cp_comm * 2.0 - layer.attention_forward * kAttentionBackward);

  const Seconds f_stage =
      (layer.forward + layer.tp_comm + cp_exposed_f + layer.ep_comm) * layers_per_stage +
      head_forward;
  const Seconds b_stage =
      (layer.backward + layer.tp_comm + cp_exposed_b + layer.ep_comm + recompute_per_layer) *
          layers_per_stage +
      head_backward;

  TrainingResult r;
  r.micro_batches = micro_batches;
  StepBreakdown& bd = r.breakdown;
  bd.forward = (layer.forward * layers_per_stage + head_forward) * mb;
  bd.backward = (layer.backward * layers_per_stage + head_backward) * mb;
  bd.recompute = recompute_per_layer * layers_per_stage * mb;
  bd.tp_comm = layer.tp_comm * (2.0 * layers_per_stage * mb);
  bd.cp_comm = (cp_exposed_f + cp_exposed_b) * layers_per_stage * mb;
  bd.ep_comm = layer.ep_comm * (2.0 * layers_per_stage * mb);
  // 1F1B: pp - 1 micro-batch slots of fill and drain, shortened vpp-fold by interleaving.
  bd.pipeline_bubble = (f_stage + b_stage) * ((p.pp - 1.0) / p.vpp);
  if (p.pp > 1) {
    // Activations (split across tp by Megatron's scatter/gather) cross each stage boundary
    // once forward and once backward per micro-batch and model chunk.
    const PassShape shape = micro_batch_shape(job, p);
    const Bytes boundary(static_cast<double>(shape.sequences * shape.new_tokens * m.hidden) * 2.0 /
                         p.tp);
    const Seconds send = collective_time(Collective::kPointToPoint, boundary, groups.pp, sys);
    bd.pp_comm = send * (2.0 * (mb * p.vpp + p.pp - 1.0));
  }

  // Gradient reduction over the data-parallel group (ZeRO 1-2: reduce-scatter + all-gather
  // of the same volume; ZeRO 3 gathers the weights again for the forward and backward).
  const StageParameters params = stage_parameters(m, p);
  const GradientGroups replicas = gradient_groups(p);
  const GroupPlacement dense_group = place_group(static_cast<int>(replicas.dense), p.tp, sys);
  const GroupPlacement expert_group =
      place_group(static_cast<int>(replicas.expert), p.tp * p.ep, sys);
  Seconds dp_time = collective_time(Collective::kAllReduce, Bytes(params.dense() * kGradientBytes),
                                    dense_group, sys) +
                    collective_time(Collective::kAllReduce, Bytes(params.expert * kGradientBytes),
                                    expert_group, sys);
  if (p.zero_stage >= 3) {
    dp_time += (collective_time(Collective::kAllGather, Bytes(params.dense() * kWeightBytes),
                                dense_group, sys) +
                collective_time(Collective::kAllGather, Bytes(params.expert * kWeightBytes),
                                expert_group, sys)) *
               2.0;
  }
  const Seconds hidden_under = job.overlap_dp_comm ? b_stage : Seconds(0.0);
  bd.dp_comm = max(Seconds(0.0), dp_time - hidden_under);
  const double owned = p.zero_stage >= 1
                           ? params.dense() / replicas.dense + params.expert / replicas.expert
                           : params.max();
  const AcceleratorSpec& hw = sys.accelerator;
  bd.optimizer = Bytes(owned * kAdamBytesPerParameter) /
                 (hw.memory_bandwidth * hw.efficiency.memory_bandwidth_fraction);

  r.step_time =
      (f_stage + b_stage) * mb + bd.pipeline_bubble + bd.pp_comm + bd.dp_comm + bd.optimizer;
  const double tokens = static_cast<double>(job.global_batch * job.seq_len);
  r.tokens_per_s = tokens / r.step_time.value();
  // PaLM (Chowdhery et al. 2022, appendix B): 6N + 12 L H Q T per token, attention over the
  // full sequence, i.e. 3x the forward FLOPs at T attended tokens.
  r.model_flops_per_step =
      3.0 * forward_flops_per_token(m, static_cast<double>(job.seq_len)) * tokens;
  double repeated = 0.0;
  if (p.recompute == Recompute::kFull) repeated = r.model_flops_per_step / 3.0;
  if (p.recompute == Recompute::kSelective) {
    const double attention = forward_flops_per_token(m, static_cast<double>(job.seq_len)) -
                             forward_flops_per_token(m, 0.0);
    repeated = attention * tokens;
  }
  r.hardware_flops_per_step = r.model_flops_per_step + repeated;
  const double devices = sys.devices();
  const double peak = hw.peak(job.dtype).value_or(*hw.peak(DType::kBf16)).value();
  r.model_tflops_per_device = r.model_flops_per_step / r.step_time.value() / devices / 1e12;
  r.mfu = r.model_flops_per_step / (r.step_time.value() * devices * peak);
  r.hfu = r.hardware_flops_per_step / (r.step_time.value() * devices * peak);
  r.memory = memory_of(m, sys, job, p, micro_batches);
  r.memory_capacity = hw.memory_capacity;
  r.fits = r.memory.total() <= hw.memory_capacity;
  return r;
}

}  // namespace xpusim
