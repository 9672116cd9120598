#include "xpusim/study/compare.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <optional>

#include "xpusim/core/error.hpp"
#include "xpusim/core/parallel.hpp"

namespace xpusim {

std::string_view to_string(Placement placement) {
  switch (placement) {
    case Placement::kSystemNode:
      return "system node";
    case Placement::kScaleUpDomain:
      return "scale-up domain";
    case Placement::kFewest:
      return "fewest that hold it";
    case Placement::kGiven:
      return "given";
  }
  return "";
}

std::vector<Contender> contenders_of(std::vector<AcceleratorSpec> accelerators,
                                     const std::vector<SystemSpec>& systems) {
  std::vector<Contender> out;
  out.reserve(accelerators.size());
  for (auto& hw : accelerators) {
    Contender c{std::move(hw), std::nullopt};
    const auto it = std::find_if(systems.begin(), systems.end(),
                                 [&](const SystemSpec& s) { return s.accelerator.id == c.hw.id; });
    if (it != systems.end()) c.system = *it;
    out.push_back(std::move(c));
  }
  return out;
}

// --- prices ------------------------------------------------------------------------------------

namespace {

constexpr std::string_view kOptionsWhere = "compare options";

Economics on_basis(Economics economics, PriceBasis basis) {
  economics.price_basis = basis;
  return economics;
}

void check_given_prices(const PriceOptions& price, const std::vector<Contender>& contenders) {
  std::vector<std::string> ids;
  for (const auto& c : contenders) ids.push_back(c.hw.id);
  for (const auto& [id, usd] : price.given) {
    if (std::find(ids.begin(), ids.end(), id) == ids.end())
      throw_input_error(
          kOptionsWhere, "price",
          fmt::format("no accelerator '{}' in the comparison{}", id, did_you_mean(id, ids)));
    if (!(usd.value() > 0.0))
      throw_input_error(
          kOptionsWhere, "price",
          fmt::format("{}: expected a price per device-hour > 0, got {}", id, usd.value()));
  }
}

}  // namespace

PriceChoice choose_price_basis(const std::vector<const AcceleratorSpec*>& priced,
                               const PriceOptions& options, const Economics& economics) {
  PriceChoice choice;
  auto given = [&](const AcceleratorSpec& hw) { return options.given.count(hw.id) > 0; };
  std::vector<std::string> without_cloud;
  for (const auto* hw : priced) {
    if (!hw->cloud_price && !given(*hw)) without_cloud.push_back(hw->id);
  }
  switch (options.basis) {
    case PriceBasis::kAuto:
      if (without_cloud.empty()) {
        choice.basis = PriceBasis::kCloud;
        choice.why = "cloud: every row has an on-demand price";
      } else {
        choice.basis = PriceBasis::kOwned;
        choice.why = fmt::format("owned: no cloud price for {}", fmt::join(without_cloud, ", "));
      }
      break;
    case PriceBasis::kCloud:
      choice.basis = PriceBasis::kCloud;
      choice.why = "cloud: asked for";
      break;
    case PriceBasis::kOwned:
      choice.basis = PriceBasis::kOwned;
      choice.why = "owned: asked for";
      break;
  }
  for (const auto* hw : priced) {
    const RowPrice p = row_price(*hw, choice, options, economics);
    if (p.given) choice.given.push_back(hw->id);
    if (!p.per_device) choice.unpriced.push_back(hw->id);
  }
  return choice;
}

RowPrice row_price(const AcceleratorSpec& hw, const PriceChoice& choice,
                   const PriceOptions& options, const Economics& economics) {
  if (const auto it = options.given.find(hw.id); it != options.given.end())
    return RowPrice{it->second, true};
  const auto hourly = hourly_cost(hw, on_basis(economics, choice.basis));
  if (!hourly) return RowPrice{};
  return RowPrice{hourly->per_device, false};
}

// --- inference ---------------------------------------------------------------------------------

namespace {

std::string gigabytes(Bytes b) {
  return fmt::format("{:.1f} GB", b.value() / 1e9);
}

/// validate_request's complaint without the caller's location, or "" when the request is valid.
std::string request_problem(const ModelSpec& model, const AcceleratorSpec& hw,
                            const InferenceRequest& request) {
  try {
    validate_request(model, hw, request);
  } catch (const Error& e) {
    std::string reason = e.what();
    const std::string prefix = "command line: ";
    if (reason.rfind(prefix, 0) == 0) reason.erase(0, prefix.size());
    return reason;
  }
  return "";
}

/// Why `devices` devices cannot hold the model at one sequence, or "".
std::string hold_problem(const ModelSpec& model, const AcceleratorSpec& hw,
                         InferenceRequest request, int devices) {
  request.devices = devices;
  request.batch = 1;
  if (auto problem = request_problem(model, hw, request); !problem.empty()) return problem;
  if (max_batch_that_fits(model, hw, request) > 0) return "";
  const MemoryUse one = memory_per_device(model, hw, request);
  return fmt::format("does not fit on {}: needs {} per device at one sequence (weights {}), has {}",
                     devices, gigabytes(one.total()), gigabytes(one.weights),
                     gigabytes(hw.memory_capacity));
}

/// The device count of a row and how it was chosen; devices 0 with the reason when none works.
struct Placed {
  int devices = 0;
  Placement placement = Placement::kGiven;
  std::string placed_by;
  std::string reason;
};

Placed place(const ModelSpec& model, const Contender& c, const InferenceRequest& base,
             int given_devices) {
  if (given_devices > 0) {
    const std::string problem = hold_problem(model, c.hw, base, given_devices);
    return problem.empty() ? Placed{given_devices, Placement::kGiven, "", ""}
                           : Placed{0, Placement::kGiven, "", problem};
  }
  const int natural = c.natural_devices();
  const std::string by = c.system ? c.system->id : "catalog";
  const std::string problem = hold_problem(model, c.hw, base, natural);
  if (problem.empty()) return Placed{natural, c.natural_placement(), by, ""};
  for (int d = 1; d <= c.hw.scale_up_domain_devices; ++d) {
    if (hold_problem(model, c.hw, base, d).empty()) {
      const std::string node = c.system ? "node of " + c.system->id : "scale-up domain";
      return Placed{d, Placement::kFewest,
                    fmt::format("its {}-device {} cannot: {}", natural, node, problem), ""};
    }
  }
  return Placed{0, c.natural_placement(), by,
                fmt::format("{}; nor does any tensor-parallel group of its {}-device domain",
                            problem, c.hw.scale_up_domain_devices)};
}

bool within_limits(const SteadyState& s, const CompareOptions& o) {
  const bool ttft_ok = o.max_ttft.value() <= 0.0 || s.ttft <= o.max_ttft;
  const bool tpot_ok = o.max_tpot.value() <= 0.0 || s.tpot <= o.max_tpot;
  return ttft_ok && tpot_ok;
}

/// The highest concurrency within the limits: latency grows with it, so doubling up to the
/// first miss (or the memory limit) and bisection between the last hit and that miss.
void best_concurrency(const ModelSpec& model, const AcceleratorSpec& hw, const CompareOptions& o,
                      const Economics& economics, CompareRow& row) {
  const int64_t max_batch = max_batch_that_fits(model, hw, row.request);
  auto consider = [&](int64_t batch) {
    InferenceRequest candidate = row.request;
    candidate.batch = batch;
    const SteadyState s = continuous_steady_state(model, hw, candidate, economics);
    const bool ok = within_limits(s, o);
    if (ok && (!row.state || s.tokens_per_s > row.state->tokens_per_s)) {
      row.state = s;
      row.request = candidate;
    }
    return std::make_pair(ok, s);
  };
  const auto [one_ok, at_one] = consider(1);
  int64_t good = one_ok ? 1 : 0, bad = max_batch + 1;
  for (int64_t batch = 2; one_ok && good < max_batch; batch = std::min(batch * 2, max_batch)) {
    if (!consider(batch).first) {
      bad = batch;
      break;
    }
    good = batch;
  }
  while (good > 0 && bad - good > 1) {
    const int64_t mid = good + (bad - good) / 2;
    (consider(mid).first ? good : bad) = mid;
  }
  if (!row.state) {
    row.reason =
        fmt::format("misses the latency limits even at one sequence: TTFT {:.3f} s, TPOT {:.1f} ms",
                    at_one.ttft.value(), at_one.tpot.value() * 1e3);
  }
}

CompareRow evaluate_one(const ModelSpec& model, const Contender& c, const CompareOptions& o,
                        const Economics& economics) {
  CompareRow row;
  row.hw = &c.hw;
  row.request.input_len = o.input_len;
  row.request.output_len = o.output_len;
  row.request.weight_dtype = o.weight_dtype;
  row.request.kv_dtype = o.kv_dtype;
  const Placed placed = place(model, c, row.request, o.devices);
  row.placement = placed.placement;
  row.placed_by = placed.placed_by;
  row.request.devices = std::max(placed.devices, 1);
  if (placed.devices == 0) {
    row.request.devices = o.devices > 0 ? o.devices : c.natural_devices();
    row.reason = placed.reason;
    return row;
  }
  best_concurrency(model, c.hw, o, economics, row);
  if (row.state) row.memory = memory_per_device(model, c.hw, row.request);
  return row;
}

void normalise(CompareRow& row) {
  const double devices = row.request.devices;
  const double tokens_per_s = row.state->tokens_per_s;
  Normalised& n = row.normalised;
  n.tokens_per_s_per_device = tokens_per_s / devices;
  n.tokens_per_s_per_watt = tokens_per_s / (devices * row.hw->tdp.value());
  n.energy_per_token = Joules(devices * row.hw->tdp.value() / tokens_per_s);
  if (!row.price.per_device) return;
  const double usd_per_hour = devices * row.price.per_device->value();
  n.tokens_per_s_per_usd_per_hour = tokens_per_s / usd_per_hour;
  n.cost_per_million_tokens_usd = usd_per_hour / kSecondsPerHour / tokens_per_s * 1e6;
}

void validate_compare_options(const CompareOptions& o, const std::vector<Contender>& contenders) {
  if (o.devices < 0)
    throw_input_error(kOptionsWhere, "devices",
                      fmt::format("expected 0 (natural node) or more, got {}", o.devices));
  if (o.input_len < 1)
    throw_input_error(kOptionsWhere, "input_len",
                      fmt::format("expected at least 1, got {}", o.input_len));
  if (o.output_len < 1)
    throw_input_error(kOptionsWhere, "output_len",
                      fmt::format("expected at least 1, got {}", o.output_len));
  if (o.max_ttft.value() < 0)
    throw_input_error(kOptionsWhere, "max_ttft",
                      fmt::format("expected >= 0 s, got {}", o.max_ttft.value()));
  if (o.max_tpot.value() < 0)
    throw_input_error(kOptionsWhere, "max_tpot",
                      fmt::format("expected >= 0 s, got {}", o.max_tpot.value()));
  check_given_prices(o.price, contenders);
}

template <class Row>
std::vector<const AcceleratorSpec*> runnable_chips(const std::vector<Row>& rows,
                                                   bool (*ok)(const Row&)) {
  std::vector<const AcceleratorSpec*> out;
  for (const auto& row : rows) {
    if (ok(row)) out.push_back(row.hw);
  }
  return out;
}

}  // namespace

CompareTable compare_inference(const ModelSpec& model, const std::vector<Contender>& contenders,
                               const CompareOptions& options, const Economics& economics) {
  validate_compare_options(options, contenders);
  CompareTable table;
  table.economics = economics;
  table.rows.resize(contenders.size());
  parallel_for(contenders.size(), [&](std::size_t i) {
    table.rows[i] = evaluate_one(model, contenders[i], options, economics);
  });
  table.price =
      choose_price_basis(runnable_chips<CompareRow>(
                             table.rows, [](const CompareRow& r) { return r.state.has_value(); }),
                         options.price, economics);
  for (auto& row : table.rows) {
    if (!row.state) continue;
    row.price = row_price(*row.hw, table.price, options.price, economics);
    normalise(row);
  }
  std::stable_sort(
      table.rows.begin(), table.rows.end(), [](const CompareRow& a, const CompareRow& b) {
        if (a.state.has_value() != b.state.has_value()) return a.state.has_value();
        if (!a.state) return a.hw->id < b.hw->id;
        return a.normalised.tokens_per_s_per_device > b.normalised.tokens_per_s_per_device;
      });
  return table;
}

// --- training ----------------------------------------------------------------------------------

namespace {

/// The chip's catalog system resized to `devices`, else a default system of it.
std::optional<SystemSpec> training_system(const Contender& c, int devices, TrainCompareRow& row) {
  try {
    if (c.system) {
      const int per_node = c.system->devices_per_node;
      if (devices % per_node != 0) {
        row.reason = fmt::format("{} devices are not whole nodes of {} ({} per node)", devices,
                                 c.system->id, per_node);
        return std::nullopt;
      }
      row.placed_by = c.system->id;
      return with_nodes(*c.system, devices / per_node);
    }
    SystemSpec one = default_system(c.hw, 1, 0);
    const int per_node = one.devices_per_node;
    if (devices % per_node != 0) {
      row.reason =
          fmt::format("{} devices are not whole nodes of {} (default system)", devices, per_node);
      return std::nullopt;
    }
    row.placed_by = "default system";
    return default_system(c.hw, devices / per_node, per_node);
  } catch (const Error& e) {
    row.reason = e.what();
    return std::nullopt;
  }
}

TrainCompareRow train_one(const ModelSpec& model, const Contender& c, const TrainCompareOptions& o,
                          const Economics& economics) {
  TrainCompareRow row;
  row.hw = &c.hw;
  const auto system = training_system(c, o.devices, row);
  if (!system) return row;
  row.nodes = system->nodes;
  row.devices_per_node = system->devices_per_node;
  SearchOptions search = o.search;
  search.top_k = 1;
  search.threads = 1;  // the chips already run in parallel
  const SearchResult found = search_training(model, *system, o.job, search);
  if (found.best.empty()) {
    row.reason = fmt::format("no plan fits ({} valid plans evaluated)", found.evaluated);
    return row;
  }
  row.best = found.best.front();
  row.budget = budget_for(row.best->result, *system, o.tokens, economics);
  return row;
}

void validate_train_options(const TrainCompareOptions& o,
                            const std::vector<Contender>& contenders) {
  if (o.devices < 1)
    throw_input_error(kOptionsWhere, "devices",
                      fmt::format("expected at least 1, got {}", o.devices));
  if (!(o.tokens > 0))
    throw_input_error(kOptionsWhere, "tokens", fmt::format("expected > 0, got {}", o.tokens));
  check_given_prices(o.price, contenders);
}

}  // namespace

TrainCompareTable compare_training(const ModelSpec& model, const std::vector<Contender>& contenders,
                                   const TrainCompareOptions& options, const Economics& economics) {
  validate_train_options(options, contenders);
  TrainCompareTable table;
  table.economics = economics;
  table.rows.resize(contenders.size());
  parallel_for(contenders.size(), [&](std::size_t i) {
    table.rows[i] = train_one(model, contenders[i], options, economics);
  });
  table.price = choose_price_basis(
      runnable_chips<TrainCompareRow>(table.rows,
                                      [](const TrainCompareRow& r) { return r.best.has_value(); }),
      options.price, economics);
  for (auto& row : table.rows) {
    if (!row.best) continue;
    row.price = row_price(*row.hw, table.price, options.price, economics);
    if (row.price.per_device)
      row.cost_usd = row.budget.device_hours * row.price.per_device->value();
    row.energy = row.budget.energy;
    const double devices = options.devices;
    row.tokens_per_s_per_device = row.best->result.tokens_per_s / devices;
    row.tokens_per_s_per_watt = row.best->result.tokens_per_s / (devices * row.hw->tdp.value());
  }
  std::stable_sort(table.rows.begin(), table.rows.end(),
                   [](const TrainCompareRow& a, const TrainCompareRow& b) {
                     if (a.best.has_value() != b.best.has_value()) return a.best.has_value();
                     if (!a.best) return a.hw->id < b.hw->id;
                     return a.budget.wall_time < b.budget.wall_time;
                   });
  return table;
}

}  // namespace xpusim
