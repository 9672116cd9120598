#pragma once
// What every catalog (hardware, systems, models, stacks) shares: telling a path from an id, and
// listing a catalog folder's ids.

#include <filesystem>
#include <string>
#include <string_view>
#include <vector>

namespace xpusim {

/// True when `ref` names a file rather than a catalog id (it has a '/' or ends in .yaml, .yml or
/// .json).
[[nodiscard]] bool looks_like_path(const std::string& ref);

/// The stems of the files `dir/*EXTENSION` (extension with its dot, ".yaml"), sorted. A missing
/// folder is a not-found error "DIR: WHAT catalog directory not found".
[[nodiscard]] std::vector<std::string> catalog_ids(const std::filesystem::path& dir,
                                                   std::string_view extension,
                                                   std::string_view what);

}  // namespace xpusim
