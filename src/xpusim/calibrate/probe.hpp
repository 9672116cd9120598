#pragma once
// The JSON that tools/probe/probe.py writes on a GPU ("xpusim-probe/1", tools/probe/README.md),
// parsed strictly in one place into plain structs.

#include <cstdint>
#include <filesystem>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/core/units.hpp"

namespace xpusim {

/// One timed kernel or step: median and spread of its GPU time, its work and what it achieved.
struct ProbeMeasurement {
  std::string op;     ///< "gemm", "grouped_gemm", "copy", "attention_forward", "train_step", ...
  std::string label;  ///< what it stands for ("llama-3.1-8b qkv", "default"); may be empty
  std::string dtype;  ///< for GEMMs the GEMM kind: "bf16", "fp8", "fp8_rowwise", ...
  std::string impl;   ///< the library call or backend ("torch._scaled_mm ...", "sdpa:flash")
  std::map<std::string, int64_t> shape;  ///< op-specific sizes ("m", "n", "k", "seq_len", ...)
  Seconds time;                          ///< median
  Seconds p10;
  Seconds p90;
  int repeats = 0;
  int calls_per_sample = 1;
  std::string timing;  ///< "cuda_graph", "eager" or "wall"
  Flops flops;
  Bytes bytes;

  /// shape[key]; throws Error(kInput) naming the measurement when absent.
  [[nodiscard]] int64_t size(const std::string& key) const;
};

/// One section of the run (gemm, memory, attention, train_step, ...).
struct ProbeSection {
  std::string status;  ///< "ok", "error" or "skipped"
  std::string error;   ///< why, when not ok
  Seconds elapsed;
  std::vector<std::string> notes;
  std::vector<std::string> errors;  ///< measurements that failed, one line each
  std::vector<ProbeMeasurement> results;
  /// End-to-end sections: the Hugging Face config.json of the model they ran, as JSON text.
  std::string model_config_json;
};

struct ProbeTelemetrySample {
  double t_s = 0.0;
  std::string section;
  std::optional<double> sm_clock_hz, memory_clock_hz, power_w, temperature_c;
};

struct Probe {
  std::filesystem::path file;
  bool synthetic = false;  ///< a test fixture, not a measurement
  bool smoke = false;      ///< a --smoke run: tiny shapes, measures nothing
  std::string date;
  std::string device_name;
  std::string compute_capability;
  std::map<std::string, std::string> software;  ///< versions; absent ones are left out
  Seconds elapsed;
  std::string telemetry_source;
  std::vector<ProbeTelemetrySample> telemetry;
  std::map<std::string, ProbeSection> sections;

  /// The section `name` when the run has it with at least one result, else nullptr.
  [[nodiscard]] const ProbeSection* section(const std::string& name) const;
};

/// Parses a probe file strictly: unknown keys are errors with "did you mean", every message
/// names the file and the key path ("x.json: sections.gemm.results[3].time_s: expected > 0").
[[nodiscard]] Probe load_probe_file(const std::filesystem::path& file);

/// The same from JSON text; `where` names it in messages.
[[nodiscard]] Probe parse_probe(const std::string& text, const std::string& where);

/// The section names a probe file may hold.
[[nodiscard]] const std::vector<std::string>& probe_section_names();

}  // namespace xpusim
