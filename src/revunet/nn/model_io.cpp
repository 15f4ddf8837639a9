#include "revunet/nn/model_io.h"

#include <c10/util/Exception.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>

#include <fstream>
#include <nlohmann/json.hpp>

#include "revunet/core/error.h"
#include "revunet/core/json_file.h"
#include "revunet/core/run_info.h"

namespace revunet::nn {
namespace {

constexpr const char* kFormatKey = "revunet_format";
constexpr const char* kConfigKey = "revunet_config";

// The fields that decide the parameter shapes; modes and training hints do not.
nlohmann::json architecture(const UNetConfig& config) {
  auto json = to_json(config);
  for (const char* key : {"mode", "stage_modes", "patch", "_notes"}) json.erase(key);
  return json;
}

std::string first_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

}  // namespace

void save_model(const std::string& path, UNet& model, const UNetConfig& config) {
  TORCH_CHECK(architecture(config) == architecture(model->config()),
              "save_model: the config does not describe the model's architecture: config ",
              architecture(config).dump(), " vs model ", architecture(model->config()).dump());
  torch::serialize::OutputArchive archive;
  model->save(archive);
  archive.write(kFormatKey, c10::IValue(kModelFormatVersion));
  archive.write(kConfigKey, c10::IValue(to_json(config).dump()));
  std::string bytes;
  archive.save_to([&bytes](const void* data, size_t size) {
    bytes.append(static_cast<const char*>(data), size);
    return size;
  });
  core::write_file_atomically(path, bytes);
}

LoadedModel load_model(const std::string& path, c10::Device device) {
  // A plain stream probe, not std::filesystem: LibTorch 2.x wheels export their own (older)
  // std::filesystem symbols (pytorch/pytorch#133437), which crash when called from our code.
  if (!std::ifstream(path, std::ios::binary)) fail(path, "no such model file (or not readable)");
  torch::serialize::InputArchive archive;
  try {
    archive.load_from(path, device);
  } catch (const std::exception& e) {
    fail(path, "not a readable model file (truncated or damaged?): " + first_line(e.what()));
  }
  c10::IValue format;
  c10::IValue text;
  if (!archive.try_read(kFormatKey, format) || !format.isInt()) {
    fail(path, "is a LibTorch archive but not a revunet model (it has no '" +
                   std::string(kFormatKey) + "' entry)");
  }
  if (format.toInt() != kModelFormatVersion) {
    fail(path, "model format version " + std::to_string(format.toInt()) +
                   " is not supported by this build (it reads version " +
                   std::to_string(kModelFormatVersion) + ")");
  }
  if (!archive.try_read(kConfigKey, text) || !text.isString()) {
    fail(path, "the model file has no embedded config ('" + std::string(kConfigKey) + "')");
  }
  const std::string source = path + " (embedded config)";
  LoadedModel loaded;
  loaded.config =
      unet_config_from_json(core::parse_json_strict(text.toStringRef(), source), source);
  loaded.model = UNet(loaded.config);
  loaded.model->to(device);
  try {
    loaded.model->load(archive);
  } catch (const c10::Error& e) {
    fail(path, "the weights do not fit the embedded config: " + first_line(e.what()));
  }
  return loaded;
}

}  // namespace revunet::nn
