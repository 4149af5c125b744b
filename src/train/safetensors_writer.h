// The safetensors format (huggingface/safetensors): an 8-byte little-endian
// header length, a JSON header {name: {dtype, shape, data_offsets}, ...,
// "__metadata__": {...}} padded with spaces to 8 bytes, then the tensors'
// little-endian bytes back to back. Small enough to write directly.
#pragma once
#include <torch/torch.h>

#include <map>
#include <string>
#include <utility>
#include <vector>

namespace gantry::train {

void write_safetensors(const std::vector<std::pair<std::string, torch::Tensor>>& tensors,
                       const std::map<std::string, std::string>& metadata, const std::string& path);

}  // namespace gantry::train
