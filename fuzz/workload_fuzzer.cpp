// libFuzzer harness: request traces (CSV or JSONL: a first byte 'c' or 'j') and length files
// (any other first byte), read as
// `serve --requests-file` and `--input-len file:PATH` read them.

#include "fuzz_support.hpp"
#include "xpusim/serve/workload.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  if (size == 0) return 0;
  const int form = data[0] == 'c' ? 0 : data[0] == 'j' ? 1 : 2;
  const char* names[] = {"trace.csv", "trace.jsonl", "lengths.txt"};
  const auto file = xpusim::fuzz::scratch_file(names[form], data + 1, size - 1);
  xpusim::fuzz::expect_clean([&] {
    if (form == 2) {
      const auto d = xpusim::parse_length_distribution("file:" + file.string(), "workload.input");
      std::mt19937_64 rng(1);
      (void)xpusim::sample_length(d, rng);
    } else {
      (void)xpusim::load_trace(file);
    }
  });
  return 0;
}
