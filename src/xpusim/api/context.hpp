#pragma once
// What one run of a command needs from its caller: where its output goes and who listens to its
// progress. The command line passes its standard streams; the Python module passes buffers.

#include <ostream>

#include "xpusim/core/progress.hpp"

namespace xpusim::api {

struct Context {
  std::ostream& out;    ///< the result: a table, CSV or JSON
  std::ostream& err;    ///< one-line errors and warnings
  ProgressFn progress;  ///< empty: no progress is reported
};

}  // namespace xpusim::api
