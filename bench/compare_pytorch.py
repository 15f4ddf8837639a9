#!/usr/bin/env python3
"""revunet against its PyTorch twin, side by side in one run (run it through compare_pytorch.sh).

For every config, dtype and round, and every mode, `revunet bench unet` and
`python3 -m revunet_torch.bench` run one after the other (which side goes first alternates by
round, so drift of a shared machine hits both alike) with the same edge, batch 1, loss (BCE +
soft Dice, deep supervision), AdamW step, warm-up and repeats, threads, cuDNN autotuning on and
TF32 off on CUDA. Each side reports the median of its repeats; a row here takes the median over
rounds. The JSON has both sides' step times and peaks and their ratios.
"""

import argparse
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
SRC = os.path.dirname(HERE)


def run(cmd, env):
    print("+ " + " ".join(cmd), flush=True)
    subprocess.run(cmd, check=True, env=env)


def load(path):
    with open(path) as f:
        return json.load(f)


def side_summary(rows):
    """Rows of one side for one (config, dtype, edge, mode), one per round."""
    fitted = [r for r in rows if r.get("step_seconds") is not None]
    out = {"rounds": len(rows), "out_of_memory": any(r.get("out_of_memory") for r in rows)}
    if not fitted:
        return out
    out["step_seconds"] = statistics.median(r["step_seconds"] for r in fitted)
    out["step_seconds_per_round"] = [r["step_seconds"] for r in fitted]
    out["step_seconds_min"] = min(r["step_seconds_min"] for r in fitted)
    peaks = [r["peak_bytes"] for r in fitted if r.get("peak_bytes") is not None]
    if peaks:
        out["peak_bytes"] = max(peaks)
    return out


def ratio(a, b, key):
    if a and b and a.get(key) and b.get(key):
        return a[key] / b[key]
    return None


def main():
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--bin", default=os.path.join(SRC, "build", "revunet"))
    p.add_argument("--configs", default="configs/tiny.json,configs/unet4.json")
    p.add_argument("--edges", default="32", help="cube edges, comma-separated")
    p.add_argument("--device", default="cpu")
    p.add_argument("--dtypes", default="fp32", help="fp32 and/or bf16 (CUDA), comma-separated")
    p.add_argument("--modes", default="plain,checkpoint,reversible")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--rounds", type=int, default=2)
    p.add_argument("--threads", type=int, default=0, help="CPU threads of both sides (0: all)")
    p.add_argument("--out", required=True, help="the merged JSON")
    p.add_argument("--work", default=None,
                   help="keep each run's own JSON in this folder (default: a temporary one)")
    args = p.parse_args()

    temporary = None if args.work else tempfile.TemporaryDirectory(prefix="compare_pytorch_")
    work = args.work or temporary.name
    os.makedirs(work, exist_ok=True)
    env = dict(os.environ)
    env["PYTHONPATH"] = os.path.join(SRC, "python") + os.pathsep + env.get("PYTHONPATH", "")
    threads = args.threads or os.cpu_count()
    if args.device == "cpu":
        env["OMP_NUM_THREADS"] = str(threads)
    common = ["--device", args.device, "--edges", args.edges, "--warmup", str(args.warmup),
              "--repeats", str(args.repeats), "--threads", str(threads)]
    configs = args.configs.split(",")
    dtypes = args.dtypes.split(",")
    modes = args.modes.split(",")
    started = time.time()
    load_start = os.getloadavg()
    runs = []  # (config, dtype, round, mode, side, json path)
    for config in configs:
        name = os.path.splitext(os.path.basename(config))[0]
        for dtype in dtypes:
            for rnd in range(args.rounds):
                for mode in modes:
                    tag = f"{name}_{dtype}_r{rnd}_{mode}"
                    sides = {
                        "revunet": [args.bin, "bench", "unet", "--config", config, "--modes", mode,
                                    "--dtype", dtype, *common,
                                    "--json", os.path.join(work, f"revunet_{tag}.json")],
                        "twin": [sys.executable, "-m", "revunet_torch.bench", "--config", config,
                                 "--modes", mode, "--dtype", dtype, *common,
                                 "--json", os.path.join(work, f"twin_{tag}.json")],
                    }
                    order = ["revunet", "twin"] if rnd % 2 == 0 else ["twin", "revunet"]
                    for side in order:
                        run(sides[side], env)
                        runs.append((name, dtype, rnd, mode, side, sides[side][-1]))

    # Merge: one row per (config, dtype, edge, mode) with both sides.
    merged = {}
    info = {}
    for name, dtype, rnd, mode, side, path in runs:
        result = load(path)
        info.setdefault(side, {k: v for k, v in result.items() if k not in ("rows", "ratios")})
        for row in result["rows"]:
            key = (name, dtype, row["edge"], mode)
            merged.setdefault(key, {"revunet": [], "twin": []})[side].append(row)
    rows = []
    for (name, dtype, edge, mode), sides in merged.items():
        rev, twin = side_summary(sides["revunet"]), side_summary(sides["twin"])
        rows.append({"config": name, "dtype": dtype, "edge": edge, "mode": mode,
                     "revunet": rev, "twin": twin,
                     "revunet_over_twin_time": ratio(rev, twin, "step_seconds"),
                     "revunet_over_twin_peak": ratio(rev, twin, "peak_bytes")})
    ratios = []
    for name in {r["config"] for r in rows}:
        for dtype in dtypes:
            for edge in {r["edge"] for r in rows}:
                by = {r["mode"]: r for r in rows
                      if (r["config"], r["dtype"], r["edge"]) == (name, dtype, edge)}
                if "plain" not in by:
                    continue
                entry = {"config": name, "dtype": dtype, "edge": edge}
                twin_plain = by["plain"]["twin"]
                rev_plain = by["plain"]["revunet"]
                for mode in modes:
                    if mode not in by:
                        continue
                    entry[f"revunet_{mode}_over_twin_plain_time"] = ratio(
                        by[mode]["revunet"], twin_plain, "step_seconds")
                    entry[f"revunet_{mode}_over_revunet_plain_time"] = ratio(
                        by[mode]["revunet"], rev_plain, "step_seconds")
                    entry[f"twin_{mode}_over_twin_plain_time"] = ratio(
                        by[mode]["twin"], twin_plain, "step_seconds")
                    entry[f"revunet_{mode}_over_twin_{mode}_time"] = ratio(
                        by[mode]["revunet"], by[mode]["twin"], "step_seconds")
                    entry[f"revunet_{mode}_over_twin_{mode}_peak"] = ratio(
                        by[mode]["revunet"], by[mode]["twin"], "peak_bytes")
                ratios.append(entry)
    rows.sort(key=lambda r: (r["config"], r["dtype"], r["edge"], modes.index(r["mode"])))
    ratios.sort(key=lambda r: (r["config"], r["dtype"], r["edge"]))
    out = {
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "revunet": info.get("revunet", {}), "twin": info.get("twin", {}),
        "settings": {"device": args.device, "edges": args.edges, "dtypes": dtypes,
                     "modes": modes, "warmup": args.warmup, "repeats": args.repeats,
                     "rounds": args.rounds, "threads": threads, "batch": 1,
                     "loss": "deep-supervision BCE + soft Dice (train/loss.cpp, "
                             "revunet_torch/loss.py)",
                     "optimizer": "AdamW lr 1e-3, weight decay 1e-4; each side's default "
                                  "implementation (LibTorch: per-tensor loop; PyTorch: its "
                                  "default, foreach on CUDA)"},
        "peak_definition": (
            "bytes above what the process held before the model existed, during one step "
            "(parameters, gradients, AdamW state, input, activations). CUDA: both sides read "
            "the caching allocator's peak allocated bytes. CPU: revunet counts the bytes its "
            "tracking allocator hands out; the twin adds its persistent state to the highest "
            "running sum of the CPU allocations and frees the PyTorch profiler records during one "
            "extra untimed step: both count the bytes asked of the CPU allocator (RSS would add "
            "the interpreter, libraries and allocator caching, and tracemalloc does not see "
            "tensor memory)."),
        "note": "Step times are medians over repeats, then over rounds; both sides ran "
                "interleaved in this one run. On a shared CPU machine they are noisy: compare "
                "the ratios, not the seconds.",
        "seconds_total": time.time() - started,
        "load_average_1_5_15_min": {"start": load_start, "end": os.getloadavg(),
                                    "cpus": os.cpu_count()},
        "rows": rows, "ratios": ratios,
    }
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(out, f, indent=2)
        f.write("\n")
    os.replace(tmp, args.out)
    for r in rows:
        rev, twin = r["revunet"], r["twin"]
        fmt = lambda s: f"{s['step_seconds'] * 1e3:8.1f} ms" if "step_seconds" in s else "     OOM"
        peak = lambda s: f"{s['peak_bytes'] / 2**20:8.1f} MiB" if "peak_bytes" in s else ""
        print(f"{r['config']:<8}{r['dtype']:<5}{r['edge']:<5}{r['mode']:<11} revunet {fmt(rev)}"
              f"{peak(rev)}   twin {fmt(twin)}{peak(twin)}   time ratio "
              f"{r['revunet_over_twin_time'] or float('nan'):.2f}")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
