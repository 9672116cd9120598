#pragma once
// `xpusim compare`: one model on every accelerator, each where it is naturally deployed (its
// system file's node, else its scale-up domain) or on the fewest devices that hold the model,
// serving in a continuous-batching steady state under latency limits (or training a token
// budget on N devices), with every figure normalised per device, per watt and per dollar-hour on
// one price basis for the whole table.

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/econ/economics.hpp"
#include "xpusim/study/steady_state.hpp"
#include "xpusim/system/system.hpp"
#include "xpusim/train/budget.hpp"
#include "xpusim/train/search.hpp"

namespace xpusim {

/// How a chip's device count was chosen.
enum class Placement {
  kSystemNode,     ///< the devices per node of a catalog system built on the chip
  kScaleUpDomain,  ///< the chip's catalog scale-up domain (no system file)
  kFewest,         ///< its natural node cannot run the model: the fewest devices that can
  kGiven,          ///< the same device count for every chip, from the caller
};

/// "system node", "scale-up domain", "fewest that hold it", "given".
[[nodiscard]] std::string_view to_string(Placement placement);

/// An accelerator with its natural node.
struct Contender {
  AcceleratorSpec hw;
  std::optional<SystemSpec> system;  ///< the first catalog system built on it (id order)
  [[nodiscard]] int natural_devices() const {
    return system ? system->devices_per_node : hw.scale_up_domain_devices;
  }
  [[nodiscard]] Placement natural_placement() const {
    return system ? Placement::kSystemNode : Placement::kScaleUpDomain;
  }
};

/// Every accelerator paired with the first system of `systems` (in order) whose accelerator has
/// its id.
[[nodiscard]] std::vector<Contender> contenders_of(std::vector<AcceleratorSpec> accelerators,
                                                   const std::vector<SystemSpec>& systems);

/// The price of a device-hour for each row of one table.
struct PriceOptions {
  PriceBasis basis = PriceBasis::kAuto;  ///< auto: cloud where every row has one, else owned
  /// Per device-hour by accelerator id, on the table's basis, for chips the catalog leaves
  /// unpriced (or to override it); every id must be a contender.
  std::map<std::string, UsdPerHour> given;
};

/// The basis a table uses and why; `unpriced` lists the rows without a price on it.
struct PriceChoice {
  PriceBasis basis = PriceBasis::kCloud;  ///< kCloud or kOwned, never kAuto
  std::string why;
  std::vector<std::string> given;     ///< ids whose price came from PriceOptions::given
  std::vector<std::string> unpriced;  ///< ids with no price on `basis`
};

/// One row's price: the given one, else the catalog's on the chosen basis.
struct RowPrice {
  std::optional<UsdPerHour> per_device;
  bool given = false;
};

/// Defaults: a chat-style request (1024 prompt tokens, 256 generated) under the latency limits
/// of MLPerf Inference's Llama-2-70B server scenario (TTFT <= 2 s, TPOT <= 200 ms).
struct CompareOptions {
  int devices = 0;  ///< 0: each chip on its natural node (or the fewest that hold the model)
  int64_t input_len = 1024;
  int64_t output_len = 256;
  Seconds max_ttft{2.0};  ///< 0: no limit
  Seconds max_tpot{0.2};  ///< 0: no limit
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
  PriceOptions price;
};

/// Throughput normalised three ways, and what a token costs.
struct Normalised {
  double tokens_per_s_per_device = 0.0;
  double tokens_per_s_per_watt = 0.0;                   ///< throughput / (devices x TDP)
  std::optional<double> tokens_per_s_per_usd_per_hour;  ///< throughput / (devices x price)
  std::optional<double> cost_per_million_tokens_usd;
  Joules energy_per_token;  ///< devices at TDP
};

struct CompareRow {
  const AcceleratorSpec* hw = nullptr;  ///< into the contenders, which outlive the table
  Placement placement = Placement::kScaleUpDomain;
  std::string placed_by;             ///< the system id or "catalog" (for kGiven: "")
  InferenceRequest request;          ///< its devices, and the steady state's concurrency as batch
  std::optional<SteadyState> state;  ///< nullopt when the chip cannot run the model
  MemoryUse memory;                  ///< per device, all sequences at their longest context
  std::string reason;                ///< why not, when it cannot
  RowPrice price;
  Normalised normalised;
};

struct CompareTable {
  std::vector<CompareRow> rows;  ///< runnable first, by tokens/s per device, then the rest by id
  PriceChoice price;
  Economics economics;  ///< the assumptions of an owned basis
};

/// Best concurrency = the highest that fits in memory with every sequence at its longest
/// context and keeps the steady state's mean TTFT and TPOT within the limits (latency grows
/// with concurrency; doubling, then bisection). Throws Error(kInput) naming the option field
/// when the options themselves are invalid.
[[nodiscard]] CompareTable compare_inference(const ModelSpec& model,
                                             const std::vector<Contender>& contenders,
                                             const CompareOptions& options,
                                             const Economics& economics);

/// A token budget trained on `devices` devices of every chip: its catalog system resized to
/// them, else a default system of the chip (system/system.hpp), at the fastest plan the
/// exhaustive search finds.
struct TrainCompareOptions {
  int devices = 64;
  double tokens = 1e9;
  TrainingJob job;
  SearchOptions search;
  PriceOptions price;
};

struct TrainCompareRow {
  const AcceleratorSpec* hw = nullptr;  ///< into the contenders, which outlive the table
  Placement placement = Placement::kGiven;
  std::string placed_by;  ///< the system id it was resized from, or "default system"
  int nodes = 0;
  int devices_per_node = 0;
  std::optional<RankedPlan> best;  ///< nullopt when no plan fits
  TrainingBudget budget;
  std::string reason;
  RowPrice price;
  std::optional<double> cost_usd;  ///< device-hours x the row's price
  Joules energy;                   ///< devices at TDP, times PUE (budget_for)
  double tokens_per_s_per_device = 0.0;
  double tokens_per_s_per_watt = 0.0;
};

struct TrainCompareTable {
  std::vector<TrainCompareRow> rows;  ///< runnable first, fastest first, then the rest by id
  PriceChoice price;
  Economics economics;
};

[[nodiscard]] TrainCompareTable compare_training(const ModelSpec& model,
                                                 const std::vector<Contender>& contenders,
                                                 const TrainCompareOptions& options,
                                                 const Economics& economics);

/// The basis for the rows `priced` (the runnable ones): cloud when each has a cloud or given
/// price, else owned (under kAuto); the forced basis otherwise.
[[nodiscard]] PriceChoice choose_price_basis(const std::vector<const AcceleratorSpec*>& priced,
                                             const PriceOptions& options,
                                             const Economics& economics);

/// A row's device-hour price on `choice`'s basis.
[[nodiscard]] RowPrice row_price(const AcceleratorSpec& hw, const PriceChoice& choice,
                                 const PriceOptions& options, const Economics& economics);

}  // namespace xpusim
