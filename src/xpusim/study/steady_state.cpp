#include "xpusim/study/steady_state.hpp"

#include <algorithm>

namespace xpusim {

SteadyState continuous_steady_state(const ModelSpec& model, const AcceleratorSpec& hw,
                                    const InferenceRequest& request, const Economics& economics) {
  SteadyState s;
  s.concurrency = request.batch;
  InferenceRequest one = request;
  one.batch = 1;
  s.prefill = estimate_inference(model, hw, one, economics).ttft;
  // The static batch's mean decode step averages contexts from the prompt to its end, as the
  // steady state's sequences are spread evenly over them (the step is near linear in context).
  s.decode_step = estimate_inference(model, hw, request, economics).tpot;
  const double b = static_cast<double>(request.batch);
  const double decode_steps = static_cast<double>(request.output_len - 1);
  s.cycle = s.prefill * b + s.decode_step * decode_steps;
  s.tokens_per_s = b * static_cast<double>(request.output_len) / s.cycle.value();
  s.tpot = decode_steps > 0 ? s.cycle / decode_steps : Seconds(0.0);
  const double prompts_per_step = decode_steps > 0 ? b / decode_steps : b;
  s.ttft = s.prefill * std::max(1.0, prompts_per_step);
  return s;
}

}  // namespace xpusim
