#pragma once
// Typed access to a validation record's "xpusim" block; a missing or mistyped key names the
// file, the record and the key.

#include <fmt/format.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "xpusim/core/error.hpp"

namespace xpusim {

template <class T>
T record_field(const nlohmann::json& block, const char* key, const std::string& where) {
  if (!block.contains(key)) throw_input_error(where, key, "missing (required)");
  try {
    return block.at(key).get<T>();
  } catch (const nlohmann::json::exception&) {
    throw_input_error(where, key, "has the wrong type: " + block.at(key).dump());
  }
}

/// The whole JSON document of a validation file; a missing file is kNotFound, a malformed one
/// an input error naming it.
inline nlohmann::json read_validation_file(const std::filesystem::path& file) {
  std::ifstream in(file);
  if (!in) throw Error(Error::Kind::kNotFound, fmt::format("{}: no such file", file.string()));
  nlohmann::json doc = nlohmann::json::parse(in, nullptr, false);
  if (doc.is_discarded()) throw_input_error(file.string(), "", "malformed JSON");
  return doc;
}

/// Refuses any key of `object` outside `allowed`, naming the closest one.
inline void check_keys(const nlohmann::json& object, const std::vector<std::string>& allowed,
                       const std::string& where) {
  if (!object.is_object()) throw_input_error(where, "", "expected an object");
  for (const auto& [key, value] : object.items()) {
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    throw_input_error(where, key, "unknown key" + did_you_mean(key, allowed));
  }
}

}  // namespace xpusim
