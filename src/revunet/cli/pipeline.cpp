// Glue shared by train, predict and demo (see pipeline.h).
#include "revunet/cli/pipeline.h"

#include <torch/torch.h>

#include <fcntl.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <set>
#include <sstream>

#include "revunet/core/atomic_file.h"
#include "revunet/core/error.h"
#include "revunet/data/regions.h"
#include "revunet/train/checkpoint.h"

namespace revunet::cli {

namespace fs = std::filesystem;

std::vector<data::CaseFiles> find_cases(const std::string& path, const std::string& ids) {
  if (!fs::exists(path)) fail(path, "no such folder");
  std::vector<data::CaseFiles> cases = data::discover_cases(path);
  for (const auto& c : cases) {
    for (const auto& w : c.warnings) std::cerr << "warning: " << w << "\n";
  }
  if (ids.empty()) return cases;
  std::set<std::string> wanted;
  std::stringstream list(ids);
  for (std::string id; std::getline(list, id, ',');) {
    if (!id.empty()) wanted.insert(id);
  }
  std::vector<data::CaseFiles> kept;
  for (auto& c : cases) {
    if (wanted.erase(c.id)) kept.push_back(std::move(c));
  }
  if (!wanted.empty()) fail("--ids", "no case '" + *wanted.begin() + "' under " + path);
  return kept;
}

void prepare_output_folder(const std::string& flag, const std::string& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec)) {
    fail(flag, dir + " is a file, not a folder");
  }
  fs::create_directories(dir, ec);
  if (ec) fail(flag, "cannot create the folder " + dir + " (" + ec.message() + ")");
  // Permission bits do not tell (root ignores them; a read-only mount): try to create a file.
  const std::string probe =
      core::temporary_path_for((fs::path(dir) / ".revunet-write-test").string());
  const int fd = ::open(probe.c_str(), O_WRONLY | O_CREAT | O_EXCL, 0600);
  if (fd < 0) fail(flag, "cannot write into the folder " + dir + " (" + std::strerror(errno) + ")");
  ::close(fd);
  ::unlink(probe.c_str());
}

std::string source_key(const data::CaseFiles& files) {
  std::ostringstream key;
  auto add = [&](const std::string& file) {
    if (file.empty()) return;
    std::error_code ec;
    const auto size = fs::file_size(file, ec);
    const auto time = fs::last_write_time(file, ec).time_since_epoch().count();
    key << file << ":" << size << ":" << time << ";";
  };
  for (const auto& m : files.modalities) add(m);
  add(files.seg);
  return key.str();
}

data::PreprocessedCase preprocess_files(const data::CaseFiles& files, data::Case* loaded) {
  data::Case c = data::load_case(files);
  // The discovery's warnings were printed by find_cases; the intensities' are new here.
  for (size_t w = files.warnings.size(); w < c.warnings.size(); ++w) {
    std::cerr << "warning: " << c.warnings[w] << "\n";
  }
  torch::Tensor regions;
  if (c.label.defined()) regions = data::labels_to_regions(c.label, c.convention);
  data::PreprocessedCase p = data::preprocess_case(c.id, c.image, regions, c.reference.spacing);
  if (p.regions.defined()) p.regions = p.regions.to(torch::kUInt8);
  if (loaded) *loaded = std::move(c);
  return p;
}

data::PreprocessedCase cached_case(const data::CaseCache& cache, const data::CaseFiles& files) {
  return cache.get_or_build(files.id, source_key(files), [&] { return preprocess_files(files); });
}

namespace {

// Trainer checkpoints start with "RVNCKPT"; model files are LibTorch zip archives.
bool is_checkpoint(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[7] = {};
  in.read(magic, sizeof magic);
  return in && std::string(magic, sizeof magic) == "RVNCKPT";
}

}  // namespace

nn::LoadedModel load_any_model(const std::string& path, c10::Device device) {
  if (!fs::is_regular_file(path)) fail(path, "no such model file (train writes RUNDIR/model.pt)");
  if (!is_checkpoint(path)) return nn::load_model(path, device);
  const train::CheckpointState state = train::read_checkpoint_state(path);
  nn::LoadedModel loaded;
  loaded.config = nn::unet_config_from_json(nlohmann::json::parse(state.model_config), path);
  loaded.model = nn::UNet(loaded.config);
  train::load_checkpoint(path, *loaded.model, nullptr);
  loaded.model->to(device);
  return loaded;
}

torch::Tensor predict_probabilities(nn::UNet& model, const torch::Tensor& image,
                                    const infer::SlidingWindowOptions& options) {
  torch::NoGradGuard no_grad;
  const bool was_training = model->is_training();
  model->eval();
  auto predictor = [&](const torch::Tensor& windows) {
    return torch::sigmoid(model->forward(windows));
  };
  torch::Tensor probabilities =
      infer::sliding_window_predict(image, predictor, model->config().out_channels, options);
  if (was_training) model->train();
  return probabilities;
}

double dice(const torch::Tensor& pred, const torch::Tensor& ref) {
  const auto p = pred.to(torch::kBool);
  const auto r = ref.to(torch::kBool);
  const double both = (p & r).sum().item<double>();
  const double total = p.sum().item<double>() + r.sum().item<double>();
  return total == 0 ? 1.0 : 2 * both / total;
}

std::string format_seconds(double seconds) {
  char text[64];
  if (seconds < 60) {
    std::snprintf(text, sizeof text, "%.1f s", seconds);
  } else {
    const int whole = static_cast<int>(seconds + 0.5);
    std::snprintf(text, sizeof text, "%d min %02d s", whole / 60, whole % 60);
  }
  return text;
}

}  // namespace revunet::cli
