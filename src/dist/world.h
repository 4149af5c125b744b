// The world: MPI bootstrap, this process's rank / local rank, its device, and
// the communicator every other layer uses. One World per process.
#pragma once
#include <mpi.h>
#include <torch/types.h>

#include <memory>
#include <string>

namespace gantry::dist {

class Communicator;

struct WorldOptions {
  // Intra-op threads per rank; 0 = cores of this node / ranks on this node.
  int intra_op_threads = 0;
  // Use CUDA (cuda:local_rank) when available; false forces the CPU path.
  bool allow_cuda = true;     // GANTRY_DEVICE=cpu: false
  bool require_cuda = false;  // GANTRY_DEVICE=cuda: no visible GPU is an error
  // Warn (naming the ranks that have not arrived) when a collective waits this long.
  double stall_warn_s = 60.0;
  // Abort the whole job when a collective waits this long; 0 disables.
  double collective_timeout_s = 600.0;
  // All ranks on one host: reduce gradient buckets through shared memory instead of MPI.
  bool shared_memory_reduce = true;  // GANTRY_SHM_REDUCE=0: false
  // Overrides from the environment: GANTRY_THREADS, GANTRY_DEVICE (auto, cpu, cuda),
  // GANTRY_STALL_WARN_S, GANTRY_COLLECTIVE_TIMEOUT_S, GANTRY_SHM_REDUCE (0 or 1).
  static WorldOptions from_env();
};

class World {
 public:
  // Initializes MPI (MPI_THREAD_MULTIPLE), discovers ranks, picks the device,
  // checks the Slurm task count, starts the communicator. Throws DistError.
  static World& init(int* argc, char*** argv, const WorldOptions& options = WorldOptions::from_env());
  // The initialized world; throws if init() has not run.
  static World& get();
  static bool initialized();

  int rank() const { return rank_; }
  int size() const { return size_; }
  int local_rank() const { return local_rank_; }
  int local_size() const { return local_size_; }
  bool is_root() const { return rank_ == 0; }
  const torch::Device& device() const { return device_; }
  const WorldOptions& options() const { return options_; }
  Communicator& comm() { return *comm_; }

  // Stops the communicator and calls MPI_Finalize. Idempotent.
  void finalize();
  // Prints "gantry: rank R: <message>" to stderr and aborts every rank with `code`.
  [[noreturn]] static void abort(int code, const std::string& message);

  World(const World&) = delete;
  World& operator=(const World&) = delete;
  ~World();

 private:
  World();
  int rank_ = 0, size_ = 1, local_rank_ = 0, local_size_ = 1;
  torch::Device device_;
  WorldOptions options_;
  std::unique_ptr<Communicator> comm_;
  bool finalized_ = false;
};

// Thread count per rank: hardware threads of the node divided by local ranks, at least 1.
int default_intra_op_threads(int local_size);

}  // namespace gantry::dist
