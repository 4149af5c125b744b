#include "train/checkpoint_file.h"

#include <fcntl.h>
#include <unistd.h>
#include <xxhash.h>

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/atomic_file.h"

namespace gantry::train {

namespace fs = std::filesystem;

namespace {

constexpr char kMagic[8] = {'G', 'A', 'N', 'T', 'R', 'Y', 'C', 'K'};
constexpr size_t kFooter = 24;

int64_t step_of(const fs::path& p) {
  const std::string name = p.filename().string();  // ckpt-000001234.pt
  try {
    return std::stoll(name.substr(5, name.size() - 8));
  } catch (...) {
    return -1;
  }
}

}  // namespace

std::vector<fs::path> list_checkpoints(const fs::path& dir) {
  std::vector<fs::path> out;
  std::error_code ec;
  for (const auto& e : fs::directory_iterator(dir, ec)) {
    const auto name = e.path().filename().string();
    if (name.rfind("ckpt-", 0) == 0 && name.size() > 8 && name.ends_with(".pt") && step_of(e.path()) >= 0)
      out.push_back(e.path());
  }
  std::sort(out.begin(), out.end(), [](const fs::path& a, const fs::path& b) { return step_of(a) > step_of(b); });
  return out;
}

fs::path write_checkpoint(const fs::path& dir, int64_t step, torch::serialize::OutputArchive& archive, int64_t keep) {
  std::ostringstream buf;
  archive.save_to(buf);
  std::string payload = buf.str();
  char footer[kFooter];
  std::memcpy(footer, kMagic, 8);
  const uint64_t size = payload.size(), hash = XXH3_64bits(payload.data(), payload.size());
  std::memcpy(footer + 8, &size, 8);
  std::memcpy(footer + 16, &hash, 8);
  char name[32];
  std::snprintf(name, sizeof name, "ckpt-%09lld.pt", static_cast<long long>(step));
  const fs::path final_path = dir / name;
  write_bytes_atomically(final_path, {payload, std::string_view(footer, kFooter)});
  auto all = list_checkpoints(dir);
  for (size_t i = static_cast<size_t>(std::max<int64_t>(keep, 1)); i < all.size(); ++i) fs::remove(all[i]);
  return final_path;
}

std::string read_checkpoint_payload(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) throw std::runtime_error("cannot open");
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  if (bytes.size() < kFooter || std::memcmp(bytes.data() + bytes.size() - kFooter, kMagic, 8) != 0)
    throw std::runtime_error("no checkpoint footer (truncated or not a gantry checkpoint)");
  uint64_t size = 0, hash = 0;
  std::memcpy(&size, bytes.data() + bytes.size() - 16, 8);
  std::memcpy(&hash, bytes.data() + bytes.size() - 8, 8);
  if (size != bytes.size() - kFooter) throw std::runtime_error("size mismatch (truncated)");
  bytes.resize(size);
  if (XXH3_64bits(bytes.data(), bytes.size()) != hash) throw std::runtime_error("checksum mismatch (corrupted)");
  return bytes;
}

void load_archive(torch::serialize::InputArchive& archive, const std::string& payload, torch::Device device) {
  // Tensors land on `device` whatever device wrote them (a CUDA run's checkpoint loads on a CPU, and back).
  archive.load_from(payload.data(), payload.size(), device);
}

std::optional<LoadedCheckpoint> load_newest_valid(const fs::path& dir, bool report, torch::Device device) {
  for (const auto& p : list_checkpoints(dir)) {
    try {
      const auto payload = read_checkpoint_payload(p);
      LoadedCheckpoint c{p, {}};
      load_archive(c.archive, payload, device);
      return c;
    } catch (const std::exception& e) {
      if (report)
        std::fprintf(stderr, "gantry: checkpoint %s is unusable (%s); falling back to the previous one\n", p.c_str(),
                     e.what());
    }
  }
  return std::nullopt;
}

}  // namespace gantry::train
