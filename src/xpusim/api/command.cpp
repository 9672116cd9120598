// Every xpusim command from its argument vector: flags in, library calls, output to the
// context's streams. The command line (tools/xpusim) and the Python module are shells over it.

#include <fmt/format.h>
#include <CLI/CLI.hpp>

#include <filesystem>
#include <fstream>
#include <map>
#include <string>

#include "xpusim/api/command.hpp"

#include "xpusim/api/chip_command.hpp"
#include "xpusim/api/compare_command.hpp"
#include "xpusim/api/econ_command.hpp"
#include "xpusim/api/flags.hpp"
#include "xpusim/api/sensitivity_command.hpp"
#include "xpusim/api/serve_command.hpp"
#include "xpusim/api/shell.hpp"
#include "xpusim/api/sweep_command.hpp"
#include "xpusim/api/train_command.hpp"
#include "xpusim/calibrate/calibration.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/econ/economics.hpp"
#include "xpusim/hw/catalog.hpp"
#include "xpusim/infer/inference.hpp"
#include "xpusim/model/catalog.hpp"
#include "xpusim/report/calibration_report.hpp"
#include "xpusim/report/html_report.hpp"
#include "xpusim/report/report.hpp"
#include "xpusim/report/stack_report.hpp"
#include "xpusim/stack/stack.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/validate/validation.hpp"

namespace fs = std::filesystem;
namespace xpusim::api {

namespace {

/// The data directory: --data-dir, else next to an installed binary, else the source tree.
fs::path find_data_dir(const std::string& flag) {
  if (!flag.empty()) {
    if (!fs::is_directory(fs::path(flag) / "hardware")) {
      throw Error(Error::Kind::kNotFound,
                  fmt::format("--data-dir: '{}' has no hardware/ catalog", flag));
    }
    return flag;
  }
  std::error_code ec;
  const fs::path exe = fs::read_symlink("/proc/self/exe", ec);
  std::vector<fs::path> candidates;
  if (!ec) candidates.push_back(exe.parent_path().parent_path() / "share" / "xpusim");
  candidates.emplace_back(XPUSIM_INSTALL_DATADIR);
  candidates.emplace_back(XPUSIM_SOURCE_DATADIR);
  for (const auto& dir : candidates) {
    if (fs::is_directory(dir / "hardware")) return dir;
  }
  throw Error(Error::Kind::kNotFound,
              "no data directory found (looked next to the binary and at " XPUSIM_SOURCE_DATADIR
              "); pass --data-dir");
}

/// The JSON document of a result file, or Error(kInput) "FILE: ...".
nlohmann::json read_result(const std::string& path) {
  std::ifstream in(path);
  if (!in) throw Error(Error::Kind::kNotFound, fmt::format("{}: cannot read it", path));
  try {
    return nlohmann::json::parse(in);
  } catch (const nlohmann::json::parse_error& e) {
    throw Error(Error::Kind::kInput, fmt::format("{}: not JSON: {}", path, e.what()));
  }
}

void write_report(const std::string& from, const std::string& to, const std::string& assets) {
  const std::string page =
      html_page(build_report(read_result(from), from), load_chart_scripts(assets));
  std::ofstream out(to, std::ios::binary);
  if (!out || !(out << page))
    throw_input_error("command line", "-o", fmt::format("cannot write '{}'", to));
}

struct Settings {
  std::string data_dir;
  std::string format = "table";
};

}  // namespace

int run_command(const std::vector<std::string>& args, const Context& ctx) {
  CLI::App app{
      "xpusim: performance, memory, energy and cost of LLM training and inference on AI "
      "accelerators",
      "xpusim"};
  app.require_subcommand(0, 1);  // none only with --version
  Settings settings;
  bool version = false;
  app.add_flag("--version", version, "print the version and the data catalog in use");
  app.add_option("--data-dir", settings.data_dir,
                 "catalog directory (hardware/, models/, validation/)");
  const std::vector<std::string> formats = {"table", "json", "csv"};
  auto add_format = [&](CLI::App* cmd, bool csv) {
    cmd->add_option("--format", settings.format, csv ? "table|json|csv" : "table|json")
        ->check(CLI::IsMember(csv ? formats : std::vector<std::string>{"table", "json"}));
  };

  auto* hw = app.add_subcommand("hw", "the accelerator catalog");
  hw->require_subcommand(1);
  auto* hw_list = hw->add_subcommand("list", "list the catalog's accelerators");
  add_format(hw_list, false);
  std::string hw_ref;
  auto* hw_show = hw->add_subcommand("show", "every figure of one accelerator with its source");
  hw_show->add_option("ID", hw_ref, "catalog id or path to a YAML file")->required();
  add_format(hw_show, false);

  auto* model = app.add_subcommand("model", "the model catalog");
  model->require_subcommand(1);
  auto* model_list = model->add_subcommand("list", "list the catalog's models");
  add_format(model_list, false);
  std::string model_ref;
  auto* model_show = model->add_subcommand("show", "one model's shape, parameters and FLOPs");
  model_show->add_option("ID", model_ref, "catalog id or path to a config.json")->required();
  add_format(model_show, false);

  auto* system_cmd = app.add_subcommand("system", "the system (cluster) catalog");
  system_cmd->require_subcommand(1);
  auto* system_list = system_cmd->add_subcommand("list", "list the catalog's systems");
  add_format(system_list, false);
  std::string system_ref;
  auto* system_show =
      system_cmd->add_subcommand("show", "every figure of one system with its source");
  system_show->add_option("ID", system_ref, "catalog id or path to a YAML file")->required();
  add_format(system_show, false);

  auto* stack_cmd = app.add_subcommand("stack", "the software stack catalog");
  stack_cmd->require_subcommand(1);
  auto* stack_list = stack_cmd->add_subcommand("list", "list the catalog's software stacks");
  add_format(stack_list, false);
  std::string stack_ref;
  auto* stack_show =
      stack_cmd->add_subcommand("show", "one stack's kernels, parallelism and figures");
  stack_show->add_option("ID", stack_ref, "catalog id or path to a YAML file")->required();
  add_format(stack_show, false);

  InferenceRequest request;
  std::string weight_dtype = "bf16", kv_dtype = "bf16";
  auto* infer = app.add_subcommand("infer", "one inference estimate on one node");
  infer->add_option("--model", model_ref, "catalog id or path to a config.json")->required();
  infer->add_option("--hw", hw_ref, "catalog id or path to a YAML file")->required();
  infer->add_option("--devices", request.devices,
                    "devices, tensor parallel over the scale-up fabric");
  infer->add_option("--batch", request.batch, "requests in the batch");
  infer->add_option("--input-len", request.input_len, "prompt tokens per request");
  infer->add_option("--output-len", request.output_len, "generated tokens per request");
  infer->add_option("--weight-dtype", weight_dtype, "bf16|fp16|fp8|int8|int4|fp4");
  infer->add_option("--kv-dtype", kv_dtype, "bf16|fp16|fp8");
  infer->add_option("--weight-group-size", request.weight_group_size,
                    "int4 quantization group size");
  bool unfused_gate_up = false;
  infer->add_flag("--unfused-gate-up", unfused_gate_up,
                  "run the MLP's gate and up projections as two GEMMs");
  add_format(infer, false);

  CompareFlags compare_flags;
  auto* compare = add_compare_command(app, compare_flags);
  add_format(compare, true);

  SensitivityFlags sensitivity_flags;
  auto* sensitivity_cmd = add_sensitivity_command(app, sensitivity_flags,
                                                  [&](CLI::App* cmd) { add_format(cmd, false); });

  TrainFlags train_flags;
  auto* train = add_train_command(app, train_flags);
  add_format(train, false);

  ServeFlags serve_flags;
  auto* serve = add_serve_command(app, serve_flags);
  add_format(serve, false);
  PlanFlags plan_flags;
  auto* plan = add_plan_command(app, plan_flags);
  add_format(plan, false);

  ChipFlags chip_flags;
  auto* chip_derive = add_chip_command(app, chip_flags);
  chip_derive->add_option("--format", settings.format, "table|json|yaml (yaml: the entry itself)")
      ->check(CLI::IsMember({"table", "json", "yaml"}));

  TcoFlags tco_flags;
  auto* tco = add_tco_command(app, tco_flags);
  add_format(tco, false);
  BuildVsBuyFlags bvb_flags;
  auto* build_vs_buy_cmd = add_build_vs_buy_command(app, bvb_flags);
  add_format(build_vs_buy_cmd, false);

  SweepFlags sweep_flags;
  auto* sweep = add_sweep_command(app, sweep_flags);

  auto* validate = app.add_subcommand("validate", "predictions against published measurements");
  validate->require_subcommand(1);
  auto* validate_inference_cmd =
      validate->add_subcommand("inference", "single-node inference records");
  add_format(validate_inference_cmd, false);
  auto* validate_training_cmd = validate->add_subcommand(
      "training", "training records at scale: the published set, then the development set");
  add_format(validate_training_cmd, false);
  auto* validate_serving_cmd = validate->add_subcommand(
      "serving", "serving development set (data/validation/inference_dev.json), per family");
  add_format(validate_serving_cmd, false);

  std::string report_from, report_to, report_assets = XPUSIM_REPORT_NODE_MODULES;
  auto* report_cmd = app.add_subcommand(
      "report", "one self-contained HTML page of charts for a result written with --format json");
  report_cmd
      ->add_option("--from", report_from,
                   "the JSON of compare, infer, train, serve, plan, sensitivity or validate")
      ->required();
  report_cmd->add_option("-o,--output", report_to, "the HTML file to write")->required();
  report_cmd->add_option("--assets", report_assets,
                         "node_modules directory with vega, vega-lite and vega-embed (default: "
                         "the build's, tools/report)");

  std::string probe_file, calibrate_hw = "h200-sxm";
  auto* calibrate_cmd = app.add_subcommand(
      "calibrate", "efficiency figures for a hardware YAML from a probe file (tools/probe)");
  calibrate_cmd->add_option("PROBE", probe_file, "JSON written by tools/probe/run.sh")->required();
  calibrate_cmd->add_option("--hw", calibrate_hw,
                            "catalog id or YAML path whose peaks the figures divide by "
                            "(default h200-sxm)");

  try {
    check_arguments(args);
    // CLI11 takes the arguments last first.
    std::vector<std::string> reversed(args.rbegin(), args.rend());
    app.parse(reversed);
    if (!version && app.get_subcommands().empty()) throw CLI::RequiredError("A subcommand");
  } catch (const Error& e) {
    ctx.err << "xpusim: " << e.what() << "\n";
    return 2;
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e, ctx.out, ctx.err);
  } catch (const CLI::ParseError& e) {
    ctx.err << "xpusim: command line: " << e.what() << "\n";
    return 2;
  }

  const std::string command = command_of(app);
  try {
    if (report_cmd->parsed()) {  // needs no catalog
      write_report(report_from, report_to, report_assets);
      return 0;
    }
    const fs::path data = find_data_dir(settings.data_dir);
    if (version) {
      ctx.out << version_text(data);
      check_output(ctx.out);
      return 0;
    }
    const bool json = settings.format == "json";
    if (hw_list->parsed()) {
      const auto all = load_all_accelerators(data / "hardware");
      if (json) {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& a : all) array.push_back(accelerator_json(a));
        print_json(ctx.out, array);
      } else {
        ctx.out << accelerator_list_text(all);
      }
    } else if (hw_show->parsed()) {
      const auto spec = load_accelerator(hw_ref, data / "hardware");
      if (json)
        print_json(ctx.out, accelerator_json(spec));
      else
        ctx.out << accelerator_text(spec);
    } else if (model_list->parsed()) {
      std::vector<ModelSpec> all;
      for (const auto& id : model_ids(data / "models"))
        all.push_back(load_model_file(data / "models" / (id + ".json")));
      if (json) {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& m : all) array.push_back(model_json(m));
        print_json(ctx.out, array);
      } else {
        ctx.out << model_list_text(all);
      }
    } else if (model_show->parsed()) {
      const auto spec = load_model(model_ref, data / "models");
      if (json)
        print_json(ctx.out, model_json(spec));
      else
        ctx.out << model_text(spec);
    } else if (system_list->parsed()) {
      const auto all = load_all_systems(data / "systems", data / "hardware");
      if (json) {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& one : all) array.push_back(system_json(one));
        print_json(ctx.out, array);
      } else {
        ctx.out << system_list_text(all);
      }
    } else if (system_show->parsed()) {
      const auto spec = load_system(system_ref, data / "systems", data / "hardware");
      if (json)
        print_json(ctx.out, system_json(spec));
      else
        ctx.out << system_text(spec);
    } else if (stack_list->parsed()) {
      const auto all = load_all_stacks(data / "stacks");
      if (json) {
        nlohmann::json array = nlohmann::json::array();
        for (const auto& one : all) array.push_back(stack_json(one));
        print_json(ctx.out, array);
      } else {
        ctx.out << stack_list_text(all);
      }
    } else if (stack_show->parsed()) {
      const auto spec = load_stack(stack_ref, data / "stacks");
      if (json)
        print_json(ctx.out, stack_json(spec));
      else
        ctx.out << stack_text(spec);
    } else if (infer->parsed()) {
      const auto m = load_model(model_ref, data / "models");
      const auto a = load_accelerator(hw_ref, data / "hardware");
      request.weight_dtype = dtype_flag("--weight-dtype", weight_dtype);
      request.kv_dtype = dtype_flag("--kv-dtype", kv_dtype);
      request.fused_gate_up = !unfused_gate_up;
      validate_request(m, a, request);
      const auto result =
          estimate_inference(m, a, request, load_economics(data / "economics.yaml"));
      const auto checked = inference_json(m, a, request, result);
      if (json)
        print_json(ctx.out, checked);
      else
        print_text(ctx.out, inference_text(m, a, request, result), checked);
    } else if (compare->parsed()) {
      run_compare_command(compare_flags, data, settings.format, ctx);
    } else if (sensitivity_cmd->parsed()) {
      run_sensitivity_command(sensitivity_flags, data, settings.format, ctx);
    } else if (train->parsed()) {
      run_train_command(train_flags, data, settings.format, ctx);
    } else if (serve->parsed()) {
      run_serve_command(serve_flags, data, settings.format, ctx);
    } else if (plan->parsed()) {
      run_plan_command(plan_flags, data, settings.format, ctx);
    } else if (sweep->parsed()) {
      run_sweep_command(sweep_flags, data, ctx);
    } else if (tco->parsed()) {
      run_tco_command(tco_flags, data, settings.format, ctx);
    } else if (build_vs_buy_cmd->parsed()) {
      run_build_vs_buy_command(bvb_flags, data, settings.format, ctx);
    } else if (chip_derive->parsed()) {
      run_chip_command(chip_flags, data, settings.format, ctx);
    } else if (calibrate_cmd->parsed()) {
      const Probe probe = load_probe_file(probe_file);
      const AcceleratorSpec a = load_accelerator(calibrate_hw, data / "hardware");
      const Calibration calibration = calibrate(probe, a);
      const auto checks = compare_end_to_end(probe, with_calibration(a, calibration));
      ctx.out << calibration_yaml(a.id, calibration, checks);
    } else if (validate_inference_cmd->parsed()) {
      const auto report = validate_inference(data);
      if (json)
        print_json(ctx.out, validation_json(report));
      else
        ctx.out << validation_text(report);
      check_output(ctx.out);
      return report.passed() ? 0 : 1;
    } else if (validate_serving_cmd->parsed()) {
      // Reports progress on the development set; the exit status is 0 when it ran.
      const auto dev = validate_serving_dev(data);
      if (json)
        print_json(ctx.out, dev_validation_json(dev));
      else
        ctx.out << dev_validation_text(dev);
      return 0;
    } else if (validate_training_cmd->parsed()) {
      // The exit status follows the published set; the development set reports progress.
      const auto report = validate_training(data);
      const auto dev = validate_training_dev(data);
      if (json)
        print_json(ctx.out,
                   {{"public", validation_json(report)}, {"dev", dev_validation_json(dev)}});
      else
        ctx.out << validation_text(report) << "\n" << dev_validation_text(dev);
      check_output(ctx.out);
      return report.passed() ? 0 : 1;
    }
    check_output(ctx.out);
  } catch (const Error& e) {
    ctx.err << "xpusim: " << error_text(e, command) << "\n";
    return e.kind() == Error::Kind::kInternal ? 3 : 2;
  } catch (const std::bad_alloc&) {
    ctx.err << "xpusim: internal error: out of memory (an input bound is missing)\n";
    return 3;
  } catch (const std::exception& e) {
    ctx.err << "xpusim: internal error: " << e.what() << "\n";
    return 3;
  }
  return 0;
}

}  // namespace xpusim::api
