// Lowering of a forward pass to kernels and their roofline times. Every formula here is
// written out in docs/model.md, "Operator cost model"; keep the two in step.

#include "xpusim/cost/operators.hpp"

#include <algorithm>
#include <cmath>

#include "xpusim/comm/group.hpp"

namespace xpusim {

std::string_view to_string(OpKind kind) {
  switch (kind) {
    case OpKind::kEmbedding:
      return "embedding";
    case OpKind::kNorm:
      return "norm";
    case OpKind::kQkvProjection:
      return "qkv_projection";
    case OpKind::kRotary:
      return "rotary";
    case OpKind::kAttention:
      return "attention";
    case OpKind::kOutProjection:
      return "out_projection";
    case OpKind::kRouter:
      return "router";
    case OpKind::kMlpUp:
      return "mlp_up";
    case OpKind::kActivation:
      return "activation";
    case OpKind::kMlpDown:
      return "mlp_down";
    case OpKind::kExpertsUp:
      return "experts_up";
    case OpKind::kExpertsDown:
      return "experts_down";
    case OpKind::kTokenPermutation:
      return "token_permutation";
    case OpKind::kLmHead:
      return "lm_head";
    case OpKind::kTensorParallelComm:
      return "tensor_parallel_comm";
    case OpKind::kCount:
      break;
  }
  return "?";
}

namespace {

/// Vector operations per weight element to turn a weight-only format back into bf16
/// (estimate, docs/model.md): int8 convert + scale; int4 unpack, convert, zero, scale.
double dequant_ops_per_weight(DType stored) {
  switch (stored) {
    case DType::kInt8:
    case DType::kFp8:
      return 2.0;
    case DType::kInt4:
    case DType::kFp4:
      return 4.0;
    case DType::kFp32:
    case DType::kTf32:
    case DType::kBf16:
    case DType::kFp16:
      return 0.0;
  }
  return 0.0;
}

int64_t ceil_div(int64_t a, int64_t b) {
  return (a + b - 1) / b;
}

int64_t next_power_of_two(int64_t x) {
  int64_t p = 1;
  while (p < x) p *= 2;
  return p;
}

BytesPerSecond achievable_bandwidth(const AcceleratorSpec& hw) {
  return hw.memory_bandwidth * hw.efficiency.memory_bandwidth_fraction;
}

enum class KernelClass { kMatmul, kStreaming };

/// FlashAttention's backward does 2.5x the forward FLOPs (Dao 2023: two GEMMs forward, five
/// backward).
constexpr double kAttentionBackwardFlops = 2.5;

/// Roofline with partial overlap of compute and memory traffic, plus the fixed costs: the
/// launch of every kernel, and the pipeline fill and drain of matrix-multiply kernels.
Seconds kernel_time(Seconds compute, Seconds memory, const AcceleratorSpec& hw, KernelClass kind) {
  const Efficiency& e = hw.efficiency;
  const Seconds fixed =
      e.kernel_overhead + (kind == KernelClass::kMatmul ? e.matmul_fixed_time : Seconds(0.0));
  return max(compute, memory) + min(compute, memory) * (1.0 - e.compute_memory_overlap_fraction) +
         fixed;
}

bool is_weight_only(const Deployment& d, const AcceleratorSpec& hw) {
  return gemm_compute_dtype(d, hw) != d.weight_dtype;
}

}  // namespace

DType gemm_compute_dtype(const Deployment& d, const AcceleratorSpec& hw) {
  // fp8 and fp4 weights run with activations of the same format where the matrix units
  // compute in it (W8A8, W4A4); every other format is weight-only and computes in the
  // activation type.
  const bool low_precision_compute = d.weight_dtype == DType::kFp8 || d.weight_dtype == DType::kFp4;
  if (low_precision_compute && hw.peak(d.weight_dtype)) return d.weight_dtype;
  return d.activation_dtype;
}

GemmKind gemm_kind(const Deployment& d, const AcceleratorSpec& hw) {
  switch (gemm_compute_dtype(d, hw)) {
    case DType::kFp32:
      return GemmKind::kFp32;
    case DType::kTf32:
      return GemmKind::kTf32;
    case DType::kBf16:
      return GemmKind::kBf16;
    case DType::kFp16:
      return GemmKind::kFp16;
    case DType::kFp8:
      return d.fp8_kind;
    case DType::kInt8:
      return GemmKind::kInt8;
    case DType::kInt4:  // weight-only: never a compute type
    case DType::kFp4:
      return GemmKind::kNvfp4;
  }
  return GemmKind::kBf16;
}

AttentionKernel attention_kernel(const Deployment& d, const AcceleratorSpec& hw) {
  if (d.attention_kernel && hw.efficiency.attention_fraction(*d.attention_kernel, false))
    return *d.attention_kernel;
  return hw.efficiency.best_attention_kernel();
}

double attention_length_factor(double kv_tokens, const AcceleratorSpec& hw) {
  // The figures are read at 16k tokens, where the fixed per-sequence work is already small.
  constexpr double kMeasuredAt = 16384.0;
  const double s0 = hw.efficiency.attention_overhead_tokens;
  const double s = std::max(1.0, kv_tokens);
  return s * (kMeasuredAt + s0) / (kMeasuredAt * (s + s0));
}

double weight_bytes_per_element(const Deployment& d) {
  double bytes = bytes_per_element(d.weight_dtype);
  if (d.weight_dtype == DType::kInt4)
    bytes += 2.0 * 2.0 / d.weight_group_size;  // bf16 scale + zero
  return bytes;
}

KernelCost gemm_cost(const GemmShape& s, const AcceleratorSpec& hw, const Deployment& d) {
  const GemmKind kind = gemm_kind(d, hw);
  const FlopsPerSecond peak = hw.peak(peak_dtype(kind)).value_or(*hw.peak(DType::kBf16));
  const double unit_rate = peak.value() * hw.efficiency.gemm_fraction(kind) / hw.compute_units;

  // Tile and wave quantization: output tiles of the library's usual shape; skinny problems
  // get a small-M kernel (M rounded up to a power of two, at least 16) and split-K so that
  // the compute units are not left idle.
  const int64_t tile_m =
      s.m >= hw.matmul_tile_m ? hw.matmul_tile_m : std::max<int64_t>(16, next_power_of_two(s.m));
  const int64_t tile_n = hw.matmul_tile_n;
  const int64_t tiles = s.groups * ceil_div(s.m, tile_m) * ceil_div(s.n, tile_n);
  const int64_t units = hw.compute_units;
  const int64_t split_k =
      tiles >= units ? 1 : std::clamp<int64_t>(units / tiles, 1, std::max<int64_t>(1, s.k / 256));
  const int64_t waves = ceil_div(tiles * split_k, units);
  const double k_per_split = static_cast<double>(ceil_div(s.k, split_k));
  double compute_s = static_cast<double>(waves) * 2.0 * static_cast<double>(tile_m * tile_n) *
                     k_per_split / unit_rate;

  const double weights = static_cast<double>(s.groups * s.k * s.n);
  if (is_weight_only(d, hw))
    compute_s += weights * dequant_ops_per_weight(d.weight_dtype) / hw.vector_flops_per_s.value();

  const double act_bytes = bytes_per_element(d.activation_dtype);
  const Bytes bytes(weights * weight_bytes_per_element(d) +
                    static_cast<double>(s.groups * s.m * (s.k + s.n)) * act_bytes);
  KernelCost cost;
  cost.flops = Flops(2.0 * static_cast<double>(s.groups * s.m * s.n * s.k));
  cost.bytes = bytes;
  cost.compute_time = Seconds(compute_s);
  cost.memory_time = bytes / achievable_bandwidth(hw);
  cost.time = kernel_time(cost.compute_time, cost.memory_time, hw, KernelClass::kMatmul);
  return cost;
}

namespace {

/// Per-device shapes of the model under tensor parallelism.
struct Sharded {
  int64_t heads;
  int64_t kv_heads;  ///< KV heads are replicated when there are fewer than devices
  int64_t ffn;
  int64_t expert_ffn;
  int64_t shared_ffn;
  int64_t vocab;
};

Sharded shard(const ModelSpec& m, int tp) {
  Sharded s{};
  s.heads = m.heads / tp;
  s.kv_heads = std::max<int64_t>(1, m.kv_heads / tp);
  s.ffn = m.ffn_dim / tp;
  s.expert_ffn = m.moe ? m.moe->expert_ffn_dim / tp : 0;
  s.shared_ffn = m.moe ? m.moe->shared_experts * m.moe->shared_ffn_dim / tp : 0;
  s.vocab = ceil_div(m.vocab, tp);
  return s;
}

/// Accumulates kernels into a PassCost.
class PassBuilder {
 public:
  PassBuilder(const ModelSpec& m, const AcceleratorSpec& hw, const Deployment& d,
              const IterationShape& shape, bool with_comm = true)
      : with_comm_(with_comm),
        m_(m),
        hw_(hw),
        d_(d),
        shape_(shape),
        s_(shard(m, d.tensor_parallel)),
        tokens_(shape.new_tokens),
        act_bytes_(bytes_per_element(d.activation_dtype)),
        fabric_(scale_up_fabric(hw)) {}

  PassCost build_layer(bool sliding, bool moe) {
    layer(sliding, moe, 1.0);
    return cost_;
  }

  PassCost build_embedding_and_head() {
    embedding();
    elementwise(OpKind::kNorm, 2.0 * hidden_activation_bytes().value(),
                5.0 * static_cast<double>(tokens_ * m_.hidden), 1.0);
    gemm(OpKind::kLmHead, {tokens_, s_.vocab, m_.hidden, 1}, 1.0);
    return cost_;
  }

  PassCost build() {
    embedding();
    int64_t counts[2][2] = {{0, 0}, {0, 0}};  // [sliding][moe]
    for (int64_t layer = 0; layer < m_.layers; ++layer) {
      ++counts[m_.layer_sliding[static_cast<std::size_t>(layer)] ? 1 : 0]
              [m_.is_moe_layer(layer) ? 1 : 0];
    }
    for (int sliding = 0; sliding < 2; ++sliding) {
      for (int moe = 0; moe < 2; ++moe) {
        if (counts[sliding][moe] > 0)
          layer(sliding == 1, moe == 1, static_cast<double>(counts[sliding][moe]));
      }
    }
    elementwise(OpKind::kNorm, 2.0 * static_cast<double>(tokens_ * m_.hidden) * act_bytes_,
                5.0 * static_cast<double>(tokens_ * m_.hidden), 1.0);
    // Logits are needed for the last position of each sequence only.
    gemm(OpKind::kLmHead, {std::max<int64_t>(1, shape_.sampled), s_.vocab, m_.hidden, 1}, 1.0);
    all_gather(Bytes(static_cast<double>(shape_.sampled * m_.vocab) * 4.0), 1.0);
    return cost_;
  }

 private:
  void add(OpKind kind, const KernelCost& k, double count) {
    OpTotals& t = cost_.by_op[static_cast<std::size_t>(kind)];
    t.time += k.time * count;
    t.flops += k.flops * count;
    t.bytes += k.bytes * count;
    t.kernels += static_cast<int64_t>(count);
    cost_.time += k.time * count;
    cost_.compute_time += k.compute_time * count;
    cost_.memory_time += k.memory_time * count;
    cost_.flops += k.flops * count;
    cost_.bytes += k.bytes * count;
  }

  void gemm(OpKind kind, const GemmShape& shape, double count) {
    add(kind, gemm_cost(shape, hw_, d_), count);
  }

  /// A memory-streaming kernel: `bytes` moved, `vector_flops` on the vector units.
  void elementwise(OpKind kind, double bytes, double vector_flops, double count) {
    KernelCost k;
    k.bytes = Bytes(bytes);
    k.flops = Flops(vector_flops);
    k.memory_time = k.bytes / achievable_bandwidth(hw_);
    k.compute_time = k.flops / hw_.vector_flops_per_s;
    k.time = kernel_time(k.compute_time, k.memory_time, hw_, KernelClass::kStreaming);
    add(kind, k, count);
  }

  void all_reduce(Bytes bytes, double count) {
    if (!with_comm_ || d_.tensor_parallel <= 1) return;
    KernelCost k;
    k.bytes = bytes;
    k.time = scale_up_collective_time(Collective::kAllReduce, bytes, d_.tensor_parallel, fabric_) +
             hw_.efficiency.kernel_overhead;
    add(OpKind::kTensorParallelComm, k, count);
  }

  void all_gather(Bytes bytes, double count) {
    if (!with_comm_ || d_.tensor_parallel <= 1) return;
    KernelCost k;
    k.bytes = bytes;
    k.time = scale_up_collective_time(Collective::kAllGather, bytes, d_.tensor_parallel, fabric_) +
             hw_.efficiency.kernel_overhead;
    add(OpKind::kTensorParallelComm, k, count);
  }

  Bytes hidden_activation_bytes() const {
    return Bytes(static_cast<double>(tokens_ * m_.hidden) * act_bytes_);
  }

  void embedding() {
    const double rows =
        m_.position == PositionKind::kLearned ? 2.0 : 1.0;  // token + position tables
    elementwise(OpKind::kEmbedding, (rows + 1.0) * hidden_activation_bytes().value(), 0.0, 1.0);
    all_reduce(hidden_activation_bytes(), 1.0);  // vocabulary-parallel embedding
  }

  void layer(bool sliding, bool moe, double count) {
    const double norm_bytes = 4.0 * hidden_activation_bytes().value();  // x and residual in, out
    const double norm_flops = 5.0 * static_cast<double>(tokens_ * m_.hidden);
    elementwise(OpKind::kNorm, norm_bytes, norm_flops, count);
    qkv(count);
    if (m_.position == PositionKind::kRotary) {
      const double rotated =
          static_cast<double>(tokens_ * (s_.heads + s_.kv_heads) * m_.rotary_dim);
      elementwise(OpKind::kRotary, 2.0 * rotated * act_bytes_, 3.0 * rotated, count);
    }
    attention(sliding, count);
    gemm(OpKind::kOutProjection, {tokens_, m_.hidden, s_.heads * m_.v_head_dim(), 1}, count);
    if (!m_.parallel_residual) all_reduce(hidden_activation_bytes(), count);
    residual_dropout(count);
    if (m_.separate_mlp_norm) elementwise(OpKind::kNorm, norm_bytes, norm_flops, count);
    if (moe) {
      moe_mlp(count);
    } else {
      dense_mlp(s_.ffn, count);
    }
    all_reduce(hidden_activation_bytes(), count);
    residual_dropout(count);
  }

  /// Training with hidden dropout: a bias-dropout-add kernel after each branch (reads the
  /// branch and the residual, writes the sum and a one-byte mask).
  void residual_dropout(double count) {
    if (!d_.dropout) return;
    const double elements = static_cast<double>(tokens_ * m_.hidden);
    elementwise(OpKind::kNorm, elements * (3.0 * act_bytes_ + 1.0), 4.0 * elements, count);
  }

  void qkv(double count) {
    if (!m_.mla) {
      gemm(OpKind::kQkvProjection,
           {tokens_, (s_.heads + 2 * s_.kv_heads) * m_.head_dim, m_.hidden, 1}, count);
      return;
    }
    const MlaSpec& a = *m_.mla;
    if (a.q_lora_rank > 0) {
      gemm(OpKind::kQkvProjection, {tokens_, a.q_lora_rank, m_.hidden, 1}, count);
      gemm(OpKind::kQkvProjection, {tokens_, s_.heads * m_.qk_head_dim(), a.q_lora_rank, 1}, count);
    } else {
      gemm(OpKind::kQkvProjection, {tokens_, s_.heads * m_.qk_head_dim(), m_.hidden, 1}, count);
    }
    gemm(OpKind::kQkvProjection, {tokens_, a.kv_lora_rank + a.qk_rope_head_dim, m_.hidden, 1},
         count);
    gemm(OpKind::kQkvProjection,
         {tokens_, s_.heads * (a.qk_nope_head_dim + a.v_head_dim), a.kv_lora_rank, 1}, count);
  }

  void attention(bool sliding, double count) {
    const double attended = sliding ? shape_.attended_sliding : shape_.attended_full;
    const bool decode = shape_.all_decode;
    // Flash-decoding on MLA multiplies in the compressed latent (absorbed weights);
    // prefill expands keys and values to per-head vectors.
    const double width =
        m_.mla && decode ? static_cast<double>(2 * m_.mla->kv_lora_rank + m_.mla->qk_rope_head_dim)
                         : static_cast<double>(m_.qk_head_dim() + m_.v_head_dim());
    const double flops = 2.0 * static_cast<double>(s_.heads) * width * attended;

    const double kv_read = sliding ? shape_.kv_sliding : shape_.kv_full;
    const double kv_per_token =
        m_.mla ? static_cast<double>(m_.mla->kv_lora_rank + m_.mla->qk_rope_head_dim)
               : static_cast<double>(2 * s_.kv_heads * m_.head_dim);
    const double kv_bytes = bytes_per_element(d_.kv_dtype);
    const double qo =
        static_cast<double>(tokens_ * s_.heads * (m_.qk_head_dim() + m_.v_head_dim())) * act_bytes_;
    const double bytes = kv_read * kv_per_token * kv_bytes +
                         static_cast<double>(tokens_) * kv_per_token * kv_bytes + qo;

    if (!d_.fused_attention) {
      unfused_attention(kv_read / static_cast<double>(std::max<int64_t>(1, shape_.sequences)),
                        count);
      return;
    }
    const FlopsPerSecond peak = hw_.peak(d_.activation_dtype).value_or(*hw_.peak(DType::kBf16));
    const AttentionKernel kernel = attention_kernel(d_, hw_);
    const double per_sequence =
        kv_read / static_cast<double>(std::max<int64_t>(1, shape_.sequences));
    const FlopsPerSecond rate = peak * attention_length_factor(per_sequence, hw_);
    KernelCost k;
    k.flops = Flops(flops);
    k.bytes = Bytes(bytes);
    k.compute_time = k.flops / (rate * *hw_.efficiency.attention_fraction(kernel, false));
    k.memory_time = k.bytes / achievable_bandwidth(hw_);
    k.time = kernel_time(k.compute_time, k.memory_time, hw_, KernelClass::kMatmul);
    add(OpKind::kAttention, k, count);
    // Backward (FlashAttention-2, Dao 2023): 2.5x the forward FLOPs; reads q, k, v, o and the
    // output gradient, writes the three input gradients.
    const Seconds backward_compute = k.flops * kAttentionBackwardFlops /
                                     (rate * *hw_.efficiency.attention_fraction(kernel, true));
    const Seconds backward_memory = k.bytes * 2.0 / achievable_bandwidth(hw_);
    cost_.attention_backward +=
        kernel_time(backward_compute, backward_memory, hw_, KernelClass::kMatmul) * count;
  }

  /// Scores stored in memory: QK^T as a batched GEMM over every (query, key) pair (masked ones
  /// included), softmax with mask and dropout reading and writing them, then the AV GEMM.
  void unfused_attention(double kv_len, double count) {
    // One batched GEMM per (sequence, head) for QK^T over every (query, key) pair, masked ones
    // included, and one for AV; the scores go through memory between them.
    // The unfused path serves uniform batches (training): every sequence has the same shape.
    const int64_t per_sequence = shape_.new_tokens / std::max<int64_t>(1, shape_.sequences);
    const int64_t batch = shape_.sequences * s_.heads;
    const int64_t keys = static_cast<int64_t>(kv_len);
    Deployment activations;
    activations.tensor_parallel = d_.tensor_parallel;
    activations.weight_dtype = activations.activation_dtype = d_.activation_dtype;
    activations.kv_dtype = d_.kv_dtype;
    add(OpKind::kAttention,
        gemm_cost({per_sequence, keys, m_.qk_head_dim(), batch}, hw_, activations), count);
    add(OpKind::kAttention,
        gemm_cost({per_sequence, m_.v_head_dim(), keys, batch}, hw_, activations), count);
    // Softmax reads and writes the scores; dropout writes its mask and output (Korthikanti
    // et al. 2022, section 4.1).
    const double scores = static_cast<double>(batch * per_sequence) * kv_len;
    const double softmax_bytes = scores * (3.0 * act_bytes_ + 1.0);
    elementwise(OpKind::kAttention, softmax_bytes, 5.0 * scores, count);
  }

  void dense_mlp(int64_t ffn, double count) {
    const bool gated = m_.mlp == MlpKind::kGated;
    if (gated && !d_.fused_gate_up) {
      gemm(OpKind::kMlpUp, {tokens_, ffn, m_.hidden, 1}, 2.0 * count);
    } else {
      gemm(OpKind::kMlpUp, {tokens_, (gated ? 2 : 1) * ffn, m_.hidden, 1}, count);
    }
    const double elements = static_cast<double>(tokens_ * ffn);
    elementwise(OpKind::kActivation, (gated ? 3.0 : 2.0) * elements * act_bytes_, 8.0 * elements,
                count);
    gemm(OpKind::kMlpDown, {tokens_, m_.hidden, ffn, 1}, count);
  }

  /// The router: logits GEMM, then softmax and top-k over them in fp32 (reads the T x E logits,
  /// writes k probabilities and indices per token).
  void router(const MoeSpec& e, double count) {
    gemm(OpKind::kRouter, {tokens_, e.num_experts, m_.hidden, 1}, count);
    const double logits = static_cast<double>(tokens_ * e.num_experts);
    const double chosen = static_cast<double>(tokens_ * e.experts_per_token);
    elementwise(OpKind::kRouter, logits * 4.0 + chosen * 8.0, 5.0 * logits, count);
  }

  /// Megatron's token dispatcher around the experts (moe/token_dispatcher.py): tokens are
  /// permuted into expert order (read T x H, write T k x H), and after the expert-parallel
  /// exchange sorted again by local expert (the busiest rank's T k x H, read and written);
  /// the way back mirrors it, ending in the weighted sum of each token's k copies.
  void token_permutation(const MoeSpec& e, int64_t local_experts, double count) {
    const double hidden = static_cast<double>(tokens_ * m_.hidden) * act_bytes_;
    const double routed = hidden * static_cast<double>(e.experts_per_token);
    const double received = routed * d_.expert_load_imbalance;
    double bytes = hidden + routed;
    if (d_.expert_parallel > 1 && local_experts > 1) bytes += 2.0 * received;
    elementwise(OpKind::kTokenPermutation, bytes, 0.0, count);  // dispatch side
    const double combine_flops = routed / act_bytes_ * 2.0;     // weighted sum of k copies
    elementwise(OpKind::kTokenPermutation, bytes, combine_flops, count);
  }

  void moe_mlp(double count) {
    const MoeSpec& e = *m_.moe;
    router(e, count);
    // The T x ep tokens of the expert-parallel group each choose k of E experts uniformly; a
    // device's E / ep experts are hit E/ep (1 - (1 - k/E)^(T ep)) times in expectation and
    // receive T k token-expert pairs.
    const double E = static_cast<double>(e.num_experts);
    const double k = static_cast<double>(e.experts_per_token);
    const int64_t local_experts = std::max<int64_t>(1, e.num_experts / d_.expert_parallel);
    const double senders = static_cast<double>(tokens_ * d_.expert_parallel);
    const double hit = static_cast<double>(local_experts) * (1.0 - std::pow(1.0 - k / E, senders));
    const int64_t groups = std::max<int64_t>(1, static_cast<int64_t>(std::llround(hit)));
    // The busiest rank receives `imbalance` times the mean T k pairs and sets the pace.
    const double imbalance = std::max(1.0, d_.expert_load_imbalance);
    const auto pairs = static_cast<int64_t>(
        std::ceil(static_cast<double>(tokens_ * e.experts_per_token) * imbalance));
    const int64_t rows = ceil_div(pairs, groups);
    token_permutation(e, local_experts, count);
    const bool gated = m_.mlp == MlpKind::kGated;
    gemm(OpKind::kExpertsUp, {rows, (gated ? 2 : 1) * s_.expert_ffn, m_.hidden, groups}, count);
    const double elements = static_cast<double>(pairs * s_.expert_ffn);
    elementwise(OpKind::kActivation, (gated ? 3.0 : 2.0) * elements * act_bytes_, 8.0 * elements,
                count);
    gemm(OpKind::kExpertsDown, {rows, m_.hidden, s_.expert_ffn, groups}, count);
    if (s_.shared_ffn > 0) dense_mlp(s_.shared_ffn, count);
  }

  bool with_comm_;
  const ModelSpec& m_;
  const AcceleratorSpec& hw_;
  const Deployment& d_;
  const IterationShape& shape_;
  Sharded s_;
  int64_t tokens_;
  double act_bytes_;
  ScaleUpFabric fabric_;  ///< the accelerator's own domain (comm/group.hpp prices its collectives)
  PassCost cost_;
};

}  // namespace

void IterationShape::add(const ModelSpec& model, int64_t added, int64_t context, bool emits) {
  const double c = static_cast<double>(context);
  const double n = static_cast<double>(added);
  sequences += 1;
  new_tokens += added;
  sampled += emits ? 1 : 0;
  all_decode = all_decode && added == 1;
  attended_full += n * c + n * (n + 1.0) / 2.0;  // sum_{i=1..n} (c + i)
  kv_full += c + n;
  if (model.sliding_window > 0) {
    const double w = static_cast<double>(model.sliding_window);
    // Tokens i with c + i <= w attend to c + i; the rest to w.
    const double uncapped = std::clamp(w - c, 0.0, n);
    attended_sliding += uncapped * c + uncapped * (uncapped + 1.0) / 2.0 + (n - uncapped) * w;
    kv_sliding += std::min(c + n, w);
  }
}

IterationShape IterationShape::uniform(const ModelSpec& model, const PassShape& shape) {
  IterationShape one;
  one.add(model, shape.new_tokens, shape.context);
  const double k = static_cast<double>(shape.sequences);
  one.sequences = shape.sequences;
  one.new_tokens *= shape.sequences;
  one.sampled = shape.sequences;
  one.attended_full *= k;
  one.attended_sliding *= k;
  one.kv_full *= k;
  one.kv_sliding *= k;
  return one;
}

PassCost cost_iteration(const ModelSpec& model, const AcceleratorSpec& hw,
                        const Deployment& deployment, const IterationShape& batch) {
  return PassBuilder(model, hw, deployment, batch).build();
}

PassCost cost_pass(const ModelSpec& model, const AcceleratorSpec& hw, const Deployment& deployment,
                   const PassShape& shape) {
  return cost_iteration(model, hw, deployment, IterationShape::uniform(model, shape));
}

PassCost cost_layer_forward(const ModelSpec& model, const AcceleratorSpec& hw,
                            const Deployment& deployment, const PassShape& shape, bool sliding,
                            bool moe) {
  const IterationShape batch = IterationShape::uniform(model, shape);
  return PassBuilder(model, hw, deployment, batch, /*with_comm=*/false).build_layer(sliding, moe);
}

PassCost cost_embedding_and_head_forward(const ModelSpec& model, const AcceleratorSpec& hw,
                                         const Deployment& deployment, const PassShape& shape) {
  IterationShape batch = IterationShape::uniform(model, shape);
  batch.sampled = batch.new_tokens;  // the loss needs logits at every position
  return PassBuilder(model, hw, deployment, batch, /*with_comm=*/false).build_embedding_and_head();
}

}  // namespace xpusim
