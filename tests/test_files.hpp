#pragma once
// Files and errors in tests: read and write text, a scratch directory removed afterwards, and
// the message of the xpusim::Error an action throws.

#include <gtest/gtest.h>
#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <filesystem>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "xpusim/core/error.hpp"

namespace xpusim::testing {

inline std::string read_text(const std::filesystem::path& file) {
  std::ifstream in(file);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

inline void write_text(const std::filesystem::path& file, const std::string& text) {
  std::ofstream out(file);
  out << text;
}

/// A fresh directory under the system's temporary directory, removed with its contents.
class ScratchDir {
 public:
  ScratchDir() {
    static std::atomic<int> counter{0};
    path_ = std::filesystem::temp_directory_path() /
            ("xpusim-test-" + std::to_string(::getpid()) + "-" + std::to_string(counter++));
    std::filesystem::remove_all(path_);
    std::filesystem::create_directories(path_);
  }
  ~ScratchDir() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  [[nodiscard]] const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

/// The message of the xpusim::Error that `action` throws, which must be an input or not-found
/// error (exit status 2), never an internal one; "(no error)" when it throws none.
inline std::string error_of(const std::function<void()>& action) {
  try {
    action();
  } catch (const Error& e) {
    EXPECT_NE(e.kind(), Error::Kind::kInternal) << e.what();
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << "not an xpusim::Error: " << e.what();
    return e.what();
  }
  return "(no error)";
}

/// What a run of the built `xpusim` printed and returned.
struct CliResult {
  int status = -1;  ///< exit status; -1 when the process did not exit normally (a crash)
  std::string out;
  std::string err;
};

/// Runs `xpusim --data-dir <source catalogs> ARGS` (ARGS as one shell word list, not quoted).
inline CliResult run_xpusim(const std::string& args) {
  ScratchDir scratch;
  const auto out = scratch.path() / "out", err = scratch.path() / "err";
  const std::string command = std::string(XPUSIM_BINARY) + " --data-dir " + XPUSIM_SOURCE_DATADIR +
                              " " + args + " >" + out.string() + " 2>" + err.string();
  const int raw = std::system(command.c_str());
  CliResult r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

/// `word` quoted for sh: any bytes, invalid UTF-8 included, reach the program unchanged.
inline std::string shell_quote(const std::string& word) {
  std::string quoted = "'";
  for (char c : word) {
    if (c == '\'') {
      quoted.append("'\\''");
    } else {
      quoted.push_back(c);
    }
  }
  quoted.push_back('\'');
  return quoted;
}

/// Runs the built `xpusim` with `args`, each one word, and with the source tree's catalogs unless
/// `args` starts with --data-dir.
inline CliResult run_xpusim_words(const std::vector<std::string>& args) {
  ScratchDir scratch;
  const auto out = scratch.path() / "out", err = scratch.path() / "err";
  std::vector<std::string> words = {XPUSIM_BINARY};
  if (args.empty() || args.front() != "--data-dir")
    words.insert(words.end(), {"--data-dir", XPUSIM_SOURCE_DATADIR});
  words.insert(words.end(), args.begin(), args.end());
  std::string command;
  for (const auto& word : words) command.append(shell_quote(word)).append(" ");
  command.append(">").append(shell_quote(out.string()));
  command.append(" 2>").append(shell_quote(err.string()));
  const int raw = std::system(command.c_str());
  CliResult r;
  r.status = raw != -1 && WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  r.out = read_text(out);
  r.err = read_text(err);
  return r;
}

}  // namespace xpusim::testing
