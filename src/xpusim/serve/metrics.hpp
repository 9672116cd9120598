#pragma once
// Per-request latency statistics in memory that does not grow with the request count: a
// quantile sketch (exact below a fixed number of values, then log-spaced buckets of 0.5%
// relative width, as DDSketch), and batch means over consecutive requests for a confidence
// interval of each percentile (docs/model.md, "Steady-state metrics").

#include <array>
#include <cstdint>
#include <vector>

#include "xpusim/core/units.hpp"

namespace xpusim {

/// Quantiles of a stream of non-negative values. Exact (nearest rank) while it holds at most
/// kExactCapacity values; beyond, every value falls in a bucket [g^k, g^(k+1)) with
/// g = 1.01, and a quantile is its bucket's midpoint (relative error <= 0.5%). Memory is bounded
/// by the capacity and the range of the values, not their count.
class QuantileSketch {
 public:
  static constexpr std::size_t kExactCapacity = 1 << 16;

  void add(double value);
  /// Nearest-rank quantile p in (0, 1]; 0 when empty.
  [[nodiscard]] double quantile(double p) const;
  [[nodiscard]] int64_t count() const { return count_; }
  [[nodiscard]] double mean() const {
    return count_ > 0 ? sum_ / static_cast<double>(count_) : 0.0;
  }

 private:
  void to_buckets();
  void add_to_bucket(double value);

  mutable std::vector<double> exact_;  ///< sorted lazily by quantile()
  mutable bool sorted_ = true;
  bool sketched_ = false;
  std::vector<int64_t> buckets_;  ///< counts for keys [first_key_, first_key_ + size)
  int32_t first_key_ = 0;
  int64_t zeros_ = 0;  ///< values below the smallest bucket (1e-9)
  int64_t count_ = 0;
  double sum_ = 0.0;
};

/// A percentile with the half-width of its 95% confidence interval from batch means.
struct PercentileEstimate {
  Seconds value;
  Seconds half_width;  ///< 0 when there are too few requests for batches
};

/// One metric: an overall sketch and one per batch of consecutive requests (by arrival index),
/// whose percentiles' spread gives the interval: half-width = t(0.975, B-1) x sd / sqrt(B).
class BatchedMetric {
 public:
  static constexpr int kBatches = 20;
  /// `expected` requests spread over the batches (request index x kBatches / expected).
  explicit BatchedMetric(int64_t expected = 1) : expected_(expected < 1 ? 1 : expected) {}
  void add(int64_t index, double value);
  [[nodiscard]] double mean() const { return all_.mean(); }
  [[nodiscard]] int64_t count() const { return all_.count(); }
  [[nodiscard]] PercentileEstimate percentile(double p) const;
  /// Nearest-rank quantile p in [0, 1] of every value (no interval); 0 when empty.
  [[nodiscard]] double quantile(double p) const { return all_.quantile(p); }

 private:
  int64_t expected_;
  QuantileSketch all_;
  std::array<QuantileSketch, kBatches> batches_;
};

}  // namespace xpusim
