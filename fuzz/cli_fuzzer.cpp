// libFuzzer harness: the command line. The input is split into arguments at newlines and run
// through xpusim's own main (tools/xpusim/main.cpp compiled as xpusim_main), output discarded.
// Commands that simulate for a long time (serve, plan, compare, validation, search) are left to
// the bad-input suite: here only their absence of a crash at parse time would be tested, at the
// price of timeouts.

#include <cstdio>
#include <string>
#include <string_view>
#include <vector>

int xpusim_main(int argc, char** argv);

namespace {

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

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The commands print; libFuzzer's own reports go to stderr, which stays.
  if (std::freopen("/dev/null", "w", stdout) == nullptr) return 1;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  std::vector<std::string> args = {"xpusim"};
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
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  const int status = xpusim_main(static_cast<int>(args.size()), argv.data());
  // 0 and 2 are answers, 1 a failed validation; 3 (an internal error) is a finding.
  if (status == 3) __builtin_trap();
  return 0;
}
