#pragma once
// A transformer language model as the cost model sees it, read from a Hugging Face config.json.

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

namespace xpusim {

enum class NormKind { kRms, kLayer };           ///< RMSNorm (weight) or LayerNorm (weight, bias)
enum class MlpKind { kGated, kPlain };          ///< SwiGLU-style (gate, up, down) or fc1/fc2
enum class PositionKind { kRotary, kLearned };  ///< RoPE or a learned position table

/// Mixture of experts in the MLP of some layers.
struct MoeSpec {
  int64_t num_experts = 0;        ///< routed experts
  int64_t experts_per_token = 0;  ///< top-k
  int64_t expert_ffn_dim = 0;     ///< intermediate size of one routed expert
  int64_t shared_experts = 0;     ///< always-active experts (DeepSeek), each of `shared_ffn_dim`
  int64_t shared_ffn_dim = 0;
  int64_t first_dense_layers = 0;  ///< leading layers with a dense MLP of ModelSpec::ffn_dim
  /// Every `layer_step`-th layer after those is MoE (Llama 4's interleave_moe_layer_step: layer
  /// i is MoE when (i + 1) % step == 0); the others have a dense MLP. 1: every layer.
  int64_t layer_step = 1;
  bool expert_bias = false;  ///< biases in the expert projections (gpt-oss)
  bool router_bias = false;  ///< bias (or score-correction bias) on the router
};

/// Multi-head latent attention (DeepSeek-V2/V3): low-rank compressed queries and keys/values.
struct MlaSpec {
  int64_t q_lora_rank = 0;  ///< 0: queries are projected directly
  int64_t kv_lora_rank = 0;
  int64_t qk_nope_head_dim = 0;
  int64_t qk_rope_head_dim = 0;
  int64_t v_head_dim = 0;
};

struct ModelSpec {
  std::string id;          ///< catalog id or file stem
  std::string model_type;  ///< Hugging Face model_type ("llama", "mixtral", ...)
  std::filesystem::path file;

  int64_t hidden = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
  int64_t ffn_dim = 0;  ///< dense MLP intermediate size
  int64_t vocab = 0;
  int64_t max_positions = 0;

  NormKind norm = NormKind::kRms;
  MlpKind mlp = MlpKind::kGated;
  PositionKind position = PositionKind::kRotary;
  bool tied_embeddings = false;
  bool qkv_bias = false;
  bool out_bias = false;
  bool mlp_bias = false;
  bool lm_head_bias = false;
  bool qk_norm = false;            ///< per-head RMSNorm on q and k (Qwen3)
  bool attention_sinks = false;    ///< one learned sink logit per head (gpt-oss)
  bool parallel_residual = false;  ///< attention and MLP read the same input (GPT-J, GPT-NeoX)
  bool separate_mlp_norm = true;   ///< false: one norm feeds both branches (GPT-J)
  int64_t rotary_dim = 0;          ///< dimensions rotated per head (partial RoPE), 0 when learned
  bool dropout = false;  ///< hidden dropout in training (GPT-2 resid_pdrop, OPT dropout, ...)

  std::optional<MoeSpec> moe;
  std::optional<MlaSpec> mla;

  int64_t sliding_window = 0;       ///< tokens attended by sliding-window layers; 0: none
  std::vector<bool> layer_sliding;  ///< per layer: uses the sliding window

  /// True when layer `layer` has a mixture-of-experts MLP.
  [[nodiscard]] bool is_moe_layer(int64_t layer) const {
    return moe.has_value() && layer >= moe->first_dense_layers &&
           (layer + 1) % moe->layer_step == 0;
  }
  [[nodiscard]] int64_t moe_layers() const {
    if (!moe) return 0;
    int64_t count = 0;
    for (int64_t layer = moe->first_dense_layers; layer < layers; ++layer)
      count += is_moe_layer(layer) ? 1 : 0;
    return count;
  }
  [[nodiscard]] int64_t sliding_layers() const;
  /// Width of one query head in attention scores (MLA: nope + rope).
  [[nodiscard]] int64_t qk_head_dim() const {
    return mla ? mla->qk_nope_head_dim + mla->qk_rope_head_dim : head_dim;
  }
  [[nodiscard]] int64_t v_head_dim() const { return mla ? mla->v_head_dim : head_dim; }
};

/// Parameter counts, exact for the architectures the loader accepts.
struct ParameterCount {
  int64_t total = 0;
  int64_t active_per_token = 0;  ///< parameters touched by one token (MoE: top-k experts)
  int64_t embedding = 0;         ///< token and position tables
  int64_t lm_head = 0;           ///< 0 when tied to the embedding
};

[[nodiscard]] ParameterCount count_parameters(const ModelSpec& model);

/// KV-cache elements per token summed over all layers, without sliding-window caps (MLA: the
/// compressed latent and the rotary key). Multiply by the KV format's bytes per element.
[[nodiscard]] double kv_cache_elements_per_token(const ModelSpec& model);

/// Forward FLOPs for one token that attends to `attended_tokens` earlier tokens (itself included)
/// in full-attention layers; sliding layers attend to min(window, attended_tokens).
/// Counts 2 FLOPs per multiply-add of every matrix multiply, the LM head included.
[[nodiscard]] double forward_flops_per_token(const ModelSpec& model, double attended_tokens);

/// Training FLOPs per token of a sequence of `seq_len` tokens with a causal mask:
/// 3x the forward pass (backward = 2x forward), attention averaged over positions.
[[nodiscard]] double training_flops_per_token(const ModelSpec& model, int64_t seq_len);

}  // namespace xpusim
