#pragma once
// Finding and loading accelerator descriptions: by catalog id, or by path to a user's YAML.

#include <filesystem>
#include <string>
#include <vector>

#include "xpusim/core/catalog.hpp"  // looks_like_path
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

/// Parses one accelerator YAML file strictly (see data/hardware/README.md).
[[nodiscard]] AcceleratorSpec load_accelerator_file(const std::filesystem::path& file);

/// Parses accelerator YAML held in memory (a derived entry); messages name `name`.
[[nodiscard]] AcceleratorSpec parse_accelerator_text(const std::string& text,
                                                     const std::filesystem::path& name);

/// Ids of the catalog's accelerators (file stems of `hardware_dir/*.yaml`), sorted.
[[nodiscard]] std::vector<std::string> accelerator_ids(const std::filesystem::path& hardware_dir);

/// `ref` is a catalog id or a path to a YAML file (anything with a '/' or ending in .yaml/.yml).
/// An unknown id is an error that suggests the closest ids.
[[nodiscard]] AcceleratorSpec load_accelerator(const std::string& ref,
                                               const std::filesystem::path& hardware_dir);

/// Every accelerator of the catalog, in id order.
[[nodiscard]] std::vector<AcceleratorSpec> load_all_accelerators(
    const std::filesystem::path& hardware_dir);

}  // namespace xpusim
