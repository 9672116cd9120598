// The one place that reads software-stack YAML (format: data/stacks/README.md).

#include <fmt/format.h>
#include <algorithm>
#include <array>
#include <regex>

#include "xpusim/core/catalog.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/yaml_map.hpp"
#include "xpusim/stack/stack.hpp"

namespace xpusim {

namespace {

constexpr std::array kFrameworks = {Framework::kMegatronCore, Framework::kMegatronBridge,
                                    Framework::kNemo,         Framework::kTorchtitan,
                                    Framework::kPytorchFsdp,  Framework::kDeepspeed,
                                    Framework::kMaxtext,      Framework::kTrtllm,
                                    Framework::kVllm,         Framework::kSglang};
constexpr std::array kKinds = {StackKind::kTraining, StackKind::kServing, StackKind::kBoth};
constexpr std::array kShardings = {
    Sharding::kDdp,  Sharding::kZero1,        Sharding::kDistributedOptimizer,
    Sharding::kFsdp, Sharding::kMegatronFsdp, Sharding::kXlaFsdp};
constexpr std::array kReduces = {GradientReduce::kPerMicroBatch, GradientReduce::kPerStep};
constexpr std::array kDispatchers = {MoeDispatcher::kAllToAll, MoeDispatcher::kDeepEp,
                                     MoeDispatcher::kAllGather};
constexpr std::array kDecodeAttentions = {
    DecodeAttention::kFlashInfer, DecodeAttention::kXqa,        DecodeAttention::kFlashDecoding,
    DecodeAttention::kFlashAttn,  DecodeAttention::kPagedV1,    DecodeAttention::kPagedV2,
    DecodeAttention::kTriton,     DecodeAttention::kRaggedPaged};
constexpr std::array kSelectiveRecomputes = {SelectiveRecompute::kCoreAttention,
                                             SelectiveRecompute::kPerOp};
constexpr std::array kWeightQuantizations = {WeightQuantization::kPerStep,
                                             WeightQuantization::kPerMicroBatch};
constexpr std::array kReduceDTypes = {DType::kFp32, DType::kBf16};

template <class Enum, std::size_t N>
std::vector<std::string> names_of(const std::array<Enum, N>& all) {
  std::vector<std::string> names;
  for (Enum value : all) names.emplace_back(to_string(value));
  return names;
}

/// `text` as one of `all` by name; otherwise "unknown value 'x' (did you mean: y?); expected
/// one of a, b" at `key` of `map`.
template <class Enum, std::size_t N>
Enum choice(const YamlMap& map, const std::string& key, const std::string& text,
            const std::array<Enum, N>& all) {
  for (Enum value : all) {
    if (to_string(value) == text) return value;
  }
  const auto names = names_of(all);
  map.fail(key, fmt::format("unknown value '{}'{}; expected one of {}", text,
                            did_you_mean(text, names), fmt::join(names, ", ")));
}

template <class Enum, std::size_t N>
Enum required_choice(YamlMap& map, const std::string& key, const std::array<Enum, N>& all) {
  return choice(map, key, map.required_string(key), all);
}

bool required_bool(YamlMap& map, const std::string& key) {
  const std::string text = map.required_string(key);
  if (text == "true") return true;
  if (text == "false") return false;
  map.fail(key, fmt::format("expected true or false, got '{}'", text));
}

void check_release_date(YamlMap& root, const std::string& date) {
  static const std::regex pattern(R"(\d{4}-(0[1-9]|1[0-2])(-(0[1-9]|[12]\d|3[01]))?)");
  if (!std::regex_match(date, pattern))
    root.fail("release_date", fmt::format("expected YYYY-MM or YYYY-MM-DD, got '{}'", date));
}

StackKernels read_kernels(YamlMap& root) {
  YamlMap kernels = root.required_map("kernels");
  StackKernels result;
  YamlMap attention = kernels.required_map("attention");
  const auto family_names = names_of(kAllArchitectureFamilies);
  for (ArchitectureFamily family : kAllArchitectureFamilies) {
    const std::string name(to_string(family));
    if (auto text = attention.optional_string(name)) {
      result.attention[static_cast<std::size_t>(family)] =
          choice(attention, name, *text, kAllAttentionKernels);
    }
  }
  attention.finish(family_names);
  if (std::none_of(result.attention.begin(), result.attention.end(),
                   [](const auto& kernel) { return kernel.has_value(); })) {
    kernels.fail("attention",
                 fmt::format("expected at least one of {}", fmt::join(family_names, ", ")));
  }
  result.fused_elementwise = required_bool(kernels, "fused_elementwise");
  result.cuda_graphs = required_bool(kernels, "cuda_graphs");
  kernels.finish({"attention", "fused_elementwise", "cuda_graphs"});
  return result;
}

std::vector<PrecisionRecipe> read_recipes(YamlMap& training) {
  YAML::Node list = training.required("recipes");
  if (!list.IsSequence() || list.size() == 0)
    training.fail("recipes", "expected a non-empty list of precision recipes");
  std::vector<PrecisionRecipe> recipes;
  for (std::size_t i = 0; i < list.size(); ++i) {
    const std::string key = fmt::format("recipes[{}]", i);
    if (!list[i].IsScalar()) training.fail(key, "expected a recipe name");
    const PrecisionRecipe recipe = choice(training, key, list[i].Scalar(), kAllPrecisionRecipes);
    if (std::find(recipes.begin(), recipes.end(), recipe) != recipes.end())
      training.fail(key, fmt::format("'{}' listed twice", list[i].Scalar()));
    recipes.push_back(recipe);
  }
  return recipes;
}

DataParallelSpec read_data_parallel(YamlMap& training, FigureReader& figures) {
  YamlMap dp = training.required_map("data_parallel");
  DataParallelSpec result;
  result.sharding = required_choice(dp, "sharding", kShardings);
  if (shards_parameters(result.sharding)) {
    result.reshard_after_forward = required_bool(dp, "reshard_after_forward");
    result.prefetch_layers = figures.required_count(dp, "prefetch_layers");
  } else {
    for (const char* key : {"reshard_after_forward", "prefetch_layers"}) {
      if (dp.has(key))
        dp.fail(key, fmt::format("only for parameter-sharding (fsdp, megatron_fsdp, xla_fsdp), "
                                 "not {}",
                                 to_string(result.sharding)));
    }
  }
  result.gradient_reduce = required_choice(dp, "gradient_reduce", kReduces);
  result.reduce_dtype = required_choice(dp, "reduce_dtype", kReduceDTypes);
  if (auto bucket = figures.optional(dp, "bucket_bytes")) result.bucket = Bytes(*bucket);
  dp.finish({"sharding", "reshard_after_forward", "gradient_reduce", "reduce_dtype",
             "prefetch_layers", "bucket_bytes"});
  return result;
}

/// Every figure's plausible range (data/stacks/README.md, "Bounds"): host overheads below a
/// tenth of a second, engine limits of vLLM's order or far above it.
const std::vector<FigureRange>& stack_ranges() {
  static const std::vector<FigureRange> ranges = {
      {"training.data_parallel.prefetch_layers", 1, 1e4, "layers"},
      {"training.data_parallel.bucket_bytes", 1e3, 1e12, "bytes"},
      {"training.tp_comm_overlap_fraction", 0, 1, "(share)"},
      {"training.dp_comm_overlap_fraction", 0, 1, "(share)"},
      {"training.moe.host_sync_per_layer_s", 0, 0.1, "s"},
      {"training.host_overhead_per_layer_s", 0, 0.1, "s"},
      {"serving.host_overhead_per_iteration_s", 0, 0.1, "s"},
      {"serving.max_num_seqs", 1, 1 << 20, "sequences"},
      {"serving.max_num_batched_tokens", 1, 1 << 24, "tokens"},
      {"serving.cuda_graphs_max_batch", 1, 1 << 20, "sequences"},
      {"serving.decode_attention_bandwidth_fraction", 0.01, 1, "(share)"},
  };
  return ranges;
}

TrainingStack read_training(YamlMap& section, FigureReader& figures) {
  TrainingStack result;
  result.recipes = read_recipes(section);
  result.data_parallel = read_data_parallel(section, figures);
  result.tp_comm_overlap_fraction =
      figures.required_closed_fraction(section, "tp_comm_overlap_fraction");
  result.dp_comm_overlap_fraction =
      figures.required_closed_fraction(section, "dp_comm_overlap_fraction");
  if (auto moe = section.optional_map("moe")) {
    MoeDispatchSpec spec;
    spec.dispatcher = required_choice(*moe, "dispatcher", kDispatchers);
    spec.host_sync_per_layer =
        Seconds(figures.required_non_negative(*moe, "host_sync_per_layer_s"));
    moe->finish({"dispatcher", "host_sync_per_layer_s"});
    result.moe = spec;
  }
  result.host_overhead_per_layer =
      Seconds(figures.required_non_negative(section, "host_overhead_per_layer_s"));
  result.selective_recompute =
      required_choice(section, "selective_recompute", kSelectiveRecomputes);
  result.weight_quantization =
      required_choice(section, "weight_quantization", kWeightQuantizations);
  section.finish({"recipes", "data_parallel", "tp_comm_overlap_fraction",
                  "dp_comm_overlap_fraction", "moe", "host_overhead_per_layer_s",
                  "selective_recompute", "weight_quantization"});
  return result;
}

ServingStack read_serving(YamlMap& section, FigureReader& figures) {
  ServingStack result;
  result.host_overhead_per_iteration =
      Seconds(figures.required_non_negative(section, "host_overhead_per_iteration_s"));
  result.decode_attention = required_choice(section, "decode_attention", kDecodeAttentions);
  result.max_num_seqs = figures.required_count(section, "max_num_seqs");
  result.max_num_batched_tokens = figures.required_count(section, "max_num_batched_tokens");
  result.chunked_prefill = required_bool(section, "chunked_prefill");
  if (section.has("cuda_graphs_max_batch"))
    result.cuda_graphs_max_batch = figures.required_count(section, "cuda_graphs_max_batch");
  if (section.has("decode_attention_bandwidth_fraction")) {
    result.decode_attention_bandwidth_fraction =
        figures.required_fraction(section, "decode_attention_bandwidth_fraction");
  }
  section.finish({"host_overhead_per_iteration_s", "decode_attention", "max_num_seqs",
                  "max_num_batched_tokens", "chunked_prefill", "cuda_graphs_max_batch",
                  "decode_attention_bandwidth_fraction"});
  return result;
}

/// The sections `kind` calls for must be there, the others must not.
void read_sections(YamlMap& root, FigureReader& figures, StackSpec& spec) {
  const bool trains = spec.kind != StackKind::kServing;
  const bool serves = spec.kind != StackKind::kTraining;
  const std::string kind(to_string(spec.kind));
  for (const auto& [key, wanted] : {std::pair{"training", trains}, std::pair{"serving", serves}}) {
    if (wanted && !root.has(key))
      root.fail(key, fmt::format("missing (required for kind {})", kind));
    if (!wanted && root.has(key)) root.fail(key, fmt::format("not allowed for kind {}", kind));
  }
  if (trains) {
    YamlMap section = root.required_map("training");
    spec.training = read_training(section, figures);
  }
  if (serves) {
    YamlMap section = root.required_map("serving");
    spec.serving = read_serving(section, figures);
  }
}

}  // namespace

StackSpec load_stack_file(const std::filesystem::path& file) {
  YamlMap root = YamlMap::load_file(file);
  StackSpec spec;
  spec.file = file;
  spec.id = root.required_string("id");
  if (file.parent_path().filename() == "stacks" && spec.id != file.stem().string()) {
    // A catalog file must be named after its id so that lookups by id find it.
    root.fail("id", fmt::format("expected '{}' (the file name), got '{}'", file.stem().string(),
                                spec.id));
  }
  spec.name = root.required_string("name");
  spec.framework = required_choice(root, "framework", kFrameworks);
  spec.version = root.required_string("version");
  spec.release_date = root.required_string("release_date");
  check_release_date(root, spec.release_date);
  spec.kind = required_choice(root, "kind", kKinds);
  spec.sources = read_sources(root);
  FigureReader figures(spec.sources, spec.figures);
  spec.kernels = read_kernels(root);
  read_sections(root, figures, spec);
  root.finish({"id", "name", "framework", "version", "release_date", "kind", "sources", "kernels",
               "training", "serving"});
  check_figure_ranges(root.file(), spec.figures, stack_ranges());
  return spec;
}

std::vector<std::string> stack_ids(const std::filesystem::path& stacks_dir) {
  return catalog_ids(stacks_dir, ".yaml", "stack");
}

StackSpec load_stack(const std::string& ref, const std::filesystem::path& stacks_dir) {
  if (looks_like_path(ref)) return load_stack_file(ref);
  const auto ids = stack_ids(stacks_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("unknown stack '{}'{}", ref, did_you_mean(ref, ids)));
  }
  return load_stack_file(stacks_dir / (ref + ".yaml"));
}

std::vector<StackSpec> load_all_stacks(const std::filesystem::path& stacks_dir) {
  std::vector<StackSpec> all;
  for (const auto& id : stack_ids(stacks_dir))
    all.push_back(load_stack_file(stacks_dir / (id + ".yaml")));
  return all;
}

}  // namespace xpusim
