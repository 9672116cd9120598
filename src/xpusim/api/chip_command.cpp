#include "xpusim/api/chip_command.hpp"

#include <fmt/format.h>

#include <fstream>
#include <iostream>

#include "xpusim/chip/derive.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/report/chip_report.hpp"

namespace xpusim::api {

CLI::App* add_chip_command(CLI::App& app, ChipFlags& flags) {
  auto* chip = app.add_subcommand("chip", "chips from their micro-architecture");
  chip->require_subcommand(1);
  auto* derive = chip->add_subcommand(
      "derive", "peaks, bandwidths, die cost and a catalog accelerator entry from a chip YAML");
  derive->add_option("FILE", flags.file, "chip YAML (data/chips/README.md)")->required();
  derive->add_option("--out", flags.out,
                     "write the accelerator entry here (usable as --hw PATH everywhere)");
  return derive;
}

void run_chip_command(const ChipFlags& flags, const std::filesystem::path& data,
                      const std::string& format, const Context& ctx) {
  const ChipSpec chip = load_chip_file(flags.file);
  const ChipInputs inputs = load_chip_inputs(chip, data / "process");
  const AcceleratorSpec sibling = load_accelerator(chip.sibling, data / "hardware");
  const ChipDerivation derivation = derive_chip(chip, inputs);
  const std::string entry = accelerator_entry_yaml(chip, inputs, derivation, sibling);
  if (!flags.out.empty()) {
    std::ofstream file(flags.out);
    file << entry;
    if (!file)
      throw Error(Error::Kind::kInput, fmt::format("{}: cannot write the entry", flags.out));
    file.close();
    (void)load_accelerator_file(flags.out);  // the entry must read back through the one parser
  }
  if (format == "yaml")
    ctx.out << entry;
  else if (format == "json")
    ctx.out << chip_derivation_json(chip, inputs, derivation).dump(2) << "\n";
  else
    ctx.out << chip_derivation_text(chip, inputs, derivation);
}

}  // namespace xpusim::api
