#include "xpusim/report/stack_report.hpp"

#include <fmt/format.h>

#include "xpusim/report/figure_report.hpp"
#include "xpusim/report/table.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

Json attention_json(const StackKernels& kernels) {
  Json map = Json::object();
  for (ArchitectureFamily family : kAllArchitectureFamilies) {
    if (auto kernel = kernels.attention_for(family))
      map[std::string(to_string(family))] = std::string(to_string(*kernel));
  }
  return map;
}

Json training_json(const TrainingStack& t) {
  Json recipes = Json::array();
  for (PrecisionRecipe r : t.recipes) recipes.push_back(std::string(to_string(r)));
  const DataParallelSpec& dp = t.data_parallel;
  Json data_parallel = {{"sharding", std::string(to_string(dp.sharding))},
                        {"gradient_reduce", std::string(to_string(dp.gradient_reduce))},
                        {"reduce_dtype", std::string(to_string(dp.reduce_dtype))}};
  if (dp.bucket) data_parallel["bucket_bytes"] = dp.bucket->value();
  if (shards_parameters(dp.sharding)) {
    data_parallel["reshard_after_forward"] = dp.reshard_after_forward;
    data_parallel["prefetch_layers"] = dp.prefetch_layers;
  }
  Json out = {{"recipes", recipes},
              {"data_parallel", data_parallel},
              {"tp_comm_overlap_fraction", t.tp_comm_overlap_fraction},
              {"dp_comm_overlap_fraction", t.dp_comm_overlap_fraction},
              {"host_overhead_per_layer_s", t.host_overhead_per_layer.value()},
              {"selective_recompute", std::string(to_string(t.selective_recompute))},
              {"weight_quantization", std::string(to_string(t.weight_quantization))}};
  if (t.moe) {
    out["moe"] = {{"dispatcher", std::string(to_string(t.moe->dispatcher))},
                  {"host_sync_per_layer_s", t.moe->host_sync_per_layer.value()}};
  }
  return out;
}

Json serving_json(const ServingStack& s) {
  Json out = {{"host_overhead_per_iteration_s", s.host_overhead_per_iteration.value()},
              {"decode_attention", std::string(to_string(s.decode_attention))},
              {"max_num_seqs", s.max_num_seqs},
              {"max_num_batched_tokens", s.max_num_batched_tokens},
              {"chunked_prefill", s.chunked_prefill}};
  if (s.cuda_graphs_max_batch) out["cuda_graphs_max_batch"] = *s.cuda_graphs_max_batch;
  return out;
}

std::string yes_no(bool value) {
  return value ? "yes" : "no";
}

}  // namespace

Json stack_json(const StackSpec& stack) {
  Json figures = Json::array();
  for (const auto& f : stack.figures) figures.push_back(figure_json(f));
  Json out = {{"id", stack.id},
              {"name", stack.name},
              {"framework", std::string(to_string(stack.framework))},
              {"version", stack.version},
              {"release_date", stack.release_date},
              {"kind", std::string(to_string(stack.kind))},
              {"kernels",
               {{"attention", attention_json(stack.kernels)},
                {"fused_elementwise", stack.kernels.fused_elementwise},
                {"cuda_graphs", stack.kernels.cuda_graphs}}}};
  if (stack.training) out["training"] = training_json(*stack.training);
  if (stack.serving) out["serving"] = serving_json(*stack.serving);
  out["figures"] = figures;
  out["sources"] = sources_json(stack.sources);
  return out;
}

std::string stack_text(const StackSpec& stack) {
  std::string out =
      fmt::format("{} ({}), {} {}, {}, {}\n", stack.name, stack.id, to_string(stack.framework),
                  stack.version, stack.release_date, to_string(stack.kind));
  std::vector<std::string> attention;
  for (ArchitectureFamily family : kAllArchitectureFamilies) {
    if (auto kernel = stack.kernels.attention_for(family))
      attention.push_back(fmt::format("{}={}", to_string(family), to_string(*kernel)));
  }
  out += fmt::format("attention:         {}\n", fmt::join(attention, ", "));
  out += fmt::format("fused elementwise: {}\ncuda graphs:       {}\n",
                     yes_no(stack.kernels.fused_elementwise), yes_no(stack.kernels.cuda_graphs));
  if (const auto& t = stack.training) {
    std::vector<std::string> recipes;
    for (PrecisionRecipe r : t->recipes) recipes.emplace_back(to_string(r));
    const DataParallelSpec& dp = t->data_parallel;
    out += fmt::format("recipes:           {}\n", fmt::join(recipes, ", "));
    out += fmt::format("data parallel:     {}, gradients reduced {} in {}", to_string(dp.sharding),
                       to_string(dp.gradient_reduce), to_string(dp.reduce_dtype));
    if (shards_parameters(dp.sharding))
      out += fmt::format(", reshard after forward: {}", yes_no(dp.reshard_after_forward));
    out += "\n";
    if (t->moe) out += fmt::format("moe dispatcher:    {}\n", to_string(t->moe->dispatcher));
    out += fmt::format("selective AC:      {}\nweight quantize:   {}\n",
                       to_string(t->selective_recompute), to_string(t->weight_quantization));
  }
  if (const auto& s = stack.serving) {
    out += fmt::format("decode attention:  {}\nchunked prefill:   {}\n",
                       to_string(s->decode_attention), yes_no(s->chunked_prefill));
  }
  Table table({"figure", "value", "source"});
  for (const auto& f : stack.figures)
    table.add_row(
        {f.key, fmt::format("{:g}", f.value), provenance_text(stack.sources, f.provenance)});
  out += "\n" + table.to_text() + "\nSources:\n";
  for (const auto& s : stack.sources) out += fmt::format("  [{}] {} {}\n", s.id, s.title, s.url);
  return out;
}

std::string stack_list_text(const std::vector<StackSpec>& all) {
  Table table({"id", "framework", "version", "released", "kind", "name"});
  for (const auto& s : all) {
    table.add_row({s.id, std::string(to_string(s.framework)), s.version, s.release_date,
                   std::string(to_string(s.kind)), s.name});
  }
  return table.to_text();
}

}  // namespace xpusim
