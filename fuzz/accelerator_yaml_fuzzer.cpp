// libFuzzer harness: the hardware YAML parser (load_accelerator_file) on arbitrary bytes.

#include "fuzz_support.hpp"
#include "xpusim/hw/catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto file = xpusim::fuzz::scratch_file("chip.yaml", data, size);
  xpusim::fuzz::expect_clean([&] { (void)xpusim::load_accelerator_file(file); });
  return 0;
}
