#pragma once
// A software stack (one release of Megatron-Core, torchtitan, vLLM, ...) as the cost model sees
// it: which kernels it runs by default, how it shards and reduces for data parallelism, how much
// communication it hides, and the host (CPU) time it leaves exposed. Read from
// data/stacks/*.yaml (format: data/stacks/README.md); every number keeps its source.
//
// Consumers: training (train/) reads `StackSpec::training` and `kernels`; serving (serve/)
// reads `StackSpec::serving` and `kernels`. A stack of kind kTraining has no `serving`, one of
// kind kServing no `training`, one of kind kBoth has both (the parser guarantees it).
//
//   const StackSpec stack = load_stack("megatron-bridge-25.09", data / "stacks");
//   const auto family = architecture_family(hw.vendor, hw.architecture);
//   const auto kernel = family ? stack.kernels.attention_for(*family) : std::nullopt;
//   if (!kernel) -> the stack does not run on this chip (a Feasibility, not an error)

#include <array>
#include <filesystem>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "xpusim/core/dtype.hpp"
#include "xpusim/core/figures.hpp"
#include "xpusim/core/recipe.hpp"
#include "xpusim/core/units.hpp"

namespace xpusim {

/// The project a stack release belongs to (YAML `framework`).
enum class Framework {
  kMegatronCore,    ///< "megatron-core" (Megatron-LM / Megatron-Core with Transformer Engine)
  kMegatronBridge,  ///< "megatron-bridge" (NeMo 2 successor recipes on Megatron-Core)
  kNemo,            ///< "nemo" (NeMo Framework containers on Megatron-Core)
  kTorchtitan,      ///< "torchtitan" (PyTorch FSDP2/TP/PP reference)
  kPytorchFsdp,     ///< "pytorch-fsdp" (FSDP1 FullyShardedDataParallel)
  kDeepspeed,       ///< "deepspeed"
  kMaxtext,         ///< "maxtext" (JAX/XLA)
  kTrtllm,          ///< "trtllm" (TensorRT-LLM)
  kVllm,            ///< "vllm"
  kSglang,          ///< "sglang"
};

/// What a stack release does: train, serve, or both.
enum class StackKind { kTraining, kServing, kBoth };

/// Accelerator generations whose kernels differ (FlashAttention-3 needs Hopper, cuDNN's fused
/// attention is the Blackwell default, CK is AMD's). YAML keys: nvidia_ampere, nvidia_ada,
/// nvidia_hopper, nvidia_blackwell, amd_cdna, google_tpu, intel_gaudi, aws_neuron.
enum class ArchitectureFamily {
  kNvidiaAmpere,
  kNvidiaAda,
  kNvidiaHopper,
  kNvidiaBlackwell,
  kAmdCdna,
  kGoogleTpu,
  kIntelGaudi,
  kAwsNeuron,
};
inline constexpr std::array<ArchitectureFamily, 8> kAllArchitectureFamilies = {
    ArchitectureFamily::kNvidiaAmpere, ArchitectureFamily::kNvidiaAda,
    ArchitectureFamily::kNvidiaHopper, ArchitectureFamily::kNvidiaBlackwell,
    ArchitectureFamily::kAmdCdna,      ArchitectureFamily::kGoogleTpu,
    ArchitectureFamily::kIntelGaudi,   ArchitectureFamily::kAwsNeuron};

/// The family of an accelerator from its catalog `vendor` and `architecture` text (the first
/// word of the architecture: "Hopper (GH100)" -> kNvidiaHopper, "CDNA 3 ..." -> kAmdCdna,
/// vendor Google -> kGoogleTpu), or nullopt for a chip no stack family covers (Maia, MTIA).
[[nodiscard]] std::optional<ArchitectureFamily> architecture_family(std::string_view vendor,
                                                                    std::string_view architecture);

/// Kernel choices a stack makes by default.
struct StackKernels {
  /// Default fused attention kernel (training forward/backward, serving prefill) per family;
  /// nullopt where the stack does not run on that family.
  std::array<std::optional<AttentionKernel>, kAllArchitectureFamilies.size()> attention{};
  /// Norm, rotary embedding and activation fused into few kernels (torch.compile, Transformer
  /// Engine, XLA); false: each is its own memory-bound kernel.
  bool fused_elementwise = false;
  /// Kernel launches replayed from a captured graph (CUDA graphs; XLA's compiled step counts
  /// as true), so per-kernel launch cost is not paid on the host each step.
  bool cuda_graphs = false;

  /// The attention kernel on `family`, or nullopt when the stack does not run there.
  [[nodiscard]] std::optional<AttentionKernel> attention_for(ArchitectureFamily family) const {
    return attention[static_cast<std::size_t>(family)];
  }
};

/// How data parallelism shards state. Parameter-sharding kinds (`shards_parameters`) gather each
/// layer's weights before use.
enum class Sharding {
  kDdp,                   ///< "ddp": replicated weights, gradients and optimizer
  kZero1,                 ///< "zero1": optimizer state sharded
  kDistributedOptimizer,  ///< "distributed_optimizer": Megatron's ZeRO-1 (reduce-scatter grads,
                          ///< all-gather weights once per step)
  kFsdp,                  ///< "fsdp": PyTorch FSDP1/FSDP2, ZeRO-3
  kMegatronFsdp,          ///< "megatron_fsdp": Megatron-Core's custom FSDP, ZeRO-3
  kXlaFsdp,               ///< "xla_fsdp": GSPMD sharding of weights over the data axis
};
/// True for fsdp, megatron_fsdp and xla_fsdp: weights are all-gathered per layer.
[[nodiscard]] bool shards_parameters(Sharding sharding);

/// When gradients are reduced across data-parallel ranks.
enum class GradientReduce {
  kPerMicroBatch,  ///< "per_micro_batch": every micro-batch's backward reduces (FSDP default)
  kPerStep,        ///< "per_step": accumulated locally, reduced once after the last micro-batch
};

struct DataParallelSpec {
  Sharding sharding = Sharding::kDdp;
  /// Parameter-sharding only: weights freed after forward and gathered again for backward.
  /// Always false for ddp/zero1/distributed_optimizer.
  bool reshard_after_forward = false;
  GradientReduce gradient_reduce = GradientReduce::kPerStep;
  DType reduce_dtype = DType::kFp32;  ///< kFp32 or kBf16: the gradient reduction's element type
  /// Parameter-sharding only: layers whose all-gather is issued ahead of compute (>= 1); 0 for
  /// ddp/zero1/distributed_optimizer.
  int prefetch_layers = 0;
  /// Gradient (and gather) bucket size; nullopt: one collective per layer (the FSDP unit).
  std::optional<Bytes> bucket;
  /// Parameter-sharding only: weights all-gathered in fp8 under a tensorwise fp8 recipe
  /// (torchao's enable_fsdp_float8_all_gather). Not read from the stack YAML yet.
  bool fp8_all_gather = false;
};

/// The MoE token dispatcher of expert parallelism.
enum class MoeDispatcher {
  kAllToAll,   ///< "alltoall": NCCL all-to-all with host-known token counts
  kDeepEp,     ///< "deepep": DeepEP kernels (NVLink/RDMA, no host sync)
  kAllGather,  ///< "allgather": tokens all-gathered, experts pick theirs
};

struct MoeDispatchSpec {
  MoeDispatcher dispatcher = MoeDispatcher::kAllToAll;
  /// Exposed CPU-GPU synchronisation per MoE layer and micro-batch (forward and backward
  /// together) where the dispatcher needs token counts on the host; 0 when none.
  Seconds host_sync_per_layer;
};

/// What a training stack supports and hides.
struct TrainingStack {
  std::vector<PrecisionRecipe> recipes;  ///< supported precision recipes, in file order
  DataParallelSpec data_parallel;
  /// Share of tensor-parallel communication hidden under GEMMs (userbuffers / async-TP), [0, 1].
  double tp_comm_overlap_fraction = 0.0;
  /// Share of data-parallel gradient reduction and weight gathering hidden under compute, [0, 1].
  double dp_comm_overlap_fraction = 0.0;
  std::optional<MoeDispatchSpec> moe;  ///< nullopt: the stack has no expert parallelism
  /// CPU time to launch one transformer layer's kernels for one micro-batch (forward + backward)
  /// when launches are not hidden; the layer is launch-bound when this exceeds its GPU time.
  Seconds host_overhead_per_layer;

  /// True when `recipe` is among `recipes`.
  [[nodiscard]] bool supports(PrecisionRecipe recipe) const;
};

/// The decode (paged KV) attention kernel of a serving stack.
enum class DecodeAttention {
  kFlashInfer,     ///< "flashinfer"
  kXqa,            ///< "xqa" (TensorRT-LLM XQA)
  kFlashDecoding,  ///< "flash_decoding" (split-KV FlashAttention decode)
  kFlashAttn,      ///< "flash_attn" (FlashAttention varlen with paged KV; vLLM V1 default)
  kPagedV1,        ///< "paged_v1" (vLLM PagedAttention v1)
  kPagedV2,        ///< "paged_v2" (vLLM PagedAttention v2, partitioned)
  kTriton,         ///< "triton" (SGLang / vLLM Triton attention)
  kRaggedPaged,    ///< "ragged_paged" (TPU Pallas ragged paged attention)
};

/// What a serving engine adds around the model's kernels.
struct ServingStack {
  /// Host time per engine step the accelerator waits for (scheduling, sampling,
  /// detokenization, input preparation), i.e. not hidden by an overlapping scheduler.
  Seconds host_overhead_per_iteration;
  DecodeAttention decode_attention = DecodeAttention::kPagedV1;
  int max_num_seqs = 0;            ///< default cap on concurrently running requests
  int max_num_batched_tokens = 0;  ///< default token budget of one engine step
  bool chunked_prefill = false;    ///< long prompts split across steps by default
  /// Largest decode batch replayed from a captured CUDA graph; nullopt: no graphs.
  std::optional<int> cuda_graphs_max_batch;
};

struct StackSpec {
  std::string id;  ///< equals the catalog file stem
  std::string name;
  Framework framework = Framework::kMegatronCore;
  std::string version;       ///< as the project tags it ("0.8.5", "25.09", "24.07")
  std::string release_date;  ///< "YYYY-MM" or "YYYY-MM-DD"
  StackKind kind = StackKind::kTraining;
  StackKernels kernels;
  std::optional<TrainingStack> training;  ///< present iff kind is kTraining or kBoth
  std::optional<ServingStack> serving;    ///< present iff kind is kServing or kBoth

  std::vector<Source> sources;
  std::vector<Figure> figures;  ///< every number above, with its provenance
  std::filesystem::path file;   ///< where it was read from
};

/// "megatron-core", ..., "sglang".
[[nodiscard]] std::string_view to_string(Framework framework);
/// "training", "serving", "both".
[[nodiscard]] std::string_view to_string(StackKind kind);
/// "nvidia_hopper", ...
[[nodiscard]] std::string_view to_string(ArchitectureFamily family);
/// "ddp", "zero1", "distributed_optimizer", "fsdp", "megatron_fsdp", "xla_fsdp".
[[nodiscard]] std::string_view to_string(Sharding sharding);
/// "per_micro_batch", "per_step".
[[nodiscard]] std::string_view to_string(GradientReduce reduce);
/// "alltoall", "deepep", "allgather".
[[nodiscard]] std::string_view to_string(MoeDispatcher dispatcher);
/// "flashinfer", "xqa", ...
[[nodiscard]] std::string_view to_string(DecodeAttention attention);

/// Parses one stack YAML file strictly (data/stacks/README.md); errors name file and key.
[[nodiscard]] StackSpec load_stack_file(const std::filesystem::path& file);

/// Ids of the catalog's stacks (file stems of `stacks_dir/*.yaml`), sorted.
[[nodiscard]] std::vector<std::string> stack_ids(const std::filesystem::path& stacks_dir);

/// `ref` is a catalog id or a path to a YAML file (see `looks_like_path`). An unknown id is a
/// not-found error "unknown stack 'X' (did you mean: ...)".
[[nodiscard]] StackSpec load_stack(const std::string& ref, const std::filesystem::path& stacks_dir);

/// Every stack of the catalog, in id order.
[[nodiscard]] std::vector<StackSpec> load_all_stacks(const std::filesystem::path& stacks_dir);

}  // namespace xpusim
