// Precompiled header: the expensive, stable headers of every torch-heavy translation unit.
#pragma once
#include <mpi.h>
#include <torch/torch.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>
