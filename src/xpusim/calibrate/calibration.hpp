#pragma once
// From a probe file (tools/probe) to the `efficiency:` figures of a hardware YAML, each with a
// note saying which measurements it rests on and how it was derived; and the probe's
// end-to-end steps held against xpusim's predictions (docs/model.md, "Calibration from a probe").

#include <optional>
#include <string>
#include <vector>

#include "xpusim/calibrate/probe.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

/// One derived efficiency figure, keyed as in the hardware YAML.
struct CalibratedFigure {
  std::string key;  ///< "bf16" under gemm_fraction_of_peak, "kernel_overhead_s", ...
  double value = 0.0;
  std::string note;  ///< which measurements, and how
};

struct Calibration {
  std::string source_id;     ///< "probe_<file stem>", for the YAML's sources list
  std::string source_title;  ///< device, date and software versions
  std::string source_url;    ///< the probe file as given
  std::vector<CalibratedFigure> gemm_fraction_of_peak;       ///< by GEMM kind ("bf16", "fp8")
  std::vector<CalibratedFigure> attention_fraction_of_peak;  ///< "flash2_forward", ...
  std::optional<CalibratedFigure> memory_bandwidth_fraction;
  std::optional<CalibratedFigure> kernel_overhead_s;
  std::optional<CalibratedFigure> matmul_fixed_time_s;
  std::optional<CalibratedFigure> compute_memory_overlap_fraction;
  /// The bf16 GEMM grid against gemm_cost with the figures above: points and the root mean
  /// square of (predicted - measured) / measured.
  int gemm_fit_points = 0;
  double gemm_fit_rms_relative_error = 0.0;
  std::vector<std::string> not_derived;  ///< figures the probe could not give, and why
  std::vector<std::string> warnings;     ///< a synthetic or smoke file, another device, ...
};

/// Derives the efficiency figures of `hw` (its peaks and bandwidth are the denominators) from
/// the kernel-level sections of `probe`; the end-to-end sections are never used.
[[nodiscard]] Calibration calibrate(const Probe& probe, const AcceleratorSpec& hw);

/// `hw` with the derived figures in place of its own (figures not derived keep their value).
[[nodiscard]] AcceleratorSpec with_calibration(AcceleratorSpec hw, const Calibration& calibration);

/// One end-to-end figure of the probe next to xpusim's prediction of the same configuration.
struct EndToEndCheck {
  std::string metric;  ///< "train_step_s", "train_forward_backward_s", "ttft_s", "tpot_s", ...
  std::string detail;  ///< the configuration, as xpusim was given it
  double measured_s = 0.0;
  double predicted_s = 0.0;
  [[nodiscard]] double relative_error() const { return (predicted_s - measured_s) / measured_s; }
};

/// Predicts the probe's train_step (evaluate_training on one device) and decode_loop
/// (estimate_inference on one device) sections with `hw`; empty when the probe has neither.
[[nodiscard]] std::vector<EndToEndCheck> compare_end_to_end(const Probe& probe,
                                                            const AcceleratorSpec& hw);

}  // namespace xpusim
