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
  [[nodiscard]] Kind kind() const { return kind_; }

 private:
  Kind kind_;
};

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
