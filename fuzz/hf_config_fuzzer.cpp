// libFuzzer harness: the Hugging Face config.json parser, then the parameter count of whatever
// it accepts (the products of its shapes).

#include <cmath>

#include "fuzz_support.hpp"
#include "xpusim/model/catalog.hpp"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, std::size_t size) {
  const std::string text(reinterpret_cast<const char*>(data), size);
  xpusim::fuzz::expect_clean([&] {
    const auto model = xpusim::parse_model_config(text, "config.json", "fuzz");
    // Whatever the parser accepts, the shape arithmetic must give finite, non-negative counts.
    const double parameters = static_cast<double>(xpusim::count_parameters(model).total);
    const double kv = xpusim::kv_cache_elements_per_token(model);
    const double flops = xpusim::forward_flops_per_token(model, 4096.0);
    if (!(parameters >= 0 && kv >= 0 && flops >= 0 && std::isfinite(flops))) std::abort();
  });
  return 0;
}
