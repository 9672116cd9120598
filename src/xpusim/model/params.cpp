// Parameter, KV-cache and FLOP counts of a ModelSpec. Formulas: docs/model.md, "Model".

#include <algorithm>

#include "xpusim/model/model.hpp"

namespace xpusim {

namespace {

int64_t norm_params(const ModelSpec& m, int64_t width) {
  return m.norm == NormKind::kRms ? width : 2 * width;
}

/// Weights of the matrix multiplies of one attention block (no biases, no norms).
int64_t attention_matmul_params(const ModelSpec& m) {
  if (m.mla) {
    const MlaSpec& a = *m.mla;
    const int64_t q = a.q_lora_rank > 0
                          ? m.hidden * a.q_lora_rank + a.q_lora_rank * m.heads * m.qk_head_dim()
                          : m.hidden * m.heads * m.qk_head_dim();
    const int64_t kv = m.hidden * (a.kv_lora_rank + a.qk_rope_head_dim) +
                       a.kv_lora_rank * m.heads * (a.qk_nope_head_dim + a.v_head_dim);
    return q + kv + m.heads * a.v_head_dim * m.hidden;
  }
  const int64_t q_and_out = 2 * m.hidden * m.heads * m.head_dim;
  const int64_t kv = 2 * m.hidden * m.kv_heads * m.head_dim;
  return q_and_out + kv;
}

/// Everything else of one attention block: biases, q/k norms, latent norms, sinks.
int64_t attention_other_params(const ModelSpec& m) {
  int64_t n = 0;
  if (m.qkv_bias) n += (m.heads + 2 * m.kv_heads) * m.head_dim;
  if (m.out_bias) n += m.hidden;
  if (m.qk_norm) n += 2 * m.head_dim;
  if (m.attention_sinks) n += m.heads;
  if (m.mla) n += m.mla->kv_lora_rank + m.mla->q_lora_rank;  // RMSNorms on the latents
  return n;
}

int64_t mlp_matmul_params(const ModelSpec& m, int64_t ffn) {
  return (m.mlp == MlpKind::kGated ? 3 : 2) * m.hidden * ffn;
}

int64_t mlp_bias_params(const ModelSpec& m, int64_t ffn) {
  return (m.mlp == MlpKind::kGated ? 2 * ffn : ffn) + m.hidden;
}

struct MoeLayerParams {
  int64_t router = 0;
  int64_t one_expert = 0;
  int64_t shared = 0;
};

MoeLayerParams moe_layer_params(const ModelSpec& m) {
  const MoeSpec& e = *m.moe;
  MoeLayerParams p;
  p.router = m.hidden * e.num_experts + (e.router_bias ? e.num_experts : 0);
  p.one_expert = mlp_matmul_params(m, e.expert_ffn_dim) +
                 (e.expert_bias ? mlp_bias_params(m, e.expert_ffn_dim) : 0);
  p.shared = e.shared_experts * mlp_matmul_params(m, e.shared_ffn_dim);
  return p;
}

int64_t dense_mlp_params(const ModelSpec& m) {
  return mlp_matmul_params(m, m.ffn_dim) + (m.mlp_bias ? mlp_bias_params(m, m.ffn_dim) : 0);
}

/// Matrix-multiply weights one token touches in one layer (MoE: router, top-k and shared experts).
double active_matmul_params_in_layer(const ModelSpec& m, int64_t layer) {
  double n = static_cast<double>(attention_matmul_params(m));
  if (!m.is_moe_layer(layer)) return n + static_cast<double>(mlp_matmul_params(m, m.ffn_dim));
  const MoeSpec& e = *m.moe;
  n += static_cast<double>(m.hidden * e.num_experts);
  n += static_cast<double>(e.experts_per_token * mlp_matmul_params(m, e.expert_ffn_dim));
  n += static_cast<double>(e.shared_experts * mlp_matmul_params(m, e.shared_ffn_dim));
  return n;
}

/// Attention-score FLOPs of one token in one layer attending to `attended` tokens (QK^T and AV).
double attention_score_flops(const ModelSpec& m, int64_t layer, double attended) {
  const bool sliding = m.layer_sliding[static_cast<std::size_t>(layer)];
  const double span =
      sliding ? std::min(attended, static_cast<double>(m.sliding_window)) : attended;
  return 2.0 * static_cast<double>(m.heads * (m.qk_head_dim() + m.v_head_dim())) * span;
}

}  // namespace

int64_t ModelSpec::sliding_layers() const {
  return std::count(layer_sliding.begin(), layer_sliding.end(), true);
}

ParameterCount count_parameters(const ModelSpec& m) {
  ParameterCount count;
  count.embedding = m.vocab * m.hidden;
  if (m.position == PositionKind::kLearned) {
    // OPT's learned positions carry an offset of 2 rows.
    count.embedding += (m.model_type == "opt" ? m.max_positions + 2 : m.max_positions) * m.hidden;
  }
  count.lm_head = m.tied_embeddings ? 0 : m.vocab * m.hidden + (m.lm_head_bias ? m.vocab : 0);

  const int64_t attention = attention_matmul_params(m) + attention_other_params(m);
  const int64_t norms = norm_params(m, m.hidden) * (m.separate_mlp_norm ? 2 : 1);
  const int64_t dense_layer = attention + norms + dense_mlp_params(m);
  int64_t layers_total = dense_layer * (m.layers - m.moe_layers());
  int64_t layers_active = layers_total;
  if (m.moe) {
    const MoeLayerParams p = moe_layer_params(m);
    const int64_t base = attention + norms + p.router + p.shared;
    layers_total += m.moe_layers() * (base + m.moe->num_experts * p.one_expert);
    layers_active += m.moe_layers() * (base + m.moe->experts_per_token * p.one_expert);
  }
  const int64_t rest = count.embedding + count.lm_head + norm_params(m, m.hidden);
  count.total = layers_total + rest;
  count.active_per_token = layers_active + rest;
  return count;
}

double kv_cache_elements_per_token(const ModelSpec& m) {
  if (m.mla) return static_cast<double>(m.layers * (m.mla->kv_lora_rank + m.mla->qk_rope_head_dim));
  return static_cast<double>(m.layers * 2 * m.kv_heads * m.head_dim);
}

double forward_flops_per_token(const ModelSpec& m, double attended_tokens) {
  double flops = 2.0 * static_cast<double>(m.hidden * m.vocab);  // LM head
  for (int64_t layer = 0; layer < m.layers; ++layer) {
    flops += 2.0 * active_matmul_params_in_layer(m, layer);
    flops += attention_score_flops(m, layer, attended_tokens);
  }
  return flops;
}

double training_flops_per_token(const ModelSpec& m, int64_t seq_len) {
  // Under a causal mask token i attends to i tokens: the mean over a sequence is (S + 1) / 2.
  const double mean_attended = (static_cast<double>(seq_len) + 1.0) / 2.0;
  return 3.0 * forward_flops_per_token(m, mean_attended);
}

double kv_elements_per_token_layer(const ModelSpec& m, int tp) {
  if (m.mla) return static_cast<double>(m.mla->kv_lora_rank + m.mla->qk_rope_head_dim);
  return static_cast<double>(2 * std::max<int64_t>(1, m.kv_heads / std::max(tp, 1)) * m.head_dim);
}

int64_t routed_expert_parameters(const ModelSpec& m) {
  if (!m.moe) return 0;
  return m.moe_layers() * m.moe->num_experts * moe_layer_params(m).one_expert;
}

int64_t tensor_parallel_mlp_width(const ModelSpec& m) {
  return m.moe ? m.moe->expert_ffn_dim : m.ffn_dim;
}

TensorParallelConflict tensor_parallel_conflict(const ModelSpec& m, int tp) {
  if (tp < 1 || m.heads % tp != 0) return TensorParallelConflict::kHeads;
  if (m.kv_heads >= tp && m.kv_heads % tp != 0) return TensorParallelConflict::kKvHeads;
  if (tensor_parallel_mlp_width(m) % tp != 0) return TensorParallelConflict::kMlpWidth;
  return TensorParallelConflict::kNone;
}

}  // namespace xpusim
