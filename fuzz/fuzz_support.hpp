#pragma once
// What every harness shares: the input written to a scratch file (the parsers read files, as
// the command line gives them), and the rule that an xpusim::Error of kind input or not-found is
// the expected answer to garbage while anything else (another exception, an internal error, a
// sanitizer report) is a finding.

#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <filesystem>
#include <fstream>
#include <string>

#include "xpusim/core/error.hpp"

namespace xpusim::fuzz {

/// A scratch file named `name` in this process's own folder, holding `size` bytes of `data`.
inline std::filesystem::path scratch_file(const std::string& name, const uint8_t* data,
                                          std::size_t size) {
  static const std::filesystem::path dir = [] {
    auto d = std::filesystem::temp_directory_path() / ("xpusim-fuzz-" + std::to_string(getpid()));
    std::filesystem::create_directories(d);
    return d;
  }();
  const auto path = dir / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  return path;
}

/// Runs `parse`; an input or not-found error is fine, an internal error or any other exception
/// aborts (libFuzzer reports the input).
template <typename F>
void expect_clean(F&& parse) {
  try {
    parse();
  } catch (const Error& e) {
    if (e.kind() == Error::Kind::kInternal) {
      std::fprintf(stderr, "internal error: %s\n", e.what());
      std::abort();
    }
  } catch (const std::exception& e) {
    std::fprintf(stderr, "unexpected exception: %s\n", e.what());
    std::abort();
  }
}

}  // namespace xpusim::fuzz
