#include "xpusim/report/figure_report.hpp"

namespace xpusim {

nlohmann::json figure_json(const Figure& f) {
  nlohmann::json entry = {{"key", f.key}, {"value", f.value}};
  if (f.provenance.estimate.empty()) {
    entry["source"] = f.provenance.source_id;
  } else {
    entry["estimate"] = f.provenance.estimate;
  }
  if (!f.provenance.note.empty()) entry["note"] = f.provenance.note;
  return entry;
}

std::string provenance_text(const std::vector<Source>& sources, const Provenance& p) {
  std::string text;
  if (p.estimate.empty()) {
    for (const auto& s : sources) {
      if (s.id == p.source_id) text = s.title;
    }
  } else {
    text = "estimate: " + p.estimate;
  }
  if (!p.note.empty()) text += " (" + p.note + ")";
  return text;
}

nlohmann::json sources_json(const std::vector<Source>& sources) {
  nlohmann::json array = nlohmann::json::array();
  for (const auto& s : sources) array.push_back({{"id", s.id}, {"title", s.title}, {"url", s.url}});
  return array;
}

}  // namespace xpusim
