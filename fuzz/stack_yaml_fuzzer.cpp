// libFuzzer harness: the software stack YAML parser.

#include "fuzz_support.hpp"
#include "xpusim/stack/stack.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto file = xpusim::fuzz::scratch_file("stack.yaml", data, size);
  xpusim::fuzz::expect_clean([&] { (void)xpusim::load_stack_file(file); });
  return 0;
}
