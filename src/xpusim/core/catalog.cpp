#include "xpusim/core/catalog.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/core/error.hpp"

namespace xpusim {

bool looks_like_path(const std::string& ref) {
  const auto ends_with = [&](const std::string& suffix) {
    return ref.size() >= suffix.size() &&
           ref.compare(ref.size() - suffix.size(), suffix.size(), suffix) == 0;
  };
  return ref.find('/') != std::string::npos || ends_with(".yaml") || ends_with(".yml") ||
         ends_with(".json");
}

std::vector<std::string> catalog_ids(const std::filesystem::path& dir, std::string_view extension,
                                     std::string_view what) {
  if (!std::filesystem::is_directory(dir)) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("{}: {} catalog directory not found", dir.string(), what));
  }
  std::vector<std::string> ids;
  for (const auto& entry : std::filesystem::directory_iterator(dir)) {
    if (entry.path().extension() == extension) ids.push_back(entry.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

}  // namespace xpusim
