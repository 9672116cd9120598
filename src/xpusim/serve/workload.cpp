// Workload generation for the serving simulator (docs/model.md, "Serving simulator").

#include "xpusim/serve/workload.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <charconv>
#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>

#include "xpusim/core/error.hpp"
#include "xpusim/core/input_file.hpp"

namespace xpusim {

namespace {

constexpr int64_t kMaxTokens = int64_t{1} << 24;
/// A year of arrivals; later ones are a unit mistake (milliseconds for seconds).
constexpr double kMaxArrivalS = 365.0 * 24 * 3600;
constexpr const char* kDistributionForms =
    "fixed:N, uniform:LO:HI, normal:MEAN:SD, lognormal:MEAN:SD or file:PATH";

std::string_view trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t' || s.front() == '\r')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t' || s.back() == '\r')) {
    s.remove_suffix(1);
  }
  return s;
}

std::optional<double> to_double(std::string_view s) {
  s = trim(s);
  double value = 0.0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || !std::isfinite(value)) {
    return std::nullopt;
  }
  return value;
}

/// An integer in [1, kMaxTokens].
std::optional<int64_t> to_tokens(std::string_view s) {
  s = trim(s);
  int64_t value = 0;
  const auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  if (ec != std::errc() || end != s.data() + s.size() || s.empty() || value < 1 ||
      value > kMaxTokens) {
    return std::nullopt;
  }
  return value;
}

std::vector<std::string_view> split(std::string_view s, char separator) {
  std::vector<std::string_view> parts;
  for (;;) {
    const auto at = s.find(separator);
    parts.push_back(s.substr(0, at));
    if (at == std::string_view::npos) return parts;
    s.remove_prefix(at + 1);
  }
}

std::string arrival_expectation() {
  return fmt::format("expected a number from 0 to {:g} s", kMaxArrivalS);
}

std::string tokens_expectation() {
  return fmt::format("expected an integer from 1 to {}", kMaxTokens);
}

std::vector<int64_t> load_lengths(const std::filesystem::path& file) {
  check_input_file(file, kMaxTraceBytes);
  std::ifstream in(file);
  if (!in)
    throw Error(Error::Kind::kNotFound, fmt::format("{}: cannot read the file", file.string()));
  std::vector<int64_t> values;
  std::string line;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    const auto value = to_tokens(text);
    if (!value) {
      throw_input_error(file.string(), fmt::format("line {}", number),
                        fmt::format("{}, got '{}'", tokens_expectation(), text));
    }
    values.push_back(*value);
  }
  if (values.empty())
    throw Error(Error::Kind::kInput, fmt::format("{}: no lengths", file.string()));
  return values;
}

/// FNV-1a, so that a stream's seed does not depend on the standard library's std::hash.
uint64_t fnv1a(std::string_view s) {
  uint64_t h = 14695981039346656037ull;
  for (const char c : s) {
    h ^= static_cast<unsigned char>(c);
    h *= 1099511628211ull;
  }
  return h;
}

int64_t clip_round(double x) {
  if (!(x >= 1.0)) return 1;  // also NaN
  // Clipped before rounding: llround of a value past int64 (a draw of a very wide normal) is
  // undefined.
  if (x >= static_cast<double>(kMaxTokens)) return kMaxTokens;
  return std::llround(x);
}

}  // namespace

LengthDistribution parse_length_distribution(std::string_view text, std::string_view field) {
  auto fail = [&](const std::string& what) { throw_field_error(field, what); };
  LengthDistribution d;
  d.text = std::string(text);
  const auto colon = text.find(':');
  const std::string_view kind = text.substr(0, colon);
  const std::string_view rest =
      colon == std::string_view::npos ? std::string_view{} : text.substr(colon + 1);
  if (kind == "file") {
    if (rest.empty()) fail("file: expected file:PATH");
    d.kind = LengthDistribution::Kind::kFile;
    d.values = load_lengths(std::filesystem::path(rest));
    return d;
  }
  const auto args = split(rest, ':');
  auto arity = [&](std::size_t n, const char* form) {
    if (colon == std::string_view::npos || args.size() != n)
      fail(fmt::format("{}: expected {}, got '{}'", kind, form, text));
  };
  if (kind == "fixed") {
    arity(1, "fixed:N");
    const auto n = to_tokens(args[0]);
    if (!n) fail(fmt::format("fixed: {}, got '{}'", tokens_expectation(), args[0]));
    d.kind = LengthDistribution::Kind::kFixed;
    d.a = static_cast<double>(*n);
  } else if (kind == "uniform") {
    arity(2, "uniform:LO:HI");
    const auto lo = to_tokens(args[0]);
    const auto hi = to_tokens(args[1]);
    if (!lo) fail(fmt::format("uniform: LO: {}, got '{}'", tokens_expectation(), args[0]));
    if (!hi) fail(fmt::format("uniform: HI: {}, got '{}'", tokens_expectation(), args[1]));
    if (*lo > *hi) fail(fmt::format("uniform: expected LO <= HI, got {}:{}", *lo, *hi));
    d.kind = LengthDistribution::Kind::kUniform;
    d.a = static_cast<double>(*lo);
    d.b = static_cast<double>(*hi);
  } else if (kind == "normal" || kind == "lognormal") {
    arity(2, kind == "normal" ? "normal:MEAN:SD" : "lognormal:MEAN:SD");
    const auto mean = to_double(args[0]);
    const auto sd = to_double(args[1]);
    if (!mean || *mean < 1.0 || *mean > static_cast<double>(kMaxTokens))
      fail(fmt::format("{}: MEAN: expected a number from 1 to {}, got '{}'", kind, kMaxTokens,
                       args[0]));
    if (!sd || *sd < 0.0 || *sd > static_cast<double>(kMaxTokens))
      fail(
          fmt::format("{}: SD: expected a number in [0, {}], got '{}'", kind, kMaxTokens, args[1]));
    d.kind =
        kind == "normal" ? LengthDistribution::Kind::kNormal : LengthDistribution::Kind::kLogNormal;
    d.a = *mean;
    d.b = *sd;
  } else {
    fail(fmt::format("expected {}, got '{}'", kDistributionForms, text));
  }
  return d;
}

int64_t sample_length(const LengthDistribution& d, std::mt19937_64& rng) {
  switch (d.kind) {
    case LengthDistribution::Kind::kFixed:
      return static_cast<int64_t>(d.a);
    case LengthDistribution::Kind::kUniform:
      return std::uniform_int_distribution<int64_t>(static_cast<int64_t>(d.a),
                                                    static_cast<int64_t>(d.b))(rng);
    case LengthDistribution::Kind::kNormal:
      if (d.b == 0.0) return clip_round(d.a);
      return clip_round(std::normal_distribution<double>(d.a, d.b)(rng));
    case LengthDistribution::Kind::kLogNormal: {
      // The mean and SD are of the lengths: sigma^2 = ln(1 + SD^2 / MEAN^2),
      // mu = ln(MEAN) - sigma^2 / 2.
      if (d.b == 0.0) return clip_round(d.a);
      const double sigma2 = std::log1p(d.b * d.b / (d.a * d.a));
      const double mu = std::log(d.a) - sigma2 / 2.0;
      return clip_round(std::lognormal_distribution<double>(mu, std::sqrt(sigma2))(rng));
    }
    case LengthDistribution::Kind::kFile:
      return d.values[std::uniform_int_distribution<std::size_t>(0, d.values.size() - 1)(rng)];
  }
  return 1;
}

std::mt19937_64 random_stream(uint64_t seed, std::string_view name) {
  const uint64_t h = fnv1a(name);
  std::seed_seq sequence{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32),
                         static_cast<uint32_t>(h), static_cast<uint32_t>(h >> 32)};
  return std::mt19937_64(sequence);
}

namespace {

TraceRequest parse_csv_line(std::string_view line, const std::string& where, int number) {
  const auto fields = split(line, ',');
  auto fail = [&](const std::string& what) {
    throw_input_error(where, fmt::format("line {}", number), what);
  };
  if (fields.size() != 3)
    fail(fmt::format("expected 3 fields (arrival_s,input_tokens,output_tokens), got {}",
                     fields.size()));
  TraceRequest r;
  const auto arrival = to_double(fields[0]);
  if (!arrival || *arrival < 0.0 || *arrival > kMaxArrivalS)
    fail(fmt::format("arrival_s: {}, got '{}'", arrival_expectation(), trim(fields[0])));
  const auto input = to_tokens(fields[1]);
  if (!input)
    fail(fmt::format("input_tokens: {}, got '{}'", tokens_expectation(), trim(fields[1])));
  const auto output = to_tokens(fields[2]);
  if (!output)
    fail(fmt::format("output_tokens: {}, got '{}'", tokens_expectation(), trim(fields[2])));
  r.arrival_s = *arrival;
  r.input_tokens = *input;
  r.output_tokens = *output;
  return r;
}

TraceRequest parse_jsonl_line(std::string_view line, const std::string& where, int number) {
  auto fail = [&](const std::string& what) {
    throw_input_error(where, fmt::format("line {}", number), what);
  };
  const auto j = parse_json_strict(line, fmt::format("{}: line {}", where, number));
  if (!j.is_object()) fail("expected one JSON object");
  const std::vector<std::string> keys = {"arrival_s", "input_tokens", "output_tokens"};
  for (const auto& [key, value] : j.items()) {
    if (std::find(keys.begin(), keys.end(), key) == keys.end())
      fail(fmt::format("unknown key '{}'{}", key, did_you_mean(key, keys)));
  }
  for (const auto& key : keys) {
    if (!j.contains(key)) fail(fmt::format("missing key '{}'", key));
  }
  TraceRequest r;
  const auto& arrival = j["arrival_s"];
  if (!arrival.is_number() || arrival.get<double>() < 0.0 || arrival.get<double>() > kMaxArrivalS)
    fail(fmt::format("arrival_s: {}, got {}", arrival_expectation(), arrival.dump()));
  r.arrival_s = arrival.get<double>();
  for (const char* key : {"input_tokens", "output_tokens"}) {
    const auto& v = j[key];
    if (!v.is_number_integer() || v.get<int64_t>() < 1 || v.get<int64_t>() > kMaxTokens)
      fail(fmt::format("{}: {}, got {}", key, tokens_expectation(), v.dump()));
    (std::string_view(key) == "input_tokens" ? r.input_tokens : r.output_tokens) = v.get<int64_t>();
  }
  return r;
}

}  // namespace

std::vector<LengthPair> load_length_pairs(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in)
    throw Error(Error::Kind::kNotFound, fmt::format("{}: cannot read the file", file.string()));
  const std::string where = file.string();
  constexpr std::string_view kHeader = "input_length,output_length";
  std::vector<LengthPair> pairs;
  std::string line;
  bool header = true;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    auto fail = [&](const std::string& what) {
      throw_input_error(where, fmt::format("line {}", number), what);
    };
    if (header) {
      if (text != kHeader) fail(fmt::format("expected the header '{}', got '{}'", kHeader, text));
      header = false;
      continue;
    }
    const auto fields = split(text, ',');
    if (fields.size() != 2)
      fail(fmt::format("expected 2 fields (input_length,output_length), got {}", fields.size()));
    const auto input = to_tokens(fields[0]);
    if (!input)
      fail(fmt::format("input_length: {}, got '{}'", tokens_expectation(), trim(fields[0])));
    const auto output = to_tokens(fields[1]);
    if (!output)
      fail(fmt::format("output_length: {}, got '{}'", tokens_expectation(), trim(fields[1])));
    pairs.push_back({*input, *output});
  }
  if (pairs.empty()) throw Error(Error::Kind::kInput, fmt::format("{}: no samples", where));
  return pairs;
}

std::vector<TraceRequest> load_trace(const std::filesystem::path& file) {
  check_input_file(file, kMaxTraceBytes);
  std::ifstream in(file);
  if (!in)
    throw Error(Error::Kind::kNotFound, fmt::format("{}: cannot read the file", file.string()));
  const std::string where = file.string();
  const bool jsonl = file.extension() == ".jsonl";
  std::vector<TraceRequest> trace;
  std::string line;
  bool header = !jsonl;
  for (int number = 1; std::getline(in, line); ++number) {
    const std::string_view text = trim(line);
    if (text.empty()) continue;
    if (header) {
      if (text != "arrival_s,input_tokens,output_tokens")
        throw_input_error(where, fmt::format("line {}", number),
                          fmt::format("expected the header 'arrival_s,input_tokens,output_tokens', "
                                      "got '{}'",
                                      text));
      header = false;
      continue;
    }
    const TraceRequest r =
        jsonl ? parse_jsonl_line(text, where, number) : parse_csv_line(text, where, number);
    if (!trace.empty() && r.arrival_s < trace.back().arrival_s) {
      throw_input_error(where, fmt::format("line {}", number),
                        fmt::format("arrival_s: expected >= the previous line's {}, got {}",
                                    trace.back().arrival_s, r.arrival_s));
    }
    if (static_cast<int64_t>(trace.size()) == kMaxRequests)
      throw_input_error(where, fmt::format("line {}", number),
                        fmt::format("expected at most {} requests", kMaxRequests));
    trace.push_back(r);
  }
  if (trace.empty()) throw Error(Error::Kind::kInput, fmt::format("{}: no requests", where));
  return trace;
}

namespace {

double distribution_mean(const LengthDistribution& d) {
  switch (d.kind) {
    case LengthDistribution::Kind::kFixed:
    case LengthDistribution::Kind::kNormal:
    case LengthDistribution::Kind::kLogNormal:
      return d.a;
    case LengthDistribution::Kind::kUniform:
      return (d.a + d.b) / 2.0;
    case LengthDistribution::Kind::kFile: {
      double sum = 0.0;
      for (const int64_t v : d.values) sum += static_cast<double>(v);
      return d.values.empty() ? 0.0 : sum / static_cast<double>(d.values.size());
    }
  }
  return 0.0;
}

}  // namespace

MeanLengths mean_lengths(const Workload& w) {
  MeanLengths m;
  auto average = [&m](const auto& items) {
    for (const auto& item : items) {
      m.input += static_cast<double>(item.input_tokens);
      m.output += static_cast<double>(item.output_tokens);
    }
    const double n = std::max<double>(1.0, static_cast<double>(items.size()));
    m.input /= n;
    m.output /= n;
    return m;
  };
  if (w.arrival == ArrivalKind::kTrace) return average(w.trace);
  if (!w.pairs.empty()) return average(w.pairs);
  return {distribution_mean(w.input), distribution_mean(w.output)};
}

std::string rate_expectation(double rate) {
  return fmt::format("expected a rate from {:g} to {:g} requests/s, got {}", kMinRatePerS,
                     kMaxRatePerS, rate);
}

void validate_workload(const Workload& w) {
  switch (w.arrival) {
    case ArrivalKind::kPoisson:
      if (!(w.rate_per_s >= kMinRatePerS && w.rate_per_s <= kMaxRatePerS))
        throw_field_error("workload.rate_per_s", rate_expectation(w.rate_per_s));
      break;
    case ArrivalKind::kClosedLoop:
      if (w.concurrency < 1 || w.concurrency > kMaxConcurrency)
        throw_field_error("workload.concurrency", fmt::format("expected 1 to {} clients, got {}",
                                                              kMaxConcurrency, w.concurrency));
      break;
    case ArrivalKind::kOffline:
      break;
    case ArrivalKind::kTrace:
      if (w.trace.empty()) throw_field_error("workload.trace", "the trace has no requests");
      return;
  }
  if (w.num_requests < 1 || w.num_requests > kMaxRequests)
    throw_field_error("workload.num_requests",
                      fmt::format("expected 1 to {}, got {}", kMaxRequests, w.num_requests));
  if (!(w.min_duration_s >= 0.0) || !std::isfinite(w.min_duration_s))
    throw_field_error("workload.min_duration_s",
                      fmt::format("expected a duration >= 0 s, got {}", w.min_duration_s));
  if (w.arrival == ArrivalKind::kPoisson && w.min_duration_s * w.rate_per_s > kMaxRequests)
    throw_field_error("workload.min_duration_s",
                      fmt::format("{} s at {} requests/s is more than {} requests",
                                  w.min_duration_s, w.rate_per_s, kMaxRequests));
}

RequestStream::RequestStream(const Workload& w)
    : w_(w),
      arrivals_(random_stream(w.seed, "arrivals")),
      inputs_(random_stream(w.seed, "input_len")),
      outputs_(random_stream(w.seed, "output_len")),
      samples_(random_stream(w.seed, "samples")) {}

bool RequestStream::done() const {
  if (w_.arrival == ArrivalKind::kTrace) return issued_ >= static_cast<int64_t>(w_.trace.size());
  const bool timed = w_.arrival == ArrivalKind::kPoisson && w_.min_duration_s > 0.0;
  return issued_ >= w_.num_requests && !(timed && t_ < w_.min_duration_s);
}

int64_t RequestStream::expected_count() const {
  if (w_.arrival == ArrivalKind::kTrace) return static_cast<int64_t>(w_.trace.size());
  if (w_.arrival == ArrivalKind::kPoisson && w_.min_duration_s > 0.0)
    return std::max<int64_t>(w_.num_requests, std::llround(w_.min_duration_s * w_.rate_per_s));
  return w_.num_requests;
}

RequestSpec RequestStream::next() {
  RequestSpec r;
  if (w_.arrival == ArrivalKind::kTrace) {
    const TraceRequest& t = w_.trace[static_cast<std::size_t>(issued_++)];
    return {t.arrival_s, t.input_tokens, t.output_tokens};
  }
  ++issued_;
  if (w_.arrival == ArrivalKind::kPoisson) {
    // Exponential gaps scaled by the rate, so that runs at different rates share their draws.
    t_ += gap_(arrivals_) / w_.rate_per_s;
    r.arrival_s = t_;
  }
  if (w_.pairs.empty()) {
    r.input_tokens = sample_length(w_.input, inputs_);
    r.output_tokens = sample_length(w_.output, outputs_);
  } else {
    const LengthPair& p =
        w_.pairs[std::uniform_int_distribution<std::size_t>(0, w_.pairs.size() - 1)(samples_)];
    r.input_tokens = p.input_tokens;
    r.output_tokens = p.output_tokens;
  }
  return r;
}

std::vector<RequestSpec> generate_requests(const Workload& w) {
  RequestStream stream(w);
  std::vector<RequestSpec> requests;
  requests.reserve(static_cast<std::size_t>(stream.expected_count()));
  while (!stream.done()) requests.push_back(stream.next());
  return requests;
}

}  // namespace xpusim
