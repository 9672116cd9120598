// Streaming quantiles and batch-means intervals (docs/model.md, "Steady-state metrics").

#include "xpusim/serve/metrics.hpp"

#include <algorithm>
#include <cmath>

namespace xpusim {

namespace {

constexpr double kGamma = 1.01;
constexpr double kSmallest = 1e-9;
const double kLogGamma = std::log(kGamma);

int32_t key_of(double value) {
  return static_cast<int32_t>(std::floor(std::log(value) / kLogGamma));
}

/// Student's t at 0.975 with 19 degrees of freedom (kBatches - 1 = 19).
constexpr double kT975Df19 = 2.093;

}  // namespace

void QuantileSketch::add(double value) {
  ++count_;
  sum_ += value;
  if (!sketched_) {
    exact_.push_back(value);
    sorted_ = false;
    if (exact_.size() > kExactCapacity) to_buckets();
    return;
  }
  add_to_bucket(value);
}

void QuantileSketch::to_buckets() {
  sketched_ = true;
  for (const double v : exact_) add_to_bucket(v);
  exact_.clear();
  exact_.shrink_to_fit();
}

void QuantileSketch::add_to_bucket(double value) {
  if (!(value >= kSmallest)) {
    ++zeros_;
    return;
  }
  const int32_t key = key_of(value);
  if (buckets_.empty()) {
    first_key_ = key;
    buckets_.assign(1, 0);
  } else if (key < first_key_) {
    buckets_.insert(buckets_.begin(), static_cast<std::size_t>(first_key_ - key), 0);
    first_key_ = key;
  } else if (key >= first_key_ + static_cast<int32_t>(buckets_.size())) {
    buckets_.resize(static_cast<std::size_t>(key - first_key_ + 1), 0);
  }
  ++buckets_[static_cast<std::size_t>(key - first_key_)];
}

double QuantileSketch::quantile(double p) const {
  if (count_ == 0) return 0.0;
  const auto rank = static_cast<int64_t>(std::ceil(p * static_cast<double>(count_)));
  const int64_t target = std::clamp<int64_t>(rank, 1, count_);
  if (!sketched_) {
    if (!sorted_) {
      std::sort(exact_.begin(), exact_.end());
      sorted_ = true;
    }
    return exact_[static_cast<std::size_t>(target - 1)];
  }
  int64_t seen = zeros_;
  if (seen >= target) return 0.0;
  for (std::size_t i = 0; i < buckets_.size(); ++i) {
    seen += buckets_[i];
    if (seen >= target) {
      // The bucket's midpoint: within half its relative width of every value in it.
      const double low = std::pow(kGamma, static_cast<double>(first_key_) + static_cast<double>(i));
      return low * (1.0 + kGamma) / 2.0;
    }
  }
  return std::pow(kGamma, static_cast<double>(first_key_) + static_cast<double>(buckets_.size()));
}

void BatchedMetric::add(int64_t index, double value) {
  all_.add(value);
  const int64_t batch = std::min<int64_t>(kBatches - 1, index * kBatches / expected_);
  batches_[static_cast<std::size_t>(std::max<int64_t>(0, batch))].add(value);
}

PercentileEstimate BatchedMetric::percentile(double p) const {
  PercentileEstimate e;
  e.value = Seconds(all_.quantile(p));
  // Each batch needs enough requests for its own percentile: at least 1 / (1 - p) of them.
  const double needed = p < 1.0 ? 1.0 / (1.0 - p) : 1.0;
  double sum = 0.0, sum2 = 0.0;
  for (const QuantileSketch& b : batches_) {
    if (static_cast<double>(b.count()) < needed) return e;
    const double q = b.quantile(p);
    sum += q;
    sum2 += q * q;
  }
  const double n = kBatches;
  const double mean = sum / n;
  const double variance = std::max(0.0, (sum2 - n * mean * mean) / (n - 1.0));
  e.half_width = Seconds(kT975Df19 * std::sqrt(variance / n));
  return e;
}

}  // namespace xpusim
