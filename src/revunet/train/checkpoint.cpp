#include "revunet/train/checkpoint.h"

#include <ATen/Context.h>
#include <torch/cuda.h>
#include <torch/serialize/input-archive.h>
#include <torch/serialize/output-archive.h>
#include <torch/version.h>
#include <zlib.h>

#include <array>
#include <cstring>
#include <fstream>
#include <mutex>
#include <sstream>

#include "revunet/core/error.h"
#include "revunet/core/run_info.h"

namespace revunet::train {
namespace {

constexpr std::array<char, 8> kMagic = {'R', 'V', 'N', 'C', 'K', 'P', 'T', '\x01'};
constexpr size_t kHeaderBytes = 24;
constexpr int kFormat = 1;

uint32_t crc32_of(const std::string& bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large payloads in chunks.
  constexpr size_t kChunk = size_t{1} << 30;
  for (size_t at = 0; at < bytes.size(); at += kChunk) {
    const size_t n = std::min(kChunk, bytes.size() - at);
    crc = crc32(crc, reinterpret_cast<const Bytef*>(bytes.data() + at), static_cast<uInt>(n));
  }
  return static_cast<uint32_t>(crc);
}

void put_le(std::string& out, uint64_t value, int bytes) {
  for (int i = 0; i < bytes; ++i) out.push_back(static_cast<char>((value >> (8 * i)) & 0xff));
}

uint64_t get_le(const std::string& in, size_t at, int bytes) {
  uint64_t value = 0;
  for (int i = 0; i < bytes; ++i) {
    value |= static_cast<uint64_t>(static_cast<unsigned char>(in[at + i])) << (8 * i);
  }
  return value;
}

torch::Tensor bytes_to_tensor(const std::string& bytes) {
  torch::Tensor t = torch::empty({static_cast<int64_t>(bytes.size())}, torch::kUInt8);
  if (!bytes.empty()) std::memcpy(t.data_ptr<uint8_t>(), bytes.data(), bytes.size());
  return t;
}

std::string tensor_to_bytes(const torch::Tensor& t) {
  const torch::Tensor c = t.to(torch::kCPU, torch::kUInt8).contiguous();
  return std::string(reinterpret_cast<const char*>(c.data_ptr<uint8_t>()),
                     static_cast<size_t>(c.numel()));
}

// Parameters then buffers, by qualified name: the order the archive keys follow.
struct NamedTensor {
  std::string name;
  torch::Tensor tensor;
  bool is_buffer;
};
std::vector<NamedTensor> model_tensors(const torch::nn::Module& model) {
  std::vector<NamedTensor> out;
  for (const auto& item : model.named_parameters(/*recurse=*/true)) {
    out.push_back({item.key(), item.value(), false});
  }
  for (const auto& item : model.named_buffers(/*recurse=*/true)) {
    out.push_back({item.key(), item.value(), true});
  }
  return out;
}

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) fail(path, "cannot open the checkpoint for reading");
  std::ostringstream buffer;
  buffer << in.rdbuf();
  if (in.bad()) fail(path, "read error");
  return buffer.str();
}

// Checks header, size and checksum; returns the payload.
std::string verified_payload(const std::string& path) {
  const std::string file = read_file(path);
  if (file.size() < kHeaderBytes || std::memcmp(file.data(), kMagic.data(), 7) != 0) {
    fail(path, "not a revunet checkpoint (bad header); was it written by `revunet train`?");
  }
  if (static_cast<unsigned char>(file[7]) != kFormat) {
    fail(path, "checkpoint format " + std::to_string(static_cast<unsigned char>(file[7])) +
                   " is not supported (expected " + std::to_string(kFormat) + ")");
  }
  const uint64_t size = get_le(file, 8, 8);
  const uint64_t actual = file.size() - kHeaderBytes;
  if (size != actual) {
    fail(path, "checkpoint is truncated or padded: header says " + std::to_string(size) +
                   " payload bytes, the file has " + std::to_string(actual) +
                   "; use the previous checkpoint");
  }
  std::string payload = file.substr(kHeaderBytes);
  const uint32_t expected = static_cast<uint32_t>(get_le(file, 16, 4));
  if (crc32_of(payload) != expected) {
    fail(path, "checkpoint is damaged (crc32 mismatch); use the previous checkpoint");
  }
  return payload;
}

struct OpenedArchive {
  torch::serialize::InputArchive archive;
  nlohmann::json meta;
};

void open_archive(const std::string& path, OpenedArchive& opened) {
  const std::string payload = verified_payload(path);
  try {
    opened.archive.load_from(payload.data(), payload.size());
    c10::IValue meta;
    opened.archive.read("meta", meta);
    opened.meta = nlohmann::json::parse(meta.toStringRef());
  } catch (const c10::Error& e) {
    fail(path, std::string("checkpoint payload cannot be read: ") + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("checkpoint metadata is not valid JSON: ") + e.what());
  }
}

std::string read_string(torch::serialize::InputArchive& archive, const std::string& key) {
  c10::IValue value;
  archive.read(key, value);
  return value.toStringRef();
}

CheckpointState state_from(const std::string& path, OpenedArchive& opened) {
  CheckpointState state;
  try {
    state.epoch = opened.meta.at("epoch").get<int64_t>();
    state.iteration = opened.meta.at("iteration").get<int64_t>();
    state.trainer = opened.meta.value("trainer", nlohmann::json::object());
    state.model_config = read_string(opened.archive, "model_config");
    state.data_split = read_string(opened.archive, "data_split");
    torch::Tensor data_state;
    opened.archive.read("data_state", data_state, /*is_buffer=*/true);
    state.data_state = tensor_to_bytes(data_state);
  } catch (const c10::Error& e) {
    fail(path, std::string("checkpoint lacks a field: ") + e.what_without_backtrace());
  } catch (const nlohmann::json::exception& e) {
    fail(path, std::string("checkpoint metadata lacks a field: ") + e.what());
  }
  return state;
}

}  // namespace

RngStates RngStates::capture() {
  RngStates states;
  {
    auto gen = at::globalContext().defaultGenerator(c10::kCPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    states.cpu = gen.get_state();
  }
  if (torch::cuda::is_available()) {
    for (int64_t i = 0; i < static_cast<int64_t>(torch::cuda::device_count()); ++i) {
      auto gen = at::globalContext().defaultGenerator(
          c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
      std::lock_guard<std::mutex> lock(gen.mutex());
      states.cuda.push_back(gen.get_state());
    }
  }
  return states;
}

void RngStates::restore() const {
  if (cpu.defined()) {
    auto gen = at::globalContext().defaultGenerator(c10::kCPU);
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(cpu);
  }
  if (cuda.empty() || !torch::cuda::is_available()) return;
  const size_t devices = torch::cuda::device_count();
  for (size_t i = 0; i < std::min(devices, cuda.size()); ++i) {
    auto gen = at::globalContext().defaultGenerator(
        c10::Device(c10::kCUDA, static_cast<c10::DeviceIndex>(i)));
    std::lock_guard<std::mutex> lock(gen.mutex());
    gen.set_state(cuda[i]);
  }
}

void save_checkpoint(const std::string& path, const torch::nn::Module& model,
                     const torch::optim::Optimizer* optimizer, const CheckpointState& state,
                     const RngStates& rng) {
  torch::serialize::OutputArchive archive;
  const std::vector<NamedTensor> tensors = model_tensors(model);
  nlohmann::json names = nlohmann::json::array();
  for (size_t i = 0; i < tensors.size(); ++i) {
    names.push_back(tensors[i].name);
    archive.write("model_" + std::to_string(i), tensors[i].tensor.detach().cpu(),
                  tensors[i].is_buffer);
  }
  const nlohmann::json meta = {{"format", kFormat},
                               {"libtorch", TORCH_VERSION},
                               {"epoch", state.epoch},
                               {"iteration", state.iteration},
                               {"trainer", state.trainer},
                               {"model_tensors", names},
                               {"has_optimizer", optimizer != nullptr},
                               {"cuda_rng_states", rng.cuda.size()}};
  archive.write("meta", c10::IValue(meta.dump()));
  archive.write("model_config", c10::IValue(state.model_config));
  archive.write("data_split", c10::IValue(state.data_split));
  archive.write("data_state", bytes_to_tensor(state.data_state), /*is_buffer=*/true);
  if (optimizer) {
    torch::serialize::OutputArchive optimizer_archive;
    optimizer->save(optimizer_archive);
    archive.write("optimizer", optimizer_archive);
  }
  if (rng.cpu.defined()) archive.write("rng_cpu", rng.cpu.cpu(), /*is_buffer=*/true);
  for (size_t i = 0; i < rng.cuda.size(); ++i) {
    archive.write("rng_cuda_" + std::to_string(i), rng.cuda[i].cpu(), /*is_buffer=*/true);
  }

  std::ostringstream payload_stream;
  archive.save_to(payload_stream);
  const std::string payload = payload_stream.str();
  std::string file(kMagic.begin(), kMagic.end());
  put_le(file, payload.size(), 8);
  put_le(file, crc32_of(payload), 4);
  put_le(file, 0, 4);
  file += payload;
  core::write_file_atomically(path, file);
}

LoadedCheckpoint load_checkpoint(const std::string& path, torch::nn::Module& model,
                                 torch::optim::Optimizer* optimizer) {
  OpenedArchive opened;
  open_archive(path, opened);
  LoadedCheckpoint loaded;
  loaded.state = state_from(path, opened);

  const std::vector<NamedTensor> tensors = model_tensors(model);
  const auto names = opened.meta.value("model_tensors", nlohmann::json::array());
  if (names.size() != tensors.size()) {
    fail(path, "checkpoint has " + std::to_string(names.size()) + " model tensors, the model " +
                   std::to_string(tensors.size()) + "; was it made for another model config?");
  }
  try {
    torch::NoGradGuard no_grad;
    for (size_t i = 0; i < tensors.size(); ++i) {
      const std::string saved_name = names[i].get<std::string>();
      if (saved_name != tensors[i].name) {
        fail(path, "model tensor " + std::to_string(i) + " is '" + saved_name +
                       "' in the checkpoint but '" + tensors[i].name + "' in the model");
      }
      torch::Tensor saved;
      opened.archive.read("model_" + std::to_string(i), saved, tensors[i].is_buffer);
      if (saved.sizes() != tensors[i].tensor.sizes()) {
        std::ostringstream msg;
        msg << "model tensor '" << saved_name << "' has shape " << saved.sizes()
            << " in the checkpoint but " << tensors[i].tensor.sizes() << " in the model";
        fail(path, msg.str());
      }
      tensors[i].tensor.copy_(saved);
    }
    if (optimizer) {
      if (!opened.meta.value("has_optimizer", false)) {
        fail(path, "checkpoint holds no optimiser state (weights only); cannot resume from it");
      }
      torch::serialize::InputArchive optimizer_archive;
      opened.archive.read("optimizer", optimizer_archive);
      optimizer->load(optimizer_archive);
    }
    torch::Tensor cpu_state;
    if (opened.archive.try_read("rng_cpu", cpu_state, /*is_buffer=*/true)) {
      loaded.rng.cpu = cpu_state;
    }
    const int64_t cuda_states = opened.meta.value("cuda_rng_states", int64_t{0});
    for (int64_t i = 0; i < cuda_states; ++i) {
      torch::Tensor s;
      opened.archive.read("rng_cuda_" + std::to_string(i), s, /*is_buffer=*/true);
      loaded.rng.cuda.push_back(s);
    }
  } catch (const c10::Error& e) {
    fail(path, std::string("checkpoint does not fit this model/optimiser: ") +
                   e.what_without_backtrace());
  }
  return loaded;
}

CheckpointState read_checkpoint_state(const std::string& path) {
  OpenedArchive opened;
  open_archive(path, opened);
  return state_from(path, opened);
}

}  // namespace revunet::train
