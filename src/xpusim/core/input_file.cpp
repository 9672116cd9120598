#include "xpusim/core/input_file.hpp"

#include <fmt/format.h>

#include <algorithm>
#include <fstream>
#include <iterator>
#include <set>
#include <vector>

#include "xpusim/core/checked.hpp"
#include "xpusim/core/error.hpp"

namespace xpusim {

namespace fs = std::filesystem;

namespace {

const char* kind_of(fs::file_type type) {
  switch (type) {
    case fs::file_type::directory:
      return "a directory";
    case fs::file_type::fifo:
      return "a FIFO";
    case fs::file_type::character:
    case fs::file_type::block:
      return "a device";
    case fs::file_type::socket:
      return "a socket";
    case fs::file_type::none:
    case fs::file_type::not_found:
    case fs::file_type::regular:
    case fs::file_type::symlink:
    case fs::file_type::unknown:
      break;
  }
  return "not a regular file";
}

std::size_t line_of(std::string_view text, std::size_t byte) {
  const std::size_t upto = std::min(byte > 0 ? byte - 1 : 0, text.size());
  return 1 + static_cast<std::size_t>(std::count(text.begin(), text.begin() + upto, '\n'));
}

}  // namespace

void check_input_file(const fs::path& file, std::uintmax_t max_bytes) {
  const std::string name = file.string();
  std::error_code ec;
  const fs::file_status status = fs::status(file, ec);
  if (ec || status.type() == fs::file_type::not_found)
    throw Error(Error::Kind::kNotFound, fmt::format("{}: no such file", name));
  if (status.type() != fs::file_type::regular)
    throw_input_error(name, "", fmt::format("expected a file, got {}", kind_of(status.type())));
  const std::uintmax_t size = fs::file_size(file, ec);
  if (ec) throw_input_error(name, "", "cannot read the file's size");
  if (size > max_bytes)
    throw_input_error(name, "",
                      fmt::format("{} bytes: expected at most {} bytes ({} MiB)", size, max_bytes,
                                  max_bytes >> 20));
}

std::string read_input_file(const fs::path& file, std::uintmax_t max_bytes) {
  check_input_file(file, max_bytes);
  std::ifstream in(file, std::ios::binary);
  if (!in)
    throw Error(Error::Kind::kNotFound, fmt::format("{}: cannot read the file", file.string()));
  std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (in.bad()) throw_input_error(file.string(), "", "cannot read the file");
  return text;
}

nlohmann::json parse_json_strict(std::string_view text, const std::string& where) {
  using Json = nlohmann::json;
  // One set of keys per open object; a key seen twice is refused as YamlMap refuses it.
  std::vector<std::set<std::string>> open;
  const Json::parser_callback_t refuse_repeats = [&](int, Json::parse_event_t event, Json& parsed) {
    switch (event) {
      case Json::parse_event_t::object_start:
        open.emplace_back();
        break;
      case Json::parse_event_t::object_end:
        if (!open.empty()) open.pop_back();
        break;
      case Json::parse_event_t::key:
        if (!open.empty() && !open.back().insert(parsed.get<std::string>()).second)
          throw_input_error(where, parsed.get<std::string>(), "duplicate key");
        break;
      case Json::parse_event_t::array_start:
      case Json::parse_event_t::array_end:
      case Json::parse_event_t::value:
        break;
    }
    return true;
  };
  try {
    return Json::parse(text.begin(), text.end(), refuse_repeats);
  } catch (const Json::parse_error& e) {
    throw_input_error(
        where, "",
        fmt::format("malformed JSON at line {} (byte {})", line_of(text, e.byte), e.byte));
  } catch (const Json::out_of_range&) {
    // nlohmann refuses a number past the double range (1e400) with out_of_range.
    throw_input_error(where, "", "malformed JSON: a number beyond the range of a double");
  } catch (const Json::exception& e) {
    throw_input_error(where, "", fmt::format("malformed JSON: {}", e.what()));
  }
}

void require_utf8(std::string_view where, std::string_view key, std::string_view text) {
  if (!is_valid_utf8(text)) throw_input_error(where, key, "expected UTF-8 text");
}

}  // namespace xpusim
