#include "xpusim/hw/catalog.hpp"

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

std::vector<std::string> accelerator_ids(const std::filesystem::path& hardware_dir) {
  std::vector<std::string> ids;
  if (!std::filesystem::is_directory(hardware_dir)) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("{}: hardware catalog directory not found", hardware_dir.string()));
  }
  for (const auto& entry : std::filesystem::directory_iterator(hardware_dir)) {
    if (entry.path().extension() == ".yaml") ids.push_back(entry.path().stem().string());
  }
  std::sort(ids.begin(), ids.end());
  return ids;
}

AcceleratorSpec load_accelerator(const std::string& ref,
                                 const std::filesystem::path& hardware_dir) {
  if (looks_like_path(ref)) return load_accelerator_file(ref);
  const auto ids = accelerator_ids(hardware_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    throw Error(Error::Kind::kNotFound,
                fmt::format("--hw: unknown accelerator '{}'{}; 'xpusim hw list' lists them", ref,
                            did_you_mean(ref, ids)));
  }
  return load_accelerator_file(hardware_dir / (ref + ".yaml"));
}

std::vector<AcceleratorSpec> load_all_accelerators(const std::filesystem::path& hardware_dir) {
  std::vector<AcceleratorSpec> all;
  for (const auto& id : accelerator_ids(hardware_dir))
    all.push_back(load_accelerator_file(hardware_dir / (id + ".yaml")));
  return all;
}

}  // namespace xpusim
