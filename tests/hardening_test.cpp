// Hardening: bad input by class, not by case. For each file format and each numeric flag, a table
// of bad values (empty, garbage, truncated, wrong type, 0, negative, NaN, inf, 1e308, 1e-300, huge
// counts, invalid UTF-8) goes through the real binary, which must answer with one `xpusim:` line
// and exit status 2. Then: the JSON of many good runs holds no NaN, infinity, negative or
// misplaced null; every flag a message quotes exists; the checked helpers of core/.

#include <gtest/gtest.h>
#include <sys/stat.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <regex>
#include <set>
#include <sstream>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/core/checked.hpp"
#include "xpusim/core/input_file.hpp"
#include "xpusim/serve/event_queue.hpp"
#include "xpusim/serve/kv_cache.hpp"

namespace xpusim {
namespace {

namespace fs = std::filesystem;
using Json = nlohmann::json;
using testing::CliResult;
using testing::read_text;
using testing::run_xpusim_words;
using testing::ScratchDir;
using testing::write_text;

/// Exit status 2, nothing on stdout, exactly one line on stderr, starting "xpusim: ".
::testing::AssertionResult one_line_error(const CliResult& r) {
  const auto lines = std::count(r.err.begin(), r.err.end(), '\n');
  if (r.status == 2 && r.out.empty() && lines == 1 && r.err.rfind("xpusim: ", 0) == 0)
    return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure()
         << "status " << r.status << ", stdout " << r.out.size() << " bytes, stderr: " << r.err;
}

std::string describe(const std::vector<std::string>& args) {
  std::string text;
  for (const auto& a : args) text += testing::shell_quote(a) + " ";
  return text;
}

// --- Flags ---------------------------------------------------------------------------------------

/// Values no numeric flag takes: garbage, empty, truncated, NaN, infinities, overflow, UTF-8.
const std::vector<std::string> kNotANumber = {"",      "garbage", "1e",  "0x",
                                              "nan",   "NaN",     "inf", "-inf",
                                              "1e308", "-1e308",  "-1",  "99999999999999999999",
                                              "1e400", "\xff\xfe"};

struct FlagTable {
  std::vector<std::string> base;  ///< a good command line, minus the flag
  std::string flag;
  std::vector<std::string> extra_bad;  ///< besides kNotANumber: 0, 1e-300, ... where they are bad
};

std::vector<FlagTable> flag_tables() {
  const std::vector<std::string> infer = {"infer", "--model", "llama-3.1-8b", "--hw", "h100-sxm"};
  const std::vector<std::string> compare = {"compare", "--model", "llama-3.1-8b"};
  const std::vector<std::string> train = {
      "train",          "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "1",
      "--global-batch", "8",       "--seq-len",    "2048"};
  std::vector<std::string> train_no_nodes = {"train", "--model",   "llama-3.1-8b",
                                             "--hw",  "h100-sxm",  "--global-batch",
                                             "8",     "--seq-len", "2048"};
  const std::vector<std::string> serve = {
      "serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--num-requests", "5", "--rate", "1"};
  const std::vector<std::string> serve_no_rate = {
      "serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--num-requests", "5"};
  const std::vector<std::string> serve_no_count = {
      "serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "1"};
  const std::vector<std::string> plan = {
      "plan", "--model", "llama-3.1-8b", "--num-requests", "20", "--rate", "1"};
  const std::vector<std::string> plan_no_rate = {"plan", "--model", "llama-3.1-8b",
                                                 "--num-requests", "20"};
  const std::vector<std::string> zero = {"0", "0.5"};
  const std::vector<std::string> tiny = {"0", "1e-300"};
  auto search = train;
  search.push_back("--search");
  return {
      {infer, "--devices", zero},
      {infer, "--batch", zero},
      {infer, "--input-len", zero},
      {infer, "--output-len", zero},
      {infer, "--weight-group-size", zero},
      {compare, "--devices", zero},
      {compare, "--input-len", zero},
      {compare, "--output-len", zero},
      {compare, "--max-ttft-s", {"86401"}},
      {compare, "--max-tpot-s", {"86401"}},
      {train_no_nodes, "--nodes", zero},
      {train, "--devices-per-node", {"3"}},
      {train, "--devices-per-domain", {"3"}},
      {train, "--tp", zero},
      {train, "--pp", zero},
      {train, "--vpp", zero},
      {train, "--cp", zero},
      {train, "--ep", zero},
      {train, "--micro-batch", zero},
      {train, "--zero", {"4"}},
      {train, "--tokens", {"1e17"}},
      {train, "--first-stage-layers", {"33"}},
      {train, "--last-stage-layers", {"33"}},
      {{"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "1", "--seq-len",
        "2048"},
       "--global-batch",
       zero},
      {{"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "1", "--global-batch",
        "8"},
       "--seq-len",
       {"0", "131073", "9223372036854775000"}},
      {search, "--top", {"0", "1000000000"}},
      {serve_no_rate, "--rate", tiny},
      {serve_no_rate, "--concurrency", zero},
      {serve_no_count, "--num-requests", {"0", "1000000000"}},
      {serve, "--tp", zero},
      {serve, "--pp", zero},
      {serve, "--replicas", {"0", "10000000"}},
      {serve, "--devices", {"3"}},
      {serve, "--max-batch", zero},
      {serve, "--max-batched-tokens", zero},
      {serve, "--block-size", zero},
      {serve, "--gpu-memory-utilization", {"0", "1.5", "1e-300"}},
      {serve, "--slo-ttft-p99", tiny},
      {serve, "--slo-tpot-p99", tiny},
      {plan_no_rate, "--rate", {"0", "1e-300", "1e9"}},
      {plan, "--slo-ttft-p99", tiny},
      {plan, "--slo-tpot-p99", tiny},
      {plan, "--num-requests", zero},
  };
}

TEST(BadInputByClass, EveryNumericFlagRefusesEveryBadValueInOneLine) {
  int runs = 0;
  for (const FlagTable& table : flag_tables()) {
    std::vector<std::string> values = kNotANumber;
    values.insert(values.end(), table.extra_bad.begin(), table.extra_bad.end());
    for (const std::string& value : values) {
      std::vector<std::string> args = table.base;
      args.insert(args.end(), {table.flag, value});
      EXPECT_TRUE(one_line_error(run_xpusim_words(args))) << describe(args);
      ++runs;
    }
  }
  EXPECT_GT(runs, 500);
}

TEST(BadInputByClass, LengthFlagsRefuseEveryBadDistribution) {
  ScratchDir scratch;
  write_text(scratch.path() / "empty.txt", "");
  write_text(scratch.path() / "huge.txt", "1\n99999999999999999999\n");
  const std::vector<std::string> bad = {"",
                                        "garbage",
                                        "fixed",
                                        "fixed:",
                                        "fixed:0",
                                        "fixed:-1",
                                        "fixed:nan",
                                        "fixed:1e308",
                                        "fixed:99999999999999999999",
                                        "uniform:5",
                                        "uniform:10:5",
                                        "uniform:1:inf",
                                        "normal:nan:1",
                                        "normal:1024:inf",
                                        "normal:1024:1e300",
                                        "normal:1e-300:1",
                                        "normal:-5:1",
                                        "lognormal:1024:-1",
                                        "lognormal:inf:1",
                                        "file:",
                                        "file:/nonexistent",
                                        "file:/dev/null",
                                        "file:" + scratch.path().string(),
                                        "file:" + (scratch.path() / "empty.txt").string(),
                                        "file:" + (scratch.path() / "huge.txt").string(),
                                        "fixed:\xff"};
  const std::vector<std::vector<std::string>> bases = {
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--num-requests", "5", "--rate",
       "1"},
      {"plan", "--model", "llama-3.1-8b", "--num-requests", "20", "--rate", "1"}};
  for (const auto& base : bases) {
    for (const char* flag : {"--input-len", "--output-len"}) {
      for (const auto& value : bad) {
        auto args = base;
        args.insert(args.end(), {flag, value});
        EXPECT_TRUE(one_line_error(run_xpusim_words(args))) << describe(args);
      }
    }
  }
}

TEST(BadInputByClass, PathsThatAreNotFilesAreRefusedByName) {
  ScratchDir scratch;
  const fs::path fifo = scratch.path() / "fifo.json";
  ASSERT_EQ(::mkfifo(fifo.c_str(), 0600), 0);
  for (const std::string& path :
       {scratch.path().string() + "/", fifo.string(), std::string("/dev/zero"),
        std::string("/nonexistent/config.json")}) {
    for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
             {"model", "show", path},
             {"hw", "show", path},
             {"system", "show", path},
             {"stack", "show", path},
             {"infer", "--model", path, "--hw", "h100-sxm"},
             {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--requests-file", path}}) {
      const CliResult r = run_xpusim_words(args);
      EXPECT_TRUE(one_line_error(r)) << describe(args);
      EXPECT_NE(r.err.find(path), std::string::npos) << r.err;
    }
  }
}

TEST(BadInputByClass, InvalidUtf8ArgumentsAreRefused) {
  for (const std::vector<std::string>& args : std::vector<std::vector<std::string>>{
           {"model", "show", "\xff"},
           {"infer", "--model", "llama-3.1-8b", "--hw", "h\xc3"},
           {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "1", "--input-len",
            "fixed:\xed\xa0\x80"}}) {
    EXPECT_TRUE(one_line_error(run_xpusim_words(args))) << describe(args);
  }
}

TEST(BadInputByClass, WriteFailuresExitWith2) {
  // stdout on a full disk.
  const std::string binary = testing::shell_quote(XPUSIM_BINARY);
  const int raw =
      std::system((binary + " hw show h100-sxm --format json > /dev/full 2>/dev/null").c_str());
  ASSERT_TRUE(WIFEXITED(raw));
  EXPECT_EQ(WEXITSTATUS(raw), 2);
  // An output file that cannot be written.
  ScratchDir scratch;
  for (const std::string& target : {std::string("/dev/full"), scratch.path().string()}) {
    const std::vector<std::string> train = {
        "train",          "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "1",
        "--global-batch", "8",       "--seq-len",    "2048", "--trace",  target};
    const CliResult r = run_xpusim_words(train);
    EXPECT_EQ(r.status, 2) << r.err;
    EXPECT_NE(r.err.find("xpusim: command line: --trace: cannot write"), std::string::npos)
        << r.err;
  }
}

TEST(Version, PrintsTheVersionAndTheCatalog) {
  const CliResult r = run_xpusim_words({"--version"});
  EXPECT_EQ(r.status, 0) << r.err;
  EXPECT_EQ(r.out.rfind("xpusim ", 0), 0u) << r.out;
  EXPECT_NE(r.out.find("data catalog " + std::string(XPUSIM_SOURCE_DATADIR)), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find(" hardware"), std::string::npos) << r.out;
}

// --- Files: every figure of a catalog file, one bad value at a time
// -------------------------------

/// Key paths of every `{value: ...}` mapping in `node`, e.g. {"memory", "capacity_bytes"}.
void figure_paths(const YAML::Node& node, std::vector<std::string>& path,
                  std::vector<std::vector<std::string>>& out) {
  if (node.IsMap()) {
    if (node["value"] && node["value"].IsScalar()) out.push_back(path);
    for (const auto& entry : node) {
      path.push_back(entry.first.Scalar());
      figure_paths(entry.second, path, out);
      path.pop_back();
    }
  } else if (node.IsSequence()) {
    for (std::size_t i = 0; i < node.size(); ++i) {
      path.push_back("#" + std::to_string(i));
      figure_paths(node[i], path, out);
      path.pop_back();
    }
  }
}

YAML::Node child(YAML::Node node, const std::string& key) {
  if (key[0] == '#') return node[static_cast<std::size_t>(std::stoul(key.substr(1)))];
  return node[key];
}

/// Every figure of `file` set to each bad value, shown by `command` (hw show, system show, ...):
/// each must be one line naming the file, and exit status 2.
void every_figure_refuses_bad_values(const fs::path& file, const std::string& command,
                                     const std::string& name, std::size_t at_least = 5,
                                     bool zero_allowed = false) {
  const YAML::Node original = YAML::LoadFile(file.string());
  std::vector<std::vector<std::string>> paths;
  std::vector<std::string> path;
  figure_paths(original, path, paths);
  ASSERT_GE(paths.size(), at_least);
  ScratchDir scratch;
  const fs::path copy = scratch.path() / name;
  const std::vector<std::string> values = {".nan", ".inf",  "-.inf",   "1e308", "1e-300", "-1",
                                           "0",    "1e400", "garbage", "~",     "[1, 2]"};
  for (const auto& key : paths) {
    for (const auto& value : values) {
      // A stack's overheads and overlaps may be zero (a cost the stack does not pay).
      if (zero_allowed && (value == "0" || value == "1e-300")) continue;
      YAML::Node changed = YAML::Clone(original);
      YAML::Node at = changed;
      for (const auto& k : key) at.reset(child(at, k));
      at["value"] = YAML::Load(value);
      std::ofstream(copy) << YAML::Dump(changed);
      const std::vector<std::string> args = {command, "show", copy.string()};
      const CliResult r = run_xpusim_words(args);
      EXPECT_TRUE(one_line_error(r))
          << file.filename() << " " << ::testing::PrintToString(key) << " = " << value;
      EXPECT_NE(r.err.find(copy.string()), std::string::npos) << r.err;
    }
  }
}

TEST(BadInputByClass, EveryHardwareFigureRefusesEveryBadValue) {
  every_figure_refuses_bad_values(testing::hardware_dir() / "h100-sxm.yaml", "hw", "chip.yaml");
}

TEST(BadInputByClass, EverySystemFigureRefusesEveryBadValue) {
  every_figure_refuses_bad_values(testing::data_dir() / "systems" / "dgx-h100-superpod.yaml",
                                  "system", "cluster.yaml");
}

TEST(BadInputByClass, EveryStackFigureRefusesEveryBadValue) {
  for (const char* id : {"vllm-0.8", "megatron-bridge-25.11"}) {
    const fs::path file = testing::data_dir() / "stacks" / (std::string(id) + ".yaml");
    if (!fs::exists(file)) continue;
    every_figure_refuses_bad_values(file, "stack", "stack.yaml", 4, true);
  }
}

TEST(BadInputByClass, YamlTextFieldsMustBeUtf8AndFilesWhole) {
  const std::string text = read_text(testing::hardware_dir() / "h100-sxm.yaml");
  ScratchDir scratch;
  const fs::path copy = scratch.path() / "chip.yaml";
  const auto name = text.find("\nname: ");
  ASSERT_NE(name, std::string::npos);
  const auto end = text.find('\n', name + 1);
  const std::vector<std::string> bad = {
      text.substr(0, name) + "\nname: \"\xff\xfe\"" + text.substr(end),  // invalid UTF-8
      text.substr(0, text.size() / 2),                                   // truncated
      text.substr(0, name) + "\nname: [1, 2]" + text.substr(end),        // wrong type
      "",
      "\t\t: :",
      std::string("id: x\0y", 7)};
  for (const auto& content : bad) {
    write_text(copy, content);
    const CliResult r = run_xpusim_words({"hw", "show", copy.string()});
    EXPECT_TRUE(one_line_error(r)) << content.substr(0, 40);
  }
}

TEST(BadInputByClass, EveryConfigJsonIntegerRefusesEveryBadValue) {
  const Json original = Json::parse(read_text(testing::models_dir() / "llama-3.1-8b.json"));
  ScratchDir scratch;
  const fs::path copy = scratch.path() / "config.json";
  const std::vector<std::string> values = {
      "0",  "-1", "1e308",     "1e400", "1.5", "\"x\"", "null", "true", "99999999999999999999",
      "[]", "{}", "4294967296"};
  // The keys the model is built from; the others (token ids, pretraining_tp) are not read.
  const std::set<std::string> shape_keys = {
      "hidden_size",         "intermediate_size", "num_attention_heads",     "num_hidden_layers",
      "num_key_value_heads", "vocab_size",        "max_position_embeddings", "head_dim"};
  int keys = 0;
  for (const auto& [key, value] : original.items()) {
    if (!value.is_number_integer() || shape_keys.count(key) == 0) continue;
    ++keys;
    for (const auto& bad : values) {
      std::string text = original.dump(1);
      const std::string from = "\"" + key + "\": " + value.dump();
      const auto at = text.find(from);
      ASSERT_NE(at, std::string::npos) << from;
      text.replace(at, from.size(), "\"" + key + "\": " + bad);
      write_text(copy, text);
      const CliResult r = run_xpusim_words({"model", "show", copy.string()});
      // A default stands in for an explicit null of an optional key; anything else is refused.
      if (bad == "null" && r.status == 0) continue;
      EXPECT_TRUE(one_line_error(r)) << key << " = " << bad;
    }
  }
  EXPECT_GT(keys, 5);
}

TEST(BadInputByClass, ConfigJsonSyntaxAndDuplicates) {
  const std::string good = read_text(testing::models_dir() / "llama-3.1-8b.json");
  ScratchDir scratch;
  const fs::path copy = scratch.path() / "config.json";
  const auto brace = good.find('{');
  const std::vector<std::string> bad = {"",
                                        "{",
                                        good.substr(0, good.size() / 2),
                                        "[]",
                                        "\"text\"",
                                        "{\"model_type\": \"\xff\"}",
                                        good.substr(0, brace + 1) +
                                            "\"num_hidden_layers\": 4, \"num_hidden_layers\": 4," +
                                            good.substr(brace + 1)};
  for (const auto& content : bad) {
    write_text(copy, content);
    const CliResult r = run_xpusim_words({"model", "show", copy.string()});
    EXPECT_TRUE(one_line_error(r)) << content.substr(0, 60);
  }
  write_text(copy, bad.back());
  EXPECT_NE(run_xpusim_words({"model", "show", copy.string()}).err.find("duplicate key"),
            std::string::npos);
}

TEST(BadInputByClass, TraceFieldsRefuseEveryBadValue) {
  ScratchDir scratch;
  const std::vector<std::string> numbers = {
      "", "x", "nan", "inf", "-1", "1e308", "1e-300", "0", "1.5", "1e400", "99999999999999999999"};
  int runs = 0;
  for (int field = 0; field < 3; ++field) {
    for (const auto& bad : numbers) {
      // An arrival of 0 or 1e-300 s is a good arrival; a length of 0 or 1e-300 tokens is not.
      if (field == 0 && (bad == "0" || bad == "1e-300" || bad == "1.5")) continue;
      std::vector<std::string> csv = {"0.5", "100", "10"};
      csv[static_cast<std::size_t>(field)] = bad;
      const fs::path file = scratch.path() / "trace.csv";
      write_text(file, "arrival_s,input_tokens,output_tokens\n0,10,10\n" + csv[0] + "," + csv[1] +
                           "," + csv[2] + "\n");
      const std::vector<std::string> args = {"serve",    "--model",         "llama-3.1-8b", "--hw",
                                             "h100-sxm", "--requests-file", file.string()};
      EXPECT_TRUE(one_line_error(run_xpusim_words(args))) << field << " = " << bad;
      ++runs;
    }
  }
  const std::vector<std::string> jsonl = {
      "{\"arrival_s\": 1, \"input_tokens\": 1, \"output_tokens\": 1, \"input_tokens\": 2}",
      "{\"arrival_s\": 1e400, \"input_tokens\": 1, \"output_tokens\": 1}",
      "{\"arrival_s\": \"1\", \"input_tokens\": 1, \"output_tokens\": 1}",
      "{\"arrival_s\": 1, \"input_tokens\": 1.5, \"output_tokens\": 1}",
      "{\"arrival_s\": 1, \"input_tokens\": 1, \"output_tokens\": 99999999999999999999}",
      "{\"arrival_s\": 1, \"input_tokens\": 1, \"output_tokens\": 1",
      "[1, 2, 3]",
      "{\"arrival_s\": 1e300, \"input_tokens\": 1, \"output_tokens\": 1}"};
  for (const auto& line : jsonl) {
    const fs::path file = scratch.path() / "trace.jsonl";
    write_text(file, line + "\n");
    const std::vector<std::string> args = {"serve",    "--model",         "llama-3.1-8b", "--hw",
                                           "h100-sxm", "--requests-file", file.string()};
    EXPECT_TRUE(one_line_error(run_xpusim_words(args))) << line;
    ++runs;
  }
  EXPECT_GT(runs, 30);
}

// --- Results: no NaN, infinity, negative or stray null in the JSON of good runs
// -------------------

/// Keys where null means "does not exist" (a price not listed, a record without a prediction).
bool nullable(const std::string& key) {
  static const std::set<std::string> keys = {"cost_basis",
                                             "cost_per_million_tokens_usd",
                                             "predicted",
                                             "relative_error",
                                             "usd_per_hour",
                                             "measured",
                                             "tolerance_reason",
                                             "reason",
                                             "first_stage_layers",
                                             "last_stage_layers",
                                             "pipeline_layout",
                                             "price_usd_per_device_hour",
                                             "tokens_per_s_per_usd_per_hour",
                                             "cost_usd",
                                             "cost_change"};
  return keys.count(key) > 0;
}

void walk(const Json& node, const std::string& pointer, const std::string& key,
          std::vector<std::string>& problems) {
  if (node.is_object()) {
    for (const auto& [k, v] : node.items()) walk(v, pointer + "/" + k, k, problems);
  } else if (node.is_array()) {
    for (std::size_t i = 0; i < node.size(); ++i)
      walk(node[i], pointer + "/" + std::to_string(i), key, problems);
  } else if (node.is_null()) {
    if (!nullable(key)) problems.push_back(pointer + " is null");
  } else if (node.is_number()) {
    const double x = node.get<double>();
    if (!std::isfinite(x)) problems.push_back(pointer + " is not finite");
    if (x < 0 && !signed_result_key(key)) problems.push_back(pointer + " is negative");
  }
}

TEST(Results, TheJsonOfManyRunsHoldsOnlyFiniteNonNegativeNumbers) {
  const std::vector<std::vector<std::string>> runs = {
      {"hw", "list"},
      {"model", "list"},
      {"system", "list"},
      {"stack", "list"},
      {"model", "show", "deepseek-v3"},
      {"infer", "--model", "llama-2-70b", "--hw", "h100-sxm", "--devices", "8", "--batch", "64"},
      {"infer", "--model", "llama-3.1-8b", "--hw", "mi300x", "--weight-dtype", "int4"},
      {"infer", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--input-len", "131000",
       "--output-len", "72"},
      {"compare", "--model", "llama-3.1-8b"},
      {"compare", "--model", "llama-3.1-8b", "--max-ttft-s", "0", "--max-tpot-s", "0"},
      {"train", "--model", "gpt3-175b", "--system", "dgx-a100-superpod", "--nodes", "128",
       "--global-batch", "1536", "--seq-len", "2048", "--tp", "8", "--pp", "8", "--tokens", "3e11"},
      {"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "1", "--global-batch",
       "8", "--seq-len", "1"},
      {"train", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--nodes", "2", "--global-batch",
       "64", "--seq-len", "8192", "--search", "--top", "3", "--tokens", "1e9"},
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "5", "--num-requests",
       "50"},
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "1000000",
       "--num-requests", "50"},
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--rate", "0.000001",
       "--num-requests", "3"},
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--concurrency", "4",
       "--num-requests", "20", "--input-len", "normal:1024:16777216"},
      {"serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--offline", "--num-requests", "20",
       "--input-len", "lognormal:100000:16777216", "--scheduler", "chunked"},
      {"plan", "--model", "llama-3.1-8b", "--rate", "2", "--num-requests", "30"},
      {"sensitivity", "infer", "--model", "llama-3.1-8b", "--hw", "h100-sxm"},
      {"compare", "--model", "llama-3.1-8b", "--train", "--tokens", "1e9"},
  };
  for (const auto& args : runs) {
    auto with_json = args;
    with_json.insert(with_json.end(), {"--format", "json"});
    const CliResult r = run_xpusim_words(with_json);
    ASSERT_EQ(r.status, 0) << describe(with_json) << r.err;
    std::vector<std::string> problems;
    walk(Json::parse(r.out), "", "", problems);
    EXPECT_TRUE(problems.empty()) << describe(with_json) << ::testing::PrintToString(problems);
  }
}

// --- Every flag a message quotes exists ----------------------------------------------------------

/// The flags `xpusim ... --help` lists for every command.
std::set<std::string> parser_flags() {
  const std::vector<std::vector<std::string>> commands = {{},
                                                          {"hw", "list"},
                                                          {"hw", "show"},
                                                          {"model", "list"},
                                                          {"model", "show"},
                                                          {"system", "list"},
                                                          {"system", "show"},
                                                          {"stack", "list"},
                                                          {"stack", "show"},
                                                          {"infer"},
                                                          {"compare"},
                                                          {"train"},
                                                          {"serve"},
                                                          {"plan"},
                                                          {"validate", "training"},
                                                          {"calibrate"},
                                                          {"sensitivity"},
                                                          {"tco"},
                                                          {"build-vs-buy"},
                                                          {"chip", "derive"},
                                                          {"sweep"},
                                                          {"report"}};
  std::set<std::string> flags;
  const std::regex flag("--[a-z][a-z0-9-]*");
  for (auto args : commands) {
    args.push_back("--help");
    const CliResult r = run_xpusim_words(args);
    for (std::sregex_iterator it(r.out.begin(), r.out.end(), flag), end; it != end; ++it)
      flags.insert(it->str());
  }
  return flags;
}

TEST(Messages, EveryFlagQuotedInTheSourcesExists) {
  const std::set<std::string> flags = parser_flags();
  ASSERT_GT(flags.size(), 50u);
  // Flags of other programs, named as such in help text (Megatron's, the probe's).
  const std::set<std::string> foreign = {"--decoder-first-pipeline-num-layers",
                                         "--decoder-last-pipeline-num-layers", "--smoke"};
  const fs::path root = fs::path(XPUSIM_SOURCE_DATADIR).parent_path();
  const std::regex literal("\"([^\"\\\\]|\\\\.)*\"");
  const std::regex flag("(^|[^a-z0-9-])(--[a-z][a-z0-9-]*)");
  std::vector<std::string> unknown;
  for (const fs::path dir : {root / "src", root / "tools" / "xpusim"}) {
    for (const auto& entry : fs::recursive_directory_iterator(dir)) {
      const auto ext = entry.path().extension();
      if (ext != ".cpp" && ext != ".hpp") continue;
      const std::string text = read_text(entry.path());
      for (std::sregex_iterator s(text.begin(), text.end(), literal), end; s != end; ++s) {
        const std::string words = s->str();
        for (std::sregex_iterator f(words.begin(), words.end(), flag); f != end; ++f) {
          const std::string name = (*f)[2].str();
          if (flags.count(name) == 0 && foreign.count(name) == 0)
            unknown.push_back(entry.path().filename().string() + ": " + name);
        }
      }
    }
  }
  EXPECT_TRUE(unknown.empty()) << ::testing::PrintToString(unknown);
}

TEST(Messages, ServeWordsTheLibrarysFieldsWithItsOwnFlags) {
  const std::vector<std::string> base = {
      "serve", "--model", "llama-3.1-8b", "--hw", "h100-sxm", "--num-requests", "5", "--rate", "1"};
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--slo-ttft-p99", "nan"}, "xpusim: command line: --slo-ttft-p99: "},
      {{"--tp", "3"}, "xpusim: command line: --tp: expected a divisor of the model's 32 attention"},
      {{"--max-batch", "0"}, "xpusim: command line: --max-batch: "},
      {{"--replicas", "10000000"}, "xpusim: command line: --replicas: expected 1 to 4096"},
  };
  for (const auto& [more, prefix] : cases) {
    auto args = base;
    args.insert(args.end(), more.begin(), more.end());
    const CliResult r = run_xpusim_words(args);
    EXPECT_EQ(r.err.rfind(prefix, 0), 0u) << r.err;
  }
}

TEST(Messages, APlanProblemBlamesThePlanNotTp) {
  const CliResult r = run_xpusim_words({"train", "--model", "gpt3-175b", "--system",
                                        "dgx-a100-superpod", "--global-batch", "1536", "--seq-len",
                                        "2048", "--tp", "8", "--pp", "8", "--nodes", "127"});
  EXPECT_TRUE(one_line_error(r));
  EXPECT_EQ(r.err.rfind("xpusim: command line: parallel plan: ", 0), 0u) << r.err;
}

// --- The checked helpers -------------------------------------------------------------------------

TEST(Checked, FloatToIntegerConversionsRefuseWhatDoesNotFit) {
  EXPECT_EQ(checked_int64(12.9, "x"), 12);
  EXPECT_EQ(checked_int64(-12.9, "x"), -12);
  EXPECT_EQ(checked_int(2147483647.0, "x"), 2147483647);
  for (double bad : {std::nan(""), HUGE_VAL, -HUGE_VAL, 1e19, -1e19, 9223372036854775808.0}) {
    EXPECT_THROW((void)checked_int64(bad, "blocks"), Error) << bad;
  }
  EXPECT_THROW((void)checked_int(2147483648.0, "x"), Error);
  try {
    (void)checked_int64(1e300, "blocks");
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kInternal);
    EXPECT_EQ(std::string(e.what()).rfind("internal error: blocks: ", 0), 0u) << e.what();
  }
}

TEST(Checked, ProductsAndSumsRefuseOverflow) {
  EXPECT_EQ(checked_mul(int64_t{1} << 31, int64_t{1} << 31, "x"), int64_t{1} << 62);
  EXPECT_THROW((void)checked_mul(int64_t{1} << 32, int64_t{1} << 32, "x"), Error);
  EXPECT_THROW((void)checked_mul(std::numeric_limits<int64_t>::min(), -1, "x"), Error);
  EXPECT_THROW((void)checked_add(std::numeric_limits<int64_t>::max(), 1, "x"), Error);
  EXPECT_EQ(checked_add(-5, 3, "x"), -2);
}

TEST(Checked, ResultNumbersMustBeFiniteAndNonNegative) {
  EXPECT_NO_THROW(check_result_numbers(Json{{"a", 1.5}, {"b", {1, 2}}, {"price", nullptr}}));
  EXPECT_NO_THROW(check_result_numbers(Json{{"relative_error", -0.2}}));
  EXPECT_THROW(check_result_numbers(Json{{"ttft_s", std::nan("")}}), Error);
  EXPECT_THROW(check_result_numbers(Json{{"rows", {Json{{"t", HUGE_VAL}}}}}), Error);
  EXPECT_THROW(check_result_numbers(Json{{"tokens", -1}}), Error);
  try {
    check_result_numbers(Json{{"rows", {Json{{"ok", 1}}, Json{{"ttft_s", -0.5}}}}});
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), Error::Kind::kInternal);
    EXPECT_NE(std::string(e.what()).find("/rows/1/ttft_s"), std::string::npos) << e.what();
  }
}

TEST(Checked, Utf8Validation) {
  EXPECT_TRUE(is_valid_utf8(""));
  EXPECT_TRUE(is_valid_utf8("plain"));
  EXPECT_TRUE(is_valid_utf8("Gaudi \xc2\xb3, \xe2\x82\xac, \xf0\x9f\x98\x80"));
  for (const char* bad : {"\xff", "\xc3", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80",
                          "\xf4\x90\x80\x80", "a\x80", "\xf0\x9f\x98"}) {
    EXPECT_FALSE(is_valid_utf8(bad)) << ::testing::PrintToString(std::string(bad));
  }
}

TEST(Checked, StrictJsonRefusesRepeatedKeysAndHugeNumbers) {
  EXPECT_EQ(parse_json_strict("{\"a\": {\"b\": 1}, \"b\": 2}", "f.json")["b"], 2);
  EXPECT_EQ(testing::error_of([] { (void)parse_json_strict("{\"a\": 1, \"a\": 2}", "f.json"); }),
            "f.json: a: duplicate key");
  EXPECT_EQ(
      testing::error_of([] { (void)parse_json_strict("{\"x\": {\"a\": 1, \"a\": 2}}", "f.json"); }),
      "f.json: a: duplicate key");
  EXPECT_EQ(testing::error_of([] { (void)parse_json_strict("{\"a\": 1e400}", "f.json"); }),
            "f.json: malformed JSON: a number beyond the range of a double");
  EXPECT_EQ(testing::error_of([] { (void)parse_json_strict("{\n\"a\": ", "f.json"); }),
            "f.json: malformed JSON at line 2 (byte 8)");
}

TEST(Checked, InputFilesMustBeRegularAndBounded) {
  ScratchDir scratch;
  const fs::path big = scratch.path() / "big.yaml";
  write_text(big, std::string(2048, 'x'));
  EXPECT_EQ(testing::error_of([&] { check_input_file(big, 1024); }),
            big.string() + ": 2048 bytes: expected at most 1024 bytes (0 MiB)");
  EXPECT_EQ(testing::error_of([&] { check_input_file(scratch.path(), 1024); }),
            scratch.path().string() + ": expected a file, got a directory");
  EXPECT_EQ(testing::error_of([&] { check_input_file("/dev/null", 1024); }),
            "/dev/null: expected a file, got a device");
  EXPECT_EQ(testing::error_of([&] { check_input_file(scratch.path() / "none", 1024); }),
            (scratch.path() / "none").string() + ": no such file");
}

// --- The checked build: invariants are asserted where the tests run -----------------------------

#ifndef NDEBUG
TEST(CheckedBuildDeathTest, TimeNeverRunsBackward) {
  serve::EventQueue queue(4);
  queue.push(2.0, serve::EventKind::kArrival, 0);
  (void)queue.pop();
  EXPECT_DEATH(queue.push(1.0, serve::EventKind::kArrival, 0), "time >= now_");
}

TEST(CheckedBuildDeathTest, TheKvCacheNeverReleasesMoreThanItHolds) {
  serve::BlockPool cache(8, 16);
  ASSERT_TRUE(cache.try_allocate(2));
  EXPECT_DEATH(cache.release(3), "n <= used_");
}
#endif

}  // namespace
}  // namespace xpusim
