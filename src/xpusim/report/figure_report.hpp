#pragma once
// How every catalog entry's figures and sources are shown (hw, system and stack show).

#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xpusim/core/figures.hpp"

namespace xpusim {

/// {"key", "value", "source" | "estimate", "note"?}.
[[nodiscard]] nlohmann::json figure_json(const Figure& figure);
/// The source's title (or "estimate: basis"), with the note in parentheses.
[[nodiscard]] std::string provenance_text(const std::vector<Source>& sources,
                                          const Provenance& provenance);
/// [{"id", "title", "url"}, ...].
[[nodiscard]] nlohmann::json sources_json(const std::vector<Source>& sources);

}  // namespace xpusim
