#include "xpusim/sweep/sweep.hpp"

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "xpusim/chip/derive.hpp"
#include "xpusim/core/catalog.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/core/parallel.hpp"
#include "xpusim/core/yaml_map.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"

namespace xpusim {

namespace {

/// The list at `key` (non-empty), each element handed to `read(node, key_path)`.
template <class Read>
void read_list(YamlMap& root, const std::string& key, bool required, Read read) {
  if (!required && !root.has(key)) return;
  YAML::Node list = root.required(key);
  if (!list.IsSequence() || list.size() == 0) root.fail(key, "expected a non-empty list");
  for (std::size_t i = 0; i < list.size(); ++i) read(list[i], fmt::format("{}[{}]", key, i));
}

/// A reference relative to the grid file when it is a path, else a catalog id.
std::string resolve(const std::string& ref, const std::filesystem::path& grid) {
  if (!looks_like_path(ref) || std::filesystem::path(ref).is_absolute()) return ref;
  return (grid.parent_path() / ref).string();
}

std::string scalar(const YAML::Node& node, const YamlMap& root, const std::string& path) {
  if (!node.IsScalar()) root.fail(path, "expected an id or a path");
  return node.Scalar();
}

DType dtype_of(YamlMap& map, const std::string& key, DType fallback) {
  const auto name = map.optional_string(key);
  if (!name) return fallback;
  if (auto dtype = parse_dtype(*name)) return *dtype;
  map.fail(key, fmt::format("unknown data type '{}'", *name));
}

int64_t positive(YamlMap& map, const std::string& key, int64_t fallback) {
  if (!map.has(key)) return fallback;
  const long long v = map.required_integer(key);
  if (v < 1) map.fail(key, fmt::format("expected >= 1, got {}", v));
  return v;
}

InferenceRequest request_of(const SweepGrid& grid, const SweepIndex& at) {
  const SweepWorkload& w = grid.workloads[at.workload];
  const SweepPlan& p = grid.plans[at.plan];
  InferenceRequest r;
  r.devices = p.tp;
  r.batch = w.batch;
  r.input_len = w.input_len;
  r.output_len = w.output_len;
  r.weight_dtype = p.weight_dtype;
  r.kv_dtype = p.kv_dtype;
  return r;
}

}  // namespace

SweepIndex sweep_index(const SweepGrid& g, std::size_t i) {
  SweepIndex at;
  at.plan = i % g.plans.size();
  i /= g.plans.size();
  at.workload = i % g.workloads.size();
  i /= g.workloads.size();
  at.model = i % g.models.size();
  at.chip = i / g.models.size();
  return at;
}

SweepGrid load_sweep_grid(const std::filesystem::path& file,
                          const std::filesystem::path& data_dir) {
  YamlMap root = YamlMap::load_file(file);
  SweepGrid grid;
  read_list(root, "accelerators", false, [&](const YAML::Node& n, const std::string& path) {
    grid.chips.push_back(
        load_accelerator(resolve(scalar(n, root, path), file), data_dir / "hardware"));
  });
  read_list(root, "chip_files", false, [&](const YAML::Node& n, const std::string& path) {
    grid.chips.push_back(load_derived_accelerator(resolve(scalar(n, root, path), file), data_dir));
  });
  if (grid.chips.empty()) root.fail("accelerators", "missing (or chip_files): nothing to sweep");
  read_list(root, "models", true, [&](const YAML::Node& n, const std::string& path) {
    grid.models.push_back(load_model(resolve(scalar(n, root, path), file), data_dir / "models"));
  });
  read_list(root, "workloads", true, [&](const YAML::Node& n, const std::string& path) {
    YamlMap w(n, root.file(), path);
    SweepWorkload workload;
    workload.name = w.required_string("name");
    workload.batch = positive(w, "batch", 1);
    workload.input_len = positive(w, "input_len", 128);
    workload.output_len = positive(w, "output_len", 128);
    w.finish({"name", "batch", "input_len", "output_len"});
    grid.workloads.push_back(workload);
  });
  read_list(root, "plans", true, [&](const YAML::Node& n, const std::string& path) {
    YamlMap p(n, root.file(), path);
    SweepPlan plan;
    plan.tp = static_cast<int>(positive(p, "tp", 1));
    plan.weight_dtype = dtype_of(p, "weight_dtype", DType::kBf16);
    plan.kv_dtype = dtype_of(p, "kv_dtype", DType::kBf16);
    p.finish({"tp", "weight_dtype", "kv_dtype"});
    grid.plans.push_back(plan);
  });
  root.finish({"accelerators", "chip_files", "models", "workloads", "plans"});
  grid.economics = load_economics(data_dir / "economics.yaml");
  // One default system per chip and plan, built with the grid: the points allocate nothing.
  grid.systems.reserve(grid.chips.size() * grid.plans.size());
  for (const AcceleratorSpec& chip : grid.chips) {
    for (const SweepPlan& plan : grid.plans)
      grid.systems.push_back(default_system_for(chip, plan.tp));
  }
  return grid;
}

std::vector<std::string> sweep_feasibility(const SweepGrid& grid) {
  std::vector<std::string> reasons(grid.size());
  for (std::size_t i = 0; i < grid.size(); ++i) {
    const SweepIndex at = sweep_index(grid, i);
    const AcceleratorSpec& hw = grid.chips[at.chip];
    const ModelSpec& model = grid.models[at.model];
    const InferenceRequest r = request_of(grid, at);
    try {
      validate_request(model, hw, r);
    } catch (const Error& e) {
      reasons[i] = e.what();
      continue;
    }
    if (max_batch_that_fits(model, hw, r) < 1) reasons[i] = "does not fit";
  }
  return reasons;
}

void evaluate_sweep(const SweepGrid& grid, const std::vector<std::string>& reasons,
                    std::size_t first, std::span<SweepResult> out, unsigned threads) {
  parallel_for(
      out.size(),
      [&](std::size_t k) {
        const std::size_t i = first + k;
        SweepResult& result = out[k];
        result = SweepResult{};
        if (!reasons[i].empty()) return;
        const SweepIndex at = sweep_index(grid, i);
        const AcceleratorSpec& hw = grid.chips[at.chip];
        const ModelSpec& model = grid.models[at.model];
        InferenceRequest r = request_of(grid, at);
        r.batch = std::min(r.batch, max_batch_that_fits(model, hw, r));
        const SystemSpec& system = grid.systems[at.chip * grid.plans.size() + at.plan];
        const InferenceResult e = estimate_inference(model, system, r, grid.economics);
        result.feasible = true;
        result.batch = r.batch;
        result.ttft_s = e.ttft.value();
        result.tpot_s = e.tpot.value();
        result.throughput_tokens_per_s = e.throughput_tokens_per_s;
        result.tokens_per_s_per_device = e.throughput_tokens_per_s / r.devices;
        result.memory_per_device_bytes = e.memory.total().value();
        result.energy_per_token_j = e.energy_per_token.value();
        result.cost_per_million_tokens_usd = e.cost_per_million_tokens_usd.value_or(0.0);
      },
      threads);
}

namespace {

struct Labels {
  std::string chip, model, workload, weight, kv;
  int tp;
};

Labels labels(const SweepGrid& g, std::size_t i) {
  const SweepIndex at = sweep_index(g, i);
  const SweepPlan& p = g.plans[at.plan];
  return {g.chips[at.chip].id,
          g.models[at.model].id,
          g.workloads[at.workload].name,
          std::string(to_string(p.weight_dtype)),
          std::string(to_string(p.kv_dtype)),
          p.tp};
}

std::string csv_cell(const std::string& text) {
  if (text.find_first_of(",\"\n") == std::string::npos) return text;
  std::string quoted = "\"";
  for (char c : text) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
  return quoted + "\"";
}

}  // namespace

std::string sweep_csv(const SweepGrid& g, const std::vector<std::string>& reasons,
                      const std::vector<SweepResult>& results) {
  std::string out =
      "point,chip,model,workload,tp,weight_dtype,kv_dtype,feasible,batch,ttft_s,tpot_s,"
      "throughput_tokens_per_s,tokens_per_s_per_device,memory_per_device_bytes,"
      "energy_per_token_j,cost_per_million_tokens_usd,reason\n";
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Labels l = labels(g, i);
    const SweepResult& r = results[i];
    out += fmt::format(
        "{},{},{},{},{},{},{},{},{},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{:.6g},{}\n", i,
        csv_cell(l.chip), csv_cell(l.model), csv_cell(l.workload), l.tp, l.weight, l.kv,
        r.feasible ? 1 : 0, r.batch, r.ttft_s, r.tpot_s, r.throughput_tokens_per_s,
        r.tokens_per_s_per_device, r.memory_per_device_bytes, r.energy_per_token_j,
        r.cost_per_million_tokens_usd, csv_cell(reasons[i]));
  }
  return out;
}

std::string sweep_jsonl(const SweepGrid& g, const std::vector<std::string>& reasons,
                        const std::vector<SweepResult>& results) {
  std::string out;
  for (std::size_t i = 0; i < results.size(); ++i) {
    const Labels l = labels(g, i);
    const SweepResult& r = results[i];
    nlohmann::json j = {
        {"point", i}, {"chip", l.chip},           {"model", l.model}, {"workload", l.workload},
        {"tp", l.tp}, {"weight_dtype", l.weight}, {"kv_dtype", l.kv}, {"feasible", r.feasible}};
    if (r.feasible) {
      j.update({{"batch", r.batch},
                {"ttft_s", r.ttft_s},
                {"tpot_s", r.tpot_s},
                {"throughput_tokens_per_s", r.throughput_tokens_per_s},
                {"tokens_per_s_per_device", r.tokens_per_s_per_device},
                {"memory_per_device_bytes", r.memory_per_device_bytes},
                {"energy_per_token_j", r.energy_per_token_j},
                {"cost_per_million_tokens_usd", r.cost_per_million_tokens_usd}});
    } else {
      j["reason"] = reasons[i];
    }
    out += j.dump() + "\n";
  }
  return out;
}

}  // namespace xpusim
