// revunet export: a model's weights as a state dict that Python's torch.load reads, with the
// resolved config beside it, for the PyTorch twin (python/revunet_torch, docs/pytorch.md).
// --reference also writes one training step's input, outputs, loss and gradients, so that the
// twin can be checked against revunet on the same weights and input (tests/python/test_twin.py).
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/nn/export.h"
#include "revunet/train/loss.h"

namespace revunet::cli {
namespace {

// input, target, output.<i> (forward_deep), loss (train::deep_supervision_loss, the training
// loss), grad.input and grad.<parameter name> after one backward in the model's current modes.
nn::TensorDict reference_step(nn::UNet& model, const std::vector<int64_t>& shape) {
  const auto& c = model->config();
  auto input = torch::randn({shape[0], c.in_channels, shape[1], shape[2], shape[3]});
  auto target = (torch::rand({shape[0], c.out_channels, shape[1], shape[2], shape[3]}) > 0.7)
                    .to(torch::kFloat);
  nn::TensorDict out = {{"input", input}, {"target", target}};
  input.requires_grad_(true);
  model->train();
  const std::vector<torch::Tensor> outputs = model->forward_deep(input);
  for (size_t i = 0; i < outputs.size(); ++i) {
    out.emplace_back("output." + std::to_string(i), outputs[i]);
  }
  const torch::Tensor loss = train::deep_supervision_loss(outputs, target, {}).total;
  loss.backward();
  out.emplace_back("loss", loss);
  out.emplace_back("grad.input", input.grad());
  for (const auto& p : model->named_parameters()) out.emplace_back("grad." + p.key(), p->grad());
  return out;
}

}  // namespace

int export_command(int argc, const char* const* argv) {
  Args args("revunet export --out FILE (--model FILE | --config FILE) [options]",
            "Write a model's weights as a PyTorch state dict (torch.load reads it; keys are the "
            "parameter names of python/revunet_torch) and its resolved config as JSON beside it "
            "(weights.pt -> weights.json). --model takes RUNDIR/model.pt or a trainer checkpoint; "
            "--config builds a freshly initialised model from --seed.");
  args.option("out", "the state dict to write (e.g. weights.pt)")
      .option("model", "model file (RUNDIR/model.pt) or trainer checkpoint (last.pt, best.pt)")
      .option("config", "model config (configs/*.json): export a fresh model instead")
      .option("seed", "seed of the fresh model's weights and of the reference input", "0")
      .option("mode",
              "plain, checkpoint or reversible: the stage mode written into the config "
              "and used by --reference (default: the model's own)")
      .option("reference",
              "also write one training step here: input, target, output.<i>, "
              "loss, grad.input, grad.<name> (a pickled dict of tensors)")
      .option("shape", "the reference input's B,X,Y,Z (default 1 and the config's patch)")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0");
  if (!args.parse(argc, argv, 1)) return 0;
  if (!args.has("out")) fail("--out", "is required (the state dict to write, e.g. weights.pt)");
  if (args.has("model") == args.has("config")) {
    fail("--model/--config", "give exactly one: a model to export, or a config for a fresh model");
  }
  if (args.get_int("threads") < 0) fail("--threads", "must be 0 or more");
  if (args.get_int("threads") > 0)
    torch::set_num_threads(static_cast<int>(args.get_int("threads")));

  core::seed_everything(static_cast<uint64_t>(args.get_int("seed")));
  nn::LoadedModel loaded;
  if (args.has("model")) {
    loaded = load_any_model(args.get("model"), torch::kCPU);
  } else {
    loaded.config = nn::load_unet_config(args.get("config"));
    loaded.model = nn::UNet(loaded.config);
  }
  if (args.has("mode")) loaded.model->set_mode(rev::parse_stack_mode(args.get("mode")));
  // The model's config carries its architecture and the modes it runs in now.
  const std::string config_path =
      nn::export_weights(args.get("out"), *loaded.model, loaded.model->config());
  std::cout << "wrote " << args.get("out") << " (" << loaded.model->named_parameters().size()
            << " tensors) and " << config_path << "\n";

  if (args.has("reference")) {
    const auto& patch = loaded.config.patch;
    std::vector<int64_t> shape = {1, patch[0], patch[1], patch[2]};
    if (args.has("shape")) shape = args.get_int_list("shape");
    if (shape.size() != 4 || shape[0] < 1 || shape[1] < 1 || shape[2] < 1 || shape[3] < 1) {
      fail("--shape", "must be four positive sizes B,X,Y,Z, e.g. 1,16,16,16");
    }
    nn::save_tensor_dict(args.get("reference"), reference_step(loaded.model, shape));
    std::cout << "wrote " << args.get("reference") << "\n";
  }
  return 0;
}

}  // namespace revunet::cli
