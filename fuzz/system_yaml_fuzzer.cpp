// libFuzzer harness: the system YAML parser (load_system_file), its accelerator resolved in the
// source catalog.

#include "fuzz_support.hpp"
#include "xpusim/system/system.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const auto file = xpusim::fuzz::scratch_file("cluster.yaml", data, size);
  xpusim::fuzz::expect_clean([&] {
    (void)xpusim::load_system_file(file, std::filesystem::path(XPUSIM_SOURCE_DATADIR) / "hardware");
  });
  return 0;
}
