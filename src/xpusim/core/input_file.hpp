#pragma once
// Reading an input file, once, with the checks every format shares: the path must name a regular
// file (not a directory, a FIFO or a device) of a bounded size, and JSON is parsed strictly (a
// repeated key is an error, as in YAML). Messages start with the file's name.

#include <nlohmann/json.hpp>

#include <cstdint>
#include <filesystem>
#include <string>
#include <string_view>

namespace xpusim {

/// Largest description file (hardware, system, stack YAML, config.json, probe and validation
/// JSON): the biggest in the catalog is under 100 kB.
inline constexpr std::uintmax_t kMaxDescriptionBytes = std::uintmax_t{16} << 20;
/// Largest request trace or length file: about ten million lines.
inline constexpr std::uintmax_t kMaxTraceBytes = std::uintmax_t{512} << 20;

/// Throws unless `file` is a regular file of at most `max_bytes`: "FILE: no such file",
/// "FILE: expected a file, got a directory", "FILE: 2000000000 bytes: expected at most ...".
void check_input_file(const std::filesystem::path& file, std::uintmax_t max_bytes);

/// The whole content of `file`, after check_input_file.
[[nodiscard]] std::string read_input_file(const std::filesystem::path& file,
                                          std::uintmax_t max_bytes = kMaxDescriptionBytes);

/// `text` parsed as JSON; a syntax error names the line, a repeated key in an object and a
/// number beyond the double range are errors. Messages start with `where`.
[[nodiscard]] nlohmann::json parse_json_strict(std::string_view text, const std::string& where);

/// Throws "WHERE: KEY: expected UTF-8 text" unless `text` is valid UTF-8.
void require_utf8(std::string_view where, std::string_view key, std::string_view text);

}  // namespace xpusim
