#include "xpusim/api/shell.hpp"

#include <fmt/format.h>

#include <fstream>
#include <map>
#include <ostream>

#include "xpusim/core/catalog.hpp"
#include "xpusim/core/checked.hpp"

namespace xpusim::api {

namespace {

using FlagTable = std::map<std::string_view, std::string_view>;

/// Per command, the library's request fields and the flags that set them. A field missing here
/// is worded by its own name, which is still a name that exists.
const std::map<std::string_view, FlagTable>& flag_tables() {
  static const std::map<std::string_view, FlagTable> tables = {
      {"hw show", {{"hw", "ID"}}},
      {"model show", {{"model", "ID"}}},
      {"system show", {{"system", "ID"}}},
      {"stack show", {{"stack", "ID"}}},
      {"calibrate", {{"hw", "--hw"}}},
      {"infer",
       {{"model", "--model"},
        {"hw", "--hw"},
        {"devices", "--devices"},
        {"batch", "--batch"},
        {"input_len", "--input-len"},
        {"output_len", "--output-len"},
        {"weight_dtype", "--weight-dtype"},
        {"kv_dtype", "--kv-dtype"},
        {"weight_group_size", "--weight-group-size"}}},
      {"compare",
       {{"model", "--model"},
        {"devices", "--devices"},
        {"input_len", "--input-len"},
        {"output_len", "--output-len"},
        {"weight_dtype", "--weight-dtype"},
        {"kv_dtype", "--kv-dtype"},
        {"max_ttft", "--max-ttft-s"},
        {"max_tpot", "--max-tpot-s"}}},
      {"train",
       {{"model", "--model"}, {"system", "--system"}, {"hw", "--hw"}, {"nodes", "--nodes"}}},
      {"serve",
       {{"model", "--model"},
        {"hw", "--hw"},
        {"replicas", "--replicas"},
        {"prefill_replicas", "--prefill-replicas"},
        {"decode_replicas", "--decode-replicas"},
        {"tensor_parallel", "--tp"},
        {"devices", "--tp"},  // the tensor-parallel group is validated as an inference request
        {"pipeline_parallel", "--pp"},
        {"weight_dtype", "--weight-dtype"},
        {"kv_dtype", "--kv-dtype"},
        {"limits.max_num_seqs", "--max-batch"},
        {"limits.max_batched_tokens", "--max-batched-tokens"},
        {"limits.block_size", "--block-size"},
        {"limits.gpu_memory_utilization", "--gpu-memory-utilization"},
        {"slo.ttft", "--slo-ttft-p99"},
        {"slo.tpot", "--slo-tpot-p99"},
        {"workload.rate_per_s", "--rate"},
        {"workload.concurrency", "--concurrency"},
        {"workload.trace", "--requests-file"},
        {"workload.num_requests", "--num-requests"},
        {"workload.input", "--input-len"},
        {"workload.output", "--output-len"}}},
      {"plan",
       {{"model", "--model"},
        {"rate_requests_per_s", "--rate"},
        {"weight_dtype", "--weight-dtype"},
        {"kv_dtype", "--kv-dtype"},
        {"slo.ttft", "--slo-ttft-p99"},
        {"slo.tpot", "--slo-tpot-p99"},
        {"workload.num_requests", "--num-requests"},
        {"workload.input", "--input-len"},
        {"workload.output", "--output-len"}}},
  };
  return tables;
}

void write_output(std::ostream& out, const std::string& text) {
  out << text;
  check_output(out);
}

}  // namespace

std::string command_of(const CLI::App& app) {
  std::string path;
  const CLI::App* at = &app;
  for (;;) {
    const auto parsed = at->get_subcommands();
    if (parsed.empty()) return path;
    at = parsed.front();
    path += (path.empty() ? "" : " ") + at->get_name();
  }
}

std::string flag_for_field(std::string_view command, std::string_view field) {
  // `sensitivity infer|train|serve` takes the flags of the command it studies.
  constexpr std::string_view kStudy = "sensitivity ";
  if (command.substr(0, kStudy.size()) == kStudy) command.remove_prefix(kStudy.size());
  const auto& tables = flag_tables();
  const auto table = tables.find(command);
  if (table == tables.end()) return "";
  const auto flag = table->second.find(field);
  return flag == table->second.end() ? "" : std::string(flag->second);
}

std::string error_text(const Error& e, std::string_view command) {
  if (e.field().empty()) return e.what();
  const std::string flag = flag_for_field(command, e.field());
  return fmt::format("command line: {}: {}", flag.empty() ? e.field() : flag, e.detail());
}

void check_arguments(const std::vector<std::string>& args) {
  for (std::size_t i = 0; i < args.size(); ++i) {
    const std::string_view arg = args[i];
    if (!is_valid_utf8(arg))
      throw_input_error("command line", fmt::format("argument {}", i + 1), "expected UTF-8 text");
    // CLI11 takes an empty value as the option's default; nothing given is not a value.
    if (arg.empty() && i > 0 && args[i - 1].size() > 2 && args[i - 1].substr(0, 2) == "--")
      throw_input_error("command line", args[i - 1], "expected a value, got nothing");
  }
}

void print_json(std::ostream& out, const nlohmann::json& result) {
  check_result_numbers(result);
  write_output(out, result.dump(2) + "\n");
}

void print_text(std::ostream& out, const std::string& text, const nlohmann::json& result) {
  check_result_numbers(result);
  write_output(out, text);
}

void write_output_file(const std::string& path, const std::string& text, std::string_view flag) {
  std::ofstream out(path, std::ios::binary);
  if (out) out << text;
  if (out) out.close();
  if (!out) throw_input_error("command line", flag, fmt::format("cannot write '{}'", path));
}

void check_output(std::ostream& out) {
  out.flush();
  if (!out)
    throw_input_error("standard output", "", "write failed (a full disk or a closed pipe?)");
}

std::string version_text(const std::filesystem::path& data) {
  std::string text = fmt::format("xpusim {}\ndata catalog {}:", XPUSIM_VERSION, data.string());
  const std::pair<const char*, const char*> catalogs[] = {
      {"hardware", ".yaml"}, {"models", ".json"}, {"systems", ".yaml"}, {"stacks", ".yaml"}};
  for (const auto& [dir, extension] : catalogs) {
    const auto ids = catalog_ids(data / dir, extension, dir);
    text += fmt::format(" {} {},", ids.size(), dir);
  }
  text.back() = '\n';
  return text;
}

}  // namespace xpusim::api
