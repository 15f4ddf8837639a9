#!/usr/bin/env python3
"""The PyTorch twin (python/revunet_torch) against revunet itself, two independent implementations
of the same network: for every shipped config and for configs covering every option, the weights
`revunet export` writes load into the twin, and on the reference input revunet wrote the twin's
outputs, loss, input gradient and parameter gradients equal revunet's within 1e-5 (fp32, relative
to the tensor's largest magnitude when that exceeds 1), in plain, checkpoint and reversible mode.
Also: trained model files and checkpoints export, configs the twin cannot build are refused, the
export command's flag errors, and torch.onnx.export of the twin.

  tests/python/test_twin.py PATH/TO/revunet SOURCE_DIR [TEST...]   (exit 77: no python3-torch)
"""

import json
import os
import subprocess
import sys
import tempfile
import unittest

BIN = os.path.abspath(sys.argv[1]) if len(sys.argv) > 1 else "build/revunet"
SRC = os.path.abspath(sys.argv[2]) if len(sys.argv) > 2 else "."
SKIPPED = 77

try:
    import torch
except ImportError:
    print("SKIPPED: python3-torch is not installed (Debian: apt-get install python3-torch); the "
          "twin cross-check needs PyTorch")
    sys.exit(SKIPPED)

sys.path.insert(0, os.path.join(SRC, "python"))
import revunet_torch as rt  # noqa: E402

TOLERANCE = 1e-5
MODES = ("plain", "checkpoint", "reversible")

# Each shipped config at a small input (B,X,Y,Z); sizes that are not multiples of 2^(levels-1)
# exercise the padding and cropping.
SHIPPED_SHAPES = {"tiny": "1,13,16,11", "unet4": "1,16,12,16", "paper": "1,16,16,16",
                  "large": "1,16,16,16"}

# Between them every option of nn::UNetConfig: both norms (group with counts that do not divide
# the channels: nn::group_count), all activations, squeeze-excitation, both upsamplings, both
# skips, deep supervision, kernel sizes, expansion, per-stage modes, 1 to 4 levels, batch 2.
OPTION_CONFIGS = {
    "instance_relu6_trilinear_concat_se_deep": (
        {"levels": 3, "widths": [6, 10, 14], "encoder_couplings": [1, 2, 1],
         "decoder_couplings": 2, "expansion": 3, "kernel_size": 5, "norm": "instance",
         "activation": "relu6", "squeeze_excitation": True, "upsampling": "trilinear",
         "skip": "concat", "deep_supervision": True, "mode": "plain"},
        "1,9,13,7"),
    "group_leaky_trilinear_add_stage_modes": (
        {"in_channels": 2, "out_channels": 3, "levels": 4, "base_width": 6, "max_width": 20,
         "encoder_couplings": 1, "decoder_couplings": [1, 2, 1], "expansion": 2, "groups": 4,
         "activation": "leaky_relu", "upsampling": "trilinear", "deep_supervision": True,
         "mode": "reversible", "stage_modes": {"enc1": "plain", "dec0": "checkpoint"}},
        "2,8,11,9"),
    "one_level": ({"levels": 1, "widths": [8], "kernel_size": 1, "groups": 3}, "2,5,4,3"),
    "two_levels_concat_transposed_se": (
        {"levels": 2, "widths": [4, 8], "encoder_couplings": 3, "squeeze_excitation": True,
         "skip": "concat", "expansion": 1, "groups": 16}, "1,7,8,6"),
}


def run(*args, check=True):
    return subprocess.run([BIN, *args], check=check, capture_output=True, text=True)


def export(out_dir, *source, shape, mode=None, seed=1):
    weights = os.path.join(out_dir, "weights.pt")
    reference = os.path.join(out_dir, "reference.pt")
    args = ["export", *source, "--out", weights, "--reference", reference, "--shape", shape,
            "--seed", str(seed), "--threads", "1"]
    if mode:
        args += ["--mode", mode]
    run(*args)
    return weights, rt.load_state_dict(reference)


def relative_error(got, want):
    return ((got.detach().double() - want.double()).abs().max() /
            max(1.0, want.abs().max().item())).item()


class TwinTestCase(unittest.TestCase):
    def setUp(self):
        torch.set_num_threads(1)
        self.tmp = tempfile.TemporaryDirectory(prefix="revunet_twin_")
        self.dir = self.tmp.name

    def tearDown(self):
        self.tmp.cleanup()

    def check_twin(self, weights, reference, name, modes=MODES):
        """The twin in each mode on revunet's reference input equals revunet's reference step."""
        for mode in modes:
            with self.subTest(config=name, twin_mode=mode):
                model = rt.load_model(weights, mode=mode).train()
                x = reference["input"].clone().requires_grad_(True)
                outputs = model.forward_deep(x)
                loss = rt.deep_supervision_loss(outputs, reference["target"])
                loss.backward()
                expected = len([k for k in reference if k.startswith("output.")])
                self.assertEqual(len(outputs), expected)
                errors = {f"output.{i}": relative_error(o, reference[f"output.{i}"])
                          for i, o in enumerate(outputs)}
                errors["loss"] = relative_error(loss, reference["loss"])
                errors["grad.input"] = relative_error(x.grad, reference["grad.input"])
                for pname, p in model.named_parameters():
                    errors["grad." + pname] = relative_error(p.grad, reference["grad." + pname])
                self.assertEqual(
                    sorted(errors), sorted(k for k in reference if k not in ("input", "target")))
                worst = max(errors, key=errors.get)
                self.assertLessEqual(errors[worst], TOLERANCE,
                                     f"{name}, twin {mode}: {worst} differs by {errors[worst]:.2e}")


class ShippedConfigs(TwinTestCase):
    """One test per configs/*.json (test_tiny, test_large, ...), so ctest can run them apart."""

    def check_config(self, name):
        shape = SHIPPED_SHAPES.get(name, "1,16,16,16")
        weights, reference = export(self.dir, "--config",
                                    os.path.join(SRC, "configs", name + ".json"), shape=shape)
        self.check_twin(weights, reference, name)

    def test_revunet_in_plain_mode_matches_the_twin_too(self):
        weights, reference = export(self.dir, "--config", os.path.join(SRC, "configs/unet4.json"),
                                    shape="1,8,8,8", mode="plain")
        self.check_twin(weights, reference, "unet4 (revunet plain)")


def shipped_configs():
    return sorted(f[:-5] for f in os.listdir(os.path.join(SRC, "configs")) if f.endswith(".json"))


for _name in shipped_configs():
    setattr(ShippedConfigs, "test_" + _name,
            lambda self, name=_name: self.check_config(name))


class EveryOption(TwinTestCase):
    def test_configs_covering_every_option_match_revunet(self):
        for name, (config, shape) in OPTION_CONFIGS.items():
            path = os.path.join(self.dir, name + ".json")
            with open(path, "w") as f:
                json.dump(config, f)
            weights, reference = export(self.dir, "--config", path, shape=shape, seed=7)
            self.check_twin(weights, reference, name)

    def test_the_twin_resolves_shorthand_configs_as_revunet_does(self):
        for name in SHIPPED_SHAPES:
            path = os.path.join(SRC, "configs", name + ".json")
            run("export", "--config", path, "--out", os.path.join(self.dir, "w.pt"))
            with open(os.path.join(self.dir, "w.json")) as f:
                resolved = json.load(f)
            resolved.pop("_notes", None)
            self.assertEqual(rt.load_config(path).to_json(), resolved, name)

    def test_group_count_is_the_largest_divisor_not_above_the_wish(self):
        self.assertEqual([rt.group_count(c, 8) for c in (16, 12, 10, 7, 1)], [8, 6, 5, 7, 1])
        self.assertEqual(rt.group_count(6, 4), 3)


class ModelFiles(TwinTestCase):
    def test_a_trained_model_and_its_checkpoints_export(self):
        data = os.path.join(self.dir, "data")
        run_dir = os.path.join(self.dir, "run")
        run("synth", "--out", data, "--cases", "2", "--shape", "24,24,16", "--spacing", "6",
            "--seed", "3", "--threads", "1")
        run("train", "--config", os.path.join(SRC, "configs/tiny.json"), "--data", data, "--out",
            run_dir, "--epochs", "1", "--iterations-per-epoch", "2", "--batch", "1", "--patch",
            "16,16,16", "--threads", "1", "--val-fraction", "0")
        for file in ("model.pt", "last.pt"):
            out = os.path.join(self.dir, file.replace(".pt", ""))
            os.makedirs(out)
            weights, reference = export(out, "--model", os.path.join(run_dir, file),
                                        shape="1,12,8,8")
            # revunet's reference step ran on the file's weights, so this checks them too.
            self.check_twin(weights, reference, file, modes=("reversible",))


class Refusals(TwinTestCase):
    def test_fields_and_values_the_twin_does_not_build_are_refused(self):
        for extra, word in (({"architecture": "fully_reversible"}, "architecture"),
                            ({"norm": "online"}, "online"),
                            ({"alpha_forward": 0.999}, "alpha_forward"),
                            ({"upsampling": "pixel_shuffle"}, "pixel_shuffle")):
            with self.subTest(extra=extra):
                with self.assertRaises(rt.ConfigError) as caught:
                    rt.config_from_json({"levels": 2, **extra}, "x.json")
                self.assertIn(word, str(caught.exception))
                self.assertIn("x.json", str(caught.exception))

    def test_bad_values_are_refused_as_revunet_refuses_them(self):
        for bad in ({"widths": [4, 7]}, {"kernel_size": 2}, {"levels": 9},
                    {"encoder_couplings": [1, 1, 1], "levels": 2}, {"expansion": 0},
                    {"stage_modes": {"enc5": "plain"}, "levels": 2}):
            with self.subTest(config=bad):
                with self.assertRaises(rt.ConfigError):
                    rt.config_from_json(bad, "x.json")

    def test_export_flag_errors_are_one_line(self):
        tiny = os.path.join(SRC, "configs/tiny.json")
        out = os.path.join(self.dir, "w.pt")
        for args, word in ((["--config", tiny], "--out"),
                           (["--config", tiny, "--model", tiny, "--out", out], "--model"),
                           (["--out", out], "--model"),
                           (["--config", tiny, "--out", out, "--reference", out + "r", "--shape",
                             "1,8,8"], "--shape"),
                           (["--model", os.path.join(self.dir, "none.pt"), "--out", out],
                            "none.pt")):
            with self.subTest(args=args):
                result = run("export", *args, check=False)
                self.assertNotEqual(result.returncode, 0)
                self.assertEqual(len(result.stderr.strip().splitlines()), 1, result.stderr)
                self.assertIn(word, result.stderr)


class TwinReversible(TwinTestCase):
    """The twin's own reversible Function, without revunet (the cases rev/ tests in C++)."""

    def stack(self, mode, depth=3, channels=8):
        torch.manual_seed(0)
        couplings = [rt.AdditiveCoupling(rt.MBConv(channels // 2, 2, groups=2),
                                         rt.MBConv(channels // 2, 2, groups=2))
                     for _ in range(depth)]
        return rt.ReversibleSequence(couplings, mode).double()

    def test_gradients_equal_plain_autograd_in_double_precision(self):
        x = torch.randn(2, 8, 5, 4, 3, dtype=torch.float64)
        results = {}
        for mode in MODES:
            stack = self.stack(mode)
            xi = x.clone().requires_grad_(True)
            y = stack(xi)
            (y * torch.cos(y)).sum().backward()
            results[mode] = [y.detach(), xi.grad] + [p.grad for p in stack.parameters()]
        for mode in ("checkpoint", "reversible"):
            for got, want in zip(results[mode], results["plain"]):
                self.assertLess((got - want).abs().max().item(), 1e-12, mode)

    def test_inverse_rebuilds_the_input(self):
        stack = self.stack("reversible")
        x = torch.randn(1, 8, 4, 4, 4, dtype=torch.float64)
        with torch.no_grad():
            self.assertLess((stack.inverse(stack(x)) - x).abs().max().item(), 1e-12)

    def test_a_second_backward_and_an_output_changed_in_place_are_errors(self):
        stack = self.stack("reversible")
        x = torch.randn(1, 8, 4, 4, 4, dtype=torch.float64, requires_grad=True)
        y = stack(x)
        y.sum().backward(retain_graph=True)
        with self.assertRaisesRegex(RuntimeError, "second time"):
            y.sum().backward()
        y = stack(x)
        with torch.no_grad():
            y.mul_(2)
        with self.assertRaisesRegex(RuntimeError, "modified in place"):
            y.sum().backward()

    def test_cpu_autocast_is_replayed_in_the_recompute(self):
        # Without group norm: PyTorch 1.13's CPU autocast runs it in bf16 against float32 weights.
        def function():
            return torch.nn.Sequential(torch.nn.Conv3d(4, 16, 1), torch.nn.SiLU(),
                                       torch.nn.Conv3d(16, 4, 1))

        x = torch.randn(1, 8, 6, 6, 6)
        grads = {}
        for mode in ("plain", "reversible"):
            torch.manual_seed(0)
            stack = rt.ReversibleSequence(
                [rt.AdditiveCoupling(function(), function()) for _ in range(3)], mode)
            xi = x.clone().requires_grad_(True)
            with torch.autocast("cpu", dtype=torch.bfloat16):
                y = stack(xi)
            y.float().square().sum().backward()
            grads[mode] = xi.grad
        # A recompute in float32 instead of the forward's bf16 rebuilds inputs off by bf16's
        # rounding (relative error 2.5e-3 here); replayed, the gradients equal plain's (0 here).
        error = (grads["reversible"] - grads["plain"]).abs().max() / grads["plain"].abs().max()
        self.assertLess(error.item(), 1e-5)


class Onnx(TwinTestCase):
    def test_the_twin_exports_to_onnx(self):
        try:
            import onnx
        except ImportError:
            self.skipTest("python3-onnx is not installed")
        weights = os.path.join(self.dir, "weights.pt")
        run("export", "--config", os.path.join(SRC, "configs/tiny.json"), "--out", weights)
        model = rt.load_model(weights).eval()
        x = torch.randn(1, 4, 16, 16, 16)
        path = os.path.join(self.dir, "tiny.onnx")
        with torch.no_grad():  # the command docs/pytorch.md gives
            torch.onnx.export(model, x, path, opset_version=17, input_names=["image"],
                              output_names=["logits"],
                              dynamic_axes={"image": {0: "batch"}, "logits": {0: "batch"}})
        proto = onnx.load(path)
        onnx.checker.check_model(proto, full_check=True)
        try:
            import onnxruntime
        except ImportError:
            return  # not in Debian; the graph is checked, its numbers are not
        session = onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])
        got = session.run(None, {"image": x.numpy()})[0]
        with torch.no_grad():
            self.assertLess(relative_error(torch.from_numpy(got), model(x)), 1e-4)


if __name__ == "__main__":
    # Further arguments name the tests to run (ShippedConfigs.test_large, Refusals, ...).
    unittest.main(argv=sys.argv[:1] + sys.argv[3:], verbosity=2)
