#include "xpusim/core/error.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cctype>

namespace xpusim {

void throw_input_error(std::string_view where, std::string_view key, std::string_view what) {
  if (key.empty()) throw Error(Error::Kind::kInput, fmt::format("{}: {}", where, what));
  throw Error(Error::Kind::kInput, fmt::format("{}: {}: {}", where, key, what));
}

void throw_field_error(std::string_view field, std::string_view what) {
  throw Error(Error::Kind::kInput, std::string(field), std::string(what));
}

std::size_t edit_distance(std::string_view a, std::string_view b) {
  std::vector<std::size_t> row(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    std::size_t diagonal = row[0];
    row[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t above = row[j];
      const bool same = std::tolower(a[i - 1]) == std::tolower(b[j - 1]);
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diagonal + (same ? 0 : 1)});
      diagonal = above;
    }
  }
  return row[b.size()];
}

std::vector<std::string> closest_matches(std::string_view word,
                                         const std::vector<std::string>& candidates,
                                         std::size_t limit) {
  std::vector<std::pair<std::size_t, std::string>> scored;
  // A suggestion is plausible when it is within about a third of the word's length, or when
  // one contains the other ("h100" in "h100-sxm").
  const std::size_t threshold = std::max<std::size_t>(2, word.size() / 3);
  for (const auto& candidate : candidates) {
    const bool contains = word.size() >= 2 && (candidate.find(word) != std::string::npos ||
                                               word.find(candidate) != std::string::npos);
    const std::size_t distance = edit_distance(word, candidate);
    if (distance <= threshold || contains) scored.emplace_back(contains ? 0 : distance, candidate);
  }
  std::stable_sort(scored.begin(), scored.end(),
                   [](const auto& a, const auto& b) { return a.first < b.first; });
  std::vector<std::string> result;
  for (std::size_t i = 0; i < scored.size() && i < limit; ++i) result.push_back(scored[i].second);
  return result;
}

std::string did_you_mean(std::string_view word, const std::vector<std::string>& candidates) {
  const auto matches = closest_matches(word, candidates);
  if (matches.empty()) return "";
  return fmt::format(" (did you mean: {}?)", fmt::join(matches, ", "));
}

}  // namespace xpusim
