#pragma once
// The requests a serving run sees: their lengths (fixed, uniform, normal, log-normal or sampled
// from a file), their arrivals (Poisson, a closed loop of clients, all at once, or a trace),
// and the seeded random streams they are drawn from.

#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace xpusim {

/// A distribution of token counts, clipped to at least 1.
struct LengthDistribution {
  enum class Kind { kFixed, kUniform, kNormal, kLogNormal, kFile };
  Kind kind = Kind::kFixed;
  double a = 128.0;  ///< fixed: N; uniform: LO; normal and log-normal: the mean of the lengths
  double b = 0.0;    ///< uniform: HI; normal and log-normal: the standard deviation
  std::vector<int64_t> values;  ///< file: the lengths, sampled uniformly with replacement
  std::string text;             ///< as given, for the report
};

/// Parses `fixed:N`, `uniform:LO:HI`, `normal:MEAN:SD`, `lognormal:MEAN:SD` or `file:PATH`
/// (one length a line). `flag` names the source in errors ("command line: --input-len: ...").
[[nodiscard]] LengthDistribution parse_length_distribution(std::string_view text,
                                                           std::string_view flag);

/// One draw, at least 1.
[[nodiscard]] int64_t sample_length(const LengthDistribution& dist, std::mt19937_64& rng);

/// A named random stream derived from the run's seed: the same (seed, name) gives the same
/// stream, and streams of different names are independent of each other's use.
[[nodiscard]] std::mt19937_64 random_stream(uint64_t seed, std::string_view name);

/// One request of a trace file.
struct TraceRequest {
  double arrival_s = 0.0;
  int64_t input_tokens = 1;
  int64_t output_tokens = 1;
};

/// Reads a trace: CSV with the header `arrival_s,input_tokens,output_tokens`, or JSONL (file name
/// ending in .jsonl) with one object of those three keys a line. Arrivals must not decrease.
/// Errors name the line: "trace.csv: line 7: output_tokens: expected an integer >= 1, got 'x'".
[[nodiscard]] std::vector<TraceRequest> load_trace(const std::filesystem::path& file);

/// How requests arrive.
enum class ArrivalKind {
  kPoisson,     ///< exponential gaps at `rate_per_s`
  kClosedLoop,  ///< `concurrency` clients, each sending its next request when one finishes
  kOffline,     ///< every request at time zero
  kTrace,       ///< arrival times and lengths from `trace`
};

/// (input, output) token counts of one sample of a dataset, drawn together so that the pairing
/// of a prompt with its answer is kept.
struct LengthPair {
  int64_t input_tokens = 1;
  int64_t output_tokens = 1;
};

/// Reads a per-sample lengths file: CSV with the header `input_length,output_length` (the
/// MLCommons dataset summaries of data/lengths/). Errors name the line.
[[nodiscard]] std::vector<LengthPair> load_length_pairs(const std::filesystem::path& file);

struct Workload {
  ArrivalKind arrival = ArrivalKind::kPoisson;
  double rate_per_s = 1.0;
  int64_t concurrency = 1;
  int64_t num_requests = 1000;  ///< ignored for a trace (its line count)
  /// Poisson: requests keep arriving until this time as well (a run as long as MLPerf's
  /// min_duration), so the count is max(num_requests, arrivals before it); 0: num_requests only.
  double min_duration_s = 0.0;
  LengthDistribution input;
  LengthDistribution output;
  /// When not empty: each request's (input, output) drawn uniformly, with replacement, from
  /// these samples (as LoadGen draws from its sample set); `input` and `output` are unused.
  std::vector<LengthPair> pairs;
  std::string pairs_source;  ///< the file the pairs came from, for the report
  std::vector<TraceRequest> trace;
  uint64_t seed = 0;
};

/// A request as generated: arrival time (closed loop: set when a client sends it) and lengths.
struct RequestSpec {
  double arrival_s = 0.0;
  int64_t input_tokens = 1;
  int64_t output_tokens = 1;
};

/// Mean prompt and generated tokens per request of a workload.
struct MeanLengths {
  double input = 0.0;
  double output = 0.0;
};

/// The workload's mean lengths: of its pairs, its trace, or its distributions (their means
/// before clipping to >= 1; a file's mean of its values).
[[nodiscard]] MeanLengths mean_lengths(const Workload& workload);

/// Checks rate, counts and concurrency; throws Error(kInput) naming the flag.
void validate_workload(const Workload& workload);

/// The run's requests one at a time, in arrival order, so that a simulation holds only the
/// requests in flight. Deterministic in the workload's seed; generate_requests gives the same.
class RequestStream {
 public:
  explicit RequestStream(const Workload& workload);
  /// No request is left.
  [[nodiscard]] bool done() const;
  /// The next request (closed loop and offline: arrival time zero).
  [[nodiscard]] RequestSpec next();
  /// Requests the run will have (for a Poisson run with a minimum duration: an estimate).
  [[nodiscard]] int64_t expected_count() const;

 private:
  const Workload& w_;
  std::mt19937_64 arrivals_, inputs_, outputs_, samples_;
  std::exponential_distribution<double> gap_{1.0};
  int64_t issued_ = 0;
  double t_ = 0.0;
};

/// Every request of the run, in arrival order (closed loop: arrival times all zero, assigned
/// by the simulator). Deterministic in the workload's seed.
[[nodiscard]] std::vector<RequestSpec> generate_requests(const Workload& workload);

}  // namespace xpusim
