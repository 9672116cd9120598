#include "xpusim/study/sensitivity.hpp"

#include <fmt/format.h>

#include "xpusim/core/error.hpp"
#include "xpusim/train/budget.hpp"

namespace xpusim {

std::string_view to_string(WorkloadKind kind) {
  switch (kind) {
    case WorkloadKind::kInfer:
      return "infer";
    case WorkloadKind::kTrain:
      return "train";
    case WorkloadKind::kServe:
      return "serve";
  }
  return "";
}

std::string Resource::name() const {
  switch (kind) {
    case ResourceKind::kMatrixFlops:
      return fmt::format("matrix_flops.{}", to_string(dtype));
    case ResourceKind::kVectorFlops:
      return "vector_flops";
    case ResourceKind::kMemoryBandwidth:
      return "memory_bandwidth";
    case ResourceKind::kMemoryCapacity:
      return "memory_capacity";
    case ResourceKind::kScaleUpBandwidth:
      return "scale_up_bandwidth";
    case ResourceKind::kScaleOutBandwidth:
      return "scale_out_bandwidth";
    case ResourceKind::kHostLink:
      return "host_link_bandwidth";
    case ResourceKind::kOnchipSram:
      return "onchip_sram";
  }
  return "";
}

SystemSpec scaled(SystemSpec system, const Resource& r, double factor) {
  AcceleratorSpec& hw = system.accelerator;
  switch (r.kind) {
    case ResourceKind::kMatrixFlops: {
      auto& peak = hw.peak_dense_flops_per_s[index_of(r.dtype)];
      if (peak) peak = *peak * factor;
      break;
    }
    case ResourceKind::kVectorFlops:
      hw.vector_flops_per_s = hw.vector_flops_per_s * factor;
      break;
    case ResourceKind::kMemoryBandwidth:
      hw.memory_bandwidth = hw.memory_bandwidth * factor;
      break;
    case ResourceKind::kMemoryCapacity:
      hw.memory_capacity = hw.memory_capacity * factor;
      break;
    case ResourceKind::kScaleUpBandwidth:
      hw.scale_up_bandwidth = hw.scale_up_bandwidth * factor;
      system.scale_up.bandwidth = system.scale_up.bandwidth * factor;
      break;
    case ResourceKind::kScaleOutBandwidth:
      if (hw.scale_out_bandwidth) hw.scale_out_bandwidth = *hw.scale_out_bandwidth * factor;
      system.scale_out.bandwidth = system.scale_out.bandwidth * factor;
      break;
    case ResourceKind::kHostLink:
      if (hw.host_link_bandwidth) hw.host_link_bandwidth = *hw.host_link_bandwidth * factor;
      break;
    case ResourceKind::kOnchipSram:
      if (hw.onchip_sram) hw.onchip_sram = *hw.onchip_sram * factor;
      break;
  }
  return system;
}

namespace {

/// The resources the chip has: its matrix data types, then the rest it gives a figure for.
std::vector<Resource> resources_of(const SystemSpec& system) {
  const AcceleratorSpec& hw = system.accelerator;
  std::vector<Resource> out;
  for (DType d : kAllDTypes) {
    if (hw.peak(d)) out.push_back({ResourceKind::kMatrixFlops, d});
  }
  out.push_back({ResourceKind::kVectorFlops});
  out.push_back({ResourceKind::kMemoryBandwidth});
  out.push_back({ResourceKind::kMemoryCapacity});
  out.push_back({ResourceKind::kScaleUpBandwidth});
  if (hw.scale_out_bandwidth || system.scale_out.bandwidth.value() > 0)
    out.push_back({ResourceKind::kScaleOutBandwidth});
  if (hw.host_link_bandwidth) out.push_back({ResourceKind::kHostLink});
  if (hw.onchip_sram) out.push_back({ResourceKind::kOnchipSram});
  return out;
}

/// Whether the cost model reads `r` for `kind` at all, and what to know about it.
std::pair<bool, std::string> modelled(WorkloadKind kind, const Resource& r) {
  switch (r.kind) {
    case ResourceKind::kMatrixFlops:
    case ResourceKind::kVectorFlops:
    case ResourceKind::kMemoryBandwidth:
      return {true, ""};
    case ResourceKind::kMemoryCapacity:
      switch (kind) {
        case WorkloadKind::kInfer:
          return {true, "a fixed batch: capacity decides only whether it fits"};
        case WorkloadKind::kTrain:
          return {true, "a fixed plan: capacity decides only whether it fits"};
        case WorkloadKind::kServe:
          return {true, "sizes the KV cache, hence the running batch"};
      }
      return {true, ""};
    case ResourceKind::kScaleUpBandwidth:
      return {true, "tensor-parallel collectives (none on one device)"};
    case ResourceKind::kScaleOutBandwidth:
      switch (kind) {
        case WorkloadKind::kInfer:
          return {false, "inference runs inside one scale-up domain"};
        case WorkloadKind::kTrain:
          return {true, "collectives across scale-up domains (none inside one)"};
        case WorkloadKind::kServe:
          return {true, "disaggregated KV hand-offs between domains only"};
      }
      return {true, ""};
    case ResourceKind::kHostLink:
      switch (kind) {
        case WorkloadKind::kTrain:
          return {true, "CPU offload only"};
        case WorkloadKind::kInfer:
          return {false, "inference keeps everything in device memory"};
        case WorkloadKind::kServe:
          return {false, "KV swaps use the fixed PCIe 5.0 x16 link (serve/simulator.hpp)"};
      }
      return {false, ""};
    case ResourceKind::kOnchipSram:
      return {false,
              "the cost model has no SRAM term: kernels run at their roofline from device memory"};
  }
  return {false, ""};
}

std::optional<double> relative(const std::optional<double>& changed,
                               const std::optional<double>& base) {
  if (!changed || !base || *base == 0.0) return std::nullopt;
  return (*changed - *base) / *base;
}

}  // namespace

Sensitivity sensitivity(WorkloadKind kind, const SystemSpec& system, const Evaluate& evaluate,
                        double step) {
  if (!(step > 0.0 && step <= 1.0))
    throw_input_error("sensitivity", "step", fmt::format("expected 0 < step <= 1, got {}", step));
  Sensitivity s;
  s.kind = kind;
  s.step = step;
  s.base = evaluate(system);
  if (!s.base.feasible)
    throw_input_error("sensitivity", "workload",
                      fmt::format("does not run on the base machine: {}", s.base.reason));
  for (const Resource& r : resources_of(system)) {
    SensitivityRow row;
    row.resource = r;
    std::tie(row.modelled, row.note) = modelled(kind, r);
    if (row.modelled) {
      row.changed = evaluate(scaled(system, r, 1.0 + step));
      if (row.changed.feasible) {
        row.time_change = (row.changed.time - s.base.time) / s.base.time;
        row.cost_change = relative(row.changed.cost_usd, s.base.cost_usd);
        row.time_elasticity = row.time_change / step;
      }
    }
    s.rows.push_back(std::move(row));
  }
  return s;
}

SystemSpec single_chip_system(const AcceleratorSpec& hw) {
  SystemSpec s;
  s.id = hw.id;
  s.name = hw.name;
  s.accelerator = hw;
  s.devices_per_node = hw.scale_up_domain_devices;
  s.scale_up = scale_up_fabric(hw);
  if (hw.scale_out_bandwidth) s.scale_out.bandwidth = *hw.scale_out_bandwidth;
  return s;
}

Evaluate infer_evaluation(const ModelSpec& model, const InferenceRequest& request,
                          const Economics& economics) {
  return [=](const SystemSpec& system) {
    const AcceleratorSpec& hw = system.accelerator;
    Outcome o;
    const MemoryUse need = memory_per_device(model, hw, request);
    if (need.total() > hw.memory_capacity) {
      o.feasible = false;
      o.reason = fmt::format("needs {:.1f} GB per device, has {:.1f} GB",
                             need.total().value() / 1e9, hw.memory_capacity.value() / 1e9);
      return o;
    }
    const InferenceResult r = estimate_inference(model, hw, request, economics);
    o.time = r.e2e_latency;
    o.cost_usd = r.cost_per_million_tokens_usd;
    return o;
  };
}

Evaluate train_evaluation(const ModelSpec& model, const TrainingJob& job, const ParallelPlan& plan,
                          double tokens, const Economics& economics) {
  return [=](const SystemSpec& system) {
    Outcome o;
    const TrainingResult r = evaluate_training(model, system, job, plan);
    if (!r.fits) {
      o.feasible = false;
      o.reason = fmt::format("needs {:.1f} GB per device, has {:.1f} GB",
                             r.memory.total().value() / 1e9, r.memory_capacity.value() / 1e9);
      return o;
    }
    const double run_tokens =
        tokens > 0 ? tokens
                   : static_cast<double>(job.global_batch) * static_cast<double>(job.seq_len);
    const TrainingBudget b = budget_for(r, system, run_tokens, economics);
    o.time = tokens > 0 ? b.wall_time : r.step_time;
    o.cost_usd = b.cost_usd;
    return o;
  };
}

Evaluate serve_evaluation(const ServeConfig& config) {
  return [=](const SystemSpec& system) {
    ServeConfig c = config;
    c.hw = system.accelerator;
    Outcome o;
    try {
      const ServeResult r = simulate(c);
      o.time = r.makespan;
      o.cost_usd = r.cost_per_million_tokens_usd;
    } catch (const Error& e) {
      o.feasible = false;
      o.reason = e.what();
    }
    return o;
  };
}

}  // namespace xpusim
