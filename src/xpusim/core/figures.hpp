#pragma once
// Figures: the numbers of a description file, each with where it comes from. A figure is a
// mapping `{value, source: ID | estimate: "basis", note: "..."}` whose source id names an entry
// of the file's `sources` list (format: data/hardware/README.md, "Figures and their sources").
// Accelerator and system YAML read their figures here, so the convention has one implementation.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/yaml_map.hpp"

namespace xpusim {

/// Where a figure comes from: a cited source, or an estimate with what it rests on.
struct Provenance {
  std::string source_id;  ///< id in the file's sources; empty for an estimate
  std::string estimate;   ///< the basis of an estimate; empty for a sourced figure
  std::string note;       ///< how the value was read or derived (optional)
};

/// One number of the description, kept with its key path and provenance for display.
struct Figure {
  std::string key;  ///< e.g. "memory.bandwidth_bytes_per_s"
  double value = 0.0;
  Provenance provenance;
};

struct Source {
  std::string id;
  std::string title;
  std::string url;
};

/// The plausible range of a figure: outside it a value is a unit mistake or a typo, and would
/// drive the model to numbers no machine produces (1e308 B/s, a 1e-300 share of peak).
struct FigureRange {
  std::string_view key;  ///< key path; "[]" stands for any list index, a final ".*" for any key
  double min = 0.0;
  double max = 0.0;
  std::string_view unit;  ///< for the message: "bytes/s"
};

/// Throws "FILE: KEY.value: expected MIN to MAX UNIT, got V" for the first of `figures` outside
/// its range in `ranges`; a figure without a range is an internal error (a new key needs its
/// bounds). Example range: {"memory.capacity_bytes", 1e6, 1e13, "bytes"}.
void check_figure_ranges(const std::string& file, const std::vector<Figure>& figures,
                         const std::vector<FigureRange>& ranges);

/// The file's non-empty `sources` list of `{id, title, url}`.
[[nodiscard]] std::vector<Source> read_sources(YamlMap& root);

/// Reads figures against a file's sources and appends each, with its key path and provenance,
/// to `figures`. Every value must be > 0; messages name the file and key path.
class FigureReader {
 public:
  FigureReader(const std::vector<Source>& sources, std::vector<Figure>& figures)
      : sources_(sources), figures_(figures) {}

  /// A required positive figure `parent.key`.
  double required(YamlMap& parent, const std::string& key);
  /// An optional positive figure.
  std::optional<double> optional(YamlMap& parent, const std::string& key);
  /// A figure that must be a whole number >= 1.
  int required_count(YamlMap& parent, const std::string& key);
  /// A fraction in (0, 1].
  double required_fraction(YamlMap& parent, const std::string& key);
  /// A required figure >= 0 (zero allowed: e.g. a cost that a stack does not pay).
  double required_non_negative(YamlMap& parent, const std::string& key);
  /// A fraction in [0, 1] (zero allowed: e.g. no overlap at all).
  double required_closed_fraction(YamlMap& parent, const std::string& key);
  /// The figure mapping `figure` (already taken from its parent) at `key_path`, which may also
  /// hold the keys in `extra` (the caller reads them first, e.g. a price's `date`).
  double read(YamlMap& figure, const std::string& key_path, const std::vector<std::string>& extra);

 private:
  [[nodiscard]] std::vector<std::string> source_ids() const;
  double read_checked(YamlMap& figure, const std::string& key_path,
                      const std::vector<std::string>& extra, bool allow_zero);

  const std::vector<Source>& sources_;
  std::vector<Figure>& figures_;
};

}  // namespace xpusim
