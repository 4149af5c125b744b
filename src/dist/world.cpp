#include "dist/world.h"

#include <ATen/Parallel.h>
#include <torch/cuda.h>

#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "dist/communicator.h"
#include "dist/error.h"

namespace gantry::dist {
namespace {

World* g_world = nullptr;

double env_double(const char* name, double fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') return fallback;
  char* end = nullptr;
  const double d = std::strtod(v, &end);
  if (end == v || *end != '\0' || d < 0) throw DistError(std::string(name) + "='" + v + "' is not a number >= 0");
  return d;
}

}  // namespace

WorldOptions WorldOptions::from_env() {
  WorldOptions o;
  o.intra_op_threads = static_cast<int>(env_double("GANTRY_THREADS", 0));
  if (const char* d = std::getenv("GANTRY_DEVICE"); d && *d) {
    const std::string device(d);
    if (device == "cpu")
      o.allow_cuda = false;
    else if (device == "cuda")
      o.require_cuda = true;
    else if (device != "auto")
      throw DistError("GANTRY_DEVICE='" + device + "' must be cpu, cuda or auto");
  }
  // Checked here, before MPI starts: every rank stops with this one line, no MPI_Abort banner.
  if (o.require_cuda && !torch::cuda::is_available())
    throw DistError("GANTRY_DEVICE=cuda but no GPU is visible (CUDA_VISIBLE_DEVICES, driver)");
  o.stall_warn_s = env_double("GANTRY_STALL_WARN_S", o.stall_warn_s);
  o.collective_timeout_s = env_double("GANTRY_COLLECTIVE_TIMEOUT_S", o.collective_timeout_s);
  if (const char* v = std::getenv("GANTRY_SHM_REDUCE"); v && *v) {
    const std::string s(v);
    if (s != "0" && s != "1") throw DistError("GANTRY_SHM_REDUCE='" + s + "' must be 0 or 1");
    o.shared_memory_reduce = s == "1";
  }
  return o;
}

int default_intra_op_threads(int local_size) {
  const int cores = static_cast<int>(std::thread::hardware_concurrency());
  return std::max(1, cores / std::max(1, local_size));
}

World& World::init(int* argc, char*** argv, const WorldOptions& options) {
  if (g_world != nullptr) throw DistError("World::init called twice");
  int provided = MPI_THREAD_SINGLE;
  check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_MULTIPLE, &provided), "MPI_Init_thread");
  auto* w = new World();
  g_world = w;
  w->options_ = options;
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  MPI_Comm_rank(MPI_COMM_WORLD, &w->rank_);
  MPI_Comm_size(MPI_COMM_WORLD, &w->size_);
  if (provided < MPI_THREAD_SERIALIZED) {
    throw DistError("MPI provides thread level " + std::to_string(provided) +
                    "; gantry needs at least MPI_THREAD_SERIALIZED");
  }

  // Under Slurm, a launch that silently started singletons (srun without PMIx) shows as a size mismatch.
  if (const char* ntasks = std::getenv("SLURM_NTASKS")) {
    if (std::getenv("SLURM_STEP_ID") != nullptr && std::atoi(ntasks) != w->size_) {
      throw DistError("MPI world size " + std::to_string(w->size_) + " != SLURM_NTASKS " + ntasks +
                      ": ranks were not wired together (use srun --mpi=pmix or mpirun inside the allocation)");
    }
  }

  MPI_Comm local;
  check_mpi(MPI_Comm_split_type(MPI_COMM_WORLD, MPI_COMM_TYPE_SHARED, w->rank_, MPI_INFO_NULL, &local),
            "MPI_Comm_split_type");
  MPI_Comm_rank(local, &w->local_rank_);
  MPI_Comm_size(local, &w->local_size_);
  MPI_Comm_free(&local);

  int threads = options.intra_op_threads > 0 ? options.intra_op_threads : default_intra_op_threads(w->local_size_);
  at::set_num_threads(threads);
  at::set_num_interop_threads(1);

  int cuda_device = -1;
  if (options.allow_cuda && torch::cuda::is_available()) {
    const int n = static_cast<int>(torch::cuda::device_count());
    if (w->local_rank_ >= n) {
      throw DistError("local rank " + std::to_string(w->local_rank_) + " has no GPU: this node has " +
                      std::to_string(n) + " (start at most one rank per GPU)");
    }
    cuda_device = w->local_rank_;
    w->device_ = torch::Device(torch::kCUDA, cuda_device);
  }

  WatchdogOptions wd;
  wd.stall_warn_s = options.stall_warn_s;
  wd.timeout_s = options.collective_timeout_s;
  MPI_Comm comm;
  check_mpi(MPI_Comm_dup(MPI_COMM_WORLD, &comm), "MPI_Comm_dup");
  MPI_Comm_set_errhandler(comm, MPI_ERRORS_RETURN);
  w->comm_ = std::make_unique<Communicator>(comm, wd, provided == MPI_THREAD_MULTIPLE, cuda_device,
                                            options.shared_memory_reduce);
  return *w;
}

World& World::get() {
  if (g_world == nullptr) throw DistError("World used before World::init");
  return *g_world;
}

bool World::initialized() { return g_world != nullptr; }

void World::finalize() {
  if (finalized_) return;
  finalized_ = true;
  if (comm_) {
    comm_->barrier();
    MPI_Comm c = comm_->mpi_comm();
    comm_->shutdown();
    MPI_Comm_free(&c);
  }
  MPI_Finalize();
}

World::World() : device_(torch::kCPU) {}
World::~World() = default;

void World::abort(int code, const std::string& message) {
  int rank = -1, inited = 0, fin = 0;
  MPI_Initialized(&inited);
  MPI_Finalized(&fin);
  if (inited && !fin) MPI_Comm_rank(MPI_COMM_WORLD, &rank);
  if (rank >= 0) {
    std::fprintf(stderr, "gantry: rank %d: %s\n", rank, message.c_str());
  } else {
    std::fprintf(stderr, "gantry: %s\n", message.c_str());
  }
  std::fflush(stderr);
  if (inited && !fin) MPI_Abort(MPI_COMM_WORLD, code);
  std::exit(code);
}

}  // namespace gantry::dist
