#pragma once
// `xpusim chip derive FILE`: a chip's micro-architecture in, peaks, unit cost and a catalog
// accelerator entry out.

#include <CLI/CLI.hpp>

#include <filesystem>
#include <string>

#include "xpusim/api/context.hpp"

namespace xpusim::api {

struct ChipFlags {
  std::string file;
  std::string out;  ///< where to write the accelerator entry; empty: not written
};

/// Declares `chip derive` on `app`; returns the `derive` subcommand.
CLI::App* add_chip_command(CLI::App& app, ChipFlags& flags);

/// Runs it; `format` is table, json or yaml (the entry itself on stdout).
void run_chip_command(const ChipFlags& flags, const std::filesystem::path& data,
                      const std::string& format, const Context& ctx);

}  // namespace xpusim::api
