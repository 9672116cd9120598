#include "xpusim/hw/catalog.hpp"

#include <fmt/format.h>
#include <algorithm>

#include "xpusim/core/catalog.hpp"
#include "xpusim/core/error.hpp"

namespace xpusim {

std::vector<std::string> accelerator_ids(const std::filesystem::path& hardware_dir) {
  return catalog_ids(hardware_dir, ".yaml", "hardware");
}

AcceleratorSpec load_accelerator(const std::string& ref,
                                 const std::filesystem::path& hardware_dir) {
  if (looks_like_path(ref)) return load_accelerator_file(ref);
  const auto ids = accelerator_ids(hardware_dir);
  if (std::find(ids.begin(), ids.end(), ref) == ids.end()) {
    throw Error(Error::Kind::kNotFound, "hw",
                fmt::format("unknown accelerator '{}'{}; 'xpusim hw list' lists them", ref,
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
