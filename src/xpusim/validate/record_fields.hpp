#pragma once
// Typed access to a validation record's "xpusim" block; a missing or mistyped key names the
// file, the record and the key.

#include <nlohmann/json.hpp>
#include <string>

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

}  // namespace xpusim
