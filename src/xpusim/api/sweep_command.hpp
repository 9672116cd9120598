#pragma once
// `xpusim sweep GRID.yaml`: the grid on all cores and, built with XPUSIM_MPI, over MPI ranks.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "xpusim/api/context.hpp"

namespace xpusim::api {

struct SweepFlags {
  std::string grid;
  std::string format = "csv";  ///< csv or jsonl
  std::string out;             ///< empty: stdout
  unsigned threads = 0;        ///< per process; 0: all cores
};

CLI::App* add_sweep_command(CLI::App& app, SweepFlags& flags);

/// Under mpirun each rank evaluates its share of the points and rank 0 writes them all.
void run_sweep_command(const SweepFlags& flags, const std::filesystem::path& data,
                       const Context& ctx);

}  // namespace xpusim::api
