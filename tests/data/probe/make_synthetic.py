#!/usr/bin/env python3
"""Writes synthetic-h200.json: a SYNTHETIC probe file for xpusim's tests (no GPU was used).

GEMM times follow xpusim's gemm_cost for h200-sxm (132 units, 128x256 tiles) with chosen
figures, so that the tests can check that `calibrate` recovers them; every other time is made
up to be plausible. Nothing here is a measurement.
"""
import json, math, os

UNITS, TILE_M, TILE_N = 132, 128, 256
PEAK_BF16, PEAK_FP8, HBM = 989.4e12, 1978.9e12, 4.8e12
TRUTH = {"bf16": 0.75, "fp8": 0.62, "fixed_s": 4e-6, "overlap": 0.6, "overhead_s": 2e-6, "memory": 0.85}

def gemm_time(m, n, k, peak, frac, elem):
    tile_m = TILE_M if m >= TILE_M else max(16, 1 << (m - 1).bit_length())
    tiles = math.ceil(m / tile_m) * math.ceil(n / TILE_N)
    split = 1 if tiles >= UNITS else min(max(UNITS // tiles, 1), max(1, k // 256))
    waves = math.ceil(tiles * split / UNITS)
    c = waves * 2.0 * tile_m * TILE_N * math.ceil(k / split) / (peak * frac / UNITS)
    moved = elem * (k * n + m * (k + n)) if elem == 2 else k * n + m * k + 2 * m * n
    mem = moved / (HBM * TRUTH["memory"])
    return max(c, mem) + (1 - TRUTH["overlap"]) * min(c, mem) + TRUTH["overhead_s"] + TRUTH["fixed_s"], moved

def meas(op, dtype, impl, shape, t, flops, moved, label=None, timing="cuda_graph"):
    return {"op": op, "label": label, "dtype": dtype, "impl": impl, "shape": shape, "time_s": t,
            "p10_s": t * 0.98, "p90_s": t * 1.03, "repeats": 20, "calls_per_sample": 1,
            "timing": timing, "flops": flops, "bytes": moved,
            "achieved_flops_per_s": flops / t if flops > 0 else None,
            "achieved_bytes_per_s": moved / t if moved > 0 else None}

def section(results, model=None, notes=None):
    s = {"status": "ok", "error": None, "elapsed_s": 1.0, "notes": notes or ["synthetic"],
         "errors": [], "results": results}
    if model is not None:
        s["model"] = model
    return s

here = os.path.dirname(os.path.abspath(__file__))
gemm = []
for label, n, k in [("qkv", 6144, 4096), ("o", 4096, 4096), ("up", 28672, 4096), ("down", 4096, 14336)]:
    for m in [1, 16, 256, 4096, 16384]:
        t, moved = gemm_time(m, n, k, PEAK_BF16, TRUTH["bf16"], 2)
        gemm.append(meas("gemm", "bf16", "torch.matmul", {"m": m, "n": n, "k": k}, t, 2.0 * m * n * k, moved, "llama-3.1-8b " + label))
        if m >= 4096:
            t, moved = gemm_time(m, n, k, PEAK_FP8, TRUTH["fp8"], 1)
            gemm.append(meas("gemm", "fp8", "torch._scaled_mm tensorwise scales", {"m": m, "n": n, "k": k}, t, 2.0 * m * n * k, moved, "llama-3.1-8b " + label))
gemm.append(meas("gemm", "fp8_rowwise", "torch._scaled_mm rowwise scales", {"m": 8192, "n": 8192, "k": 8192}, 1.0e-3, 2.0 * 8192 ** 3, 3 * 8192 * 8192, "square 8192"))
mem = []
for op, per in (("copy", 8.0), ("triad", 12.0)):
    for elements in (1 << 26, 1 << 30):
        moved = per * elements
        mem.append(meas(op, "fp32", "synthetic", {"elements": elements, "element_bytes": 4}, moved / (HBM * TRUTH["memory"]), 0.0, moved, timing="eager"))
launch = [meas("launch", "fp32", "eager", {"kernels": 1000}, 4.5e-6, 0.0, 0.0, timing="eager"),
          meas("launch", "fp32", "cuda_graph", {"kernels": 1000}, TRUTH["overhead_s"], 0.0, 0.0)]
att = []
for impl, fwd_frac, bwd_frac in (("sdpa:flash", 0.55, 0.45), ("sdpa:cudnn", 0.62, 0.5), ("sdpa:efficient", 0.3, 0.25)):
    for seq in (4096, 8192):
        b = 16384 // seq
        shape = {"batch": b, "heads": 32, "kv_heads": 32, "seq_len": seq, "head_dim": 128, "causal": 1}
        f = 2.0 * b * 32 * 256 * seq * (seq + 1) / 2.0
        io = 4.0 * b * seq * 4096 * 2
        fixed = TRUTH["fixed_s"] + TRUTH["overhead_s"]
        att.append(meas("attention_forward", "bf16", impl, shape, f / (PEAK_BF16 * fwd_frac) + fixed, f, io, "forced", "eager"))
        att.append(meas("attention_backward", "bf16", impl, shape, 2.5 * f / (PEAK_BF16 * bwd_frac) + fixed, 2.5 * f, 2 * io, "forced", "eager"))
with open(os.path.join(here, "..", "..", "..", "data", "models", "llama-3.1-8b.json")) as fh:
    cfg = json.load(fh)
cfg["num_hidden_layers"] = 4
cfg.pop("rope_scaling")
train = [meas("train_step", "bf16", "synthetic", {"batch": 2, "seq_len": 4096, "layers": 4, "parameters": 1924214784}, 0.30, 0.0, 0.0, timing="eager"),
         meas("train_forward_backward", "bf16", "synthetic", {"batch": 2, "seq_len": 4096, "layers": 4, "parameters": 1924214784}, 0.27, 0.0, 0.0, timing="eager"),
         meas("optimizer_step", "bf16", "synthetic", {"batch": 2, "seq_len": 4096, "layers": 4, "parameters": 1924214784}, 0.012, 0.0, 0.0, timing="eager")]
dshape = {"batch": 16, "prompt_len": 1024, "generated": 128, "layers": 4}
decode = [meas("prefill", "bf16", "synthetic", dshape, 0.045, 0.0, 0.0, timing="eager"),
          meas("decode_step", "bf16", "cuda_graph", dshape, 0.0015, 0.0, 0.0),
          meas("decode_step", "bf16", "eager", dshape, 0.004, 0.0, 0.0, timing="eager")]
doc = {"schema": "xpusim-probe/1", "synthetic": True, "date": "2000-01-01T00:00:00+00:00",
       "device_name": "synthetic-test-fixture", "compute_capability": "9.0", "multiprocessors": 132,
       "memory_bytes": 150e9,
       "software": {"python": "synthetic", "torch": "synthetic", "cuda": None, "cudnn": None, "driver": None, "triton": None, "jax": None},
       "settings": {"budget_s": 420.0, "seed": 1, "smoke": False},
       "elapsed_s": 10.0,
       "telemetry": {"source": None, "error": "synthetic fixture: no telemetry", "samples": []},
       "sections": {"launch": section(launch), "memory": section(mem), "gemm": section(gemm),
                    "attention": section(att), "train_step": section(train, cfg),
                    "decode_loop": section(decode, cfg),
                    "grouped_gemm": {"status": "skipped", "error": "synthetic fixture", "elapsed_s": 0.0, "notes": [], "errors": [], "results": []}}}
with open(os.path.join(here, "synthetic-h200.json"), "w") as fh:
    json.dump(doc, fh, indent=1)
    fh.write("\n")
