"""Timed training steps of the twin, the PyTorch side of bench/compare_pytorch.sh.

    python3 -m revunet_torch.bench --config configs/unet4.json --edges 128 --device cuda \\
        --dtype fp32 --modes plain,checkpoint,reversible --json twin.json

The step is revunet's (src/revunet/bench/memory_probe.cpp, `revunet bench unet`): batch 1, a
random input and 0/1 target made on the device, forward_deep (under bf16 autocast with --dtype
bf16), deep-supervision BCE + soft Dice in float32, backward, the global gradient norm checked for
finiteness, AdamW (lr 1e-3, weight decay 1e-4). One warm-up step at the smallest input first
(gradients and optimiser state then exist, as in revunet's probe), then per row --warmup untimed
and --repeats timed steps; the median is reported. CUDA: cuDNN autotuning on, TF32 off.

Peak memory, in bytes above what the process held before the model existed (revunet's
definition): CUDA, the caching allocator's max_memory_allocated; CPU, the persistent state
(parameters, gradients, optimiser state) plus the highest sum of the tensor allocations and frees
recorded by the PyTorch profiler during one extra, untimed step: the bytes the CPU allocator is
asked for, which is what revunet's tracking allocator counts.
"""

import argparse
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import time

import torch

from .config import MODES, load_config
from .loss import deep_supervision_loss
from .unet import UNet


def _synchronize(device):
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _tensor_bytes(t):
    return t.numel() * t.element_size() if isinstance(t, torch.Tensor) else 0


class TrainingProbe:
    """A model with its AdamW optimiser, warmed up by one step at the smallest input."""

    def __init__(self, config, mode, device, bf16=False, seed=0):
        self.config = config
        self.device = device
        self.bf16 = bf16
        _synchronize(device)
        self.baseline = torch.cuda.memory_allocated(device) if device.type == "cuda" else 0
        torch.manual_seed(seed)
        self.model = UNet(config, mode=mode).to(device).train()
        self.parameters = list(self.model.parameters())
        self.optimizer = torch.optim.AdamW(self.parameters, lr=1e-3, betas=(0.9, 0.999),
                                           eps=1e-8, weight_decay=1e-4)
        m = config.size_multiple()
        self.step((m, m, m))
        _synchronize(device)

    def persistent_bytes(self):
        total = sum(_tensor_bytes(p) + _tensor_bytes(p.grad) for p in self.parameters)
        for state in self.optimizer.state.values():
            total += sum(_tensor_bytes(v) for v in state.values())
        return total

    def step(self, shape):
        c = self.config
        image = torch.randn(1, c.in_channels, *shape, device=self.device)
        target = (torch.rand(1, c.out_channels, *shape, device=self.device) > 0.7).float()
        self.optimizer.zero_grad()
        if self.bf16:
            with torch.autocast(device_type=self.device.type, dtype=torch.bfloat16):
                outputs = self.model.forward_deep(image)
        else:
            outputs = self.model.forward_deep(image)
        loss = deep_supervision_loss(outputs, target)
        del outputs
        loss.backward()
        # revunet's step takes the global gradient norm (float64 per tensor) and skips the update
        # when it is not finite; the same work here.
        norms = [p.grad.detach().double().norm() for p in self.parameters if p.grad is not None]
        total = torch.stack(norms).norm().item() if norms else 0.0
        if math.isfinite(total):
            self.optimizer.step()
        return loss.item()

    def timed_step(self, shape):
        _synchronize(self.device)
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        start = time.perf_counter()
        self.step(shape)
        _synchronize(self.device)
        seconds = time.perf_counter() - start
        peak = None
        if self.device.type == "cuda":
            peak = torch.cuda.max_memory_allocated(self.device) - self.baseline
        return seconds, peak

    def cpu_peak_bytes(self, shape):
        """Persistent state plus the highest running sum of profiled allocations in one step."""
        from torch.profiler import ProfilerActivity, profile

        before = self.persistent_bytes()
        with profile(activities=[ProfilerActivity.CPU], profile_memory=True) as prof:
            self.step(shape)
        events = [e for e in prof.profiler.kineto_results.events() if e.name() == "[memory]"]
        events.sort(key=lambda e: e.start_us())  # stable: ties keep their recorded order
        current = peak = 0
        for e in events:
            if str(e.device_type()).endswith("CPU"):
                current += e.nbytes()
                peak = max(peak, current)
        return before + peak


def bench_row(config, mode, edge, args, device):
    row = {"mode": mode, "edge": edge}
    shape = (edge, edge, edge)
    seconds, peaks = [], []
    try:
        probe = TrainingProbe(config, mode, device, args.dtype == "bf16", args.seed)
        for i in range(args.warmup + args.repeats):
            s, peak = probe.timed_step(shape)
            if i >= args.warmup:
                seconds.append(s)
                peaks.append(peak)
        if device.type == "cpu" and not args.no_cpu_peak:
            row["peak_bytes"] = probe.cpu_peak_bytes(shape)
            row["peak_source"] = "profiler allocations + persistent state"
        elif device.type == "cuda":
            row["peak_bytes"] = max(peaks)
            row["peak_source"] = "torch.cuda.max_memory_allocated"
        row["persistent_bytes"] = probe.persistent_bytes()
        del probe
    except RuntimeError as e:
        if "out of memory" not in str(e):
            raise
        row["out_of_memory"] = True
        if device.type == "cuda":
            torch.cuda.empty_cache()
        return row
    row["out_of_memory"] = False
    row["step_seconds"] = statistics.median(seconds)
    row["step_seconds_min"] = min(seconds)
    row["steps"] = seconds
    row["steps_per_second"] = 1.0 / row["step_seconds"]
    return row


def git_revision():
    if os.environ.get("REVUNET_GIT_REVISION"):
        return os.environ["REVUNET_GIT_REVISION"]
    here = os.path.dirname(os.path.abspath(__file__))
    try:
        return subprocess.run(["git", "-C", here, "rev-parse", "--short=12", "HEAD"],
                              capture_output=True, text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def main(argv=None):
    p = argparse.ArgumentParser(prog="python3 -m revunet_torch.bench", description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--config", required=True, help="model config (configs/*.json)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--dtype", default="fp32", choices=("fp32", "bf16"))
    p.add_argument("--modes", default="plain,checkpoint,reversible")
    p.add_argument("--edges", default=None, help="cube edges, comma-separated (default: patch)")
    p.add_argument("--warmup", type=int, default=2)
    p.add_argument("--repeats", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="CPU threads (0: PyTorch's default)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--no-cpu-peak", action="store_true", help="skip the profiled step on CPU")
    p.add_argument("--json", help="write the results here")
    args = p.parse_args(argv)

    config = load_config(args.config)
    modes = args.modes.split(",")
    for m in modes:
        if m not in MODES:
            p.error(f"--modes: '{m}' is not one of plain, checkpoint, reversible")
    edges = ([int(e) for e in args.edges.split(",")] if args.edges else [config.patch[0]])
    for e in edges:
        if e < 1 or e % config.size_multiple():
            p.error(f"--edges {e}: each edge must be a positive multiple of "
                    f"{config.size_multiple()}")
    if args.repeats < 1 or args.warmup < 0:
        p.error("--repeats must be >= 1 and --warmup >= 0")
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    device = torch.device(args.device)
    if device.type == "cuda":
        if device.index is None:
            device = torch.device("cuda", 0)
        torch.backends.cudnn.benchmark = True
        torch.backends.cudnn.allow_tf32 = False
        torch.backends.cuda.matmul.allow_tf32 = False
        name = torch.cuda.get_device_name(device)
    else:
        if args.dtype == "bf16":
            p.error("--dtype bf16: bfloat16 autocast is measured on CUDA only (as revunet)")
        name = f"cpu ({torch.get_num_threads()} threads)"

    result = {
        "command": " ".join([os.path.basename(sys.executable), "-m", "revunet_torch.bench"] +
                            (argv if argv is not None else sys.argv[1:])),
        "device": name, "device_type": device.type, "pytorch": torch.__version__,
        "python": platform.python_version(), "git_revision": git_revision(),
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "config": args.config, "dtype": args.dtype, "warmup": args.warmup,
        "repeats": args.repeats, "optimizer": "torch.optim.AdamW defaults (foreach as chosen by "
        "PyTorch), lr 1e-3, weight decay 1e-4", "rows": [],
    }
    for edge in edges:
        for mode in modes:
            row = bench_row(config, mode, edge, args, device)
            result["rows"].append(row)
            step = row.get("step_seconds")
            peak = row.get("peak_bytes")
            print(f"{mode:<12}{edge:<6}"
                  f"{'out of memory' if step is None else f'{step * 1e3:.1f} ms'}"
                  f"{'' if peak is None else f'  peak {peak / 2**20:.1f} MiB'}", flush=True)
    if args.json:
        tmp = args.json + ".tmp"
        with open(tmp, "w") as f:
            json.dump(result, f, indent=2)
            f.write("\n")
        os.replace(tmp, args.json)
    return 0


if __name__ == "__main__":
    sys.exit(main())
