// revunet export: a model's weights as a state dict that Python's torch.load reads, with the
// resolved config beside it, for the PyTorch twin (python/revunet_torch, docs/pytorch.md).
// --reference also writes one training step's input, outputs, loss and gradients, so that the
// twin can be checked against revunet on the same weights and input (tests/python/test_twin.py).
#include <torch/torch.h>

#include <iostream>
#include <string>

#include "revunet/cli/commands.h"
#include "revunet/cli/flags.h"
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

struct ExportFlags {
  std::string out, model, config, mode, reference;
  std::vector<int64_t> shape;
  uint64_t seed = 0;
  int64_t threads = 0;
};

int run_export(const ExportFlags& flags) {
  if (flags.model.empty() == flags.config.empty()) {
    fail("--model/--config", "give exactly one: a model to export, or a config for a fresh model");
  }
  apply_threads(flags.threads);
  core::seed_everything(flags.seed);
  nn::LoadedModel loaded;
  if (!flags.model.empty()) {
    loaded = load_any_model(flags.model, torch::kCPU);
  } else {
    loaded.config = nn::load_unet_config(flags.config);
    loaded.model = nn::UNet(loaded.config);
  }
  if (!flags.mode.empty()) loaded.model->set_mode(rev::parse_stack_mode(flags.mode));
  // The model's config carries its architecture and the modes it runs in now.
  const std::string config_path =
      nn::export_weights(flags.out, *loaded.model, loaded.model->config());
  std::cout << "wrote " << flags.out << " (" << loaded.model->named_parameters().size()
            << " tensors) and " << config_path << "\n";

  if (!flags.reference.empty()) {
    const auto& patch = loaded.config.patch;
    std::vector<int64_t> shape = {1, patch[0], patch[1], patch[2]};
    if (!flags.shape.empty()) shape = flags.shape;
    nn::save_tensor_dict(flags.reference, reference_step(loaded.model, shape));
    std::cout << "wrote " << flags.reference << "\n";
  }
  return 0;
}

}  // namespace

Runner add_export_command(CLI::App& app) {
  auto flags = std::make_shared<ExportFlags>();
  ExportFlags& f = *flags;
  app.footer(
      "Writes a model's weights as a PyTorch state dict (torch.load reads it; keys are the "
      "parameter names of python/revunet_torch) and its resolved config as JSON beside it "
      "(weights.pt -> weights.json). --model takes RUNDIR/model.pt or a trainer checkpoint; "
      "--config builds a freshly initialised model from --seed.");
  app.add_option("--out", f.out, "the state dict to write (e.g. weights.pt)")->required();
  CLI::Option* model =
      app.add_option("--model", f.model,
                     "model file (RUNDIR/model.pt) or trainer checkpoint (last.pt, best.pt)")
          ->check(CLI::ExistingFile);
  app.add_option("--config", f.config,
                 "model config (configs/*.json): export a fresh model instead")
      ->check(CLI::ExistingFile)
      ->excludes(model);
  add_seed_flag(app, f.seed, "seed of the fresh model's weights and of the reference input");
  app.add_option("--mode", f.mode,
                 "plain, checkpoint or reversible: the stage mode written into the config and "
                 "used by --reference (default: the model's own)")
      ->check(parsed_by([](const std::string& text) { rev::parse_stack_mode(text); }));
  app.add_option("--reference", f.reference,
                 "also write one training step here: input, target, output.<i>, loss, "
                 "grad.input, grad.<name> (a pickled dict of tensors)");
  add_int_list(app, "--shape", f.shape,
               "the reference input's B,X,Y,Z (default 1 and the config's patch)", 4)
      ->check(at_least(1));
  add_threads_flag(app, f.threads);
  return [flags] { return run_export(*flags); };
}

}  // namespace revunet::cli
