#include "xpusim/core/figures.hpp"

#include <fmt/format.h>
#include <algorithm>
#include <cmath>

#include "xpusim/core/error.hpp"

namespace xpusim {

namespace {

/// `key` with every list index "[3]" written "[]".
std::string without_indices(const std::string& key) {
  std::string out;
  for (std::size_t i = 0; i < key.size(); ++i) {
    out += key[i];
    if (key[i] != '[') continue;
    while (i + 1 < key.size() && key[i + 1] != ']') ++i;
  }
  return out;
}

bool matches(std::string_view pattern, const std::string& key) {
  if (pattern.size() >= 2 && pattern.substr(pattern.size() - 2) == ".*") {
    const std::string_view prefix = pattern.substr(0, pattern.size() - 1);  // keeps the '.'
    return key.size() > prefix.size() && key.compare(0, prefix.size(), prefix) == 0 &&
           key.find('.', prefix.size()) == std::string::npos;
  }
  return key == pattern;
}

}  // namespace

void check_figure_ranges(const std::string& file, const std::vector<Figure>& figures,
                         const std::vector<FigureRange>& ranges) {
  for (const Figure& f : figures) {
    const std::string key = without_indices(f.key);
    const auto range = std::find_if(ranges.begin(), ranges.end(),
                                    [&](const FigureRange& r) { return matches(r.key, key); });
    if (range == ranges.end())
      throw Error(Error::Kind::kInternal,
                  fmt::format("internal error: {}: {}: no range for this figure", file, f.key));
    if (!(f.value >= range->min && f.value <= range->max)) {
      throw_input_error(file, f.key + ".value",
                        fmt::format("expected {:g} to {:g} {}, got {:g}", range->min, range->max,
                                    range->unit, f.value));
    }
  }
}

std::vector<Source> read_sources(YamlMap& root) {
  YAML::Node list = root.required("sources");
  if (!list.IsSequence() || list.size() == 0)
    root.fail("sources", "expected a non-empty list of sources");
  std::vector<Source> sources;
  for (std::size_t i = 0; i < list.size(); ++i) {
    YamlMap entry(list[i], root.file(), fmt::format("sources[{}]", i));
    Source source{entry.required_string("id"), entry.required_string("title"),
                  entry.required_string("url")};
    entry.finish({"id", "title", "url"});
    sources.push_back(std::move(source));
  }
  return sources;
}

double FigureReader::required(YamlMap& parent, const std::string& key) {
  YamlMap figure = parent.required_map(key);
  return read(figure, parent.key_path(key), {});
}

std::optional<double> FigureReader::optional(YamlMap& parent, const std::string& key) {
  if (!parent.has(key)) return std::nullopt;
  return required(parent, key);
}

int FigureReader::required_count(YamlMap& parent, const std::string& key) {
  const double value = required(parent, key);
  // The bound first: converting a value past the integer range is undefined.
  if (value > 1e9 || value != std::floor(value)) {
    parent.fail(key + ".value", fmt::format("expected a whole number, got {}", value));
  }
  return static_cast<int>(value);
}

double FigureReader::required_fraction(YamlMap& parent, const std::string& key) {
  const double value = required(parent, key);
  if (value > 1.0)
    parent.fail(key + ".value", fmt::format("expected a fraction in (0, 1], got {}", value));
  return value;
}

double FigureReader::required_non_negative(YamlMap& parent, const std::string& key) {
  YamlMap figure = parent.required_map(key);
  return read_checked(figure, parent.key_path(key), {}, true);
}

double FigureReader::required_closed_fraction(YamlMap& parent, const std::string& key) {
  const double value = required_non_negative(parent, key);
  if (value > 1.0)
    parent.fail(key + ".value", fmt::format("expected a fraction in [0, 1], got {}", value));
  return value;
}

double FigureReader::read(YamlMap& figure, const std::string& key_path,
                          const std::vector<std::string>& extra) {
  return read_checked(figure, key_path, extra, false);
}

double FigureReader::read_checked(YamlMap& figure, const std::string& key_path,
                                  const std::vector<std::string>& extra, bool allow_zero) {
  const double value = figure.required_number("value");
  if (allow_zero && value < 0.0) figure.fail("value", fmt::format("expected >= 0, got {}", value));
  if (!allow_zero && value <= 0.0) figure.fail("value", fmt::format("expected > 0, got {}", value));
  Provenance provenance;
  const auto source = figure.optional_string("source");
  const auto estimate = figure.optional_string("estimate");
  if (source.has_value() == estimate.has_value()) {
    figure.fail("source",
                "expected exactly one of 'source' (a source id) or 'estimate' (its basis)");
  }
  if (source) {
    const bool known = std::any_of(sources_.begin(), sources_.end(),
                                   [&](const Source& s) { return s.id == *source; });
    if (!known)
      figure.fail("source",
                  "unknown source id '" + *source + "'" + did_you_mean(*source, source_ids()));
    provenance.source_id = *source;
  } else {
    if (estimate->empty())
      figure.fail("estimate", "expected the basis of the estimate, got nothing");
    provenance.estimate = *estimate;
  }
  provenance.note = figure.optional_string("note").value_or("");
  std::vector<std::string> allowed = {"value", "source", "estimate", "note"};
  allowed.insert(allowed.end(), extra.begin(), extra.end());
  figure.finish(allowed);
  figures_.push_back(Figure{key_path, value, provenance});
  return value;
}

std::vector<std::string> FigureReader::source_ids() const {
  std::vector<std::string> ids;
  for (const auto& s : sources_) ids.push_back(s.id);
  return ids;
}

}  // namespace xpusim
