#pragma once
// From a chip's micro-architecture to what the cost model needs: peaks per data type,
// bandwidths, capacity, and the die economics behind a unit-cost estimate (formulas:
// docs/model.md, "Chips from their micro-architecture"). `accelerator_entry_yaml` writes the
// catalog accelerator entry (data/hardware/README.md format) that every `--hw PATH` accepts.

#include <array>
#include <optional>
#include <string>

#include "xpusim/chip/chip.hpp"
#include "xpusim/hw/accelerator.hpp"

namespace xpusim {

/// Peaks and bandwidths implied by the units, links and stacks.
struct ChipPeaks {
  std::array<std::optional<FlopsPerSecond>, kDTypeCount> dense_flops_per_s{};
  FlopsPerSecond vector_flops_per_s;
  Bytes memory_capacity;
  BytesPerSecond memory_bandwidth;
  Bytes onchip_sram;
  BytesPerSecond scale_up_bandwidth;  ///< per direction
  std::optional<BytesPerSecond> scale_out_bandwidth;

  [[nodiscard]] std::optional<FlopsPerSecond> peak(DType dtype) const {
    return dense_flops_per_s[index_of(dtype)];
  }
};

/// Die, memory and packaging cost of one package (no margin, no board, no NRE).
struct UnitCost {
  double die_area_mm2 = 0.0;
  double reticle_limit_mm2 = 0.0;
  bool within_reticle = true;   ///< false: one die this size cannot be exposed (stitch or split)
  double dies_per_wafer = 0.0;  ///< gross, whole dies on the usable wafer disc
  YieldModel yield_model = YieldModel::kMurphy;
  double defect_density_per_cm2 = 0.0;
  double yield = 0.0;  ///< share of good dies
  Usd wafer_price;
  Usd good_die;  ///< wafer price / (dies per wafer x yield)
  Usd logic;     ///< good die x logic dies
  Usd memory;    ///< capacity (GB, 1e9 bytes) x price per GB
  Usd package;   ///< interposer or substrate and assembly
  Usd test;      ///< final test
  [[nodiscard]] Usd total() const { return logic + memory + package + test; }
};

struct ChipDerivation {
  ChipPeaks peaks;
  UnitCost cost;
};

/// Gross whole dies of `die_area_mm2` on a wafer disc of `usable_diameter_mm`:
/// pi d^2 / (4 A) - pi d / sqrt(2 A), floored at zero.
[[nodiscard]] double dies_per_wafer(double usable_diameter_mm, double die_area_mm2);

/// Share of good dies of area `die_area_mm2` at `defect_density_per_cm2` under `model`.
[[nodiscard]] double die_yield(YieldModel model, double die_area_mm2,
                               double defect_density_per_cm2);

/// "poisson" or "murphy".
[[nodiscard]] std::string_view to_string(YieldModel model);

/// Peaks from units x shape x rate x 2 x clock, stacks x pins x pin rate / 8, links x rate.
[[nodiscard]] ChipPeaks derive_peaks(const ChipSpec& chip);

/// Die, memory and packaging cost from the chip and the process figures it names.
[[nodiscard]] UnitCost derive_unit_cost(const ChipSpec& chip, const ChipInputs& inputs);

[[nodiscard]] ChipDerivation derive_chip(const ChipSpec& chip, const ChipInputs& inputs);

/// The catalog accelerator entry: derived peaks and bandwidths (each figure's estimate names its
/// formula and inputs), the sibling's calibration with its sources (ids prefixed `sibling_`),
/// and the unit cost as `price.purchase_usd`. `sibling.id` must be `chip.sibling`.
[[nodiscard]] std::string accelerator_entry_yaml(const ChipSpec& chip, const ChipInputs& inputs,
                                                 const ChipDerivation& derivation,
                                                 const AcceleratorSpec& sibling);

/// The entry as the accelerator parser reads it (the same path as any `--hw` file); its `file`
/// is the chip file.
[[nodiscard]] AcceleratorSpec derived_accelerator(const ChipSpec& chip, const ChipInputs& inputs,
                                                  const ChipDerivation& derivation,
                                                  const AcceleratorSpec& sibling);

/// Loads a chip file, its process inputs (`data_dir/process`) and its sibling (`data_dir/
/// hardware`), and returns its derived accelerator.
[[nodiscard]] AcceleratorSpec load_derived_accelerator(const std::filesystem::path& chip_file,
                                                       const std::filesystem::path& data_dir);

}  // namespace xpusim
