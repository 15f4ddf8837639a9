#include "revunet/nn/export.h"

#include <caffe2/serialize/inline_container.h>
#include <torch/csrc/jit/serialization/pickle.h>
#include <torch/csrc/jit/serialization/pickler.h>

#include <fstream>
#include <iterator>
#include <nlohmann/json.hpp>

#include "revunet/core/atomic_file.h"
#include "revunet/core/error.h"

namespace revunet::nn {
namespace {

torch::Tensor exportable(const torch::Tensor& t) {
  return t.detach().to(torch::kCPU).contiguous();
}

std::string export_error_line(const std::string& text) {
  return text.substr(0, text.find('\n'));
}

// What torch::pickle_save does, with tag_aggregates off: pickle_save wraps every dict in
// torch.jit._pickle.restore_type_tag, a global outside torch.load's weights_only allow-list.
std::string pickled(const TensorDict& tensors) {
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [name, tensor] : tensors) {
    TORCH_CHECK(!dict.contains(name), "save_tensor_dict: the name '", name, "' appears twice");
    dict.insert(name, exportable(tensor));
  }
  std::string pickle;
  torch::jit::Pickler pickler([&](const char* data, size_t size) { pickle.append(data, size); },
                              /*tensor_table=*/nullptr, /*type_renamer=*/nullptr,
                              /*memoized_class_types=*/nullptr, /*get_tensor_id=*/nullptr,
                              /*tag_aggregates=*/false);
  pickler.protocol();
  pickler.pushIValue(c10::IValue(dict));
  pickler.stop();
  std::string archive;
  caffe2::serialize::PyTorchStreamWriter writer([&](const void* data, size_t size) {
    archive.append(static_cast<const char*>(data), size);
    return size;
  });
  // data/0, data/1, ... (the storages, named by their index in the pickle) and data.pkl: the
  // layout torch.save writes (as torch::jit::writeArchiveAndTensors does).
  const auto& storages = pickler.tensorData();
  for (size_t i = 0; i < storages.size(); ++i) {
    const auto& storage = storages[i].storage();
    writer.writeRecord("data/" + std::to_string(i), storage.data(), storage.nbytes());
  }
  writer.writeRecord("data.pkl", pickle.data(), pickle.size());
  writer.writeEndOfFile();
  return archive;
}

}  // namespace

TensorDict state_dict(const torch::nn::Module& module) {
  TensorDict out;
  for (const auto& item : module.named_parameters(/*recurse=*/true)) {
    out.emplace_back(item.key(), exportable(item.value()));
  }
  for (const auto& item : module.named_buffers(/*recurse=*/true)) {
    if (item.value().defined()) out.emplace_back(item.key(), exportable(item.value()));
  }
  return out;
}

void save_tensor_dict(const std::string& path, const TensorDict& tensors) {
  core::write_file_atomically(path, pickled(tensors));
}

TensorDict load_tensor_dict(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "no such file (or not readable)");
  const std::vector<char> bytes((std::istreambuf_iterator<char>(in)),
                                std::istreambuf_iterator<char>());
  c10::IValue value;
  try {
    value = torch::jit::pickle_load(bytes);
  } catch (const std::exception& e) {
    fail(path, "not a readable tensor dict (torch.save format; truncated or damaged?): " +
                   export_error_line(e.what()));
  }
  if (!value.isGenericDict()) {
    fail(path, "holds a pickled " + value.tagKind() + ", not a dict of tensors");
  }
  TensorDict out;
  for (const auto& entry : value.toGenericDict()) {
    if (!entry.key().isString() || !entry.value().isTensor()) {
      fail(path, "holds a dict whose entries are not all name -> tensor");
    }
    out.emplace_back(entry.key().toStringRef(), entry.value().toTensor());
  }
  return out;
}

std::string config_path_beside(const std::string& weights_path) {
  const std::string ext = ".pt";
  if (weights_path.size() > ext.size() &&
      weights_path.compare(weights_path.size() - ext.size(), ext.size(), ext) == 0) {
    return weights_path.substr(0, weights_path.size() - ext.size()) + ".json";
  }
  return weights_path + ".json";
}

std::string export_weights(const std::string& path, const torch::nn::Module& model,
                           const UNetConfig& config) {
  save_tensor_dict(path, state_dict(model));
  const std::string config_path = config_path_beside(path);
  core::write_json_atomically(config_path, to_json(config));
  return config_path;
}

}  // namespace revunet::nn
