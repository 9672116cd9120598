// xpusim._core: the Python module's one native entry, a thin shell over libxpusim's commands
// (xpusim/api/command.hpp). python/xpusim/__init__.py turns keywords into the argument vector and
// the JSON into dicts and lists, so that both shells share one grammar and one output.

#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <sstream>
#include <string>
#include <vector>

#include "xpusim/api/command.hpp"

namespace py = pybind11;

namespace {

/// Runs one command with the GIL released; `progress(task, done, total)` is called back with it
/// held. Returns (exit status, stdout text, stderr text).
py::tuple run(const std::vector<std::string>& args, const py::object& progress) {
  std::ostringstream out, err;
  xpusim::api::Context ctx{out, err, {}};
  if (!progress.is_none()) {
    // By reference: `progress` outlives the run, and copying a py::object needs the GIL.
    ctx.progress = [&progress](const xpusim::ProgressUpdate& u) {
      const py::gil_scoped_acquire gil;
      try {
        progress(std::string(u.task), u.done, u.total);
      } catch (py::error_already_set& e) {
        e.discard_as_unraisable("xpusim progress callback");
      }
    };
  }
  int status = 0;
  {
    const py::gil_scoped_release release;
    status = xpusim::api::run_command(args, ctx);
  }
  return py::make_tuple(status, out.str(), err.str());
}

}  // namespace

PYBIND11_MODULE(_core, m) {
  m.doc() = "xpusim's commands from an argument vector (use the xpusim package instead)";
  m.def("run", &run, py::arg("args"), py::arg("progress") = py::none(),
        "run(args, progress=None) -> (status, out, err): one xpusim command line without the "
        "program name, e.g. ['compare', '--format', 'json']");
}
