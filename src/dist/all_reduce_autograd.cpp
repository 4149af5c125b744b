#include "dist/all_reduce_autograd.h"

#include <torch/autograd.h>

namespace gantry::dist {
namespace {

class AllReduceSumFunction : public torch::autograd::Function<AllReduceSumFunction> {
 public:
  static torch::Tensor forward(torch::autograd::AutogradContext* ctx, const torch::Tensor& input, Communicator* comm) {
    ctx->saved_data["comm"] = reinterpret_cast<std::int64_t>(comm);
    torch::Tensor y = input.contiguous().clone();
    comm->all_reduce(y, ReduceOp::kSum);
    return y;
  }
  static torch::autograd::variable_list backward(torch::autograd::AutogradContext* ctx,
                                                 torch::autograd::variable_list grads) {
    auto* comm = reinterpret_cast<Communicator*>(ctx->saved_data["comm"].toInt());
    torch::Tensor g = grads[0].contiguous().clone();
    comm->all_reduce(g, ReduceOp::kSum);
    return {g, torch::Tensor()};
  }
};

}  // namespace

torch::Tensor all_reduce_sum_with_grad(const torch::Tensor& input, Communicator& comm) {
  if (comm.size() == 1) return input;  // identity, no copy and no collective
  return AllReduceSumFunction::apply(input, &comm);
}

}  // namespace gantry::dist
