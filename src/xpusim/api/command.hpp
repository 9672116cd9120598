#pragma once
// One xpusim command from its argument vector, for every shell over the library.

#include <string>
#include <vector>

#include "xpusim/api/context.hpp"

namespace xpusim::api {

/// Runs one command line without the program name, e.g. {"compare", "--format", "json"}: the
/// result goes to `ctx.out`, an error as one line "xpusim: ..." to `ctx.err`. Returns the exit
/// status: 0 ok, 1 a validation failed, 2 bad input, 3 internal error.
[[nodiscard]] int run_command(const std::vector<std::string>& args, const Context& ctx);

}  // namespace xpusim::api
