#pragma once
// Finding and loading models: by catalog id (data/models/ID.json) or by path to a config.json.

#include <filesystem>
#include <string>
#include <vector>

#include "xpusim/model/model.hpp"

namespace xpusim {

/// Parses a Hugging Face config.json into a ModelSpec; an unsupported architecture is refused
/// by name, a missing or mistyped key names the file and the key.
[[nodiscard]] ModelSpec load_model_file(const std::filesystem::path& file);

/// The same from the text of a config.json; `name` locates it in messages, `id` becomes the
/// model's id.
[[nodiscard]] ModelSpec parse_model_config(const std::string& text, const std::string& name,
                                           const std::string& id);

/// Ids of the catalog's models (file stems of `models_dir/*.json`), sorted.
[[nodiscard]] std::vector<std::string> model_ids(const std::filesystem::path& models_dir);

/// `ref` is a catalog id or a path to a config.json.
[[nodiscard]] ModelSpec load_model(const std::string& ref, const std::filesystem::path& models_dir);

/// The model_type values the loader accepts.
[[nodiscard]] const std::vector<std::string>& supported_model_types();

}  // namespace xpusim
