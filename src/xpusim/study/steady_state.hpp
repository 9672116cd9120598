#pragma once
// Continuous batching in its steady state, analytically: an engine that keeps `concurrency`
// sequences running, each finished one replaced at once by a new prompt, prompts run first
// (vLLM's continuous scheduler, serve/scheduler.hpp). Tested against the serving simulator in
// closed loop (tests/study_test.cpp); docs/model.md, "Compare", gives the derivation.

#include <cstdint>

#include "xpusim/infer/inference.hpp"

namespace xpusim {

struct SteadyState {
  int64_t concurrency = 0;
  Seconds prefill;            ///< one prompt alone, first token out (per replica)
  Seconds decode_step;        ///< one decode iteration of `concurrency` sequences, mean context
  Seconds cycle;              ///< time in which `concurrency` requests finish
  Seconds ttft;               ///< mean: the prompts that arrive per decode step, prefilled in turn
  Seconds tpot;               ///< mean: decode steps and the prefills of others between them
  double tokens_per_s = 0.0;  ///< generated tokens, the whole tensor-parallel group
};

/// The steady state of `request.batch` concurrent sequences of `request.input_len` prompt and
/// `request.output_len` generated tokens on `request.devices` devices. With P one prompt's
/// prefill, D(B) the mean decode step at B sequences and O the output length, B requests finish
/// every cycle T = B P + (O - 1) D(B); throughput = B O / T; TPOT = T / (O - 1) (each request's
/// decode spans one cycle); TTFT = P max(1, B / (O - 1)). `request` must have passed
/// validate_request. Allocates nothing.
[[nodiscard]] SteadyState continuous_steady_state(const ModelSpec& model, const AcceleratorSpec& hw,
                                                  const InferenceRequest& request,
                                                  const Economics& economics);

}  // namespace xpusim
