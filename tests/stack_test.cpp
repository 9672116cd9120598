// Software stacks (src/xpusim/stack/, data/stacks/): every shipped stack parses and says what its
// sources say; the one parser refuses bad input with one exact line naming file and key; the
// command line lists and shows stacks.
//
// Bad-input cases make one change each to a small valid stack (kBase below) written to a scratch
// directory, so that each case exercises exactly one rule.

#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <string>

#include "test_files.hpp"
#include "test_support.hpp"
#include "xpusim/core/error.hpp"
#include "xpusim/stack/stack.hpp"

namespace xpusim {
namespace {

namespace fs = std::filesystem;
using testing::error_of;
using testing::ScratchDir;
using testing::write_text;

fs::path stacks_dir() {
  return testing::data_dir() / "stacks";
}

// --- The shipped catalog -------------------------------------------------------------------------

TEST(StackCatalog, EveryShippedStackParsesWithTheSectionsItsKindCallsFor) {
  const auto all = load_all_stacks(stacks_dir());
  ASSERT_GE(all.size(), 12u);
  int training = 0, serving = 0;
  for (const auto& s : all) {
    SCOPED_TRACE(s.id);
    EXPECT_EQ(s.training.has_value(), s.kind != StackKind::kServing);
    EXPECT_EQ(s.serving.has_value(), s.kind != StackKind::kTraining);
    training += s.training.has_value();
    serving += s.serving.has_value();
    EXPECT_FALSE(s.figures.empty());
    for (const auto& f : s.figures) {
      EXPECT_TRUE(f.provenance.source_id.empty() != f.provenance.estimate.empty()) << f.key;
    }
    if (s.training) {
      EXPECT_TRUE(s.training->supports(PrecisionRecipe::kBf16));
      EXPECT_GE(s.training->tp_comm_overlap_fraction, 0.0);
      EXPECT_LE(s.training->dp_comm_overlap_fraction, 1.0);
      EXPECT_EQ(s.training->data_parallel.prefetch_layers > 0,
                shards_parameters(s.training->data_parallel.sharding));
    }
  }
  EXPECT_GE(training, 8);
  EXPECT_GE(serving, 4);
}

TEST(StackCatalog, MegatronStacksKeepTheirRecipesDispatchersAndBuckets) {
  const StackSpec nemo = load_stack("nemo-24.07", stacks_dir());
  EXPECT_EQ(nemo.framework, Framework::kNemo);
  EXPECT_EQ(nemo.kernels.attention_for(ArchitectureFamily::kNvidiaHopper), AttentionKernel::kCudnn);
  EXPECT_EQ(nemo.kernels.attention_for(ArchitectureFamily::kNvidiaBlackwell), std::nullopt);
  ASSERT_TRUE(nemo.training);
  EXPECT_EQ(nemo.training->data_parallel.sharding, Sharding::kDistributedOptimizer);
  EXPECT_EQ(nemo.training->data_parallel.gradient_reduce, GradientReduce::kPerStep);
  EXPECT_EQ(nemo.training->data_parallel.bucket, Bytes(1.6e8));
  EXPECT_FALSE(nemo.training->supports(PrecisionRecipe::kMxfp8));
  ASSERT_TRUE(nemo.training->moe);
  EXPECT_EQ(nemo.training->moe->dispatcher, MoeDispatcher::kAllToAll);

  const StackSpec bridge = load_stack("megatron-bridge-26.05", stacks_dir());
  ASSERT_TRUE(bridge.training);
  EXPECT_TRUE(bridge.training->supports(PrecisionRecipe::kNvfp4));
  EXPECT_EQ(bridge.training->moe->dispatcher, MoeDispatcher::kDeepEp);
  EXPECT_TRUE(bridge.kernels.cuda_graphs);
  EXPECT_LT(bridge.training->host_overhead_per_layer, nemo.training->host_overhead_per_layer);
}

TEST(StackCatalog, CompileFusesAndLaunchesLessThanEager) {
  const StackSpec eager = load_stack("torchtitan-2024-12-eager", stacks_dir());
  const StackSpec compiled = load_stack("torchtitan-2024-12-compile", stacks_dir());
  EXPECT_FALSE(eager.kernels.fused_elementwise);
  EXPECT_TRUE(compiled.kernels.fused_elementwise);
  EXPECT_LT(compiled.training->host_overhead_per_layer, eager.training->host_overhead_per_layer);
  EXPECT_EQ(eager.training->data_parallel.sharding, Sharding::kFsdp);
  EXPECT_TRUE(eager.training->data_parallel.reshard_after_forward);
  EXPECT_EQ(eager.training->data_parallel.gradient_reduce, GradientReduce::kPerMicroBatch);
  EXPECT_FALSE(eager.training->data_parallel.bucket.has_value());
  EXPECT_FALSE(eager.training->moe.has_value());
}

TEST(StackCatalog, ServingHostOverheadShrinksFromVllmV0ToV1ToTheOverlapScheduler) {
  const StackSpec v0 = load_stack("vllm-0.6", stacks_dir());
  const StackSpec v1 = load_stack("vllm-0.8", stacks_dir());
  const StackSpec sglang = load_stack("sglang-0.4", stacks_dir());
  EXPECT_EQ(v0.serving->host_overhead_per_iteration, Seconds(4.0e-3));
  EXPECT_LT(v1.serving->host_overhead_per_iteration, v0.serving->host_overhead_per_iteration);
  EXPECT_LT(sglang.serving->host_overhead_per_iteration, v1.serving->host_overhead_per_iteration);
  EXPECT_FALSE(v0.serving->chunked_prefill);
  EXPECT_TRUE(v1.serving->chunked_prefill);
  EXPECT_EQ(v1.serving->max_num_batched_tokens, 2048);
  EXPECT_EQ(v0.serving->cuda_graphs_max_batch, 256);
  EXPECT_EQ(sglang.serving->decode_attention, DecodeAttention::kFlashInfer);
  EXPECT_EQ(load_stack("trtllm-0.16", stacks_dir()).serving->cuda_graphs_max_batch, std::nullopt);
}

TEST(StackCatalog, ArchitectureFamiliesOfTheHardwareCatalog) {
  const auto family = [](const std::string& id) {
    const AcceleratorSpec a = testing::hw(id);
    return architecture_family(a.vendor, a.architecture);
  };
  EXPECT_EQ(family("a100-sxm-80gb"), ArchitectureFamily::kNvidiaAmpere);
  EXPECT_EQ(family("l40s"), ArchitectureFamily::kNvidiaAda);
  EXPECT_EQ(family("h100-sxm"), ArchitectureFamily::kNvidiaHopper);
  EXPECT_EQ(family("gb200"), ArchitectureFamily::kNvidiaBlackwell);
  EXPECT_EQ(family("mi300x"), ArchitectureFamily::kAmdCdna);
  EXPECT_EQ(family("tpu-v6e"), ArchitectureFamily::kGoogleTpu);
  EXPECT_EQ(family("gaudi3"), ArchitectureFamily::kIntelGaudi);
  EXPECT_EQ(family("trainium2"), ArchitectureFamily::kAwsNeuron);
  EXPECT_EQ(family("maia100"), std::nullopt);
}

TEST(StackCatalog, KernelAndRecipeNamesRoundTrip) {
  for (AttentionKernel k : kAllAttentionKernels) EXPECT_EQ(parse_attention_kernel(to_string(k)), k);
  for (PrecisionRecipe r : kAllPrecisionRecipes) EXPECT_EQ(parse_precision_recipe(to_string(r)), r);
  EXPECT_EQ(parse_precision_recipe("fp8_delayed"), std::nullopt);
  EXPECT_EQ(gemm_kind(PrecisionRecipe::kFp8Current), GemmKind::kFp8);
  EXPECT_EQ(gemm_kind(PrecisionRecipe::kFp8Blockwise), GemmKind::kFp8Blockwise);
  EXPECT_EQ(gemm_kind(PrecisionRecipe::kNvfp4), GemmKind::kNvfp4);
}

// --- Bad input -----------------------------------------------------------------------------------

const std::string kBase = R"(id: tiny
name: Tiny stack
framework: megatron-core
version: "0.1"
release_date: 2025-01
kind: training
sources:
  - {id: doc, title: "A document", url: "https://example.com"}
kernels:
  attention: {nvidia_hopper: flash3}
  fused_elementwise: true
  cuda_graphs: false
training:
  recipes: [bf16]
  data_parallel:
    sharding: ddp
    gradient_reduce: per_step
    reduce_dtype: fp32
    bucket_bytes: {value: 1.0e+8, source: doc}
  tp_comm_overlap_fraction: {value: 0.5, source: doc}
  dp_comm_overlap_fraction: {value: 0.0, estimate: "nothing hidden"}
  host_overhead_per_layer_s: {value: 1.0e-4, source: doc}
  selective_recompute: core_attention
  weight_quantization: per_step
)";

/// The message of loading kBase with `from` replaced by `to` (which must occur in kBase).
std::string error_with(const std::string& from, const std::string& to) {
  std::string text = kBase;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  ScratchDir dir;
  const fs::path file = dir.path() / "tiny.yaml";
  write_text(file, text);
  return error_of([&] { (void)load_stack_file(file); });
}

/// The message for kBase edited, with the scratch file name replaced by FILE.
std::string message(const std::string& from, const std::string& to) {
  std::string m = error_with(from, to);
  const auto colon = m.find(": ");
  return colon == std::string::npos ? m : "FILE" + m.substr(colon);
}

TEST(StackBadInput, TheBaseIsValid) {
  ScratchDir dir;
  write_text(dir.path() / "tiny.yaml", kBase);
  const StackSpec s = load_stack_file(dir.path() / "tiny.yaml");
  EXPECT_EQ(s.training->dp_comm_overlap_fraction, 0.0);
  EXPECT_EQ(s.figures.size(), 4u);
}

TEST(StackBadInput, UnknownKeySuggestsTheClosest) {
  EXPECT_EQ(message("bucket_bytes", "bucket_byte"),
            "FILE: training.data_parallel.bucket_byte: unknown key (did you mean: bucket_bytes?)");
  EXPECT_EQ(message("kind: training", "kind: training\nkernel: {}"),
            "FILE: kernel: unknown key (did you mean: kernels?)");
  EXPECT_EQ(message("nvidia_hopper", "nvidia_hoper"),
            "FILE: kernels.attention.nvidia_hoper: unknown key (did you mean: nvidia_hopper, "
            "nvidia_ampere?)");
}

TEST(StackBadInput, FigureWithoutSourceOrWithAnUnknownOne) {
  EXPECT_EQ(message("{value: 0.5, source: doc}", "{value: 0.5}"),
            "FILE: training.tp_comm_overlap_fraction.source: expected exactly one of 'source' (a "
            "source id) or 'estimate' (its basis)");
  EXPECT_EQ(message("{value: 0.5, source: doc}", "{value: 0.5, source: docs}"),
            "FILE: training.tp_comm_overlap_fraction.source: unknown source id 'docs' (did you "
            "mean: doc?)");
}

TEST(StackBadInput, FractionOutsideZeroToOneAndNegativeTimes) {
  EXPECT_EQ(
      message("{value: 0.5, source: doc}", "{value: 1.5, source: doc}"),
      "FILE: training.tp_comm_overlap_fraction.value: expected a fraction in [0, 1], got 1.5");
  EXPECT_EQ(message("{value: 1.0e-4, source: doc}", "{value: -1.0e-4, source: doc}"),
            "FILE: training.host_overhead_per_layer_s.value: expected >= 0, got -0.0001");
  EXPECT_EQ(message("{value: 1.0e+8, source: doc}", "{value: 0, source: doc}"),
            "FILE: training.data_parallel.bucket_bytes.value: expected > 0, got 0");
}

TEST(StackBadInput, UnknownChoicesListTheAllowedOnes) {
  EXPECT_EQ(message("nvidia_hopper: flash3", "nvidia_hopper: flash4"),
            "FILE: kernels.attention.nvidia_hopper: unknown value 'flash4' (did you mean: flash2, "
            "flash3?); expected one of flash2, flash3, cudnn, ck, splash, vendor, unfused");
  EXPECT_EQ(message("recipes: [bf16]", "recipes: [bf16, fp8_delayed]"),
            "FILE: training.recipes[1]: unknown value 'fp8_delayed' (did you mean: fp8-delayed?); "
            "expected one of bf16, fp8-delayed, fp8-current, fp8-blockwise, mxfp8, nvfp4");
  EXPECT_EQ(message("reduce_dtype: fp32", "reduce_dtype: fp16"),
            "FILE: training.data_parallel.reduce_dtype: unknown value 'fp16' (did you mean: "
            "fp32, bf16?); expected one of fp32, bf16");
  EXPECT_EQ(message("cuda_graphs: false", "cuda_graphs: no"),
            "FILE: kernels.cuda_graphs: expected true or false, got 'no'");
}

TEST(StackBadInput, SectionsMustMatchTheKind) {
  EXPECT_EQ(message("kind: training", "kind: serving"),
            "FILE: training: not allowed for kind serving");
  EXPECT_EQ(message("kind: training", "kind: both"),
            "FILE: serving: missing (required for kind both)");
}

TEST(StackBadInput, ShardingSpecificKeys) {
  EXPECT_EQ(message("sharding: ddp", "sharding: ddp\n    reshard_after_forward: true"),
            "FILE: training.data_parallel.reshard_after_forward: only for parameter-sharding "
            "(fsdp, megatron_fsdp, xla_fsdp), not ddp");
  EXPECT_EQ(message("sharding: ddp", "sharding: fsdp"),
            "FILE: training.data_parallel.reshard_after_forward: missing (required)");
}

TEST(StackBadInput, ReleaseDateAndCatalogId) {
  EXPECT_EQ(message("release_date: 2025-01", "release_date: Jan 2025"),
            "FILE: release_date: expected YYYY-MM or YYYY-MM-DD, got 'Jan 2025'");
  ScratchDir dir;
  fs::create_directories(dir.path() / "stacks");
  write_text(dir.path() / "stacks" / "other.yaml", kBase);
  EXPECT_EQ(error_of([&] { (void)load_stack("other", dir.path() / "stacks"); }),
            (dir.path() / "stacks" / "other.yaml").string() +
                ": id: expected 'other' (the file name), got 'tiny'");
  EXPECT_EQ(error_of([&] { (void)load_stack("vllm-0.9", stacks_dir()); }),
            "unknown stack 'vllm-0.9' (did you mean: vllm-0.6, vllm-0.8?)");
}

// --- The command line ----------------------------------------------------------------------------

TEST(StackCli, ListAndShow) {
  const auto list = testing::run_xpusim("stack list");
  EXPECT_EQ(list.status, 0) << list.err;
  EXPECT_NE(list.out.find("megatron-bridge-25.11"), std::string::npos);
  EXPECT_NE(list.out.find("sglang-0.4"), std::string::npos);

  const auto show = testing::run_xpusim("stack show vllm-0.8 --format json");
  ASSERT_EQ(show.status, 0) << show.err;
  const auto json = nlohmann::json::parse(show.out);
  EXPECT_EQ(json["kind"], "serving");
  EXPECT_EQ(json["serving"]["max_num_batched_tokens"], 2048);
  EXPECT_EQ(json["kernels"]["attention"]["nvidia_hopper"], "flash3");

  const auto text = testing::run_xpusim("stack show nemo-24.07");
  EXPECT_EQ(text.status, 0);
  EXPECT_NE(text.out.find("training.data_parallel.bucket_bytes"), std::string::npos);

  const auto bad = testing::run_xpusim("stack show vllm-0.9");
  EXPECT_EQ(bad.status, 2);
  EXPECT_EQ(bad.err, "xpusim: unknown stack 'vllm-0.9' (did you mean: vllm-0.6, vllm-0.8?)\n");
}

}  // namespace
}  // namespace xpusim
