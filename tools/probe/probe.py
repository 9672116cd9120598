#!/usr/bin/env python3
"""Kernel-level and end-to-end measurements of the GPU this runs on, as xpusim's probe JSON.

Uses only what a GPU machine has (PyTorch with CUDA; Triton and JAX are only asked for their
versions), no network. Every section runs under its own time cap inside a global budget and
records an error string instead of aborting. Output format: tools/probe/README.md
("xpusim-probe/1"); `xpusim calibrate FILE.json` turns it into the `efficiency:` figures of a
hardware YAML.

    python3 tools/probe/probe.py --out data/measurements/h200/h200-$(date +%F).json

`--smoke` runs every section with tiny shapes (also on a CPU) to check the plumbing; its output
says so (settings.smoke = true) and is not a measurement of anything.
"""

import argparse
import datetime
import glob
import json
import math
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
import traceback

SCHEMA = "xpusim-probe/1"

# The catalog models whose projections give the GEMM grid's N and K, and the MoE models whose
# experts give the grouped GEMMs (read from data/models/*.json).
GEMM_MODELS = ["llama-3.1-8b", "llama-3.1-70b"]
MOE_MODELS = ["mixtral-8x7b", "qwen3-30b-a3b"]
E2E_BASE_MODEL = "llama-3.1-8b"

# Per-section caps in seconds; their sum stays inside the default budget of 7 minutes, so that a
# run with start-up fits the 8 minutes the issue allows.
SECTION_CAPS_S = {
    "gemm": 110.0,
    "grouped_gemm": 35.0,
    "memory": 20.0,
    "attention": 70.0,
    "decode_attention": 30.0,
    "elementwise": 25.0,
    "launch": 10.0,
    "train_step": 60.0,
    "decode_loop": 45.0,
}


class Budget:
    """The global deadline and the current section's."""

    def __init__(self, total_s):
        self.start = time.monotonic()
        self.deadline = self.start + total_s
        self.section_deadline = self.deadline

    def open_section(self, cap_s):
        self.section_deadline = min(self.deadline, time.monotonic() + cap_s)

    def left(self):
        return self.section_deadline - time.monotonic()

    def expired(self):
        return self.left() <= 0.0

    def elapsed(self):
        return time.monotonic() - self.start


class OutOfTime(Exception):
    pass


class Probe:
    def __init__(self, torch, device, budget, smoke, seed):
        self.torch = torch
        self.device = device
        self.cuda = device.type == "cuda"
        self.budget = budget
        self.smoke = smoke
        self.generator = torch.Generator(device=device)
        self.generator.manual_seed(seed)
        self.section = ""

    # ----------------------------------------------------------------------------- data
    def randn(self, *shape, dtype=None, scale=1.0):
        t = self.torch.randn(*shape, device=self.device, dtype=self.torch.float32,
                             generator=self.generator)
        if scale != 1.0:
            t.mul_(scale)
        return t.to(dtype) if dtype is not None else t

    def sync(self):
        if self.cuda:
            self.torch.cuda.synchronize()

    # --------------------------------------------------------------------------- timing
    def _time_once(self, fn, calls):
        if self.cuda:
            start = self.torch.cuda.Event(enable_timing=True)
            end = self.torch.cuda.Event(enable_timing=True)
            start.record()
            for _ in range(calls):
                fn()
            end.record()
            end.synchronize()
            return start.elapsed_time(end) * 1e-3
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        return time.perf_counter() - t0

    def _capture(self, fn, calls):
        """A CUDA graph of `calls` back-to-back calls, or None where capture fails."""
        if not self.cuda:
            return None
        torch = self.torch
        try:
            stream = torch.cuda.Stream()
            stream.wait_stream(torch.cuda.current_stream())
            with torch.cuda.stream(stream):
                for _ in range(2):
                    fn()
            torch.cuda.current_stream().wait_stream(stream)
            graph = torch.cuda.CUDAGraph()
            with torch.cuda.graph(graph):
                for _ in range(calls):
                    fn()
            graph.replay()
            self.sync()
            return graph
        except Exception:  # noqa: BLE001 - any capture failure falls back to eager timing
            self.sync()
            return None

    def measure(self, fn, graph_ok=True, min_sample_s=2e-4, target_s=0.25, max_repeats=50):
        """Median, p10 and p90 of the GPU time of one call of `fn`, by CUDA events.

        Short kernels are timed as a sample of several back-to-back calls (inside a CUDA graph
        where capture works, so that the host's launch rate does not set the time), divided by
        the calls per sample."""
        if self.budget.expired():
            raise OutOfTime()
        for _ in range(2):
            fn()
        self.sync()
        first = max(self._time_once(fn, 1), 1e-7)
        calls = 1
        if first < min_sample_s:
            calls = min(200, int(math.ceil(min_sample_s / first)))
        graph = self._capture(fn, calls) if (graph_ok and calls > 1) else None
        timing = "cuda_graph" if graph is not None else ("eager" if self.cuda else "wall")
        sample_fn = (lambda: graph.replay()) if graph is not None else None
        repeats = int(max(5, min(max_repeats, target_s / (first * calls))))
        if self.smoke:
            repeats = min(repeats, 5)
        samples = []
        for _ in range(repeats):
            if sample_fn is not None:
                samples.append(self._time_once(sample_fn, 1) / calls)
            else:
                samples.append(self._time_once(fn, calls) / calls)
            if self.budget.expired() and len(samples) >= 3:
                break
        samples.sort()
        del graph
        return {
            "time_s": statistics.median(samples),
            "p10_s": quantile(samples, 0.1),
            "p90_s": quantile(samples, 0.9),
            "repeats": len(samples),
            "calls_per_sample": calls,
            "timing": timing,
        }


def quantile(sorted_samples, q):
    if len(sorted_samples) == 1:
        return sorted_samples[0]
    pos = q * (len(sorted_samples) - 1)
    lo = int(math.floor(pos))
    hi = min(lo + 1, len(sorted_samples) - 1)
    return sorted_samples[lo] + (sorted_samples[hi] - sorted_samples[lo]) * (pos - lo)


def record(op, dtype, impl, shape, timed, flops, bytes_moved, label=None):
    t = timed["time_s"]
    out = {
        "op": op,
        "label": label,
        "dtype": dtype,
        "impl": impl,
        "shape": shape,
        "flops": float(flops),
        "bytes": float(bytes_moved),
        "achieved_flops_per_s": float(flops) / t if flops > 0 else None,
        "achieved_bytes_per_s": float(bytes_moved) / t if bytes_moved > 0 else None,
    }
    out.update(timed)
    return out


# ------------------------------------------------------------------------------- model configs
def load_model_configs(data_dir):
    configs = {}
    for path in sorted(glob.glob(os.path.join(data_dir, "models", "*.json"))):
        with open(path, encoding="utf-8") as f:
            configs[os.path.splitext(os.path.basename(path))[0]] = json.load(f)
    return configs


def projections(cfg):
    """(label, N, K) of the attention and dense-MLP GEMMs of a Llama-like config.json."""
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg.get("num_key_value_heads", heads)
    hd = cfg.get("head_dim") or h // heads
    ffn = cfg["intermediate_size"]
    return [("qkv", (heads + 2 * kv) * hd, h), ("o", h, heads * hd), ("up", 2 * ffn, h),
            ("down", h, ffn)]


def experts(cfg):
    """(label, experts, top_k, N, K) of the routed experts' up and down GEMMs."""
    h = cfg["hidden_size"]
    n = cfg.get("num_local_experts") or cfg.get("num_experts") or cfg.get("n_routed_experts")
    k = cfg.get("num_experts_per_tok")
    ffn = cfg.get("moe_intermediate_size") or cfg["intermediate_size"]
    return [("experts_up", n, k, 2 * ffn, h), ("experts_down", n, k, h, ffn)]


# ----------------------------------------------------------------------------------- sections
def section_gemm(p, ctx):
    torch = p.torch
    results, errors, notes = [], [], []
    ms = [16, 256, 2048] if p.smoke else [1, 16, 64, 256, 1024, 4096, 16384]
    shapes = []
    for model in GEMM_MODELS:
        cfg = ctx["models"].get(model)
        if cfg is None:
            errors.append(f"data/models/{model}.json not found")
            continue
        for proj, n, k in projections(cfg):
            if p.smoke:
                n, k = min(n, 512), min(k, 512)
            for m in ms:
                shapes.append((f"{model} {proj}", m, n, k))
    square = [256] if p.smoke else [4096, 8192]
    for s in square:
        shapes.append((f"square {s}", s, s, s))
    big = [(label, m, n, k) for (label, m, n, k) in shapes if m >= (256 if p.smoke else 4096)]

    def bf16(m, n, k, dtype=torch.bfloat16):
        a = p.randn(m, k, dtype=dtype)
        b = p.randn(k, n, dtype=dtype)
        return lambda: torch.matmul(a, b)

    def fp8_operands(m, n, k):
        a = p.randn(m, k).to(torch.float8_e4m3fn)
        b = p.randn(n, k).to(torch.float8_e4m3fn).t()  # column-major, as cuBLASLt wants
        return a, b

    def fp8_tensorwise(m, n, k):
        a, b = fp8_operands(m, n, k)
        one = torch.ones((), device=p.device, dtype=torch.float32)
        return lambda: torch._scaled_mm(a, b, scale_a=one, scale_b=one, out_dtype=torch.bfloat16)

    def fp8_rowwise(m, n, k):
        a, b = fp8_operands(m, n, k)
        sa = torch.rand(m, 1, device=p.device, dtype=torch.float32) + 0.5
        sb = torch.rand(1, n, device=p.device, dtype=torch.float32) + 0.5
        return lambda: torch._scaled_mm(a, b, scale_a=sa, scale_b=sb, out_dtype=torch.bfloat16)

    def fp8_blockwise(m, n, k):
        # DeepSeek-V3 style: activations 1x128 blocks, weights 128x128 blocks (PyTorch >= 2.9
        # on sm90 recognises these scale shapes; older versions raise, which is recorded).
        a, b = fp8_operands(m, n, k)
        sa = (torch.rand(k // 128, m, device=p.device, dtype=torch.float32) + 0.5).t()
        sb = torch.rand(n // 128, k // 128, device=p.device, dtype=torch.float32) + 0.5
        return lambda: torch._scaled_mm(a, b, scale_a=sa, scale_b=sb.t(),
                                        out_dtype=torch.bfloat16)

    def int8(m, n, k):
        a = torch.randint(-64, 64, (m, k), device=p.device, dtype=torch.int8)
        b = torch.randint(-64, 64, (n, k), device=p.device, dtype=torch.int8).t()
        return lambda: torch._int_mm(a, b)

    def tf32(m, n, k):
        a = p.randn(m, k)
        b = p.randn(k, n)
        return lambda: torch.matmul(a, b)

    torch.backends.cuda.matmul.allow_tf32 = True
    # (kind, builder, impl, shapes, operand bytes, output bytes)
    kinds = [("bf16", bf16, "torch.matmul", shapes, 2, 2)]
    if hasattr(torch, "_scaled_mm") and hasattr(torch, "float8_e4m3fn") and p.cuda:
        kinds.append(("fp8", fp8_tensorwise, "torch._scaled_mm tensorwise scales", shapes, 1, 2))
        kinds.append(("fp8_rowwise", fp8_rowwise, "torch._scaled_mm rowwise scales", big, 1, 2))
        kinds.append(("fp8_blockwise", fp8_blockwise,
                      "torch._scaled_mm 1x128 activation / 128x128 weight block scales", big, 1, 2))
    else:
        notes.append("torch._scaled_mm or float8_e4m3fn absent: no fp8 GEMMs")
    kinds.append(("fp16", lambda m, n, k: bf16(m, n, k, torch.float16), "torch.matmul", big, 2, 2))
    if hasattr(torch, "_int_mm") and p.cuda:
        kinds.append(("int8", int8, "torch._int_mm", [s for s in big if s[1] > 16], 1, 4))
    kinds.append(("tf32", tf32, "torch.matmul allow_tf32", big[:4], 4, 4))

    for kind, build, impl, grid, in_bytes, out_bytes in kinds:
        failures = 0
        for label, m, n, k in grid:
            if p.budget.expired():
                errors.append(f"{kind}: section time cap reached; later shapes not measured")
                break
            if failures >= 3:
                errors.append(f"{kind}: three failures in a row; kind skipped")
                break
            try:
                fn = build(m, n, k)
                timed = p.measure(fn)
                flops = 2.0 * m * n * k
                moved = in_bytes * (m * k + k * n) + out_bytes * m * n
                results.append(record("gemm", kind, impl, {"m": m, "n": n, "k": k}, timed, flops,
                                      moved, label=label))
                failures = 0
            except OutOfTime:
                errors.append(f"{kind}: section time cap reached")
                break
            except Exception as e:  # noqa: BLE001
                failures += 1
                errors.append(f"{kind} {label} m={m}: {one_line(e)}")
            finally:
                fn = None
                free(p)
    return results, errors, notes


def section_grouped_gemm(p, ctx):
    torch = p.torch
    results, errors, notes = [], [], []
    grouped = getattr(torch, "_grouped_mm", None)
    notes.append("torch._grouped_mm present" if grouped is not None else
                 "torch._grouped_mm absent: grouped GEMMs timed as one torch.bmm over equal groups")
    rows_per_expert = [16, 128] if p.smoke else [16, 128, 512, 2048]
    for model in MOE_MODELS:
        cfg = ctx["models"].get(model)
        if cfg is None:
            errors.append(f"data/models/{model}.json not found")
            continue
        for label, n_experts, top_k, n, k in experts(cfg):
            if p.smoke:
                n_experts, n, k = min(n_experts, 4), min(n, 256), min(k, 256)
            for rows in rows_per_expert:
                if p.budget.expired():
                    errors.append("section time cap reached")
                    return results, errors, notes
                g = n_experts
                if g * rows * max(n, k) * 2 > 8e9:
                    continue
                shape = {"groups": g, "m": rows, "n": n, "k": k}
                flops = 2.0 * g * rows * n * k
                moved = 2.0 * g * (rows * k + k * n + rows * n)
                impls = []
                a = p.randn(g * rows, k, dtype=torch.bfloat16)
                b = p.randn(g, n, k, dtype=torch.bfloat16).transpose(-2, -1)  # per-group col-major
                if grouped is not None:
                    offs = torch.arange(1, g + 1, device=p.device, dtype=torch.int32) * rows
                    impls.append(("torch._grouped_mm",
                                  lambda a=a, b=b, offs=offs: grouped(a, b, offs=offs)))
                a3 = a.view(g, rows, k)
                impls.append(("torch.bmm", lambda a3=a3, b=b: torch.bmm(a3, b)))
                for impl, fn in impls:
                    try:
                        timed = p.measure(fn)
                        results.append(record("grouped_gemm", "bf16", impl, shape, timed, flops,
                                              moved, label=f"{model} {label}"))
                    except OutOfTime:
                        errors.append("section time cap reached")
                        return results, errors, notes
                    except Exception as e:  # noqa: BLE001
                        errors.append(f"{impl} {model} {label} rows={rows}: {one_line(e)}")
                impls = a = b = a3 = None
                free(p)
    return results, errors, notes


def section_memory(p, ctx):
    torch = p.torch
    results, errors = [], []
    sizes = [1 << 22] if p.smoke else [1 << 26, 1 << 28, 1 << 30]  # bf16... fp32 elements
    for elements in sizes:
        try:
            x = p.randn(elements)
            y = torch.empty_like(x)
            z = p.randn(elements)
            shape = {"elements": elements, "element_bytes": 4}
            timed = p.measure(lambda: y.copy_(x), graph_ok=False)
            results.append(record("copy", "fp32", "Tensor.copy_", shape, timed, 0, 8.0 * elements))
            timed = p.measure(lambda: torch.add(x, z, alpha=1.5, out=y), graph_ok=False)
            results.append(record("triad", "fp32", "torch.add(b, c, alpha=s, out=a)", shape,
                                  timed, 2.0 * elements, 12.0 * elements))
        except OutOfTime:
            errors.append("section time cap reached")
            break
        except Exception as e:  # noqa: BLE001
            errors.append(f"{elements} elements: {one_line(e)}")
        finally:
            x = y = z = None
            free(p)
    return results, errors, []


def sdpa_backends(torch):
    """{name: SDPBackend} of the fused backends this PyTorch can be told to use."""
    try:
        from torch.nn.attention import SDPBackend
    except ImportError:
        return {}
    names = {"flash": "FLASH_ATTENTION", "cudnn": "CUDNN_ATTENTION",
             "efficient": "EFFICIENT_ATTENTION"}
    return {n: getattr(SDPBackend, attr) for n, attr in names.items() if hasattr(SDPBackend, attr)}


def sdpa_default_choice(torch, q, k, v, causal, gqa=False):
    """The backend SDPA picks by itself for these inputs, by name, or None if not knowable."""
    try:
        from torch.nn.attention import SDPBackend
        kwargs = {"is_causal": causal}
        if gqa:
            kwargs["enable_gqa"] = True
        choice = torch._fused_sdp_choice(q, k, v, **kwargs)
        names = {int(SDPBackend.MATH): "math"}
        for n, attr in (("flash", "FLASH_ATTENTION"), ("efficient", "EFFICIENT_ATTENTION"),
                        ("cudnn", "CUDNN_ATTENTION")):
            if hasattr(SDPBackend, attr):
                names[int(getattr(SDPBackend, attr))] = n
        return names.get(int(choice), f"backend {int(choice)}")
    except Exception:  # noqa: BLE001
        return None


def attention_flops(batch, heads, seq, head_dim, causal):
    """xpusim's convention: 2 heads (d_qk + d_v) x attended pairs; causal attends s(s+1)/2."""
    pairs = seq * (seq + 1) / 2.0 if causal else float(seq * seq)
    return 2.0 * batch * heads * 2 * head_dim * pairs


def section_attention(p, ctx):
    torch = p.torch
    F = torch.nn.functional
    results, errors, notes = [], [], []
    backends = sdpa_backends(torch)
    if not backends:
        notes.append("torch.nn.attention.SDPBackend absent: only SDPA's own choice is timed")
    fa3 = fa2 = None
    try:
        import flash_attn_interface  # FlashAttention-3 (Hopper)
        fa3 = flash_attn_interface.flash_attn_func
    except Exception:  # noqa: BLE001
        notes.append("flash_attn_interface (FlashAttention-3) not installed")
    try:
        import flash_attn
        fa2 = flash_attn.flash_attn_func
    except Exception:  # noqa: BLE001
        notes.append("flash_attn (FlashAttention-2 package) not installed")
    tokens = 1024 if p.smoke else 16384
    seqs = [256, 512] if p.smoke else [512, 1024, 2048, 4096, 8192, 16384]
    head_dims = [64] if p.smoke else [128, 64, 256]
    width = 256 if p.smoke else 4096  # heads x head_dim, as in a Llama-8B layer
    for head_dim in head_dims:
        heads = max(1, width // head_dim)
        for seq in seqs:
            batch = max(1, tokens // seq)
            shape = {"batch": batch, "heads": heads, "kv_heads": heads, "seq_len": seq,
                     "head_dim": head_dim, "causal": 1}
            fwd_flops = attention_flops(batch, heads, seq, head_dim, True)
            io_bytes = 4.0 * batch * seq * heads * head_dim * 2
            try:
                q, k, v = (p.randn(batch, heads, seq, head_dim, dtype=torch.bfloat16)
                           .requires_grad_(True) for _ in range(3))
            except Exception as e:  # noqa: BLE001
                errors.append(f"seq {seq} head_dim {head_dim}: {one_line(e)}")
                continue
            grad_out = p.randn(batch, heads, seq, head_dim, dtype=torch.bfloat16)
            chosen = sdpa_default_choice(torch, q, k, v, True)
            runs = [("default", f"sdpa:{chosen}" if chosen else "sdpa:default", None)]
            for name, backend in backends.items():
                runs.append(("forced", f"sdpa:{name}", backend))
            for label, impl, backend in runs:
                if p.budget.expired():
                    errors.append("section time cap reached")
                    return results, errors, notes
                try:
                    ctx_mgr = (torch.nn.attention.sdpa_kernel([backend]) if backend is not None
                               else _null())
                    with ctx_mgr:
                        fwd = lambda: F.scaled_dot_product_attention(q, k, v, is_causal=True)
                        timed = p.measure(fwd, graph_ok=False)
                        results.append(record("attention_forward", "bf16", impl, shape, timed,
                                              fwd_flops, io_bytes, label=label))
                        out = fwd()
                        bwd = lambda: torch.autograd.grad(out, (q, k, v), grad_out,
                                                          retain_graph=True)
                        timed = p.measure(bwd, graph_ok=False)
                        results.append(record("attention_backward", "bf16", impl, shape, timed,
                                              2.5 * fwd_flops, 2.0 * io_bytes, label=label))
                        out = None
                except OutOfTime:
                    errors.append("section time cap reached")
                    return results, errors, notes
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{impl} seq {seq} head_dim {head_dim}: {one_line(e)}")
                free(p)
            for impl, func in (("flash_attn_3", fa3), ("flash_attn_2", fa2)):
                if func is None or head_dim > 256:
                    continue
                try:
                    qt, kt, vt = (x.detach().transpose(1, 2).contiguous().requires_grad_(True)
                                  for x in (q, k, v))
                    got = lambda: _first(func(qt, kt, vt, causal=True))
                    timed = p.measure(got, graph_ok=False)
                    results.append(record("attention_forward", "bf16", impl, shape, timed,
                                          fwd_flops, io_bytes, label="forced"))
                    out = got()
                    g = grad_out.transpose(1, 2).contiguous()
                    bwd = lambda: torch.autograd.grad(out, (qt, kt, vt), g, retain_graph=True)
                    timed = p.measure(bwd, graph_ok=False)
                    results.append(record("attention_backward", "bf16", impl, shape, timed,
                                          2.5 * fwd_flops, 2.0 * io_bytes, label="forced"))
                    out = None
                except OutOfTime:
                    errors.append("section time cap reached")
                    return results, errors, notes
                except Exception as e:  # noqa: BLE001
                    errors.append(f"{impl} seq {seq} head_dim {head_dim}: {one_line(e)}")
            q = k = v = grad_out = None
            free(p)
    return results, errors, notes


def section_decode_attention(p, ctx):
    torch = p.torch
    F = torch.nn.functional
    results, errors, notes = [], [], []
    cfg = ctx["models"].get(E2E_BASE_MODEL, {})
    heads = cfg.get("num_attention_heads", 32)
    kv_heads = cfg.get("num_key_value_heads", 8)
    head_dim = cfg.get("head_dim") or cfg.get("hidden_size", 4096) // heads
    if p.smoke:
        heads, kv_heads, head_dim = 4, 2, 64
    batches = [1, 8] if p.smoke else [1, 8, 32, 128]
    contexts = [256] if p.smoke else [1024, 4096, 16384, 32768]
    for batch in batches:
        for context in contexts:
            kv_bytes = 2.0 * batch * kv_heads * context * head_dim * 2
            if kv_bytes > 24e9:
                continue
            if p.budget.expired():
                errors.append("section time cap reached")
                return results, errors, notes
            try:
                q = p.randn(batch, heads, 1, head_dim, dtype=torch.bfloat16)
                k = p.randn(batch, kv_heads, context, head_dim, dtype=torch.bfloat16)
                v = p.randn(batch, kv_heads, context, head_dim, dtype=torch.bfloat16)
                try:
                    F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                    fn = lambda: F.scaled_dot_product_attention(q, k, v, enable_gqa=True)
                    chosen = sdpa_default_choice(torch, q, k, v, False, gqa=True)
                    used_kv = kv_heads
                except TypeError:
                    k = k.repeat_interleave(heads // kv_heads, dim=1)
                    v = v.repeat_interleave(heads // kv_heads, dim=1)
                    fn = lambda: F.scaled_dot_product_attention(q, k, v)
                    chosen = sdpa_default_choice(torch, q, k, v, False)
                    used_kv = heads
                    notes.append("SDPA has no enable_gqa: keys/values expanded to every head")
                shape = {"batch": batch, "heads": heads, "kv_heads": used_kv, "context": context,
                         "head_dim": head_dim}
                flops = 2.0 * batch * heads * 2 * head_dim * context
                moved = 2.0 * batch * used_kv * context * head_dim * 2 + 4.0 * batch * heads * head_dim
                timed = p.measure(fn)
                results.append(record("decode_attention", "bf16",
                                      f"sdpa:{chosen}" if chosen else "sdpa:default", shape, timed,
                                      flops, moved, label="default"))
            except OutOfTime:
                errors.append("section time cap reached")
                return results, errors, notes
            except Exception as e:  # noqa: BLE001
                errors.append(f"batch {batch} context {context}: {one_line(e)}")
            finally:
                q = k = v = fn = None
                free(p)
    return results, errors, sorted(set(notes))


def section_elementwise(p, ctx):
    torch = p.torch
    F = torch.nn.functional
    results, errors, notes = [], [], []
    bf = torch.bfloat16
    tokens = 1024 if p.smoke else 16384
    hidden = 256 if p.smoke else 4096
    ffn = 512 if p.smoke else 14336
    vocab = 1000 if p.smoke else 128256
    ce_tokens = 256 if p.smoke else 4096
    head_dim = 64 if p.smoke else 128
    e = 2  # bf16 bytes

    def rms_norm_impl():
        if hasattr(F, "rms_norm"):
            return "torch.nn.functional.rms_norm", lambda x, w: F.rms_norm(x, (x.shape[-1],), w)
        return "pure torch (pow, mean, rsqrt, mul)", lambda x, w: (
            x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + 1e-5).to(x.dtype) * w)

    def rotate(x, cos, sin):
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    cases = []
    try:
        x = p.randn(tokens, hidden, dtype=bf)
        w = p.randn(hidden, dtype=bf)
        b = p.randn(hidden, dtype=bf)
        impl, rms = rms_norm_impl()
        cases.append(("rms_norm", impl, {"tokens": tokens, "width": hidden}, lambda: rms(x, w),
                      2.0 * tokens * hidden * e, 4.0 * tokens * hidden))
        cases.append(("layer_norm", "torch.nn.functional.layer_norm",
                      {"tokens": tokens, "width": hidden},
                      lambda: F.layer_norm(x, (hidden,), w, b), 2.0 * tokens * hidden * e,
                      8.0 * tokens * hidden))
        cases.append(("softmax", "torch.softmax", {"tokens": tokens, "width": hidden},
                      lambda: torch.softmax(x, dim=-1), 2.0 * tokens * hidden * e,
                      5.0 * tokens * hidden))
        heads = hidden // head_dim
        qh = p.randn(tokens, heads, head_dim, dtype=bf)
        cos = p.randn(tokens, 1, head_dim, dtype=bf)
        sin = p.randn(tokens, 1, head_dim, dtype=bf)
        cases.append(("rotary", "pure torch (chunk, cat, mul, add)",
                      {"tokens": tokens, "width": hidden}, lambda: rotate(qh, cos, sin),
                      2.0 * tokens * hidden * e, 3.0 * tokens * hidden))
        gate = p.randn(tokens, ffn, dtype=bf)
        up = p.randn(tokens, ffn, dtype=bf)
        cases.append(("silu_mul", "torch.nn.functional.silu(gate) * up",
                      {"tokens": tokens, "width": ffn}, lambda: F.silu(gate) * up,
                      3.0 * tokens * ffn * e, 8.0 * tokens * ffn))
        logits = p.randn(ce_tokens, vocab, dtype=bf)
        target = torch.randint(0, vocab, (ce_tokens,), device=p.device, generator=p.generator)
        cases.append(("cross_entropy", "torch.nn.functional.cross_entropy (bf16 logits)",
                      {"tokens": ce_tokens, "width": vocab},
                      lambda: F.cross_entropy(logits, target), 1.0 * ce_tokens * vocab * e,
                      5.0 * ce_tokens * vocab))
    except Exception as ex:  # noqa: BLE001
        errors.append(f"setup: {one_line(ex)}")
    for op, impl, shape, fn, moved, flops in cases:
        try:
            timed = p.measure(fn)
            results.append(record(op, "bf16", impl, shape, timed, flops, moved))
        except OutOfTime:
            errors.append("section time cap reached")
            break
        except Exception as ex:  # noqa: BLE001
            errors.append(f"{op}: {one_line(ex)}")
    notes.append("bytes: each input read once and each output written once (the fused minimum); "
                 "several-kernel implementations move more")
    cases = None
    free(p)
    return results, errors, notes


def section_launch(p, ctx):
    torch = p.torch
    results, errors, notes = [], [], []
    x = torch.zeros(1, device=p.device)
    kernels = 100 if p.smoke else 1000
    step = lambda: x.add_(1.0)
    shape = {"kernels": kernels}
    try:
        eager = p.measure(lambda: [step() for _ in range(kernels)], graph_ok=False,
                          max_repeats=20)
        eager = per_kernel(eager, kernels)
        results.append(record("launch", "fp32", "eager", shape, eager, 0, 0,
                              label="back-to-back 1-element add_, GPU time per kernel"))
    except Exception as ex:  # noqa: BLE001
        errors.append(f"eager: {one_line(ex)}")
    graph = p._capture(step, kernels)
    if graph is not None:
        try:
            timed = p.measure(lambda: graph.replay(), graph_ok=False, max_repeats=20)
            results.append(record("launch", "fp32", "cuda_graph", shape, per_kernel(timed, kernels),
                                  0, 0, label="1-element add_ replayed from a CUDA graph, per kernel"))
        except Exception as ex:  # noqa: BLE001
            errors.append(f"cuda_graph: {one_line(ex)}")
    else:
        notes.append("no CUDA graph (capture failed or no CUDA device)")
    try:  # one kernel and a synchronize, host wall time: the round trip a decode step pays
        samples = []
        for _ in range(5 if p.smoke else 200):
            t0 = time.perf_counter()
            step()
            p.sync()
            samples.append(time.perf_counter() - t0)
        samples.sort()
        timed = {"time_s": statistics.median(samples), "p10_s": quantile(samples, 0.1),
                 "p90_s": quantile(samples, 0.9), "repeats": len(samples),
                 "calls_per_sample": 1, "timing": "wall"}
        results.append(record("launch", "fp32", "eager_synchronize", {"kernels": 1}, timed, 0, 0,
                              label="one add_ then torch.cuda.synchronize, host wall time"))
    except Exception as ex:  # noqa: BLE001
        errors.append(f"synchronize: {one_line(ex)}")
    return results, errors, notes


def per_kernel(timed, kernels):
    out = dict(timed)
    for key in ("time_s", "p10_s", "p90_s"):
        out[key] = timed[key] / kernels
    out["calls_per_sample"] = timed["calls_per_sample"] * kernels
    return out


# ------------------------------------------------------------------------- end-to-end model
def e2e_config(ctx, p):
    """The catalog's Llama-3.1-8B config.json with fewer layers (and, for --smoke, tiny)."""
    cfg = dict(ctx["models"][E2E_BASE_MODEL])
    cfg["num_hidden_layers"] = 4
    if p.smoke:
        cfg.update({"hidden_size": 128, "num_attention_heads": 4, "num_key_value_heads": 2,
                    "intermediate_size": 256, "vocab_size": 1000, "num_hidden_layers": 2})
    cfg.pop("rope_scaling", None)  # rotary frequencies do not change the work
    return cfg


def build_llama(torch, cfg, device, dtype):
    """A Llama-style decoder in plain PyTorch: fused QKV and gate/up GEMMs (as xpusim lowers
    them), RMSNorm, rotary, SDPA with grouped-query attention, SiLU-gated MLP, untied LM head."""
    nn = torch.nn
    F = torch.nn.functional
    h = cfg["hidden_size"]
    heads = cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or h // heads
    ffn = cfg["intermediate_size"]
    eps = cfg.get("rms_norm_eps", 1e-5)
    theta = cfg.get("rope_theta", 10000.0)

    def rms(x, w):
        if hasattr(F, "rms_norm"):
            return F.rms_norm(x, (h,), w, eps)
        return x * torch.rsqrt(x.float().pow(2).mean(-1, keepdim=True) + eps).to(x.dtype) * w

    def rotate(x, cos, sin):
        x1, x2 = x.chunk(2, dim=-1)
        return x * cos + torch.cat((-x2, x1), dim=-1) * sin

    def attend(q, k, v, causal):
        try:
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal, enable_gqa=True)
        except TypeError:
            k = k.repeat_interleave(heads // kv, dim=1)
            v = v.repeat_interleave(heads // kv, dim=1)
            return F.scaled_dot_product_attention(q, k, v, is_causal=causal)

    class Layer(nn.Module):
        def __init__(self):
            super().__init__()
            self.norm1 = nn.Parameter(torch.ones(h))
            self.qkv = nn.Linear(h, (heads + 2 * kv) * hd, bias=False)
            self.o = nn.Linear(heads * hd, h, bias=False)
            self.norm2 = nn.Parameter(torch.ones(h))
            self.gate_up = nn.Linear(h, 2 * ffn, bias=False)
            self.down = nn.Linear(ffn, h, bias=False)

        def forward(self, x, cos, sin, cache=None, pos=None):
            b, s, _ = x.shape
            qkv = self.qkv(rms(x, self.norm1))
            q, k, v = qkv.split([heads * hd, kv * hd, kv * hd], dim=-1)
            q = rotate(q.view(b, s, heads, hd), cos, sin).transpose(1, 2)
            k = rotate(k.view(b, s, kv, hd), cos, sin).transpose(1, 2)
            v = v.view(b, s, kv, hd).transpose(1, 2)
            if cache is not None:
                kc, vc = cache
                kc[:, :, pos:pos + s] = k
                vc[:, :, pos:pos + s] = v
                k, v = kc[:, :, :pos + s], vc[:, :, :pos + s]
            a = attend(q, k, v, causal=s > 1)
            x = x + self.o(a.transpose(1, 2).reshape(b, s, heads * hd))
            g, u = self.gate_up(rms(x, self.norm2)).chunk(2, dim=-1)
            return x + self.down(F.silu(g) * u)

    class Llama(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(cfg["vocab_size"], h)
            self.layers = nn.ModuleList(Layer() for _ in range(cfg["num_hidden_layers"]))
            self.norm = nn.Parameter(torch.ones(h))
            self.head = nn.Linear(h, cfg["vocab_size"], bias=False)
            inv = 1.0 / theta ** (torch.arange(0, hd, 2, dtype=torch.float32) / hd)
            self.max_pos = 32768
            t = torch.arange(self.max_pos, dtype=torch.float32)
            freqs = torch.outer(t, inv)
            emb = torch.cat((freqs, freqs), dim=-1)
            self.register_buffer("cos", emb.cos()[:, None, :], persistent=False)
            self.register_buffer("sin", emb.sin()[:, None, :], persistent=False)

        def forward(self, tokens, caches=None, pos=0):
            s = tokens.shape[1]
            x = self.embed(tokens)
            cos = self.cos[pos:pos + s].to(x.dtype)
            sin = self.sin[pos:pos + s].to(x.dtype)
            for i, layer in enumerate(self.layers):
                x = layer(x, cos, sin, None if caches is None else caches[i], pos)
            return self.head(rms(x, self.norm))

    model = Llama().to(device=device, dtype=dtype)
    with torch.no_grad():
        for prm in model.parameters():
            if prm.dim() >= 2:
                prm.normal_(0.0, 0.02)
    return model


def section_train_step(p, ctx):
    torch = p.torch
    F = torch.nn.functional
    results, errors, notes = [], [], []
    cfg = e2e_config(ctx, p)
    batch, seq = (2, 128) if p.smoke else (2, 4096)
    model = build_llama(torch, cfg, p.device, torch.bfloat16)
    params = sum(x.numel() for x in model.parameters())
    try:
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5, fused=p.cuda)
        opt_impl = "torch.optim.AdamW(fused=True)" if p.cuda else "torch.optim.AdamW"
    except (TypeError, RuntimeError):
        opt = torch.optim.AdamW(model.parameters(), lr=1e-5)
        opt_impl = "torch.optim.AdamW"
    tokens = torch.randint(0, cfg["vocab_size"], (batch, seq + 1), device=p.device,
                           generator=p.generator)
    inputs, targets = tokens[:, :-1], tokens[:, 1:]

    def forward_backward():
        logits = model(inputs)
        loss = F.cross_entropy(logits.view(-1, logits.shape[-1]).float(), targets.reshape(-1))
        loss.backward()

    def step():
        forward_backward()
        opt.step()
        opt.zero_grad(set_to_none=False)

    shape = {"batch": batch, "seq_len": seq, "layers": cfg["num_hidden_layers"],
             "parameters": params}
    flops = 6.0 * params * batch * seq + 3.0 * attention_flops(
        batch, cfg["num_attention_heads"], seq,
        cfg.get("head_dim") or cfg["hidden_size"] // cfg["num_attention_heads"],
        True) * cfg["num_hidden_layers"]
    try:
        step()  # the optimizer allocates its states
        timed = p.measure(step, graph_ok=False, target_s=8.0, max_repeats=10)
        results.append(record("train_step", "bf16", f"eager; {opt_impl}", shape, timed, flops, 0,
                              label="forward + backward + optimizer step"))
        timed = p.measure(lambda: (forward_backward(), opt.zero_grad(set_to_none=False)),
                          graph_ok=False, target_s=6.0, max_repeats=10)
        results.append(record("train_forward_backward", "bf16", "eager", shape, timed, flops, 0,
                              label="forward + cross-entropy + backward (+ zero_grad)"))
        timed = p.measure(lambda: opt.step(), graph_ok=False, target_s=2.0, max_repeats=10)
        results.append(record("optimizer_step", "bf16", opt_impl, shape, timed, 0,
                              16.0 * params, label="bf16 parameters, gradients and Adam states"))
    except OutOfTime:
        errors.append("section time cap reached")
    except Exception as ex:  # noqa: BLE001
        errors.append(one_line(ex))
    notes.append("bf16 parameters, gradients and AdamW states (no fp32 master copy); loss on "
                 "every position in fp32; no activation recomputation; no torch.compile")
    del model, opt
    free(p)
    return results, errors, notes, cfg


def section_decode_loop(p, ctx):
    torch = p.torch
    results, errors, notes = [], [], []
    cfg = e2e_config(ctx, p)
    batch, prompt, generate = (2, 64, 8) if p.smoke else (16, 1024, 128)
    model = build_llama(torch, cfg, p.device, torch.bfloat16).eval()
    heads = cfg["num_attention_heads"]
    kv = cfg["num_key_value_heads"]
    hd = cfg.get("head_dim") or cfg["hidden_size"] // heads
    total = prompt + generate
    caches = [(torch.zeros(batch, kv, total, hd, device=p.device, dtype=torch.bfloat16),
               torch.zeros(batch, kv, total, hd, device=p.device, dtype=torch.bfloat16))
              for _ in range(cfg["num_hidden_layers"])]
    prompt_tokens = torch.randint(0, cfg["vocab_size"], (batch, prompt), device=p.device,
                                  generator=p.generator)
    token = torch.zeros(batch, 1, device=p.device, dtype=torch.long)
    shape = {"batch": batch, "prompt_len": prompt, "generated": generate,
             "layers": cfg["num_hidden_layers"]}

    def prefill():
        logits = model(prompt_tokens, caches, 0)
        token.copy_(logits[:, -1:].argmax(-1))

    def decode_all():
        for t in range(generate):
            logits = model(token, caches, prompt + t)
            token.copy_(logits[:, -1:].argmax(-1))

    try:
        with torch.no_grad():
            timed = p.measure(prefill, graph_ok=False, target_s=2.0, max_repeats=10)
            results.append(record("prefill", "bf16", "eager", shape, timed, 0, 0,
                                  label="prompt through the model, KV cache written, first token"))
            graph = p._capture(decode_all, 1)
            if graph is not None:
                timed = p.measure(lambda: graph.replay(), graph_ok=False, target_s=3.0,
                                  max_repeats=10)
                results.append(record("decode_step", "bf16", "cuda_graph", shape,
                                      per_kernel(timed, generate), 0, 0,
                                      label=f"{generate} greedy steps in one CUDA graph, per step"))
                graph = None
            else:
                notes.append("CUDA graph capture of the decode loop failed")
            timed = p.measure(decode_all, graph_ok=False, target_s=3.0, max_repeats=5)
            results.append(record("decode_step", "bf16", "eager", shape,
                                  per_kernel(timed, generate), 0, 0,
                                  label=f"{generate} greedy steps launched from Python, per step"))
    except OutOfTime:
        errors.append("section time cap reached")
    except Exception as ex:  # noqa: BLE001
        errors.append(one_line(ex))
    notes.append("static KV cache of prompt_len + generated positions; step t attends to "
                 "prompt_len + t + 1 keys; greedy argmax sampling on the device")
    del model, caches
    free(p)
    return results, errors, notes, cfg


# ---------------------------------------------------------------------------------- telemetry
class Telemetry:
    """Clocks, power and temperature, sampled about once a second (nvidia-smi or pynvml)."""

    def __init__(self, probe, smoke):
        self.probe = probe
        self.samples = []
        self.source = None
        self.error = None
        self.stop_event = threading.Event()
        self.start = time.monotonic()
        self.nvml = None
        try:
            import pynvml
            pynvml.nvmlInit()
            self.nvml = (pynvml, pynvml.nvmlDeviceGetHandleByIndex(
                probe.device.index if probe.device.index is not None else 0))
            self.source = "pynvml"
        except Exception:  # noqa: BLE001
            if shutil.which("nvidia-smi"):
                self.source = "nvidia-smi"
            else:
                self.error = "neither pynvml nor nvidia-smi available"
        self.thread = threading.Thread(target=self.run, daemon=True)
        if self.source:
            self.thread.start()

    def read(self):
        if self.nvml is not None:
            nv, handle = self.nvml
            return (nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_SM) * 1e6,
                    nv.nvmlDeviceGetClockInfo(handle, nv.NVML_CLOCK_MEM) * 1e6,
                    nv.nvmlDeviceGetPowerUsage(handle) / 1000.0,
                    float(nv.nvmlDeviceGetTemperature(handle, nv.NVML_TEMPERATURE_GPU)))
        index = self.probe.device.index or 0
        out = subprocess.run(
            ["nvidia-smi", f"--id={index}",
             "--query-gpu=clocks.sm,clocks.mem,power.draw,temperature.gpu",
             "--format=csv,noheader,nounits"], capture_output=True, text=True, timeout=5)
        fields = [f.strip() for f in out.stdout.strip().split(",")]
        values = [to_float(f) for f in fields[:4]] + [None] * (4 - len(fields[:4]))
        sm, mem, power, temp = values
        return (sm * 1e6 if sm else None, mem * 1e6 if mem else None, power, temp)

    def run(self):
        while not self.stop_event.is_set():
            try:
                sm, mem, power, temp = self.read()
                self.samples.append({"t_s": round(time.monotonic() - self.start, 3),
                                     "section": self.probe.section, "sm_clock_hz": sm,
                                     "memory_clock_hz": mem, "power_w": power,
                                     "temperature_c": temp})
            except Exception as ex:  # noqa: BLE001
                self.error = one_line(ex)
                return
            self.stop_event.wait(1.0)

    def finish(self):
        self.stop_event.set()
        if self.thread.is_alive():
            self.thread.join(timeout=6)
        return {"source": self.source, "error": self.error, "samples": self.samples}


def to_float(text):
    try:
        return float(text)
    except ValueError:
        return None


# -------------------------------------------------------------------------------- the driver
class _null:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False


def _first(x):
    return x[0] if isinstance(x, tuple) else x


def one_line(exc):
    text = f"{type(exc).__name__}: {exc}".replace("\n", " ")
    return text[:300]


def free(p):
    if p.cuda:
        p.torch.cuda.empty_cache()


def versions(torch):
    v = {"python": platform.python_version(), "torch": torch.__version__,
         "cuda": torch.version.cuda, "cudnn": None, "driver": None, "triton": None, "jax": None}
    try:
        cudnn = torch.backends.cudnn.version()
        v["cudnn"] = str(cudnn) if cudnn is not None else None
    except Exception:  # noqa: BLE001
        pass
    try:
        import triton
        v["triton"] = triton.__version__
    except Exception:  # noqa: BLE001
        pass
    try:
        import importlib.metadata
        v["jax"] = importlib.metadata.version("jax")  # without importing it (it would grab memory)
    except Exception:  # noqa: BLE001
        pass
    if shutil.which("nvidia-smi"):
        try:
            out = subprocess.run(["nvidia-smi", "--query-gpu=driver_version",
                                  "--format=csv,noheader"], capture_output=True, text=True,
                                 timeout=10)
            v["driver"] = out.stdout.strip().splitlines()[0] or None
        except Exception:  # noqa: BLE001
            pass
    return v


SECTIONS = [
    ("launch", section_launch),
    ("memory", section_memory),
    ("gemm", section_gemm),
    ("grouped_gemm", section_grouped_gemm),
    ("attention", section_attention),
    ("decode_attention", section_decode_attention),
    ("elementwise", section_elementwise),
    ("train_step", section_train_step),
    ("decode_loop", section_decode_loop),
]


def install_smoke_sdpa(torch):
    """--smoke on an old CPU PyTorch without SDPA: a plain-math stand-in, so that the sections
    that use it run (what they time then means nothing, as with everything --smoke times)."""
    F = torch.nn.functional
    if hasattr(F, "scaled_dot_product_attention"):
        return

    def sdpa(q, k, v, is_causal=False, enable_gqa=False):
        if k.shape[1] != q.shape[1]:
            k = k.repeat_interleave(q.shape[1] // k.shape[1], dim=1)
            v = v.repeat_interleave(q.shape[1] // v.shape[1], dim=1)
        s = (q.float() @ k.float().transpose(-2, -1)) / math.sqrt(q.shape[-1])
        if is_causal:
            n, m = s.shape[-2], s.shape[-1]
            mask = torch.ones(n, m, dtype=torch.bool, device=q.device).tril(m - n)
            s = s.masked_fill(~mask, float("-inf"))
        return (torch.softmax(s, dim=-1) @ v.float()).to(q.dtype)

    F.scaled_dot_product_attention = sdpa


def main(argv=None):
    here = os.path.dirname(os.path.abspath(__file__))
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", required=True, help="where to write the JSON")
    parser.add_argument("--data-dir", default=os.path.join(here, "..", "..", "data"),
                        help="xpusim's data/ (for models/*.json)")
    parser.add_argument("--budget-s", type=float, default=420.0,
                        help="global time budget (default 420 s)")
    parser.add_argument("--sections", default=",".join(n for n, _ in SECTIONS),
                        help="comma-separated subset of " + ",".join(n for n, _ in SECTIONS))
    parser.add_argument("--seed", type=int, default=20250101)
    parser.add_argument("--smoke", action="store_true",
                        help="tiny shapes, also on a CPU: checks the plumbing, measures nothing")
    args = parser.parse_args(argv)

    import torch

    if args.smoke:
        install_smoke_sdpa(torch)
    cuda = torch.cuda.is_available()
    if not cuda and not args.smoke:
        print("probe: no CUDA device (use --smoke to check the script on a CPU)", file=sys.stderr)
        return 2
    device = torch.device("cuda", torch.cuda.current_device()) if cuda else torch.device("cpu")
    budget = Budget(args.budget_s)
    p = Probe(torch, device, budget, args.smoke, args.seed)
    ctx = {"models": load_model_configs(args.data_dir)}
    wanted = [s for s in args.sections.split(",") if s]
    unknown = [s for s in wanted if s not in dict(SECTIONS)]
    if unknown:
        print(f"probe: unknown section(s) {unknown}", file=sys.stderr)
        return 2

    out = {
        "schema": SCHEMA,
        "synthetic": False,
        "date": datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds"),
        "device_name": torch.cuda.get_device_name(device) if cuda else platform.processor() or "cpu",
        "compute_capability": ("{}.{}".format(*torch.cuda.get_device_capability(device))
                               if cuda else None),
        "multiprocessors": (torch.cuda.get_device_properties(device).multi_processor_count
                            if cuda else None),
        "memory_bytes": (float(torch.cuda.get_device_properties(device).total_memory)
                         if cuda else None),
        "software": versions(torch),
        "settings": {"budget_s": args.budget_s, "seed": args.seed, "smoke": args.smoke,
                     "section_caps_s": {n: SECTION_CAPS_S[n] for n, _ in SECTIONS}},
        "sections": {},
    }
    telemetry = Telemetry(p, args.smoke)
    scale = args.budget_s / 420.0
    for name, run in SECTIONS:
        if name not in wanted:
            continue
        p.section = name
        entry = {"status": "ok", "error": None, "elapsed_s": 0.0, "notes": [], "errors": [],
                 "results": []}
        started = time.monotonic()
        if budget.deadline - started <= 1.0:
            entry["status"] = "skipped"
            entry["error"] = "global time budget spent"
        else:
            budget.open_section(SECTION_CAPS_S[name] * scale)
            try:
                got = run(p, ctx)
                entry["results"], entry["errors"], entry["notes"] = got[0], got[1], got[2]
                if len(got) > 3:
                    entry["model"] = got[3]
                if entry["errors"] and not entry["results"]:
                    entry["status"] = "error"
                    entry["error"] = entry["errors"][0]
            except Exception as ex:  # noqa: BLE001
                entry["status"] = "error"
                entry["error"] = one_line(ex)
                entry["errors"].append(traceback.format_exc(limit=3).replace("\n", " | ")[:600])
            free(p)
        entry["elapsed_s"] = round(time.monotonic() - started, 3)
        out["sections"][name] = entry
        print(f"probe: {name}: {entry['status']}, {len(entry['results'])} results, "
              f"{entry['elapsed_s']:.1f} s", file=sys.stderr, flush=True)
        write(args.out, out, telemetry, budget, final=False)
    p.section = ""
    write(args.out, out, telemetry, budget, final=True)
    return 0


def write(path, out, telemetry, budget, final):
    """Writes what exists so far, so that a killed run still leaves its finished sections."""
    doc = dict(out)
    doc["elapsed_s"] = round(budget.elapsed(), 3)
    doc["telemetry"] = telemetry.finish() if final else {
        "source": telemetry.source, "error": telemetry.error, "samples": list(telemetry.samples)}
    directory = os.path.dirname(os.path.abspath(path))
    os.makedirs(directory, exist_ok=True)
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(doc, f, indent=1, allow_nan=False)
        f.write("\n")
    os.replace(tmp, path)


if __name__ == "__main__":
    sys.exit(main())
