// revunet predict: label maps for BraTS cases from a trained model. Each case is preprocessed as
// in training (crop box kept), predicted with the sliding window, post-processed into regions,
// painted as labels in the case's convention, pasted back into the original grid and written
// atomically with the case's own geometry as OUT/<id>.nii.gz.
#include <torch/torch.h>

#include <chrono>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>
#include <string>

#include "revunet/cli/args.h"
#include "revunet/cli/commands.h"
#include "revunet/cli/pipeline.h"
#include "revunet/core/device.h"
#include "revunet/core/error.h"
#include "revunet/core/run_info.h"
#include "revunet/data/nifti.h"
#include "revunet/data/regions.h"
#include "revunet/infer/postprocess.h"

namespace revunet::cli {

namespace fs = std::filesystem;

int predict_command(int argc, const char* const* argv) {
  Args args("revunet predict --model FILE --in DIR_OR_CASE --out DIR [options]",
            "Predict label maps (OUT/<id>.nii.gz, the input's geometry and label convention) for "
            "a folder of BraTS cases or one case folder. --model takes RUNDIR/model.pt or a "
            "trainer checkpoint (last.pt, best.pt).");
  args.option("model", "model file (RUNDIR/model.pt) or checkpoint")
      .option("in", "folder of cases, or one case's folder")
      .option("out", "output folder")
      .option("ids", "only these case ids (comma-separated)")
      .option("device", "cpu, cuda or cuda:N", "cpu")
      .option("overlap", "sliding-window overlap", "0.5")
      .option("threshold", "probability threshold of each region", "0.5")
      .option("min-et-voxels", "fewer predicted ET voxels than this become necrosis (0 = off)", "0")
      .option("threads", "CPU threads (0 = LibTorch's default)", "0")
      .flag("mirror", "mirroring test-time augmentation (8x slower)")
      .flag("overwrite", "replace existing outputs (default: skip them)")
      .option("json", "write per-case timings here (JSON)");
  if (!args.parse(argc, argv, 1)) return 0;
  for (const char* required : {"model", "in", "out"}) {
    if (!args.has(required)) fail(std::string("--") + required, "is required");
  }
  const c10::Device device = core::parse_device(args.get("device"));
  if (args.get_int("threads") < 0) fail("--threads", "must be 0 or more");
  if (args.get_int("threads") > 0)
    torch::set_num_threads(static_cast<int>(args.get_int("threads")));
  infer::SlidingWindowOptions window;
  window.overlap = args.get_double("overlap");
  if (!(window.overlap >= 0 && window.overlap < 1)) fail("--overlap", "must be in [0, 1)");
  window.mirror = args.is_set("mirror");
  window.device = device;
  infer::PostprocessOptions post;
  post.threshold = args.get_double("threshold");
  if (!(post.threshold > 0 && post.threshold < 1)) fail("--threshold", "must be in (0, 1)");
  post.min_enhancing_voxels = args.get_int("min-et-voxels");
  if (post.min_enhancing_voxels < 0) fail("--min-et-voxels", "must be 0 or more");

  const auto cases = find_cases(args.get("in"), args.has("ids") ? args.get("ids") : "");
  nn::LoadedModel loaded = load_any_model(args.get("model"), device);
  if (loaded.config.patch.size() != 3) fail(args.get("model"), "config has no 3-D patch");
  for (int d = 0; d < 3; ++d) window.window[d] = loaded.config.patch[d];
  const std::string out = args.get("out");
  fs::create_directories(out);

  int64_t written = 0, skipped = 0;
  const auto start = std::chrono::steady_clock::now();
  nlohmann::json timings = core::run_info(device);
  timings["model"] = args.get("model");
  timings["overlap"] = window.overlap;
  timings["mirror"] = window.mirror;
  timings["cases"] = nlohmann::json::array();
  for (const auto& files : cases) {
    const std::string path = out + "/" + files.id + ".nii.gz";
    if (fs::exists(path) && !args.is_set("overwrite")) {
      std::cout << files.id << ": " << path << " exists, skipped (--overwrite replaces it)\n";
      ++skipped;
      continue;
    }
    const auto case_start = std::chrono::steady_clock::now();
    data::Case original;
    const data::PreprocessedCase c = preprocess_files(files, &original);
    const double read_seconds = seconds_since(case_start);
    const auto network_start = std::chrono::steady_clock::now();
    const torch::Tensor probabilities = predict_probabilities(loaded.model, c.image, window);
    const double network_seconds = seconds_since(network_start);
    const torch::Tensor regions = infer::postprocess(probabilities, post);
    const torch::Tensor labels = data::regions_to_labels(regions, original.convention);
    const torch::Tensor full = data::paste_from_box(labels, c.box, c.original_shape, 0);
    data::write_label_map(path, full, original.reference);  // temporary file + rename
    ++written;
    const double total_seconds = seconds_since(case_start);
    timings["cases"].push_back({{"id", files.id},
                                {"original_shape", c.original_shape},
                                {"network_shape", c.image.sizes().slice(1).vec()},
                                {"read_seconds", read_seconds},
                                {"network_seconds", network_seconds},
                                {"total_seconds", total_seconds}});
    std::cout << files.id << ": " << path << " in " << format_seconds(total_seconds) << " (network "
              << format_seconds(network_seconds) << ")" << std::endl;
  }
  std::cout << "predicted " << written << " cases (" << skipped << " skipped) in "
            << format_seconds(seconds_since(start)) << "\n";
  if (args.has("json")) {
    timings["seconds"] = seconds_since(start);
    core::write_json_atomically(args.get("json"), timings);
    std::cout << "wrote " << args.get("json") << "\n";
  }
  return 0;
}

}  // namespace revunet::cli
