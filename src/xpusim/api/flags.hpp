#pragma once
// Flag values the subcommands share, each parsed in one place: a data type, a precision recipe.

#include <string>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/recipe.hpp"

namespace xpusim::api {

/// `value` as a data type; throws Error(kInput) naming `flag`, with the names it accepts.
[[nodiscard]] DType dtype_flag(const std::string& flag, const std::string& value);

/// `value` as a precision recipe; throws Error(kInput) naming `flag`.
[[nodiscard]] PrecisionRecipe recipe_flag(const std::string& flag, const std::string& value);

}  // namespace xpusim::api
