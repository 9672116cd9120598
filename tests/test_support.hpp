#pragma once
// Shared helpers for the tests: the catalog directories of the source tree.

#include <filesystem>

#include "xpusim/hw/catalog.hpp"
#include "xpusim/model/catalog.hpp"

namespace xpusim::testing {

inline std::filesystem::path data_dir() {
  return XPUSIM_SOURCE_DATADIR;
}
inline std::filesystem::path hardware_dir() {
  return data_dir() / "hardware";
}
inline std::filesystem::path models_dir() {
  return data_dir() / "models";
}
inline AcceleratorSpec hw(const std::string& id) {
  return load_accelerator(id, hardware_dir());
}
inline ModelSpec model(const std::string& id) {
  return load_model(id, models_dir());
}

}  // namespace xpusim::testing
