#include "xpusim/infer/compare.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <optional>

#include "xpusim/core/error.hpp"
#include "xpusim/core/parallel.hpp"

namespace xpusim {

namespace {

/// One node: more devices than any scale-up domain holds.
constexpr int kMaxCompareDevices = 1 << 16;

std::string gigabytes(Bytes b) {
  return fmt::format("{:.1f} GB", b.value() / 1e9);
}

CompareRow evaluate_one(const ModelSpec& model, const AcceleratorSpec& hw, const CompareOptions& o,
                        const Economics& economics) {
  CompareRow row;
  row.hw = &hw;
  row.request.devices = o.devices;
  row.request.input_len = o.input_len;
  row.request.output_len = o.output_len;
  row.request.weight_dtype = o.weight_dtype;
  row.request.kv_dtype = o.kv_dtype;
  try {
    validate_request(model, hw, row.request);
  } catch (const Error& e) {
    row.reason = e.field().empty() ? e.what() : e.detail();
    return row;
  }
  const int64_t max_batch = max_batch_that_fits(model, hw, row.request);
  if (max_batch == 0) {
    const MemoryUse one = memory_per_device(model, hw, row.request);
    row.reason =
        fmt::format("does not fit: needs {} per device at batch 1 (weights {}), has {}",
                    gigabytes(one.total()), gigabytes(one.weights), gigabytes(hw.memory_capacity));
    return row;
  }
  auto within_limits = [&](const InferenceResult& x) {
    const bool ttft_ok = o.max_ttft.value() <= 0.0 || x.ttft <= o.max_ttft;
    const bool tpot_ok = o.max_tpot.value() <= 0.0 || x.tpot <= o.max_tpot;
    return ttft_ok && tpot_ok;
  };
  auto consider = [&](int64_t batch) {
    InferenceRequest candidate = row.request;
    candidate.batch = batch;
    InferenceResult result = estimate_inference(model, hw, candidate, economics);
    const bool ok = within_limits(result);
    if (ok &&
        (!row.result || result.throughput_tokens_per_s > row.result->throughput_tokens_per_s)) {
      row.result = result;
      row.request = candidate;
    }
    return std::make_pair(ok, result);
  };
  // Powers of two up to the first batch past the limits (latency grows with the batch), then
  // bisection between the last batch within them and that one.
  const auto [one_ok, at_batch_one] = consider(1);
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
  if (!row.result) {
    row.reason =
        fmt::format("misses the latency limits even at batch 1: TTFT {:.3f} s, TPOT {:.1f} ms",
                    at_batch_one.ttft.value(), at_batch_one.tpot.value() * 1e3);
    return row;
  }
  row.tokens_per_s_per_watt = row.result->throughput_tokens_per_s / (o.devices * hw.tdp.value());
  return row;
}

/// What no accelerator could make right: refused once, before any row says "cannot run".
void validate_options(const CompareOptions& o) {
  if (o.devices < 1 || o.devices > kMaxCompareDevices)
    throw_field_error("devices",
                      fmt::format("expected 1 to {}, got {}", kMaxCompareDevices, o.devices));
  if (o.input_len < 1 || o.input_len > kMaxSequenceTokens)
    throw_field_error("input_len",
                      fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, o.input_len));
  if (o.output_len < 1 || o.output_len > kMaxSequenceTokens)
    throw_field_error("output_len",
                      fmt::format("expected 1 to {}, got {}", kMaxSequenceTokens, o.output_len));
  // A limit of a day is no limit at all; 0 lifts one explicitly.
  const auto check_limit = [](const char* field, Seconds limit) {
    if (!(limit.value() >= 0.0 && limit.value() <= 86400.0))
      throw_field_error(field,
                        fmt::format("expected 0 (no limit) to 86400 s, got {}", limit.value()));
  };
  check_limit("max_ttft", o.max_ttft);
  check_limit("max_tpot", o.max_tpot);
}

}  // namespace

std::vector<CompareRow> compare_accelerators(const ModelSpec& model,
                                             const std::vector<AcceleratorSpec>& accelerators,
                                             const CompareOptions& options,
                                             const Economics& economics) {
  validate_options(options);
  std::vector<CompareRow> rows(accelerators.size());
  parallel_for(accelerators.size(), [&](std::size_t i) {
    rows[i] = evaluate_one(model, accelerators[i], options, economics);
  });
  std::stable_sort(rows.begin(), rows.end(), [](const CompareRow& a, const CompareRow& b) {
    if (a.result.has_value() != b.result.has_value()) return a.result.has_value();
    if (!a.result) return a.hw->id < b.hw->id;
    return a.result->throughput_tokens_per_s > b.result->throughput_tokens_per_s;
  });
  return rows;
}

}  // namespace xpusim
