// gantry version: what this binary is and what it was built with.
#include <H5public.h>
#include <mpi.h>
#include <torch/version.h>

#include <cstdio>
#include <string>

#ifdef GANTRY_HAVE_NCCL
#include <cuda_runtime_api.h>
#include <nccl.h>
#endif

#include "cli/commands.h"
#include "gantry/build_info.h"

namespace gantry::cli {
namespace {

std::string mpi_library() {
  char buf[MPI_MAX_LIBRARY_VERSION_STRING];
  int len = 0;
  MPI_Get_library_version(buf, &len);  // allowed before MPI_Init
  std::string s(buf, len);
  const auto nl = s.find_first_of("\r\n,");
  if (nl != std::string::npos) s.resize(nl);
  int major = 0, minor = 0;
  MPI_Get_version(&major, &minor);
  return s + " (MPI " + std::to_string(major) + "." + std::to_string(minor) + ")";
}

std::string hdf5_version() {
  unsigned maj = 0, min = 0, rel = 0;
  H5get_libversion(&maj, &min, &rel);
  return std::to_string(maj) + "." + std::to_string(min) + "." + std::to_string(rel);
}

std::string cuda_nccl() {
#ifdef GANTRY_HAVE_NCCL
  int rt = 0;
  cudaRuntimeGetVersion(&rt);
  int nccl = 0;
  ncclGetVersion(&nccl);
  int devices = 0;
  if (cudaGetDeviceCount(&devices) != cudaSuccess) devices = 0;
  return "CUDA runtime " + std::to_string(rt / 1000) + "." + std::to_string(rt % 1000 / 10) + ", NCCL " +
         std::to_string(nccl / 10000) + "." + std::to_string(nccl / 100 % 100) + "." + std::to_string(nccl % 100) +
         ", " + std::to_string(devices) + " GPU(s) visible";
#else
  return "CPU only (built without CUDA/NCCL)";
#endif
}

}  // namespace

CLI::App* add_version_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("version", "Print gantry's version and the libraries it was built with");
  sub->callback([&action] {
    action = [] {
      std::printf("gantry %s (%s, %s)\n", GANTRY_VERSION, GANTRY_BUILD_TYPE, GANTRY_CXX_COMPILER);
      std::printf("LibTorch %s\n", TORCH_VERSION);
      std::printf("CUDA/NCCL %s\n", cuda_nccl().c_str());
      std::printf("MPI %s\n", mpi_library().c_str());
      std::printf("HDF5 %s\n", hdf5_version().c_str());
      return 0;
    };
  });
  return sub;
}

}  // namespace gantry::cli
