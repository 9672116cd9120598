#pragma once
// `xpusim compare`: one model on one node of every catalog accelerator, each at its best batch.

#include <optional>
#include <string>
#include <vector>

#include "xpusim/infer/inference.hpp"

namespace xpusim {

/// Defaults: a chat-style request (1024 prompt tokens, 256 generated) under the latency limits
/// of MLPerf Inference's Llama-2-70B server scenario (TTFT <= 2 s, TPOT <= 200 ms).
struct CompareOptions {
  int devices = 8;
  int64_t input_len = 1024;
  int64_t output_len = 256;
  Seconds max_ttft{2.0};  ///< 0: no limit
  Seconds max_tpot{0.2};  ///< 0: no limit
  DType weight_dtype = DType::kBf16;
  DType kv_dtype = DType::kBf16;
};

struct CompareRow {
  const AcceleratorSpec* hw = nullptr;
  InferenceRequest request;               ///< at the best batch
  std::optional<InferenceResult> result;  ///< nullopt when the node cannot run the model
  std::string reason;                     ///< why not, when it cannot
  double tokens_per_s_per_watt = 0.0;     ///< throughput / (devices x TDP)
};

/// Best batch = highest throughput among the batches that fit and meet the latency limits
/// (powers of two and the largest that fits). Rows come back sorted: runnable ones by throughput,
/// best first, then the rest.
[[nodiscard]] std::vector<CompareRow> compare_accelerators(
    const ModelSpec& model, const std::vector<AcceleratorSpec>& accelerators,
    const CompareOptions& options, const Economics& economics);

}  // namespace xpusim
