// Probe measurements to efficiency figures (docs/model.md, "Calibration from a probe").

#include "xpusim/calibrate/calibration.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "xpusim/core/error.hpp"
#include "xpusim/cost/operators.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/training.hpp"

namespace xpusim {

namespace {

/// A GEMM counts as large, for the fraction of peak, when every side is at least this.
constexpr int64_t kLargeGemmSide = 4096;
/// Alternations of the fraction-of-peak estimate and the fixed-time/overlap fit.
constexpr int kFitRounds = 25;

double median(std::vector<double> values) {
  std::sort(values.begin(), values.end());
  const std::size_t n = values.size();
  return n % 2 == 1 ? values[n / 2] : 0.5 * (values[n / 2 - 1] + values[n / 2]);
}

std::string source_file_name(const Probe& probe) {
  return probe.file.empty() ? std::string("probe") : probe.file.filename().string();
}

/// The peak the probe's GEMM kind runs against, or nullopt when the catalog has none.
std::optional<FlopsPerSecond> kind_peak(const std::string& kind, const AcceleratorSpec& hw) {
  if (kind == "bf16") return hw.peak(DType::kBf16);
  if (kind == "fp16") return hw.peak(DType::kFp16);
  if (kind == "tf32") return hw.peak(DType::kTf32);
  if (kind == "fp32") return hw.peak(DType::kFp32);
  if (kind == "int8") return hw.peak(DType::kInt8);
  if (kind == "fp8" || kind == "fp8_blockwise" || kind == "mxfp8") return hw.peak(DType::kFp8);
  if (kind == "nvfp4") return hw.peak(DType::kFp4);
  return std::nullopt;
}

/// GEMM kinds of the hardware schema (data/hardware/README.md), in the order it lists them.
const std::vector<std::string>& schema_gemm_kinds() {
  static const std::vector<std::string> kinds = {"bf16", "fp8",  "fp8_blockwise", "mxfp8", "nvfp4",
                                                 "int8", "fp16", "tf32",          "fp32"};
  return kinds;
}

/// One bf16 GEMM of the grid with the parts of gemm_cost that do not depend on the fitted
/// figures: compute time at 100 % of peak, and memory time at the calibrated bandwidth.
struct GemmPoint {
  const ProbeMeasurement* m = nullptr;
  double compute_at_peak_s = 0.0;
  double memory_s = 0.0;
  bool large = false;
};

struct GemmFit {
  double fraction = 0.0;
  double fixed_s = 0.0;
  double overlap = 1.0;
  double rms = 0.0;
};

bool is_large(const ProbeMeasurement& m) {
  return m.size("m") >= kLargeGemmSide && m.size("n") >= kLargeGemmSide &&
         m.size("k") >= kLargeGemmSide;
}

/// gemm_cost's model of a point: max(c, m) + (1 - overlap) min(c, m) + overhead + fixed.
double predict(const GemmPoint& p, const GemmFit& f, double overhead_s) {
  const double c = p.compute_at_peak_s / f.fraction;
  return std::max(c, p.memory_s) + (1.0 - f.overlap) * std::min(c, p.memory_s) + overhead_s +
         f.fixed_s;
}

/// Fraction of peak from the large points given the fixed costs: the compute time that makes
/// the model meet each measurement, over the compute time at peak; their median.
double fraction_from_large(const std::vector<GemmPoint>& points, const GemmFit& f,
                           double overhead_s) {
  std::vector<double> fractions;
  for (const GemmPoint& p : points) {
    if (!p.large) continue;
    // Solve t = c + (1 - overlap) m + overhead + fixed for c (compute-bound, as large GEMMs are).
    const double compute =
        p.m->time.value() - overhead_s - f.fixed_s - (1.0 - f.overlap) * p.memory_s;
    if (compute > p.memory_s) fractions.push_back(p.compute_at_peak_s / compute);
  }
  return fractions.empty() ? 0.0 : std::min(1.0, median(fractions));
}

/// Least squares of the relative error over all points for (fixed, 1 - overlap), which enter
/// the model linearly: t - max(c, m) - overhead = fixed + (1 - overlap) min(c, m).
void fit_fixed_and_overlap(const std::vector<GemmPoint>& points, GemmFit& f, double overhead_s) {
  double s_ww = 0, s_wx = 0, s_wxx = 0, s_wy = 0, s_wxy = 0;
  for (const GemmPoint& p : points) {
    const double t = p.m->time.value();
    const double c = p.compute_at_peak_s / f.fraction;
    const double w = 1.0 / (t * t);
    const double x = std::min(c, p.memory_s);
    const double y = t - std::max(c, p.memory_s) - overhead_s;
    s_ww += w;
    s_wx += w * x;
    s_wxx += w * x * x;
    s_wy += w * y;
    s_wxy += w * x * y;
  }
  const double det = s_ww * s_wxx - s_wx * s_wx;
  double fixed = 0.0, beta = 0.0;
  if (det > 0.0) {
    fixed = (s_wxx * s_wy - s_wx * s_wxy) / det;
    beta = (s_ww * s_wxy - s_wx * s_wy) / det;
  }
  // Inside the bounds (fixed >= 0, overlap in [0, 1]): clamp one, refit the other.
  if (beta < 0.0 || beta > 1.0 || det <= 0.0) {
    beta = std::clamp(beta, 0.0, 1.0);
    fixed = (s_wy - beta * s_wx) / s_ww;
  }
  if (fixed < 0.0) {
    fixed = 0.0;
    beta = s_wxx > 0.0 ? std::clamp(s_wxy / s_wxx, 0.0, 1.0) : 0.0;
  }
  f.fixed_s = fixed;
  f.overlap = 1.0 - beta;
}

double rms_relative_error(const std::vector<GemmPoint>& points, const GemmFit& f,
                          double overhead_s) {
  double sum = 0.0;
  for (const GemmPoint& p : points) {
    const double e = (predict(p, f, overhead_s) - p.m->time.value()) / p.m->time.value();
    sum += e * e;
  }
  return points.empty() ? 0.0 : std::sqrt(sum / static_cast<double>(points.size()));
}

/// gemm_cost's pieces for one measured GEMM on `hw` (whose efficiency already holds the
/// calibrated memory fraction, and a matmul fraction of 1).
GemmPoint gemm_point(const ProbeMeasurement& m, const AcceleratorSpec& at_peak) {
  const GemmShape shape{m.size("m"), m.size("n"), m.size("k"),
                        m.shape.count("groups") != 0 ? m.size("groups") : 1};
  const KernelCost cost = gemm_cost(shape, at_peak, Deployment{});
  return {&m, cost.compute_time.value(), cost.memory_time.value(), is_large(m)};
}

AcceleratorSpec at_full_peak(const AcceleratorSpec& hw) {
  AcceleratorSpec copy = hw;
  copy.efficiency.gemm_fraction_of_peak[index_of(GemmKind::kBf16)] = 1.0;
  return copy;
}

struct Context {
  const Probe& probe;
  const AcceleratorSpec& hw;
  std::string file;  ///< the probe file's name, for notes
  Calibration out;
};

void derive_memory(Context& c) {
  const ProbeSection* s = c.probe.section("memory");
  if (s == nullptr) {
    c.out.not_derived.emplace_back(
        "memory_bandwidth_fraction: the probe has no memory section results");
    return;
  }
  std::vector<std::string> parts;
  double sum = 0.0;
  int count = 0;
  for (const char* op : {"copy", "triad"}) {
    const ProbeMeasurement* largest = nullptr;
    for (const auto& m : s->results) {
      if (m.op == op && (largest == nullptr || m.bytes > largest->bytes)) largest = &m;
    }
    if (largest == nullptr) continue;
    const double rate = largest->bytes.value() / largest->time.value();
    parts.push_back(
        fmt::format("{} {:.0f} GB/s ({} elements)", op, rate / 1e9, largest->size("elements")));
    sum += rate;
    ++count;
  }
  if (count == 0) {
    c.out.not_derived.emplace_back("memory_bandwidth_fraction: no copy or triad result");
    return;
  }
  const double value = sum / count / c.hw.memory_bandwidth.value();
  c.out.memory_bandwidth_fraction = CalibratedFigure{
      "memory_bandwidth_fraction", value,
      fmt::format("{}: mean of the largest {} (median time), over the catalog's {:.2f} TB/s",
                  c.file, fmt::join(parts, " and "), c.hw.memory_bandwidth.value() / 1e12)};
}

void derive_launch(Context& c) {
  const ProbeSection* s = c.probe.section("launch");
  const ProbeMeasurement* graph = nullptr;
  const ProbeMeasurement* eager = nullptr;
  if (s != nullptr) {
    for (const auto& m : s->results) {
      if (m.op == "launch" && m.impl == "cuda_graph") graph = &m;
      if (m.op == "launch" && m.impl == "eager") eager = &m;
    }
  }
  if (graph == nullptr) {
    c.out.not_derived.emplace_back(
        "kernel_overhead_s: the probe has no CUDA-graph launch measurement");
    return;
  }
  std::string eager_note;
  if (eager != nullptr)
    eager_note = fmt::format("; launched from Python the same kernels take {:.2f} us each",
                             eager->time.value() * 1e6);
  c.out.kernel_overhead_s = CalibratedFigure{
      "kernel_overhead_s", graph->time.value(),
      fmt::format("{}: median GPU time per kernel of {} one-element add_ kernels replayed from one "
                  "CUDA graph{}",
                  c.file, graph->size("kernels"), eager_note)};
}

/// bf16 grid: fraction of peak, fixed time and overlap, fitted together against gemm_cost.
void derive_gemm(Context& c) {
  const ProbeSection* s = c.probe.section("gemm");
  if (s == nullptr) {
    c.out.not_derived.emplace_back(
        "gemm_fraction_of_peak, matmul_fixed_time_s, compute_memory_overlap_fraction: the "
        "probe has no gemm results");
    return;
  }
  AcceleratorSpec at_peak = at_full_peak(c.hw);
  if (c.out.memory_bandwidth_fraction)
    at_peak.efficiency.memory_bandwidth_fraction = c.out.memory_bandwidth_fraction->value;
  const double overhead = c.out.kernel_overhead_s ? c.out.kernel_overhead_s->value
                                                  : c.hw.efficiency.kernel_overhead.value();
  std::vector<GemmPoint> points;
  for (const auto& m : s->results) {
    if (m.op == "gemm" && m.dtype == "bf16") points.push_back(gemm_point(m, at_peak));
  }
  const auto large =
      std::count_if(points.begin(), points.end(), [](const GemmPoint& p) { return p.large; });
  if (large == 0) {
    c.out.not_derived.emplace_back(fmt::format(
        "gemm_fraction_of_peak.bf16: no bf16 GEMM with every side >= {}", kLargeGemmSide));
    return;
  }
  GemmFit fit;
  fit.overlap = c.hw.efficiency.compute_memory_overlap_fraction;
  fit.fixed_s = 0.0;
  for (int round = 0; round < kFitRounds; ++round) {
    fit.fraction = fraction_from_large(points, fit, overhead);
    if (fit.fraction <= 0.0) break;
    fit_fixed_and_overlap(points, fit, overhead);
  }
  if (fit.fraction <= 0.0) {
    c.out.not_derived.emplace_back(
        "gemm_fraction_of_peak.bf16: the large bf16 GEMMs are not compute-bound in the model");
    return;
  }
  fit.rms = rms_relative_error(points, fit, overhead);
  c.out.gemm_fit_points = static_cast<int>(points.size());
  c.out.gemm_fit_rms_relative_error = fit.rms;
  const std::string overhead_note =
      c.out.kernel_overhead_s ? "the probe's kernel_overhead_s" : "the catalog's kernel_overhead_s";
  c.out.gemm_fraction_of_peak.push_back(
      {"bf16", fit.fraction,
       fmt::format(
           "{}: median over the {} bf16 GEMMs with every side >= {} of gemm_cost's compute "
           "time at peak over the measured time less the fitted fixed costs ({:.1f} TFLOP/s "
           "peak)",
           c.file, large, kLargeGemmSide, c.hw.peak(DType::kBf16)->value() / 1e12)});
  const std::string fit_note = fmt::format(
      "{}: least squares of the relative error of xpusim's gemm_cost over the {} bf16 GEMMs of "
      "the probe grid (M 1..16k, N and K of catalog models' projections), with {} and the "
      "fitted fraction of peak; rms error {:.1f} %",
      c.file, points.size(), overhead_note, fit.rms * 100.0);
  c.out.matmul_fixed_time_s = CalibratedFigure{"matmul_fixed_time_s", fit.fixed_s, fit_note};
  c.out.compute_memory_overlap_fraction =
      CalibratedFigure{"compute_memory_overlap_fraction", fit.overlap, fit_note};

  // The other kinds: the same estimate on their large GEMMs, with the bf16 fixed costs.
  for (const std::string& kind : schema_gemm_kinds()) {
    if (kind == "bf16") continue;
    const auto peak = kind_peak(kind, c.hw);
    std::vector<double> fractions;
    for (const auto& m : s->results) {
      if (m.op != "gemm" || m.dtype != kind || !is_large(m)) continue;
      const GemmPoint p = gemm_point(m, at_peak);
      if (!peak) continue;
      const double at_kind_peak =
          p.compute_at_peak_s * c.hw.peak(DType::kBf16)->value() / peak->value();
      const double memory =
          (m.bytes / (c.hw.memory_bandwidth * at_peak.efficiency.memory_bandwidth_fraction))
              .value();
      const double compute = m.time.value() - overhead - fit.fixed_s - (1.0 - fit.overlap) * memory;
      if (compute > memory) fractions.push_back(at_kind_peak / compute);
    }
    if (fractions.empty()) {
      if (!peak) {
        for (const auto& m : s->results) {
          if (m.op == "gemm" && m.dtype == kind) {
            c.out.not_derived.emplace_back(fmt::format(
                "gemm_fraction_of_peak.{}: measured, but {} lists no peak for it", kind, c.hw.id));
            break;
          }
        }
      }
      continue;
    }
    c.out.gemm_fraction_of_peak.push_back(
        {kind, std::min(1.0, median(fractions)),
         fmt::format("{}: median over the {} {} GEMMs with every side >= {}, as for bf16 ({:.1f} "
                     "TFLOP/s peak)",
                     c.file, fractions.size(), kind, kLargeGemmSide, peak->value() / 1e12)});
  }
  for (const auto& m : s->results) {
    if (m.op == "gemm" && std::find(schema_gemm_kinds().begin(), schema_gemm_kinds().end(),
                                    m.dtype) == schema_gemm_kinds().end()) {
      c.out.not_derived.emplace_back(fmt::format(
          "{} GEMMs were measured but are no GEMM kind of the hardware schema", m.dtype));
      break;
    }
  }
}

/// The schema's attention kernel for a probe backend, or "" when it has none.
std::string attention_kernel(const std::string& impl) {
  if (impl == "sdpa:flash" || impl == "flash_attn_2") return "flash2";
  if (impl == "flash_attn_3") return "flash3";
  if (impl == "sdpa:cudnn") return "cudnn";
  return "";
}

void derive_attention(Context& c) {
  const ProbeSection* s = c.probe.section("attention");
  if (s == nullptr) {
    c.out.not_derived.emplace_back(
        "attention_fraction_of_peak: the probe has no attention results");
    return;
  }
  const double peak = c.hw.peak(DType::kBf16)->value();
  const double fixed = c.out.matmul_fixed_time_s ? c.out.matmul_fixed_time_s->value
                                                 : c.hw.efficiency.matmul_fixed_time.value();
  const double overhead = c.out.kernel_overhead_s ? c.out.kernel_overhead_s->value
                                                  : c.hw.efficiency.kernel_overhead.value();
  for (const char* kernel : {"flash2", "flash3", "cudnn"}) {
    for (const char* direction : {"forward", "backward"}) {
      const std::string op = std::string("attention_") + direction;
      // The head dimension of Llama-class models where measured, else the widest measured.
      int64_t head_dim = 0, seq = 0;
      for (const auto& m : s->results) {
        if (m.op != op || attention_kernel(m.impl) != kernel) continue;
        const int64_t d = m.size("head_dim");
        if (head_dim != 128 && (d == 128 || d > head_dim)) head_dim = d;
      }
      for (const auto& m : s->results) {
        if (m.op == op && attention_kernel(m.impl) == kernel && m.size("head_dim") == head_dim)
          seq = std::max(seq, m.size("seq_len"));
      }
      if (seq == 0) continue;
      // Fastest implementation of the kernel at that shape (SDPA's and the package's FA2).
      double best = 0.0;
      std::string impl;
      for (const auto& m : s->results) {
        if (m.op != op || attention_kernel(m.impl) != kernel || m.size("head_dim") != head_dim ||
            m.size("seq_len") != seq)
          continue;
        const double fraction = m.flops.value() / (peak * (m.time.value() - fixed - overhead));
        if (fraction > best) {
          best = fraction;
          impl = m.impl;
        }
      }
      c.out.attention_fraction_of_peak.push_back(
          {fmt::format("{}_{}", kernel, direction), std::min(1.0, best),
           fmt::format("{}: {} causal bf16 {} at sequence {} and head dimension {}: FLOPs "
                       "(xpusim's count{}) over the measured time less the fixed costs, over the "
                       "{:.1f} TFLOP/s peak",
                       c.file, impl, direction, seq, head_dim,
                       std::string(direction) == "backward" ? ", 2.5x the forward" : "",
                       peak / 1e12)});
    }
  }
  if (c.out.attention_fraction_of_peak.empty())
    c.out.not_derived.emplace_back(
        "attention_fraction_of_peak: no flash2, flash3 or cudnn attention result");
}

}  // namespace

Calibration calibrate(const Probe& probe, const AcceleratorSpec& hw) {
  if (!hw.peak(DType::kBf16))
    throw Error(Error::Kind::kInput,
                fmt::format("{}: the accelerator lists no bf16 peak to calibrate against", hw.id));
  Context c{probe, hw, source_file_name(probe), {}};
  const std::string stem = probe.file.empty() ? "probe" : probe.file.stem().string();
  c.out.source_id = "probe_" + stem;
  for (char& ch : c.out.source_id) {
    if (ch == '-' || ch == '.') ch = '_';
  }
  std::vector<std::string> versions;
  for (const auto& [name, version] : probe.software) versions.push_back(name + " " + version);
  c.out.source_title = fmt::format("xpusim probe (tools/probe) on {}, {}: {}", probe.device_name,
                                   probe.date, fmt::join(versions, ", "));
  c.out.source_url = probe.file.string();
  if (probe.synthetic)
    c.out.warnings.emplace_back("the file is a synthetic test fixture, not a measurement");
  if (probe.smoke)
    c.out.warnings.emplace_back("the file is a --smoke run (tiny shapes): it measures nothing");
  derive_memory(c);
  derive_launch(c);
  derive_gemm(c);
  derive_attention(c);
  c.out.not_derived.emplace_back(
      "scale_up_bandwidth_fraction: a one-GPU probe does not measure the fabric");
  return c.out;
}

AcceleratorSpec with_calibration(AcceleratorSpec hw, const Calibration& cal) {
  Efficiency& e = hw.efficiency;
  for (const auto& f : cal.gemm_fraction_of_peak) {
    if (auto kind = parse_gemm_kind(f.key)) e.gemm_fraction_of_peak[index_of(*kind)] = f.value;
  }
  for (const auto& f : cal.attention_fraction_of_peak) {
    const auto split = f.key.rfind('_');
    if (split == std::string::npos) continue;
    const auto kernel = parse_attention_kernel(f.key.substr(0, split));
    if (!kernel) continue;
    const bool backward = f.key.substr(split + 1) == "backward";
    (backward ? e.attention_backward_fraction : e.attention_forward_fraction)[index_of(*kernel)] =
        f.value;
  }
  if (cal.memory_bandwidth_fraction)
    e.memory_bandwidth_fraction = cal.memory_bandwidth_fraction->value;
  if (cal.kernel_overhead_s) e.kernel_overhead = Seconds(cal.kernel_overhead_s->value);
  if (cal.matmul_fixed_time_s) e.matmul_fixed_time = Seconds(cal.matmul_fixed_time_s->value);
  if (cal.compute_memory_overlap_fraction)
    e.compute_memory_overlap_fraction = cal.compute_memory_overlap_fraction->value;
  return hw;
}

namespace {

/// One device of `hw` as a system: no fabric is used.
SystemSpec one_device(const AcceleratorSpec& hw) {
  SystemSpec s;
  s.id = hw.id + "-x1";
  s.name = "one " + hw.name;
  s.accelerator = hw;
  s.devices_per_node = 1;
  s.nodes = 1;
  s.scale_up.bandwidth = hw.scale_up_bandwidth;
  s.scale_up.latency = hw.scale_up_latency;
  s.scale_up.domain_devices = 1;
  s.scale_up.efficiency = hw.efficiency.scale_up_bandwidth_fraction;
  s.scale_out.bandwidth = hw.scale_out_bandwidth.value_or(hw.scale_up_bandwidth);
  s.scale_out.latency = hw.scale_up_latency;
  return s;
}

ModelSpec section_model(const Probe& probe, const ProbeSection& s, const std::string& name) {
  const std::string where = fmt::format("{}: sections.{}.model", probe.file.string(), name);
  if (s.model_config_json.empty())
    throw_input_error(probe.file.string(), "sections." + name + ".model",
                      "missing (the configuration of the model the section ran)");
  return parse_model_config(s.model_config_json, where, name + "-model");
}

const ProbeMeasurement* find_op(const ProbeSection& s, const std::string& op,
                                const std::string& impl = "") {
  for (const auto& m : s.results) {
    if (m.op == op && (impl.empty() || m.impl == impl)) return &m;
  }
  return nullptr;
}

void check_train(const Probe& probe, const AcceleratorSpec& hw, std::vector<EndToEndCheck>& out) {
  const ProbeSection* s = probe.section("train_step");
  if (s == nullptr) return;
  const ModelSpec model = section_model(probe, *s, "train_step");
  const ProbeMeasurement* step = find_op(*s, "train_step");
  const ProbeMeasurement& any = step != nullptr ? *step : s->results.front();
  TrainingJob job;
  job.global_batch = any.size("batch");
  job.seq_len = any.size("seq_len");
  ParallelPlan plan;
  plan.micro_batch = job.global_batch;
  const SystemSpec system = one_device(hw);
  if (auto problem = plan_problem(model, system, job, plan))
    throw_input_error(probe.file.string(), "sections.train_step", *problem);
  const TrainingResult r = evaluate_training(model, system, job, plan);
  const std::string detail = fmt::format(
      "{} layers of {} hidden, batch {} x {} tokens, one device, bf16, no "
      "recomputation, Adam",
      model.layers, model.hidden, job.global_batch, job.seq_len);
  if (step != nullptr)
    out.push_back({"train_step_s", detail, step->time.value(), r.step_time.value()});
  if (const auto* fb = find_op(*s, "train_forward_backward"))
    out.push_back({"train_forward_backward_s", detail, fb->time.value(),
                   (r.breakdown.forward + r.breakdown.backward).value()});
  if (const auto* opt = find_op(*s, "optimizer_step"))
    out.push_back({"optimizer_step_s", detail, opt->time.value(), r.breakdown.optimizer.value()});
}

void check_decode(const Probe& probe, const AcceleratorSpec& hw, std::vector<EndToEndCheck>& out) {
  const ProbeSection* s = probe.section("decode_loop");
  if (s == nullptr) return;
  const ModelSpec model = section_model(probe, *s, "decode_loop");
  const ProbeMeasurement* prefill = find_op(*s, "prefill");
  const ProbeMeasurement* step = find_op(*s, "decode_step", "cuda_graph");
  const ProbeMeasurement& any = prefill != nullptr ? *prefill : s->results.front();
  InferenceRequest request;
  request.devices = 1;
  request.batch = any.size("batch");
  request.input_len = any.size("prompt_len");
  request.output_len = any.size("generated") + 1;  // the first token comes from the prefill
  validate_request(model, hw, request);
  const InferenceResult r = estimate_inference(model, hw, request, Economics{});
  const std::string detail = fmt::format(
      "{} layers of {} hidden, batch {}, prompt {}, {} decode steps, one device, bf16",
      model.layers, model.hidden, request.batch, request.input_len, request.output_len - 1);
  if (prefill != nullptr) out.push_back({"ttft_s", detail, prefill->time.value(), r.ttft.value()});
  if (step != nullptr)
    out.push_back({"tpot_s", detail + ", CUDA graph", step->time.value(), r.tpot.value()});
}

}  // namespace

std::vector<EndToEndCheck> compare_end_to_end(const Probe& probe, const AcceleratorSpec& hw) {
  std::vector<EndToEndCheck> out;
  check_train(probe, hw, out);
  check_decode(probe, hw, out);
  return out;
}

}  // namespace xpusim
