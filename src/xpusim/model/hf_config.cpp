// The one place that reads Hugging Face config.json files.

#include <fmt/format.h>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

/// Typed access to the keys of one config.json; every failure names the file and the key.
class ConfigReader {
 public:
  ConfigReader(const Json& json, std::string file) : json_(json), file_(std::move(file)) {}

  [[nodiscard]] bool has(const char* key) const {
    return json_.contains(key) && !json_[key].is_null();
  }

  [[nodiscard]] int64_t positive(const char* key) const {
    if (!json_.contains(key))
      throw_input_error(file_, key, "missing (required for this architecture)");
    return check_positive(key, json_[key]);
  }

  [[nodiscard]] int64_t positive_or(const char* key, int64_t fallback) const {
    return has(key) ? check_positive(key, json_[key]) : fallback;
  }

  [[nodiscard]] int64_t non_negative_or(const char* key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const Json& value = json_[key];
    if (!value.is_number_integer() || value.get<int64_t>() < 0) {
      throw_input_error(file_, key, fmt::format("expected an integer >= 0, got {}", value.dump()));
    }
    return value.get<int64_t>();
  }

  [[nodiscard]] bool flag_or(const char* key, bool fallback) const {
    if (!has(key)) return fallback;
    if (!json_[key].is_boolean())
      throw_input_error(file_, key,
                        fmt::format("expected true or false, got {}", json_[key].dump()));
    return json_[key].get<bool>();
  }

  [[nodiscard]] std::string text_or(const char* key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    if (!json_[key].is_string())
      throw_input_error(file_, key, fmt::format("expected text, got {}", json_[key].dump()));
    return json_[key].get<std::string>();
  }

  [[nodiscard]] const Json& raw(const char* key) const { return json_[key]; }

  /// A probability in [0, 1], or `fallback` when absent.
  [[nodiscard]] double probability_or(const char* key, double fallback) const {
    if (!has(key)) return fallback;
    const Json& v = json_[key];
    if (!v.is_number() || v.get<double>() < 0.0 || v.get<double>() > 1.0) {
      throw_input_error(file_, key,
                        fmt::format("expected a probability in [0, 1], got {}", v.dump()));
    }
    return v.get<double>();
  }
  [[nodiscard]] const Json& json() const { return json_; }
  [[nodiscard]] const std::string& file() const { return file_; }
  [[noreturn]] void fail(const char* key, const std::string& what) const {
    throw_input_error(file_, key, what);
  }

 private:
  int64_t check_positive(const char* key, const Json& value) const {
    if (!value.is_number_integer())
      throw_input_error(file_, key,
                        fmt::format("expected a positive integer, got {}", value.dump()));
    const auto number = value.get<int64_t>();
    if (number <= 0)
      throw_input_error(file_, key, fmt::format("expected a positive integer, got {}", number));
    // Larger than any real transformer by orders of magnitude: a typo, not a model.
    if (number > (int64_t{1} << 31))
      throw_input_error(file_, key, fmt::format("expected at most 2^31, got {}", number));
    return number;
  }

  const Json& json_;
  std::string file_;
};

const char* head_count_key(const ModelSpec& m) {
  return m.model_type == "gpt2" || m.model_type == "gptj" ? "n_head" : "num_attention_heads";
}

/// hidden / heads, which must be whole when the config gives no head_dim.
int64_t whole_head_dim(const ConfigReader& c, const ModelSpec& m, const char* heads_key) {
  if (m.hidden % m.heads != 0) {
    c.fail(heads_key,
           fmt::format("expected a divisor of the hidden size ({}), got {}", m.hidden, m.heads));
  }
  return m.hidden / m.heads;
}

void read_common_llama_like(const ConfigReader& c, ModelSpec& m) {
  m.hidden = c.positive("hidden_size");
  m.layers = c.positive("num_hidden_layers");
  m.heads = c.positive("num_attention_heads");
  m.kv_heads = c.positive_or("num_key_value_heads", m.heads);
  m.head_dim =
      c.has("head_dim") ? c.positive("head_dim") : whole_head_dim(c, m, "num_attention_heads");
  m.ffn_dim = c.positive("intermediate_size");
  m.vocab = c.positive("vocab_size");
  m.max_positions = c.positive_or("max_position_embeddings", 2048);
  m.tied_embeddings = c.flag_or("tie_word_embeddings", false);
  m.qkv_bias = c.flag_or("attention_bias", false);
  m.out_bias = m.qkv_bias;
  m.mlp_bias = c.flag_or("mlp_bias", false);
  m.rotary_dim = m.head_dim;
  if (m.heads % m.kv_heads != 0) {
    c.fail(
        "num_key_value_heads",
        fmt::format("expected a divisor of num_attention_heads ({}), got {}", m.heads, m.kv_heads));
  }
}

void read_sliding_window_all_layers(const ConfigReader& c, ModelSpec& m, const char* enable_key) {
  const bool enabled = enable_key == nullptr || c.flag_or(enable_key, false);
  if (enabled && c.has("sliding_window")) {
    m.sliding_window = c.positive("sliding_window");
    m.layer_sliding.assign(static_cast<std::size_t>(m.layers), true);
  }
}

void read_llama(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  if (m.model_type == "mistral") read_sliding_window_all_layers(c, m, nullptr);
  if (m.model_type == "qwen2") {
    m.qkv_bias = true;  // Qwen2 has biases on q, k, v (not on o) by design, not in the config
    m.out_bias = false;
    read_sliding_window_all_layers(c, m, "use_sliding_window");
  }
  if (m.model_type == "qwen3") m.qk_norm = true;
}

void read_mixtral(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  read_sliding_window_all_layers(c, m, nullptr);
  MoeSpec moe;
  moe.num_experts = c.positive("num_local_experts");
  moe.experts_per_token = c.positive("num_experts_per_tok");
  moe.expert_ffn_dim = m.ffn_dim;
  m.moe = moe;
}

void read_qwen3_moe(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  m.qk_norm = true;
  if (c.positive_or("decoder_sparse_step", 1) != 1)
    c.fail("decoder_sparse_step", "only 1 (every layer sparse) is supported");
  if (c.has("mlp_only_layers") && !c.raw("mlp_only_layers").empty())
    c.fail("mlp_only_layers", "only an empty list is supported");
  MoeSpec moe;
  moe.num_experts = c.positive("num_experts");
  moe.experts_per_token = c.positive("num_experts_per_tok");
  moe.expert_ffn_dim = c.positive("moe_intermediate_size");
  m.moe = moe;
}

void read_deepseek_v3(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  MlaSpec mla;
  mla.q_lora_rank = c.non_negative_or("q_lora_rank", 0);
  mla.kv_lora_rank = c.positive("kv_lora_rank");
  mla.qk_nope_head_dim = c.positive("qk_nope_head_dim");
  mla.qk_rope_head_dim = c.positive("qk_rope_head_dim");
  mla.v_head_dim = c.positive("v_head_dim");
  m.mla = mla;
  m.kv_heads = m.heads;  // MLA has no grouped KV heads; the cache holds the shared latent
  m.head_dim = mla.v_head_dim;
  m.rotary_dim = mla.qk_rope_head_dim;
  if (c.positive_or("moe_layer_freq", 1) != 1) c.fail("moe_layer_freq", "only 1 is supported");
  MoeSpec moe;
  moe.num_experts = c.positive("n_routed_experts");
  moe.experts_per_token = c.positive("num_experts_per_tok");
  moe.expert_ffn_dim = c.positive("moe_intermediate_size");
  moe.shared_experts = c.non_negative_or("n_shared_experts", 0);
  moe.shared_ffn_dim = moe.expert_ffn_dim;
  moe.first_dense_layers = c.non_negative_or("first_k_dense_replace", 0);
  moe.router_bias = c.text_or("topk_method", "") == "noaux_tc";  // e_score_correction_bias
  m.moe = moe;
}

void read_gpt_oss(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  m.attention_sinks = true;
  m.out_bias = m.qkv_bias;
  MoeSpec moe;
  moe.num_experts = c.positive("num_local_experts");
  moe.experts_per_token = c.has("num_experts_per_tok") ? c.positive("num_experts_per_tok")
                                                       : c.positive("experts_per_token");
  moe.expert_ffn_dim = m.ffn_dim;
  moe.expert_bias = true;
  moe.router_bias = true;
  m.moe = moe;
  if (!c.has("layer_types")) return;
  const auto& types = c.raw("layer_types");
  if (!types.is_array() || static_cast<int64_t>(types.size()) != m.layers) {
    c.fail("layer_types", fmt::format("expected a list of {} layer types", m.layers));
  }
  m.sliding_window = c.positive("sliding_window");
  for (const auto& type : types) {
    if (type != "sliding_attention" && type != "full_attention") {
      c.fail("layer_types",
             fmt::format("expected sliding_attention or full_attention, got {}", type.dump()));
    }
    m.layer_sliding.push_back(type == "sliding_attention");
  }
}

/// Llama 4 text models (transformers Llama4TextConfig, model_type "llama4_text": the text_config
/// of a published Llama 4 config.json): routed experts of intermediate_size plus one shared
/// expert of the same width, top-k routing, MoE every interleave_moe_layer_step-th layer (dense
/// layers use intermediate_size_mlp), chunked attention in the RoPE layers. A chunked layer is
/// priced as a sliding window of attention_chunk_size keys: exact up to one chunk, at most 2x
/// the attention work beyond (a chunk attends C/2 keys on average). The NoPE layers (every 4th,
/// no_rope_layers) attend globally.
void read_llama4_text(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  m.qk_norm = c.flag_or("use_qk_norm", false);
  MoeSpec moe;
  moe.num_experts = c.positive("num_local_experts");
  moe.experts_per_token = c.positive("num_experts_per_tok");
  moe.expert_ffn_dim = m.ffn_dim;
  moe.shared_experts = 1;
  moe.shared_ffn_dim = m.ffn_dim;
  moe.layer_step = c.positive_or("interleave_moe_layer_step", 1);
  if (moe.layer_step > m.layers)
    c.fail("interleave_moe_layer_step", "expected at most num_hidden_layers");
  m.ffn_dim = c.positive_or("intermediate_size_mlp", m.ffn_dim);  // the dense layers' MLP
  m.moe = moe;
  if (!c.has("attention_chunk_size")) return;
  m.sliding_window = c.positive("attention_chunk_size");
  const auto& nope = c.has("no_rope_layers") ? c.raw("no_rope_layers") : Json::array();
  if (c.has("no_rope_layers") &&
      (!nope.is_array() || static_cast<int64_t>(nope.size()) != m.layers))
    c.fail("no_rope_layers", fmt::format("expected a list of {} flags (1: RoPE)", m.layers));
  for (int64_t layer = 0; layer < m.layers; ++layer) {
    // no_rope_layers[i] is 1 where layer i uses RoPE (and chunked attention); default: every
    // fourth layer is NoPE (transformers' Llama4TextConfig).
    const bool rope =
        nope.empty() ? (layer + 1) % 4 != 0 : nope[static_cast<std::size_t>(layer)] == 1;
    m.layer_sliding.push_back(rope);
  }
}

/// Nemotron-4 (transformers NemotronConfig, model_type "nemotron"): squared-ReLU MLP without a
/// gate, LayerNorm1p (a LayerNorm), rotary embedding on partial_rotary_factor of each head (0.5 by
/// default), no biases.
void read_nemotron(const ConfigReader& c, ModelSpec& m) {
  read_common_llama_like(c, m);
  if (c.has("hidden_act") && c.text_or("hidden_act", "") != "relu2")
    c.fail("hidden_act", "expected relu2 (Nemotron's squared ReLU)");
  m.mlp = MlpKind::kPlain;
  m.norm = NormKind::kLayer;
  const double factor = c.probability_or("partial_rotary_factor", 0.5);
  if (factor <= 0.0) c.fail("partial_rotary_factor", "expected a number in (0, 1]");
  m.rotary_dim = static_cast<int64_t>(static_cast<double>(m.head_dim) * factor);
}

void read_gpt2(const ConfigReader& c, ModelSpec& m) {
  m.hidden = c.positive("n_embd");
  m.layers = c.positive("n_layer");
  m.heads = c.positive("n_head");
  m.kv_heads = m.heads;
  m.head_dim = whole_head_dim(c, m, head_count_key(m));
  m.ffn_dim = c.positive_or("n_inner", 4 * m.hidden);
  m.vocab = c.positive("vocab_size");
  m.max_positions = c.positive("n_positions");
  m.norm = NormKind::kLayer;
  m.mlp = MlpKind::kPlain;
  m.position = PositionKind::kLearned;
  m.tied_embeddings = c.flag_or("tie_word_embeddings", true);
  m.qkv_bias = m.out_bias = m.mlp_bias = true;
  m.dropout = c.probability_or("resid_pdrop", 0.1) > 0.0;  // GPT2Config's default is 0.1
}

void read_gptj(const ConfigReader& c, ModelSpec& m) {
  m.hidden = c.positive("n_embd");
  m.layers = c.positive("n_layer");
  m.heads = c.positive("n_head");
  m.kv_heads = m.heads;
  m.head_dim = whole_head_dim(c, m, head_count_key(m));
  m.ffn_dim = c.positive_or("n_inner", 4 * m.hidden);
  m.vocab = c.positive("vocab_size");
  m.max_positions = c.positive("n_positions");
  m.rotary_dim = c.positive_or("rotary_dim", m.head_dim);
  m.norm = NormKind::kLayer;
  m.mlp = MlpKind::kPlain;
  m.tied_embeddings = c.flag_or("tie_word_embeddings", false);
  m.mlp_bias = true;
  m.lm_head_bias = true;
  m.parallel_residual = true;
  m.separate_mlp_norm = false;
  m.dropout = c.probability_or("resid_pdrop", 0.0) > 0.0;
}

void read_gpt_neox(const ConfigReader& c, ModelSpec& m) {
  m.hidden = c.positive("hidden_size");
  m.layers = c.positive("num_hidden_layers");
  m.heads = c.positive("num_attention_heads");
  m.kv_heads = m.heads;
  m.head_dim = whole_head_dim(c, m, head_count_key(m));
  m.ffn_dim = c.positive("intermediate_size");
  m.vocab = c.positive("vocab_size");
  m.max_positions = c.positive_or("max_position_embeddings", 2048);
  double rotary_pct = 1.0;
  if (c.has("rotary_pct")) {
    if (!c.raw("rotary_pct").is_number()) c.fail("rotary_pct", "expected a number in (0, 1]");
    rotary_pct = c.raw("rotary_pct").get<double>();
    if (rotary_pct <= 0.0 || rotary_pct > 1.0)
      c.fail("rotary_pct", fmt::format("expected a number in (0, 1], got {}", rotary_pct));
  }
  m.rotary_dim = static_cast<int64_t>(static_cast<double>(m.head_dim) * rotary_pct);
  m.norm = NormKind::kLayer;
  m.mlp = MlpKind::kPlain;
  m.tied_embeddings = c.flag_or("tie_word_embeddings", false);
  m.qkv_bias = m.out_bias = c.flag_or("attention_bias", true);
  m.mlp_bias = true;
  m.parallel_residual = c.flag_or("use_parallel_residual", true);
  m.dropout = c.probability_or("hidden_dropout", 0.0) > 0.0;
}

void read_opt(const ConfigReader& c, ModelSpec& m) {
  m.hidden = c.positive("hidden_size");
  m.layers = c.positive("num_hidden_layers");
  m.heads = c.positive("num_attention_heads");
  m.kv_heads = m.heads;
  m.head_dim = whole_head_dim(c, m, head_count_key(m));
  m.ffn_dim = c.positive("ffn_dim");
  m.vocab = c.positive("vocab_size");
  m.max_positions = c.positive("max_position_embeddings");
  if (c.positive_or("word_embed_proj_dim", m.hidden) != m.hidden) {
    c.fail("word_embed_proj_dim", "only equal to hidden_size is supported");
  }
  m.norm = NormKind::kLayer;
  m.mlp = MlpKind::kPlain;
  m.position = PositionKind::kLearned;
  m.tied_embeddings = c.flag_or("tie_word_embeddings", true);
  m.qkv_bias = m.out_bias = m.mlp_bias = c.flag_or("enable_bias", true);
  m.dropout = c.probability_or("dropout", 0.1) > 0.0;  // OPTConfig's default is 0.1
}

using FamilyReader = void (*)(const ConfigReader&, ModelSpec&);

struct Family {
  const char* model_type;
  FamilyReader read;
};

constexpr Family kFamilies[] = {
    {"llama", read_llama},
    {"mistral", read_llama},
    {"qwen2", read_llama},
    {"qwen3", read_llama},
    {"mixtral", read_mixtral},
    {"qwen3_moe", read_qwen3_moe},
    {"deepseek_v3", read_deepseek_v3},
    {"gpt_oss", read_gpt_oss},
    {"nemotron", read_nemotron},
    {"llama4_text", read_llama4_text},
    {"gpt2", read_gpt2},
    {"gptj", read_gptj},
    {"gpt_neox", read_gpt_neox},
    {"opt", read_opt},
};

/// Every config.json key some family reads: an unread key one or two edits away from one of
/// these is a misspelling, not one of the many keys a config.json carries for other tools.
const std::vector<std::string>& keys_read() {
  static const std::vector<std::string> keys = {"hidden_size",
                                                "num_hidden_layers",
                                                "num_attention_heads",
                                                "num_key_value_heads",
                                                "head_dim",
                                                "intermediate_size",
                                                "vocab_size",
                                                "max_position_embeddings",
                                                "tie_word_embeddings",
                                                "attention_bias",
                                                "mlp_bias",
                                                "sliding_window",
                                                "use_sliding_window",
                                                "model_type",
                                                "num_local_experts",
                                                "num_experts_per_tok",
                                                "num_experts",
                                                "moe_intermediate_size",
                                                "decoder_sparse_step",
                                                "mlp_only_layers",
                                                "q_lora_rank",
                                                "kv_lora_rank",
                                                "qk_nope_head_dim",
                                                "qk_rope_head_dim",
                                                "v_head_dim",
                                                "moe_layer_freq",
                                                "n_routed_experts",
                                                "n_shared_experts",
                                                "first_k_dense_replace",
                                                "topk_method",
                                                "experts_per_token",
                                                "layer_types",
                                                "n_embd",
                                                "n_layer",
                                                "n_head",
                                                "n_inner",
                                                "n_positions",
                                                "rotary_dim",
                                                "rotary_pct",
                                                "use_parallel_residual",
                                                "ffn_dim",
                                                "word_embed_proj_dim",
                                                "enable_bias",
                                                "partial_rotary_factor",
                                                "intermediate_size_mlp",
                                                "interleave_moe_layer_step",
                                                "attention_chunk_size",
                                                "no_rope_layers",
                                                "use_qk_norm"};
  return keys;
}

void refuse_misspelled_keys(const ConfigReader& c) {
  const auto& known = keys_read();
  for (const auto& [key, value] : c.json().items()) {
    if (key.size() < 6 || std::find(known.begin(), known.end(), key) != known.end()) continue;
    for (const auto& candidate : known) {
      if (edit_distance(key, candidate) <= 2) {
        throw_input_error(c.file(), key, fmt::format("unknown key (did you mean: {}?)", candidate));
      }
    }
  }
}

/// Parameters estimated in floating point, so that absurd shapes are refused before the exact
/// integer counts could overflow.
double approximate_parameters(const ModelSpec& m) {
  const double h = static_cast<double>(m.hidden);
  double attention = 2.0 * h * static_cast<double>(m.heads) *
                         static_cast<double>(std::max(m.head_dim, m.qk_head_dim())) +
                     2.0 * h * static_cast<double>(m.kv_heads) * static_cast<double>(m.head_dim);
  if (m.mla)
    attention += h * static_cast<double>(m.mla->q_lora_rank + m.mla->kv_lora_rank) *
                 (1.0 + static_cast<double>(m.heads));
  double mlp = 3.0 * h * static_cast<double>(m.ffn_dim);
  if (m.moe)
    mlp += 3.0 * h * static_cast<double>(m.moe->expert_ffn_dim) *
           static_cast<double>(m.moe->num_experts + m.moe->shared_experts);
  return static_cast<double>(m.layers) * (attention + mlp) +
         2.0 * h * static_cast<double>(m.vocab + m.max_positions);
}

void check_shapes(const ConfigReader& c, const ModelSpec& m) {
  // A quadrillion parameters is four orders of magnitude past the largest published model.
  constexpr double kMaxParameters = 1e15;
  if (const double n = approximate_parameters(m); n > kMaxParameters) {
    c.fail("hidden_size",
           fmt::format("the shapes give about {:.3g} parameters: expected at most {:g}", n,
                       kMaxParameters));
  }
  if (m.moe && m.moe->experts_per_token > m.moe->num_experts) {
    c.fail("num_experts_per_tok", fmt::format("expected at most the number of experts ({}), got {}",
                                              m.moe->num_experts, m.moe->experts_per_token));
  }
  if (m.moe && m.moe->first_dense_layers > m.layers)
    c.fail("first_k_dense_replace", "expected at most num_hidden_layers");
}

}  // namespace

const std::vector<std::string>& supported_model_types() {
  static const std::vector<std::string> types = [] {
    std::vector<std::string> names;
    for (const auto& family : kFamilies) names.emplace_back(family.model_type);
    return names;
  }();
  return types;
}

ModelSpec load_model_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  std::ifstream in(file);
  if (!in) throw Error(Error::Kind::kNotFound, fmt::format("{}: no such file", name));
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string id = file.stem().string() == "config" ? file.parent_path().filename().string()
                                                          : file.stem().string();
  ModelSpec model = parse_model_config(text, name, id);
  model.file = file;
  return model;
}

ModelSpec parse_model_config(const std::string& text, const std::string& name,
                             const std::string& id) {
  Json json;
  try {
    json = Json::parse(text);
  } catch (const Json::parse_error& e) {
    const std::size_t upto = std::min<std::size_t>(e.byte > 0 ? e.byte - 1 : 0, text.size());
    const auto line =
        1 + std::count(text.begin(), text.begin() + static_cast<std::ptrdiff_t>(upto), '\n');
    throw_input_error(name, "", fmt::format("malformed JSON at line {} (byte {})", line, e.byte));
  }
  if (!json.is_object())
    throw_input_error(name, "", "expected a JSON object (a Hugging Face config.json)");
  const ConfigReader config(json, name);
  ModelSpec model;
  model.id = id;
  if (!config.has("model_type"))
    config.fail("model_type", "missing (required to know the architecture)");
  model.model_type = config.text_or("model_type", "");
  const auto* family =
      std::find_if(std::begin(kFamilies), std::end(kFamilies),
                   [&](const Family& f) { return model.model_type == f.model_type; });
  if (family == std::end(kFamilies)) {
    config.fail("model_type",
                fmt::format("architecture '{}' is not supported (supported: {})", model.model_type,
                            fmt::join(supported_model_types(), ", ")));
  }
  refuse_misspelled_keys(config);
  family->read(config, model);
  check_shapes(config, model);
  if (model.layer_sliding.empty())
    model.layer_sliding.assign(static_cast<std::size_t>(model.layers), false);
  return model;
}

std::vector<std::string> model_ids(const std::filesystem::path& models_dir) {
  return catalog_ids(models_dir, ".json", "model");
}

ModelSpec load_model(const std::string& ref, const std::filesystem::path& models_dir) {
  if (looks_like_path(ref)) return load_model_file(ref);
  const auto ids = model_ids(models_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("--model: unknown model '{}'{}; 'xpusim model list' lists them", ref,
                            did_you_mean(ref, ids)));
  }
  return load_model_file(models_dir / (ref + ".json"));
}

}  // namespace xpusim
