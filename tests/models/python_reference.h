// Runs tests/<script> (default models/reference.py) CASE on named input tensors and returns the
// named tensors it computed (torch.save / torch::pickle_load round trip). The
// Python is GANTRY_PYTHON (the venv with torch), set by ctest.
#pragma once
#include <gtest/gtest.h>
#include <torch/torch.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <stdexcept>
#include <string>

namespace gantry::test {

using Tensors = std::map<std::string, torch::Tensor>;

// `script` is relative to tests/ (each test area keeps its own reference file).
inline Tensors python_reference(const std::string& case_name, const Tensors& inputs,
                                const std::string& script = "models/reference.py") {
  const char* py = std::getenv("GANTRY_PYTHON");
  if (!py || !*py) throw std::runtime_error("GANTRY_PYTHON is not set (ctest sets it)");
  c10::Dict<std::string, at::Tensor> dict;
  for (const auto& [k, v] : inputs) dict.insert(k, v.detach().contiguous());
  const auto dir = std::filesystem::temp_directory_path();
  const std::string stem = (dir / ("gantry-ref-" + case_name + "-" + std::to_string(::getpid()))).string();
  {
    const auto bytes = torch::pickle_save(c10::IValue(dict));
    std::ofstream(stem + ".in", std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  }
  const std::string cmd = std::string(py) + " " + GANTRY_TEST_SOURCE_DIR "/" + script + " " + case_name + " " + stem +
                          ".in " + stem + ".out";
  if (std::system(cmd.c_str()) != 0) throw std::runtime_error("reference.py failed: " + cmd);
  std::ifstream in(stem + ".out", std::ios::binary);
  std::vector<char> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  std::filesystem::remove(stem + ".in");
  std::filesystem::remove(stem + ".out");
  Tensors out;
  for (const auto& kv : torch::pickle_load(bytes).toGenericDict()) out[kv.key().toStringRef()] = kv.value().toTensor();
  return out;
}

// Max |a − b| ≤ atol + rtol |b| elementwise, with a message naming the quantity.
inline ::testing::AssertionResult close(const torch::Tensor& a, const torch::Tensor& b, const std::string& what,
                                        double rtol = 1e-9, double atol = 1e-10) {
  if (!a.defined() || !b.defined()) return ::testing::AssertionFailure() << what << ": undefined tensor";
  if (a.sizes() != b.sizes())
    return ::testing::AssertionFailure() << what << ": shape " << a.sizes() << " vs " << b.sizes();
  const auto ad = a.detach().to(torch::kDouble), bd = b.detach().to(torch::kDouble);
  if (torch::allclose(ad, bd, rtol, atol)) return ::testing::AssertionSuccess();
  return ::testing::AssertionFailure() << what << ": max |diff| " << (ad - bd).abs().max().item<double>();
}

}  // namespace gantry::test
