#pragma once
// Strict reading of a YAML mapping: each key is taken at most once, required keys must be
// present, and whatever is left over is an error with a "did you mean" suggestion. Every
// message names the file and the key path.

#include <yaml-cpp/yaml.h>

#include <filesystem>
#include <optional>
#include <set>
#include <string>
#include <vector>

namespace xpusim {

class YamlMap {
 public:
  /// `node` must be a mapping; `path` is the key path of `node` ("" at the root).
  YamlMap(YAML::Node node, std::string file, std::string path);

  /// Loads a whole file as a mapping; a parse error names the file and line.
  [[nodiscard]] static YamlMap load_file(const std::filesystem::path& file);

  [[nodiscard]] bool has(const std::string& key) const;
  [[nodiscard]] YAML::Node required(const std::string& key);
  [[nodiscard]] std::optional<YAML::Node> optional(const std::string& key);
  [[nodiscard]] YamlMap required_map(const std::string& key);
  [[nodiscard]] std::optional<YamlMap> optional_map(const std::string& key);
  [[nodiscard]] std::string required_string(const std::string& key);
  [[nodiscard]] std::optional<std::string> optional_string(const std::string& key);
  [[nodiscard]] double required_number(const std::string& key);
  [[nodiscard]] long long required_integer(const std::string& key);
  /// Keys not yet taken, in file order.
  [[nodiscard]] std::vector<std::string> keys() const;

  /// Throws on any key not taken, suggesting the closest of `allowed`.
  void finish(const std::vector<std::string>& allowed) const;

  /// "file: path.key: what".
  [[noreturn]] void fail(const std::string& key, const std::string& what) const;
  [[nodiscard]] std::string key_path(const std::string& key) const;
  [[nodiscard]] const std::string& file() const { return file_; }

 private:
  YAML::Node node_;
  std::string file_;
  std::string path_;
  std::set<std::string> taken_;
};

}  // namespace xpusim
