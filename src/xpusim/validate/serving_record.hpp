#pragma once
// One serving record's "xpusim" block (data/validation/inference_public.json's MLPerf records and
// data/validation/inference_dev.json): the deployment, engine limits and workload as the source
// states them, mapped onto catalog ids, parsed strictly, and run on the serving simulator.
// Nothing in a block tunes the model.

#include <filesystem>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

#include "xpusim/serve/mlperf.hpp"
#include "xpusim/serve/simulator.hpp"

namespace xpusim {

/// How the source loaded the deployment.
enum class ServingWorkloadKind {
  kMlperf,       ///< an MLPerf scenario of a data/mlperf benchmark
  kOffline,      ///< every request queued at once (trtllm-bench, vllm throughput)
  kConcurrency,  ///< a closed loop of clients (vllm bench serve, genai-perf)
  kStaticBatch,  ///< one static batch of equal requests (optimum-habana style)
};

struct ServingRecord {
  std::string id;
  std::string model;
  std::string hw;
  int tp = 1, pp = 1, ep = 1, replicas = 1;
  std::string weight_dtype, kv_dtype;
  std::string scheduler = "continuous";
  std::optional<int64_t> max_batch, max_batched_tokens;
  std::optional<double> gpu_memory_utilization;
  ServingWorkloadKind kind = ServingWorkloadKind::kOffline;
  // kMlperf
  std::string benchmark;
  std::string scenario;
  std::optional<double> rate;  ///< offline: expected qps; server: target (null: search)
  // the others
  int64_t num_requests = 0;
  int64_t input_len = 0, output_len = 0;
  int64_t concurrency = 0;
  std::string metric;  ///< output_tokens_per_s, output_tokens_per_s_per_device, tokens_per_s
  double measured = 0.0;
  std::optional<double> tolerance;
  std::string tolerance_reason;
  std::vector<std::string> needs;
};

/// Parses a record's "xpusim" block; `where` locates it in errors ("FILE: records[ID].xpusim").
/// `needs` are checked against the serving features (features.hpp).
[[nodiscard]] ServingRecord parse_serving_record(const nlohmann::json& block, const std::string& id,
                                                 const std::string& where);

/// The simulator's prediction of the record's metric, and what xpusim chose or noticed.
struct ServingPrediction {
  double value = 0.0;
  std::string detail;
};

/// Runs the record on the catalogs under `data_dir`. Throws Error(kInput) for a block the
/// simulator rejects.
[[nodiscard]] ServingPrediction predict_serving_record(const ServingRecord& record,
                                                       const std::filesystem::path& data_dir);

}  // namespace xpusim
