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
    case OpKind::kLoss:
      return "loss";
    case OpKind::kResidual:
      return "residual";
    case OpKind::kQuantize:
      return "quantize";
    case OpKind::kTensorParallelComm:
      return "tensor_parallel_comm";
    case OpKind::kExpertParallelComm:
      return "expert_parallel_comm";
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

/// One elementwise op of a layer as its implementation runs it: bytes moved per element of its
/// tensor and kernels launched. Fused: one kernel reading its inputs and writing its output in
/// bf16 (Transformer Engine, torch.compile, XLA). Eager: the PyTorch reference code, op by op
/// (docs/model.md, "Elementwise kernels", gives each count and its source).
struct ElementwiseOp {
  double bytes_per_element;
  int kernels;
};

/// Fused kernels move whole activation tensors (`tensors` reads and writes of the activation
/// type); the eager counts below are bytes of bf16 code paths.
/// RMSNorm with the residual add: fused reads x and the residual and writes the output and
/// the sum (4 tensors); eager is torch.nn.functional.rms_norm's composite path on bf16 (upcast to
/// fp32 2+4, pow 4+4, mean 4, mul 4+4, type_as 4+2, weight mul 2+2 = 36 B in 8 kernels with the eps
/// add and rsqrt on the row statistics), and the residual add is its own kernel.
constexpr double kNormFusedTensors = 4.0;
constexpr ElementwiseOp kNormEager{36.0, 8};
/// Eager `h = x + branch`: reads two bf16 tensors and writes one.
constexpr ElementwiseOp kResidualEager{6.0, 1};
/// Rotary embedding on q and k: fused reads and writes it (2 tensors); eager is torchtitan's
/// apply_rotary_emb: x.float() 2+4, complex multiply 4+4, type_as 4+2 = 20 B, 3 kernels per
/// tensor (q and k).
constexpr double kRotaryFusedTensors = 2.0;
constexpr ElementwiseOp kRotaryEager{20.0, 6};
/// SwiGLU per ffn element: fused reads gate and up and writes the product (3 tensors); eager is
/// F.silu(gate) 2+2 then * up 2+2+2 = 10 B in 2 kernels.
constexpr double kSwigluFusedTensors = 3.0;
constexpr ElementwiseOp kSwigluEager{10.0, 2};
/// Cross-entropy per logit: fused (Megatron's vocab-parallel cross-entropy, Liger/compile)
/// reads the logits once (1 tensor); eager is torchtitan's
/// cross_entropy(pred.float(), labels): the upcast 2+4 and log_softmax 4+4 = 14 B, 3 kernels.
constexpr double kLossFusedTensors = 1.0;
constexpr ElementwiseOp kLossEager{14.0, 3};

/// Vector FLOPs per element of a 16-point Hadamard transform applied in 16-element tiles.
constexpr double kHadamardFlopsPerElement = 2.0 * 16.0;

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

/// NVIDIA Blackwell's matrix units read FP8 operands columnwise; on Hopper (and the other
/// chips, as a conservative default) FP8 GEMMs take the TN layout only, so the backward needs
/// physically transposed copies (TransformerEngine docs, performance_considerations:
/// "Handling transposes").
bool reads_fp8_columnwise(const AcceleratorSpec& hw) {
  return hw.vendor == "NVIDIA" && hw.architecture.rfind("Blackwell", 0) == 0;
}

/// The deployment that the bf16 layers of a recipe run in: the LM head, embedding and router.
Deployment high_precision(const Deployment& d) {
  if (!d.recipe) return d;
  Deployment hp = d;
  hp.weight_dtype = d.activation_dtype;
  hp.recipe.reset();
  return hp;
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
              const IterationShape& shape, bool with_comm = true,
              const SystemSpec* system = nullptr)
      : with_comm_(with_comm),
        system_(system),
        m_(m),
        hw_(hw),
        d_(d),
        shape_(shape),
        s_(shard(m, d.tensor_parallel)),
        tokens_(shape.new_tokens),
        act_bytes_(bytes_per_element(d.activation_dtype)),
        own_fabric_(system ? std::nullopt : std::optional(scale_up_fabric(hw))),
        fabric_(system ? &system->scale_up : &*own_fabric_),
        hp_(high_precision(d)),
        quant_(d.recipe ? operand_quantization(*d.recipe) : std::nullopt) {}

  PassCost build_layer(bool sliding, bool moe) {
    layer(sliding, moe, 1.0);
    return cost_;
  }

  PassCost build_embedding_and_head() {
    embedding();
    const double hidden = static_cast<double>(tokens_ * m_.hidden);
    if (d_.fused_elementwise) {
      elementwise(OpKind::kNorm, 2.0 * hidden_activation_bytes().value(), 5.0 * hidden, 1.0);
    } else {
      elementwise(OpKind::kNorm, kNormEager.bytes_per_element * hidden, 5.0 * hidden, 1.0,
                  kNormEager.kernels);
    }
    add(OpKind::kLmHead, gemm_cost({tokens_, s_.vocab, m_.hidden, 1}, hw_, hp_), 1.0);
    // Softmax cross-entropy over the logits of every position.
    const ElementwiseOp loss = pick(kLossFusedTensors, kLossEager);
    const double logits = static_cast<double>(tokens_ * s_.vocab);
    elementwise(OpKind::kLoss, loss.bytes_per_element * logits, 5.0 * logits, 1.0, loss.kernels);
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

  /// A weight GEMM; under a recipe its operands are quantized first. `input_from_fused_producer`:
  /// a fused stack writes this GEMM's input from the norm or activation kernel before it, so
  /// a recipe with local scales quantizes there instead of re-reading the bf16 tensor.
  void gemm(OpKind kind, const GemmShape& shape, double count,
            bool input_from_fused_producer = false) {
    add(kind, gemm_cost(shape, hw_, d_), count);
    if (!quant_) return;
    const double g = static_cast<double>(shape.groups);
    const double input = g * static_cast<double>(shape.m * shape.k);
    const double weight = g * static_cast<double>(shape.k * shape.n);
    const double output_grad = g * static_cast<double>(shape.m * shape.n);
    const bool fused = input_from_fused_producer && d_.fused_elementwise && !quant_->amax_pass;
    add(OpKind::kQuantize, quantize_kernel(input, true, fused), count);
    cost_.weight_quantize += quantize_kernel(weight, false, false).time * count;
    cost_.quantize_backward += quantize_kernel(output_grad, true, false).time * count;
  }

  /// The kernels that quantize one bf16 operand of `elements` values (TransformerEngine
  /// docs/features/low_precision_training): an amax pass where the scale needs the tensor's
  /// amax first, then a cast writing the rowwise copy and, where the backward needs it, the
  /// columnwise one (transposed on Hopper, the other block direction for block scales).
  KernelCost quantize_kernel(double elements, bool wgrad_operand, bool fused) const {
    const OperandQuantization& q = *quant_;
    const bool two_copies = q.directional_scales || !reads_fp8_columnwise(hw_);
    const double copies = two_copies ? 2.0 : 1.0;
    const double read = (fused ? 0.0 : act_bytes_) + (q.amax_pass ? act_bytes_ : 0.0);
    const double write = copies * (q.element_bytes + q.scale_bytes_per_element);
    const double hadamard =
        q.hadamard_on_wgrad_operands && wgrad_operand ? kHadamardFlopsPerElement * elements : 0.0;
    KernelCost k;
    k.bytes = Bytes(elements * (read + write));
    k.flops = Flops(4.0 * elements + hadamard);
    k.memory_time = k.bytes / achievable_bandwidth(hw_);
    k.compute_time = k.flops / hw_.vector_flops_per_s;
    const int kernels = (fused ? 0 : 1) + (q.amax_pass ? 1 : 0);
    k.time = kernel_time(k.compute_time, k.memory_time, hw_, KernelClass::kStreaming) +
             hw_.efficiency.kernel_overhead * static_cast<double>(std::max(0, kernels - 1));
    return k;
  }

  /// A memory-streaming operation: `bytes` moved, `vector_flops` on the vector units, in
  /// `kernels` launches.
  void elementwise(OpKind kind, double bytes, double vector_flops, double count, int kernels = 1) {
    KernelCost k;
    k.bytes = Bytes(bytes);
    k.flops = Flops(vector_flops);
    k.memory_time = k.bytes / achievable_bandwidth(hw_);
    k.compute_time = k.flops / hw_.vector_flops_per_s;
    k.time = kernel_time(k.compute_time, k.memory_time, hw_, KernelClass::kStreaming) +
             hw_.efficiency.kernel_overhead * static_cast<double>(kernels - 1);
    OpTotals& t = cost_.by_op[static_cast<std::size_t>(kind)];
    add(kind, k, count);
    t.kernels += static_cast<int64_t>(count) * (kernels - 1);
  }

  /// A collective among `ranks` devices `stride` apart in the rank order (tp innermost, then
  /// the expert-parallel ranks): on the system's fabrics when there is one, else inside the
  /// accelerator's own scale-up domain.
  Seconds collective(Collective kind, Bytes bytes, int ranks, int stride) const {
    if (system_)
      return collective_time(kind, bytes, place_group(ranks, stride, *system_), *system_);
    return scale_up_collective_time(kind, bytes, ranks, *fabric_);
  }

  void communicate(OpKind kind, Collective collective_kind, Bytes bytes, int ranks, int stride,
                   double count) {
    if (!with_comm_ || ranks <= 1) return;
    KernelCost k;
    k.bytes = bytes;
    k.time = collective(collective_kind, bytes, ranks, stride) + hw_.efficiency.kernel_overhead;
    add(kind, k, count);
  }

  void all_reduce(Bytes bytes, double count) {
    communicate(OpKind::kTensorParallelComm, Collective::kAllReduce, bytes, d_.tensor_parallel, 1,
                count);
  }

  void all_gather(Bytes bytes, double count) {
    communicate(OpKind::kTensorParallelComm, Collective::kAllGather, bytes, d_.tensor_parallel, 1,
                count);
  }

  /// Expert parallelism: each device's routed token copies go to their experts' devices
  /// (dispatch) and the outputs come back (combine). Dispatch carries the expert GEMMs' input,
  /// in fp8 where they compute in fp8 (DeepSeek-V3 report, section 3.3); combine the activation
  /// format. No overlap with compute (two-batch overlap is not modelled).
  void expert_all_to_all(double count) {
    const double copies = static_cast<double>(tokens_ * m_.moe->experts_per_token * m_.hidden);
    const double dispatch_bytes = gemm_compute_dtype(d_, hw_) == DType::kFp8 ? 1.0 : act_bytes_;
    communicate(OpKind::kExpertParallelComm, Collective::kAllToAll, Bytes(copies * dispatch_bytes),
                d_.expert_parallel, d_.tensor_parallel, count);
    communicate(OpKind::kExpertParallelComm, Collective::kAllToAll, Bytes(copies * act_bytes_),
                d_.expert_parallel, d_.tensor_parallel, count);
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
    norm(count);
    qkv(count);
    if (m_.position == PositionKind::kRotary) {
      const double rotated =
          static_cast<double>(tokens_ * (s_.heads + s_.kv_heads) * m_.rotary_dim);
      const ElementwiseOp rope = pick(kRotaryFusedTensors, kRotaryEager);
      elementwise(OpKind::kRotary, rope.bytes_per_element * rotated, 3.0 * rotated, count,
                  rope.kernels);
    }
    attention(sliding, count);
    gemm(OpKind::kOutProjection, {tokens_, m_.hidden, s_.heads * m_.v_head_dim(), 1}, count);
    if (!m_.parallel_residual) all_reduce(hidden_activation_bytes(), count);
    residual_add(count);
    if (m_.separate_mlp_norm) norm(count);
    if (moe) {
      moe_mlp(count);
    } else {
      dense_mlp(s_.ffn, count);
    }
    all_reduce(hidden_activation_bytes(), count);
    residual_add(count);
  }

  /// The fused form of an op (one kernel moving `tensors` activation tensors) or its eager form.
  ElementwiseOp pick(double tensors, const ElementwiseOp& eager) const {
    return d_.fused_elementwise ? ElementwiseOp{tensors * act_bytes_, 1} : eager;
  }

  /// The pre-attention or pre-MLP norm; fused, it also adds the residual.
  void norm(double count) {
    const double hidden = static_cast<double>(tokens_ * m_.hidden);
    const ElementwiseOp op = pick(kNormFusedTensors, kNormEager);
    elementwise(OpKind::kNorm, op.bytes_per_element * hidden, 5.0 * hidden, count, op.kernels);
  }

  /// After each branch: bias-dropout-add where the model has dropout, else (eager only) the
  /// residual add as its own kernel.
  void residual_add(double count) {
    if (d_.dropout) {
      residual_dropout(count);
      return;
    }
    if (d_.fused_elementwise) return;
    const double hidden = static_cast<double>(tokens_ * m_.hidden);
    elementwise(OpKind::kResidual, kResidualEager.bytes_per_element * hidden, hidden, count);
  }

  /// Training with hidden dropout: a bias-dropout-add kernel after each branch (reads the
  /// branch and the residual, writes the sum and a one-byte mask).
  void residual_dropout(double count) {
    const double elements = static_cast<double>(tokens_ * m_.hidden);
    elementwise(OpKind::kNorm, elements * (3.0 * act_bytes_ + 1.0), 4.0 * elements, count);
  }

  void qkv(double count) {
    if (!m_.mla) {
      gemm(OpKind::kQkvProjection,
           {tokens_, (s_.heads + 2 * s_.kv_heads) * m_.head_dim, m_.hidden, 1}, count, true);
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
    const double kv_per_token = kv_elements_per_token_layer(m_, d_.tensor_parallel);
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
    k.memory_time = k.bytes / attention_bandwidth(decode);
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

  /// The bandwidth attention streams the cache at: a decode kernel's own where the deployment
  /// has a measured one, else the chip's.
  BytesPerSecond attention_bandwidth(bool decode) const {
    if (decode && d_.decode_attention_bandwidth_fraction)
      return hw_.memory_bandwidth * *d_.decode_attention_bandwidth_fraction;
    return achievable_bandwidth(hw_);
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
      gemm(OpKind::kMlpUp, {tokens_, ffn, m_.hidden, 1}, 2.0 * count, true);
    } else {
      gemm(OpKind::kMlpUp, {tokens_, (gated ? 2 : 1) * ffn, m_.hidden, 1}, count, true);
    }
    activation(static_cast<double>(tokens_ * ffn), count);
    gemm(OpKind::kMlpDown, {tokens_, m_.hidden, ffn, 1}, count, true);
  }

  /// SiLU(gate) * up, or GELU, over `elements` ffn values.
  void activation(double elements, double count) {
    const bool gated = m_.mlp == MlpKind::kGated;
    const ElementwiseOp op =
        gated ? pick(kSwigluFusedTensors, kSwigluEager) : ElementwiseOp{2.0 * act_bytes_, 1};
    elementwise(OpKind::kActivation, op.bytes_per_element * elements, 8.0 * elements, count,
                op.kernels);
  }

  /// The router: logits GEMM (bf16 under every recipe), then softmax and top-k over them in fp32
  /// (reads the T x E logits, writes k probabilities and indices per token).
  void router(const MoeSpec& e, double count) {
    add(OpKind::kRouter, gemm_cost({tokens_, e.num_experts, m_.hidden, 1}, hw_, hp_), count);
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
    expert_all_to_all(count);
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
    activation(static_cast<double>(pairs * s_.expert_ffn), count);
    gemm(OpKind::kExpertsDown, {rows, m_.hidden, s_.expert_ffn, groups}, count, true);
    if (s_.shared_ffn > 0) dense_mlp(s_.shared_ffn, count);
  }

  bool with_comm_;
  const SystemSpec* system_;  ///< where collectives are placed; nullptr: the accelerator's domain
  const ModelSpec& m_;
  const AcceleratorSpec& hw_;
  const Deployment& d_;
  const IterationShape& shape_;
  Sharded s_;
  int64_t tokens_;
  double act_bytes_;
  /// The scale-up domain whose collectives comm/group.hpp prices: the system's, referred to
  /// (a pass allocates nothing), or the accelerator's own when no system is given.
  std::optional<ScaleUpFabric> own_fabric_;
  const ScaleUpFabric* fabric_;
  Deployment hp_;  ///< the layers a recipe keeps in bf16
  std::optional<OperandQuantization> quant_;
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

PassCost cost_iteration(const ModelSpec& model, const SystemSpec& system,
                        const Deployment& deployment, const IterationShape& batch) {
  return PassBuilder(model, system.accelerator, deployment, batch, /*with_comm=*/true, &system)
      .build();
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
