#pragma once
// The one error type of the library. Its message starts with the location of the bad input
// ("data/hardware/h100.yaml: memory.bandwidth_bytes_per_s: expected > 0, got -80").
// Only `main` turns it into an exit status.

#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace xpusim {

class Error : public std::runtime_error {
 public:
  enum class Kind {
    kInput,     ///< malformed or invalid user input (files, flags): exit status 2
    kNotFound,  ///< an id or path that names nothing: exit status 2
    kInternal,  ///< a bug
  };
  Error(Kind kind, const std::string& message) : std::runtime_error(message), kind_(kind) {}
  /// An error about field `field` of a request the caller built (not a file): the message is
  /// "FIELD: DETAIL", and a shell words it with its own name for the field (a flag).
  Error(Kind kind, std::string field, std::string detail)
      : std::runtime_error(field + ": " + detail),
        kind_(kind),
        field_(std::move(field)),
        detail_(std::move(detail)) {}
  [[nodiscard]] Kind kind() const { return kind_; }
  /// The request field at fault ("workload.rate_per_s"), or "" for an error located in a file.
  [[nodiscard]] const std::string& field() const { return field_; }
  /// What is wrong with the field, without the field's name.
  [[nodiscard]] const std::string& detail() const { return detail_; }

 private:
  Kind kind_;
  std::string field_;
  std::string detail_;
};

/// Throws an input error about field `field` of a request: "FIELD: WHAT". Fields are named as in
/// the request structs ("workload.rate_per_s", "limits.max_num_seqs"), never as flags.
[[noreturn]] void throw_field_error(std::string_view field, std::string_view what);

/// Throws an input error "WHERE: KEY: WHAT".
[[noreturn]] void throw_input_error(std::string_view where, std::string_view key,
                                    std::string_view what);

/// Levenshtein distance, ignoring case.
[[nodiscard]] std::size_t edit_distance(std::string_view a, std::string_view b);

/// The candidates closest to `word` by edit distance (at most `limit`, only plausible ones),
/// for "did you mean" suggestions.
[[nodiscard]] std::vector<std::string> closest_matches(std::string_view word,
                                                       const std::vector<std::string>& candidates,
                                                       std::size_t limit = 3);

/// " (did you mean: a, b?)" or "" when nothing is close.
[[nodiscard]] std::string did_you_mean(std::string_view word,
                                       const std::vector<std::string>& candidates);

}  // namespace xpusim
