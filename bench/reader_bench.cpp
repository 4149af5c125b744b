// Data reader benchmark (JSON on stdout, rank 0). For each resolution and
// HDF5 layout (images per chunk, gzip) it reports, from a file in page cache:
//   raw_read      — the file's bytes read whole with read(2): the ceiling
//   h5_sequential — the images dataset read whole through HDF5
//   h5_random     — single-image reads in random order from a freshly opened
//                   file (what the I/O thread does; cold HDF5 chunk cache)
//   loader        — PrefetchLoader::next() on every rank: read + decode to
//                   float + flip/shift, no training; aggregate images/s over
//                   ~2 epochs, and how much the process grew meanwhile (HDF5's
//                   chunk cache keeps decompressed multi-image chunks)
// Run: launch/mpirun.sh -n 1 build/bench/bench_reader; launch/mpirun.sh -n 2 build/bench/bench_reader
//      [--res 128,256] [--layouts 1:0,16:0,64:0,1:4,16:4] [--count N] [--steps S] [--batch B] [--dir DIR]
#include <fcntl.h>
#include <mpi.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <sstream>
#include <string>
#include <vector>

#include "data/h5_image_file.h"
#include "data/packers.h"
#include "data/prefetch_loader.h"
#include "common/rng.h"
#include "dist/world.h"

namespace {

using Clock = std::chrono::steady_clock;
double since(Clock::time_point t) { return std::chrono::duration<double>(Clock::now() - t).count(); }

struct Layout {
  int64_t per_chunk;
  int gzip;
};

std::vector<int> parse_list(const std::string& s) {
  std::vector<int> v;
  std::stringstream in(s);
  for (std::string p; std::getline(in, p, ',');) v.push_back(std::stoi(p));
  return v;
}

// "1:0,16:4" → {{1, 0}, {16, 4}} (images per chunk : gzip level)
std::vector<Layout> parse_layouts(const std::string& s) {
  std::vector<Layout> v;
  std::stringstream in(s);
  for (std::string p; std::getline(in, p, ',');) {
    const auto colon = p.find(':');
    v.push_back({std::stoll(p.substr(0, colon)), colon == std::string::npos ? 0 : std::stoi(p.substr(colon + 1))});
  }
  return v;
}

// Resident set size of this process in MB (Linux), to show what a layout costs in memory.
double rss_mb() {
  std::FILE* f = std::fopen("/proc/self/status", "r");
  char line[256];
  double kb = 0;
  while (f && std::fgets(line, sizeof line, f))
    if (std::sscanf(line, "VmRSS: %lf kB", &kb) == 1) break;
  if (f) std::fclose(f);
  return kb / 1024;
}

double raw_read_s(const std::string& path) {
  const auto t = Clock::now();
  const int fd = ::open(path.c_str(), O_RDONLY);
  std::vector<char> buf(8 << 20);
  while (::read(fd, buf.data(), buf.size()) > 0) {
  }
  ::close(fd);
  return since(t);
}

}  // namespace

int main(int argc, char** argv) {
  auto& world = gantry::dist::World::init(&argc, &argv);
  std::vector<int> resolutions = {128, 256};
  std::vector<Layout> layouts = {{1, 0}, {16, 0}, {64, 0}, {1, 4}, {16, 4}};
  int64_t count = 0, steps = 120, batch = 32;
  int decode_threads = 1;
  std::string dir = (std::filesystem::temp_directory_path() / "gantry-bench-reader").string();
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string a = argv[i], v = argv[i + 1];
    if (a == "--res")
      resolutions = parse_list(v);
    else if (a == "--count")
      count = std::stoll(v);
    else if (a == "--steps")
      steps = std::stoll(v);
    else if (a == "--batch")
      batch = std::stoll(v);
    else if (a == "--dir")
      dir = v;
    else if (a == "--decode-threads")
      decode_threads = std::stoi(v);
    else if (a == "--layouts")
      layouts = parse_layouts(v);
    else {
      if (world.rank() == 0) std::fprintf(stderr, "bench_reader: unknown option %s\n", a.c_str());
      world.finalize();
      return 2;
    }
  }
  std::filesystem::create_directories(dir);
  const MPI_Comm comm = MPI_COMM_WORLD;

  if (world.rank() == 0) std::printf("[\n");
  bool first = true;
  for (int res : resolutions) {
    const int64_t n = count > 0 ? count : (res >= 256 ? 2000 : 6000);  // 393 MB / 295 MB
    for (const auto& layout : layouts) {
      const std::string path = dir + "/synth_" + std::to_string(res) + "_c" + std::to_string(layout.per_chunk) + "_z" +
                               std::to_string(layout.gzip) + "_n" + std::to_string(n) + ".h5";
      if (world.rank() == 0 && !std::filesystem::exists(path)) {
        gantry::data::SynthOptions o;
        o.output.out = path;
        o.output.progress = false;
        o.output.images_per_chunk = layout.per_chunk;
        o.output.gzip_level = layout.gzip;
        o.channels = 3;
        o.height = o.width = res;
        o.count = n;
        o.seed = 1;
        gantry::data::synth_dataset(o);
      }
      MPI_Barrier(comm);

      // Page cache warm-up, then the ceiling: the file's bytes read whole.
      raw_read_s(path);
      const double file_mb = std::filesystem::file_size(path) / 1e6;
      const double raw_s = raw_read_s(path);

      gantry::data::OpenOptions open;
      open.file_locking = false;
      gantry::data::H5ImageFile file(path, open);
      const int64_t bytes = file.info().image_bytes();
      std::vector<uint8_t> buf(static_cast<size_t>(std::min<int64_t>(n, 256) * bytes));
      const int64_t random_reads = std::min<int64_t>(n, 1500);
      gantry::SplitMix64 rng(7);
      auto t = Clock::now();
      for (int64_t i = 0; i < random_reads; ++i) file.read_image(static_cast<int64_t>(rng.below(n)), buf.data());
      const double rnd_s = since(t);
      t = Clock::now();
      for (int64_t s = 0; s < n; s += 256) file.read_range(s, std::min<int64_t>(256, n - s), buf.data());
      const double seq_s = since(t);

      gantry::data::LoaderOptions lo;
      lo.path = path;
      lo.open = open;
      lo.global_batch = batch * world.size();  // weak scaling: per-rank batch fixed
      lo.rank = world.rank();
      lo.world = world.size();
      lo.augment.hflip = true;
      lo.augment.max_shift = 4;
      lo.decode_threads = decode_threads;
      double loader_s = 0, rss_growth = 0;
      {
        const double rss0 = rss_mb();
        gantry::data::PrefetchLoader loader(lo);
        for (int i = 0; i < 3; ++i) loader.next();  // fill the pipeline
        MPI_Barrier(comm);
        t = Clock::now();
        for (int64_t i = 0; i < steps; ++i) loader.next();
        double mine = since(t);
        MPI_Allreduce(&mine, &loader_s, 1, MPI_DOUBLE, MPI_MAX, comm);
        const double grew = rss_mb() - rss0;
        MPI_Allreduce(&grew, &rss_growth, 1, MPI_DOUBLE, MPI_MAX, comm);
      }
      if (world.rank() == 0) {
        const double img_mb = bytes / 1e6;
        std::printf(
            "%s  {\"resolution\": %d, \"ranks\": %d, \"images\": %lld, \"images_per_chunk\": %lld, \"gzip\": %d, "
            "\"file_mb\": %.1f, \"raw_read_mb_s\": %.0f, \"raw_read_img_s\": %.0f, "
            "\"h5_sequential_img_s\": %.0f, \"h5_random_img_s\": %.0f, \"h5_random_mb_s\": %.0f, "
            "\"loader_img_s\": %.0f, \"loader_img_s_per_rank\": %.0f, \"loader_rss_growth_mb\": %.0f, "
            "\"batch_per_rank\": %lld, \"decode_threads\": %d}",
            first ? "" : ",\n", res, world.size(), (long long)n, (long long)layout.per_chunk, layout.gzip, file_mb,
            file_mb / raw_s, n / raw_s, n / seq_s, random_reads / rnd_s, random_reads * img_mb / rnd_s,
            steps * batch * world.size() / loader_s, steps * batch / loader_s, rss_growth, (long long)batch,
            decode_threads);
        std::fflush(stdout);
        first = false;
      }
      MPI_Barrier(comm);
    }
  }
  if (world.rank() == 0) std::printf("\n]\n");
  world.finalize();
  return 0;
}
