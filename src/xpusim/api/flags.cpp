#include "xpusim/api/flags.hpp"

#include <fmt/format.h>

#include <vector>

#include "xpusim/core/error.hpp"

namespace xpusim::api {

DType dtype_flag(const std::string& flag, const std::string& value) {
  if (auto dtype = parse_dtype(value)) return *dtype;
  std::vector<std::string> names;
  for (DType d : kAllDTypes) names.emplace_back(to_string(d));
  throw_input_error("command line", flag,
                    fmt::format("unknown data type '{}'{}; expected one of {}", value,
                                did_you_mean(value, names), fmt::join(names, ", ")));
}

PrecisionRecipe recipe_flag(const std::string& flag, const std::string& value) {
  if (auto recipe = parse_precision_recipe(value)) return *recipe;
  throw_input_error("command line", flag,
                    fmt::format("expected bf16, fp8-delayed, fp8-current, fp8-blockwise, mxfp8 or "
                                "nvfp4, got '{}'",
                                value));
}

}  // namespace xpusim::api
