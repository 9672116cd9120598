#pragma once
// What the command line owns around the library: the words of an error (the library names the
// field, the shell names its flag), output that is checked before and after it is written, and
// --version.

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/error.hpp"

namespace xpusim::api {

/// The parsed subcommand path of `app`: "train", "hw show"; "" before a subcommand.
[[nodiscard]] std::string command_of(const CLI::App& app);

/// The flag (or argument) by which `command` sets the library's request field `field`
/// ("serve", "tensor_parallel" -> "--tp"), or "" when the command has none.
[[nodiscard]] std::string flag_for_field(std::string_view command, std::string_view field);

/// The line to print for `e` under `command`, without the "xpusim: " prefix: an error about a
/// request field is worded with the command's flag ("command line: --tp: ...").
[[nodiscard]] std::string error_text(const Error& e, std::string_view command);

/// Throws an input error "command line: argument N: expected UTF-8 text" for the first argument
/// (N from 1) that is not UTF-8 (it would reach the JSON output), and "command line: --FLAG:
/// expected a value, got nothing" for an empty value.
void check_arguments(const std::vector<std::string>& args);

/// Writes `result` as JSON to `out`, after check_result_numbers.
void print_json(std::ostream& out, const nlohmann::json& result);

/// Writes `text` to `out` after checking the numbers of `result`, the JSON it was made from.
void print_text(std::ostream& out, const std::string& text, const nlohmann::json& result);

/// Writes `text` to the file `path` given by `flag`; any failure (a full disk, a directory) is an
/// input error naming the flag and the path.
void write_output_file(const std::string& path, const std::string& text, std::string_view flag);

/// Throws an input error unless everything written to `out` (the result stream) reached it.
void check_output(std::ostream& out);

/// "xpusim VERSION" and the data catalog in use: its directory and the ids it holds.
[[nodiscard]] std::string version_text(const std::filesystem::path& data);

}  // namespace xpusim::api
