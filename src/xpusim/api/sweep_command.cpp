#include "xpusim/api/sweep_command.hpp"

#include <fmt/format.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <type_traits>

#ifdef XPUSIM_MPI
#include <mpi.h>
#endif

#include "xpusim/core/error.hpp"
#include "xpusim/sweep/sweep.hpp"

namespace xpusim::api {

namespace {

static_assert(std::is_trivially_copyable_v<SweepResult>, "results travel between ranks as bytes");

#ifdef XPUSIM_MPI
/// True when an MPI launcher (mpirun, srun, hydra) started this process. A process started
/// alone skips MPI: a singleton MPI_Init costs half a second.
bool launched_by_mpi() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMIX_RANK", "PMI_SIZE"}) {
    if (std::getenv(name) != nullptr) return true;
  }
  return false;
}
#endif

/// This process's place among the ranks; one rank without MPI.
class Ranks {
 public:
  Ranks() {
#ifdef XPUSIM_MPI
    mpi_ = launched_by_mpi();
    if (!mpi_) return;
    MPI_Init(nullptr, nullptr);
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
#endif
  }
  ~Ranks() {
#ifdef XPUSIM_MPI
    if (mpi_) MPI_Finalize();
#endif
  }
  Ranks(const Ranks&) = delete;
  Ranks& operator=(const Ranks&) = delete;

  [[nodiscard]] int rank() const {
    return rank_;
  }
  [[nodiscard]] int size() const {
    return size_;
  }
  /// First point of `rank`'s contiguous share of `points`.
  [[nodiscard]] std::size_t begin(std::size_t points, int rank) const {
    return points * static_cast<std::size_t>(rank) / static_cast<std::size_t>(size_);
  }

  /// Every rank's `local` results, in rank order, on rank 0 (empty elsewhere).
  [[nodiscard]] std::vector<SweepResult> gather(const std::vector<SweepResult>& local,
                                                std::size_t points) const {
#ifdef XPUSIM_MPI
    if (!mpi_) return local;
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(counts.size());
    for (int r = 0; r < size_; ++r) {
      offsets[r] = static_cast<int>(begin(points, r) * sizeof(SweepResult));
      counts[r] = static_cast<int>((begin(points, r + 1) - begin(points, r)) * sizeof(SweepResult));
    }
    std::vector<SweepResult> all(rank_ == 0 ? points : 0);
    MPI_Gatherv(local.data(), static_cast<int>(local.size() * sizeof(SweepResult)), MPI_BYTE,
                all.data(), counts.data(), offsets.data(), MPI_BYTE, 0, MPI_COMM_WORLD);
    return all;
#else
    (void)points;
    return local;
#endif
  }

 private:
  bool mpi_ = false;
  int rank_ = 0;
  int size_ = 1;
};

}  // namespace

CLI::App* add_sweep_command(CLI::App& app, SweepFlags& f) {
  auto* cmd = app.add_subcommand(
      "sweep", "the product of chips, models, workloads and plans (docs/sweep.md)");
  cmd->add_option("GRID", f.grid, "grid YAML")->required();
  cmd->add_option("--format", f.format, "csv|jsonl (default csv)")
      ->check(CLI::IsMember({"csv", "jsonl"}));
  cmd->add_option("--out", f.out, "write here instead of stdout");
  cmd->add_option("--threads", f.threads, "threads per process (default: all cores)");
  return cmd;
}

void run_sweep_command(const SweepFlags& f, const std::filesystem::path& data, const Context& ctx) {
  const Ranks ranks;
  const SweepGrid grid = load_sweep_grid(f.grid, data);
  const std::vector<std::string> reasons = sweep_feasibility(grid);
  const std::size_t first = ranks.begin(grid.size(), ranks.rank());
  std::vector<SweepResult> local(ranks.begin(grid.size(), ranks.rank() + 1) - first);
  evaluate_sweep(grid, reasons, first, local, f.threads);
  const std::vector<SweepResult> all = ranks.gather(local, grid.size());
  if (ranks.rank() != 0) return;
  const std::string text =
      f.format == "jsonl" ? sweep_jsonl(grid, reasons, all) : sweep_csv(grid, reasons, all);
  if (f.out.empty()) {
    ctx.out << text;
    return;
  }
  std::ofstream file(f.out);
  file << text;
  if (!file) throw Error(Error::Kind::kInput, fmt::format("{}: cannot write the sweep", f.out));
}

}  // namespace xpusim::api
