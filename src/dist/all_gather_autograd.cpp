#include "dist/all_gather_autograd.h"

#include <torch/autograd.h>

#include <cstdint>

namespace gantry::dist {
namespace {

class AllGatherFunction : public torch::autograd::Function<AllGatherFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, Communicator* comm) {
    std::vector<std::int64_t> rows;
    torch::Tensor gathered = comm->all_gather(input, &rows);
    // Where this rank's rows sit in the gathered tensor.
    std::int64_t offset = 0;
    for (int r = 0; r < comm->rank(); ++r) offset += rows[r];
    ctx->saved_data["offset"] = offset;
    ctx->saved_data["rows"] = input.dim() == 0 ? std::int64_t{1} : input.size(0);
    ctx->saved_data["scalar"] = input.dim() == 0;
    ctx->saved_data["comm"] = reinterpret_cast<std::int64_t>(comm);
    return gathered;
  }

  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    torch::Tensor g = grads[0].contiguous().clone();
    comm->all_reduce(g, ReduceOp::kSum);
    torch::Tensor mine = g.narrow(0, ctx->saved_data["offset"].toInt(), ctx->saved_data["rows"].toInt());
    if (ctx->saved_data["scalar"].toBool()) mine = mine.reshape({});
    return {mine, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_gather_with_grad(const torch::Tensor& input, Communicator& comm) {
  return AllGatherFunction::apply(input, &comm);
}

}  // namespace gantry::dist
