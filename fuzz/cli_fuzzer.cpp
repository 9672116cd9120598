// libFuzzer harness: the command line. The input is split into arguments at newlines and run
// through the commands' entry point (xpusim::api::run_command, as tools/xpusim/xpusim.cpp runs
// them), output discarded.
// Commands that simulate for a long time (serve, plan, compare, validation, search) are left to
// the bad-input suite: here only their absence of a crash at parse time would be tested, at the
// price of timeouts.

#include <cstdint>
#include <ostream>
#include <streambuf>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/api/command.hpp"

namespace {

/// Takes every character and keeps none, so that writes succeed as they do to /dev/null.
class NullBuffer : public std::streambuf {
 protected:
  int overflow(int c) override { return c; }
};

bool slow(const std::vector<std::string>& args) {
  for (const std::string& a : args) {
    for (std::string_view word :
         {"serve", "plan", "compare", "validate", "calibrate", "--search", "list"}) {
      if (a == word) return true;
    }
  }
  return false;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<std::string> args;
  std::string current;
  for (std::size_t i = 0; i < size; ++i) {
    if (data[i] == '\n') {
      args.push_back(current);
      current.clear();
    } else {
      current += static_cast<char>(data[i]);
    }
  }
  args.push_back(current);
  if (args.size() > 64 || slow(args)) return 0;
  // The commands' output and errors are discarded; libFuzzer's own reports go to stderr.
  static NullBuffer discard;
  std::ostream null(&discard);
  const xpusim::api::Context ctx{null, null, {}};
  const int status = xpusim::api::run_command(args, ctx);
  // 0 and 2 are answers, 1 a failed validation; 3 (an internal error) is a finding.
  if (status == 3) __builtin_trap();
  return 0;
}
