// Normalisation and activation layers chosen by name, shared by MBConv and the U-Net.
#pragma once

#include <torch/nn/modules/container/any.h>

#include <string>

namespace revunet::nn {

enum class NormKind { kGroup, kInstance };
enum class ActivationKind { kSiLU, kReLU6, kLeakyReLU };

// "group" / "instance"; "silu" / "relu6" / "leaky_relu". Unknown names throw revunet::Error.
NormKind parse_norm(const std::string& text);
ActivationKind parse_activation(const std::string& text);
std::string to_string(NormKind kind);
std::string to_string(ActivationKind kind);

// The largest group count <= `wanted` that divides `channels` (group norm needs a divisor).
int64_t group_count(int64_t channels, int64_t wanted);

// Stateless norms only (no running statistics), so recomputation in backward is side-effect free.
torch::nn::AnyModule make_norm(NormKind kind, int64_t channels, int64_t groups);
torch::nn::AnyModule make_activation(ActivationKind kind);

}  // namespace revunet::nn
