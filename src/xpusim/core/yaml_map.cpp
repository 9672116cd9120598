#include "xpusim/core/yaml_map.hpp"

#include <fmt/format.h>
#include <cmath>

#include "xpusim/core/error.hpp"
#include "xpusim/core/input_file.hpp"

namespace xpusim {

namespace {

std::string describe(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "nothing";
    case YAML::NodeType::Scalar:
      return fmt::format("'{}'", node.Scalar());
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    case YAML::NodeType::Undefined:
      return "nothing";
  }
  return "?";
}

}  // namespace

YamlMap::YamlMap(YAML::Node node, std::string file, std::string path)
    : node_(std::move(node)), file_(std::move(file)), path_(std::move(path)) {
  if (!node_.IsMap()) {
    throw_input_error(file_, path_.empty() ? "(top level)" : path_,
                      fmt::format("expected a mapping, got {}", describe(node_)));
  }
  // yaml-cpp keeps both entries of a repeated key and lookups see only the first; YAML
  // forbids repeats, and a second value silently ignored is the worst kind of typo.
  std::set<std::string> seen;
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    require_utf8(file_, key_path("(key)"), key);
    if (!seen.insert(key).second) fail(key, "duplicate key");
  }
}

YamlMap YamlMap::load_file(const std::filesystem::path& file) {
  const std::string name = file.string();
  const std::string text = read_input_file(file);
  require_utf8(name, "", text);
  try {
    return YamlMap(YAML::Load(text), name, "");
  } catch (const YAML::Exception& e) {
    throw_input_error(name, "",
                      fmt::format("malformed YAML at line {}, column {}: {}", e.mark.line + 1,
                                  e.mark.column + 1, e.msg));
  }
}

std::string YamlMap::key_path(const std::string& key) const {
  return path_.empty() ? key : path_ + "." + key;
}

void YamlMap::fail(const std::string& key, const std::string& what) const {
  throw_input_error(file_, key_path(key), what);
}

bool YamlMap::has(const std::string& key) const {
  return static_cast<bool>(node_[key]);
}

YAML::Node YamlMap::required(const std::string& key) {
  auto value = optional(key);
  if (!value) fail(key, "missing (required)");
  return *value;
}

std::optional<YAML::Node> YamlMap::optional(const std::string& key) {
  YAML::Node value = node_[key];
  if (!value) return std::nullopt;
  taken_.insert(key);
  if (value.IsNull()) fail(key, "expected a value, got nothing");
  return value;
}

YamlMap YamlMap::required_map(const std::string& key) {
  return YamlMap(required(key), file_, key_path(key));
}

std::optional<YamlMap> YamlMap::optional_map(const std::string& key) {
  auto value = optional(key);
  if (!value) return std::nullopt;
  return YamlMap(*value, file_, key_path(key));
}

std::string YamlMap::required_string(const std::string& key) {
  auto value = optional_string(key);
  if (!value) fail(key, "missing (required)");
  return *value;
}

std::optional<std::string> YamlMap::optional_string(const std::string& key) {
  auto value = optional(key);
  if (!value) return std::nullopt;
  if (!value->IsScalar()) fail(key, fmt::format("expected text, got {}", describe(*value)));
  require_utf8(file_, key_path(key), value->Scalar());
  return value->Scalar();
}

double YamlMap::required_number(const std::string& key) {
  YAML::Node value = required(key);
  double number = 0.0;
  if (!value.IsScalar() || !YAML::convert<double>::decode(value, number) ||
      !std::isfinite(number)) {
    fail(key, fmt::format("expected a number, got {}", describe(value)));
  }
  return number;
}

long long YamlMap::required_integer(const std::string& key) {
  YAML::Node value = required(key);
  long long number = 0;
  if (!value.IsScalar() || !YAML::convert<long long>::decode(value, number)) {
    fail(key, fmt::format("expected an integer, got {}", describe(value)));
  }
  return number;
}

std::vector<std::string> YamlMap::keys() const {
  std::vector<std::string> result;
  for (const auto& entry : node_) result.push_back(entry.first.Scalar());
  return result;
}

void YamlMap::finish(const std::vector<std::string>& allowed) const {
  for (const auto& entry : node_) {
    const std::string key = entry.first.Scalar();
    if (taken_.count(key) == 0) {
      fail(key, "unknown key" + did_you_mean(key, allowed));
    }
  }
}

}  // namespace xpusim
