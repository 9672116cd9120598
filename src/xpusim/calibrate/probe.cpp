// The one reader of the probe's JSON (tools/probe/README.md).

#include "xpusim/calibrate/probe.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/core/input_file.hpp"

namespace xpusim {

namespace {

using Json = nlohmann::json;

constexpr const char* kSchema = "xpusim-probe/1";

/// One JSON object of the file at `path`, with the keys it may hold.
class Object {
 public:
  Object(const Json& json, const std::string& where, std::string path,
         const std::vector<std::string>& allowed)
      : json_(json), where_(where), path_(std::move(path)) {
    if (!json_.is_object()) fail_here(fmt::format("expected an object, got {}", kind(json_)));
    for (const auto& [key, value] : json_.items()) {
      if (std::find(allowed.begin(), allowed.end(), key) == allowed.end())
        throw_input_error(where_, at(key), "unknown key" + did_you_mean(key, allowed));
    }
  }

  [[nodiscard]] std::string at(const std::string& key) const {
    return path_.empty() ? key : path_ + "." + key;
  }
  [[nodiscard]] const std::string& where() const { return where_; }

  /// The value at `key`, or nullptr when absent or null.
  [[nodiscard]] const Json* find(const std::string& key) const {
    const auto it = json_.find(key);
    return it == json_.end() || it->is_null() ? nullptr : &*it;
  }
  [[nodiscard]] const Json& required(const std::string& key) const {
    const Json* value = find(key);
    if (value == nullptr) fail(key, "missing");
    return *value;
  }

  [[nodiscard]] std::string text(const std::string& key) const {
    const Json& v = required(key);
    if (!v.is_string()) fail(key, fmt::format("expected text, got {}", kind(v)));
    return v.get<std::string>();
  }
  [[nodiscard]] std::string text_or_empty(const std::string& key) const {
    return find(key) == nullptr ? std::string() : text(key);
  }
  [[nodiscard]] bool flag(const std::string& key) const {
    const Json& v = required(key);
    if (!v.is_boolean()) fail(key, fmt::format("expected true or false, got {}", v.dump()));
    return v.get<bool>();
  }
  [[nodiscard]] double number(const std::string& key) const {
    const Json& v = required(key);
    if (!v.is_number()) fail(key, fmt::format("expected a number, got {}", kind(v)));
    return v.get<double>();
  }
  [[nodiscard]] double positive(const std::string& key) const {
    const double x = number(key);
    if (!(x > 0.0)) fail(key, fmt::format("expected > 0, got {}", x));
    return x;
  }
  [[nodiscard]] double non_negative(const std::string& key) const {
    const double x = number(key);
    if (!(x >= 0.0)) fail(key, fmt::format("expected >= 0, got {}", x));
    return x;
  }
  [[nodiscard]] std::optional<double> optional_number(const std::string& key) const {
    return find(key) == nullptr ? std::nullopt : std::optional<double>(number(key));
  }
  [[nodiscard]] int64_t count(const std::string& key) const {
    const Json& v = required(key);
    if (!v.is_number_integer() || v.get<int64_t>() < 1)
      fail(key, fmt::format("expected a whole number >= 1, got {}", v.dump()));
    return v.get<int64_t>();
  }
  [[nodiscard]] std::vector<std::string> texts(const std::string& key) const {
    std::vector<std::string> out;
    const Json* v = find(key);
    if (v == nullptr) return out;
    if (!v->is_array()) fail(key, fmt::format("expected a list of text, got {}", kind(*v)));
    for (const Json& item : *v) {
      if (!item.is_string()) fail(key, fmt::format("expected a list of text, got {}", item.dump()));
      out.push_back(item.get<std::string>());
    }
    return out;
  }
  /// The list at `key` (empty when absent).
  [[nodiscard]] const Json& list(const std::string& key) const {
    static const Json empty = Json::array();
    const Json* v = find(key);
    if (v == nullptr) return empty;
    if (!v->is_array()) fail(key, fmt::format("expected a list, got {}", kind(*v)));
    return *v;
  }

  [[noreturn]] void fail(const std::string& key, const std::string& what) const {
    throw_input_error(where_, at(key), what);
  }
  [[noreturn]] void fail_here(const std::string& what) const {
    throw_input_error(where_, path_, what);
  }

  static std::string kind(const Json& v) {
    if (v.is_object()) return "an object";
    if (v.is_array()) return "a list";
    if (v.is_string()) return fmt::format("text {}", v.dump());
    return v.dump();
  }

 private:
  const Json& json_;
  const std::string& where_;
  std::string path_;
};

ProbeMeasurement read_measurement(const Json& json, const std::string& where,
                                  const std::string& path) {
  const Object o(json, where, path,
                 {"op", "label", "dtype", "impl", "shape", "time_s", "p10_s", "p90_s", "repeats",
                  "calls_per_sample", "timing", "flops", "bytes", "achieved_flops_per_s",
                  "achieved_bytes_per_s"});
  ProbeMeasurement m;
  m.op = o.text("op");
  m.label = o.text_or_empty("label");
  m.dtype = o.text("dtype");
  m.impl = o.text("impl");
  const Json& shape = o.required("shape");
  if (!shape.is_object())
    o.fail("shape", fmt::format("expected an object of sizes, got {}", Object::kind(shape)));
  for (const auto& [key, value] : shape.items()) {
    if (!value.is_number_integer() || value.get<int64_t>() < 0)
      o.fail("shape." + key, fmt::format("expected a whole number >= 0, got {}", value.dump()));
    m.shape[key] = value.get<int64_t>();
  }
  m.time = Seconds(o.positive("time_s"));
  m.p10 = Seconds(o.positive("p10_s"));
  m.p90 = Seconds(o.positive("p90_s"));
  if (m.p10 > m.time || m.time > m.p90)
    o.fail("time_s", fmt::format("expected p10_s <= time_s <= p90_s, got {} <= {} <= {}",
                                 m.p10.value(), m.time.value(), m.p90.value()));
  m.repeats = static_cast<int>(o.count("repeats"));
  m.calls_per_sample = static_cast<int>(o.count("calls_per_sample"));
  m.timing = o.text("timing");
  const std::vector<std::string> timings = {"cuda_graph", "eager", "wall"};
  if (std::find(timings.begin(), timings.end(), m.timing) == timings.end())
    o.fail("timing", fmt::format("expected one of cuda_graph, eager, wall, got '{}'{}", m.timing,
                                 did_you_mean(m.timing, timings)));
  m.flops = Flops(o.non_negative("flops"));
  m.bytes = Bytes(o.non_negative("bytes"));
  // The achieved rates are derived (work / time_s) and kept in the file for people reading it;
  // they are checked against that definition rather than trusted.
  const auto check_rate = [&](const char* key, double work) {
    const auto rate = o.optional_number(key);
    if (!rate) return;
    const double expected = work / m.time.value();
    if (std::abs(*rate - expected) > 1e-6 * std::max(1.0, expected))
      o.fail(key,
             fmt::format("expected {} / time_s = {:.6g}, got {:.6g}",
                         std::string(key).find("flops") != std::string::npos ? "flops" : "bytes",
                         expected, *rate));
  };
  check_rate("achieved_flops_per_s", m.flops.value());
  check_rate("achieved_bytes_per_s", m.bytes.value());
  return m;
}

ProbeSection read_section(const Json& json, const std::string& where, const std::string& path) {
  const Object o(json, where, path,
                 {"status", "error", "elapsed_s", "notes", "errors", "results", "model"});
  ProbeSection s;
  s.status = o.text("status");
  const std::vector<std::string> statuses = {"ok", "error", "skipped"};
  if (std::find(statuses.begin(), statuses.end(), s.status) == statuses.end())
    o.fail("status", fmt::format("expected one of ok, error, skipped, got '{}'{}", s.status,
                                 did_you_mean(s.status, statuses)));
  s.error = o.text_or_empty("error");
  if (s.status != "ok" && s.error.empty()) o.fail("error", "missing (the section is not ok)");
  s.elapsed = Seconds(o.non_negative("elapsed_s"));
  s.notes = o.texts("notes");
  s.errors = o.texts("errors");
  const Json& results = o.list("results");
  for (std::size_t i = 0; i < results.size(); ++i)
    s.results.push_back(
        read_measurement(results[i], where, fmt::format("{}.results[{}]", path, i)));
  if (const Json* model = o.find("model")) {
    if (!model->is_object())
      o.fail("model", fmt::format("expected a config.json object, got {}", Object::kind(*model)));
    s.model_config_json = model->dump();
  }
  return s;
}

void read_software(const Object& root, Probe& probe) {
  const Json& json = root.required("software");
  const Object o(json, root.where(), "software",
                 {"python", "torch", "cuda", "cudnn", "driver", "triton", "jax"});
  for (const auto& [key, value] : json.items()) {
    if (value.is_null()) continue;
    if (!value.is_string()) o.fail(key, fmt::format("expected text, got {}", value.dump()));
    probe.software[key] = value.get<std::string>();
  }
  if (probe.software.count("torch") == 0) o.fail("torch", "missing");
}

void read_settings(const Object& root, Probe& probe) {
  const Object o(root.required("settings"), root.where(), "settings",
                 {"budget_s", "seed", "smoke", "section_caps_s"});
  (void)o.positive("budget_s");
  (void)o.number("seed");
  probe.smoke = o.flag("smoke");
  if (const Json* caps = o.find("section_caps_s")) {
    const Object c(*caps, root.where(), "settings.section_caps_s", probe_section_names());
    for (const auto& [key, value] : caps->items()) (void)c.positive(key);
  }
}

void read_telemetry(const Object& root, Probe& probe) {
  const Json* json = root.find("telemetry");
  if (json == nullptr) return;
  const Object o(*json, root.where(), "telemetry", {"source", "error", "samples"});
  probe.telemetry_source = o.text_or_empty("source");
  const Json& samples = o.list("samples");
  for (std::size_t i = 0; i < samples.size(); ++i) {
    const Object s(
        samples[i], root.where(), fmt::format("telemetry.samples[{}]", i),
        {"t_s", "section", "sm_clock_hz", "memory_clock_hz", "power_w", "temperature_c"});
    ProbeTelemetrySample sample;
    sample.t_s = s.non_negative("t_s");
    sample.section = s.text_or_empty("section");
    sample.sm_clock_hz = s.optional_number("sm_clock_hz");
    sample.memory_clock_hz = s.optional_number("memory_clock_hz");
    sample.power_w = s.optional_number("power_w");
    sample.temperature_c = s.optional_number("temperature_c");
    probe.telemetry.push_back(sample);
  }
}

}  // namespace

const std::vector<std::string>& probe_section_names() {
  static const std::vector<std::string> names = {"launch",       "memory",     "gemm",
                                                 "grouped_gemm", "attention",  "decode_attention",
                                                 "elementwise",  "train_step", "decode_loop"};
  return names;
}

int64_t ProbeMeasurement::size(const std::string& key) const {
  const auto it = shape.find(key);
  if (it == shape.end())
    throw Error(Error::Kind::kInput,
                fmt::format("probe measurement {} '{}': shape has no '{}'", op, label, key));
  return it->second;
}

const ProbeSection* Probe::section(const std::string& name) const {
  const auto it = sections.find(name);
  return it == sections.end() || it->second.results.empty() ? nullptr : &it->second;
}

Probe parse_probe(const std::string& text, const std::string& where) {
  const Json json = parse_json_strict(text, where);
  const Object root(
      json, where, "",
      {"schema", "synthetic", "date", "device_name", "compute_capability", "multiprocessors",
       "memory_bytes", "software", "settings", "elapsed_s", "telemetry", "sections"});
  Probe probe;
  const std::string schema = root.text("schema");
  if (schema != kSchema)
    root.fail("schema", fmt::format("expected '{}', got '{}'", kSchema, schema));
  probe.synthetic = root.flag("synthetic");
  probe.date = root.text("date");
  probe.device_name = root.text("device_name");
  probe.compute_capability = root.text_or_empty("compute_capability");
  if (root.find("multiprocessors") != nullptr) (void)root.count("multiprocessors");
  if (root.find("memory_bytes") != nullptr) (void)root.positive("memory_bytes");
  read_software(root, probe);
  read_settings(root, probe);
  probe.elapsed = Seconds(root.non_negative("elapsed_s"));
  read_telemetry(root, probe);
  const Json& sections = root.required("sections");
  const Object s(sections, where, "sections", probe_section_names());
  for (const auto& [name, value] : sections.items())
    probe.sections[name] = read_section(value, where, "sections." + name);
  return probe;
}

Probe load_probe_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  const std::string text = read_input_file(file);
  Probe probe = parse_probe(text, name);
  probe.file = file;
  return probe;
}

}  // namespace xpusim
