#!/usr/bin/env python3
"""Sweeps the batch size of one inference estimate and prints a table.

    python3 examples/batch_sweep.py [--model llama-2-70b] [--hw h100-sxm] [--devices 8]

Needs the xpusim module (scripts/quickstart.sh installs it; or PYTHONPATH=build/python).
"""

import argparse

import xpusim


def sweep(model, hw, devices, batches):
    """One row per batch size that fits: latency, throughput and memory."""
    rows = []
    for batch in batches:
        r = xpusim.infer(model=model, hw=hw, devices=devices, batch=batch)
        if not r["fits"]:
            break
        rows.append({"batch": batch, "ttft_s": r["ttft_s"], "tpot_ms": r["tpot_s"] * 1e3,
                     "tokens_per_s": r["throughput_tokens_per_s"],
                     "gb_per_device": r["memory_per_device_bytes"] / 1e9})
    return rows


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", default="llama-2-70b")
    parser.add_argument("--hw", default="h100-sxm")
    parser.add_argument("--devices", type=int, default=8)
    args = parser.parse_args()
    rows = sweep(args.model, args.hw, args.devices, [2 ** k for k in range(10)])
    print(f"{args.model} on {args.devices} x {args.hw}")
    print(f"{'batch':>5}  {'TTFT s':>7}  {'TPOT ms':>7}  {'tokens/s':>9}  {'GB/device':>9}")
    for r in rows:
        print(f"{r['batch']:>5}  {r['ttft_s']:7.3f}  {r['tpot_ms']:7.1f}  {r['tokens_per_s']:9.0f}"
              f"  {r['gb_per_device']:9.1f}")


if __name__ == "__main__":
    main()
