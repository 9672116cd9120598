// xpusim: the command line. A thin shell over libxpusim's commands (xpusim/api/command.hpp): it
// hands them its arguments and standard streams, and shows their progress when stderr is a
// terminal. Exit status: 0 ok, 1 validation failed, 2 bad input, 3 internal error.

#include <fmt/format.h>
#include <unistd.h>

#include <chrono>
#include <iostream>
#include <string>
#include <vector>

#include "xpusim/api/command.hpp"

namespace {

/// A one-line progress indicator on stderr, shown once a task has run for about a second and
/// cleared when it ends.
xpusim::ProgressFn terminal_progress() {
  using Clock = std::chrono::steady_clock;
  return [start = Clock::now(), shown = false](const xpusim::ProgressUpdate& u) mutable {
    if (!shown && Clock::now() - start < std::chrono::seconds(1)) return;
    shown = true;
    if (u.done >= u.total) {
      std::cerr << "\r\033[K" << std::flush;
      shown = false;
      start = Clock::now();
      return;
    }
    std::cerr << fmt::format("\rxpusim: {} {:3d}% ({} of {})", u.task, u.done * 100 / u.total,
                             u.done, u.total)
              << std::flush;
  };
}

}  // namespace

int main(int argc, char** argv) {
  const std::vector<std::string> args(argv + 1, argv + argc);
  xpusim::api::Context ctx{std::cout, std::cerr, {}};
  if (isatty(STDERR_FILENO)) ctx.progress = terminal_progress();
  return xpusim::api::run_command(args, ctx);
}
