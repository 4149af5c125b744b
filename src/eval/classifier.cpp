#include "eval/classifier.h"

#include <torch/script.h>

#include <chrono>
#include <stdexcept>

#include "common/atomic_file.h"
#include "data/h5_image_file.h"

namespace gantry::eval {

namespace fs = std::filesystem;

namespace {

struct Labelled {
  torch::Tensor images;  // uint8 [N, C, H, W]
  torch::Tensor labels;  // int64 [N]
};

Labelled read_all(const fs::path& path) {
  data::H5ImageFile file(path.string());
  const auto& info = file.info();
  if (!info.has_labels) throw std::invalid_argument("classifier: " + path.string() + " has no labels");
  Labelled d;
  d.images = torch::empty({info.count, info.channels, info.height, info.width}, torch::kUInt8);
  file.read_range(0, info.count, d.images.data_ptr<uint8_t>());
  d.labels = torch::tensor(file.labels(), torch::kLong);
  if (d.labels.min().item<int64_t>() < 0)
    throw std::invalid_argument("classifier: " + path.string() + " has negative labels");
  return d;
}

torch::Tensor to_float(const torch::Tensor& u8) { return u8.to(torch::kFloat).div(127.5).sub(1.0); }

struct ClassifierNetImpl : torch::nn::Module {
  ClassifierNetImpl(int64_t channels, int64_t height, int64_t width, int64_t classes, const ClassifierOptions& o) {
    const int64_t w = o.width;
    conv0 = register_module("conv0", torch::nn::Conv2d(torch::nn::Conv2dOptions(channels, w, 3).padding(1)));
    bn0 = register_module("bn0", torch::nn::BatchNorm2d(w));
    conv1 = register_module("conv1", torch::nn::Conv2d(torch::nn::Conv2dOptions(w, 2 * w, 3).padding(1)));
    bn1 = register_module("bn1", torch::nn::BatchNorm2d(2 * w));
    fc = register_module("fc", torch::nn::Linear(2 * w * (height / 4) * (width / 4), o.features));
    out = register_module("out", torch::nn::Linear(o.features, classes));
  }
  std::pair<torch::Tensor, torch::Tensor> forward(const torch::Tensor& x) {
    auto h = torch::max_pool2d(torch::relu(bn0->forward(conv0->forward(x))), 2);
    h = torch::max_pool2d(torch::relu(bn1->forward(conv1->forward(h))), 2);
    const auto f = torch::relu(fc->forward(h.flatten(1)));
    return {f, out->forward(f)};
  }
  torch::nn::Conv2d conv0{nullptr}, conv1{nullptr};
  torch::nn::BatchNorm2d bn0{nullptr}, bn1{nullptr};
  torch::nn::Linear fc{nullptr}, out{nullptr};
};
TORCH_MODULE(ClassifierNet);

// The same forward in TorchScript, over the trained tensors (eval-mode batch norm).
constexpr const char* kForward = R"(
def forward(self, x: Tensor) -> Tuple[Tensor, Tensor]:
    h = torch.conv2d(x, self.conv0_weight, self.conv0_bias, [1, 1], [1, 1])
    h = torch.batch_norm(h, self.bn0_weight, self.bn0_bias, self.bn0_running_mean, self.bn0_running_var, False, 0.0, 1e-05, False)
    h = torch.max_pool2d(torch.relu(h), [2, 2])
    h = torch.conv2d(h, self.conv1_weight, self.conv1_bias, [1, 1], [1, 1])
    h = torch.batch_norm(h, self.bn1_weight, self.bn1_bias, self.bn1_running_mean, self.bn1_running_var, False, 0.0, 1e-05, False)
    h = torch.max_pool2d(torch.relu(h), [2, 2])
    f = torch.relu(torch.linear(torch.flatten(h, 1), self.fc_weight, self.fc_bias))
    return f, torch.linear(f, self.out_weight, self.out_bias)
)";

double accuracy(ClassifierNet& net, const Labelled& d) {
  torch::NoGradGuard ng;
  net->eval();
  int64_t correct = 0;
  for (int64_t lo = 0; lo < d.images.size(0); lo += 1000) {
    const int64_t n = std::min<int64_t>(1000, d.images.size(0) - lo);
    const auto logits = net->forward(to_float(d.images.narrow(0, lo, n))).second;
    correct += (logits.argmax(1) == d.labels.narrow(0, lo, n)).sum().item<int64_t>();
  }
  return static_cast<double>(correct) / d.images.size(0);
}

}  // namespace

ClassifierReport train_classifier(const fs::path& data, const fs::path& test, const fs::path& out,
                                  const ClassifierOptions& o, const std::function<void(int64_t, double)>& progress) {
  if (o.epochs < 1 || o.batch < 1 || o.width < 1 || o.features < 1 || !(o.lr > 0))
    throw std::invalid_argument("classifier: epochs, batch, width, features and lr must be positive");
  const auto start = std::chrono::steady_clock::now();
  const auto train = read_all(data);
  const int64_t n = train.images.size(0), c = train.images.size(1), h = train.images.size(2), w = train.images.size(3);
  if (h < 4 || w < 4) throw std::invalid_argument("classifier: images must be at least 4x4");
  if (n < o.batch) throw std::invalid_argument("classifier: fewer images than one batch");
  ClassifierReport report;
  report.train_images = n;
  report.classes = train.labels.max().item<int64_t>() + 1;
  Labelled held_out;
  if (!test.empty()) {
    held_out = read_all(test);
    if (held_out.images.sizes().slice(1) != train.images.sizes().slice(1))
      throw std::invalid_argument("classifier: " + test.string() + " holds images of another shape than " +
                                  data.string());
    if (held_out.labels.max().item<int64_t>() >= report.classes)
      throw std::invalid_argument("classifier: " + test.string() + " has labels the training set does not");
    report.test_images = held_out.images.size(0);
  }
  torch::manual_seed(o.seed);
  ClassifierNet net(c, h, w, report.classes, o);
  torch::optim::Adam opt(net->parameters(), torch::optim::AdamOptions(o.lr));
  auto gen = at::make_generator<at::CPUGeneratorImpl>(o.seed);
  const int64_t steps_per_epoch = n / o.batch, total_steps = steps_per_epoch * o.epochs;
  int64_t step = 0;
  for (int64_t epoch = 0; epoch < o.epochs; ++epoch) {
    net->train();
    const auto order = torch::randperm(n, gen, torch::kLong);
    int64_t correct = 0, seen = 0;
    for (int64_t lo = 0; lo + o.batch <= n; lo += o.batch) {  // last partial batch dropped (BN statistics)
      const auto idx = order.narrow(0, lo, o.batch);
      const auto x = to_float(train.images.index_select(0, idx));
      const auto y = train.labels.index_select(0, idx);
      const auto logits = net->forward(x).second;
      const auto loss = torch::cross_entropy_loss(logits, y);
      // Learning rate decayed linearly to 0 over the run (a cheap, robust schedule for a few epochs).
      static_cast<torch::optim::AdamOptions&>(opt.param_groups()[0].options())
          .lr(o.lr * (1.0 - static_cast<double>(step++) / total_steps));
      opt.zero_grad();
      loss.backward();
      opt.step();
      correct += (logits.argmax(1) == y).sum().item<int64_t>();
      seen += o.batch;
    }
    report.train_accuracy = seen ? static_cast<double>(correct) / seen : 0;
    if (progress) progress(epoch + 1, report.train_accuracy);
  }
  if (!test.empty()) report.test_accuracy = accuracy(net, held_out);

  torch::jit::Module m("gantry_classifier");
  for (const auto& p : net->named_parameters()) {
    auto name = p.key();
    std::replace(name.begin(), name.end(), '.', '_');
    m.register_parameter(name, p.value().detach().clone(), false);
  }
  for (const auto& b : net->named_buffers()) {
    auto name = b.key();
    std::replace(name.begin(), name.end(), '.', '_');
    m.register_buffer(name, b.value().detach().clone());
  }
  m.register_attribute("feature_space", c10::StringType::get(), o.feature_space);
  m.register_attribute("test_accuracy", c10::FloatType::get(), report.test_accuracy);
  m.register_attribute("classifies", c10::BoolType::get(), true);
  m.define(kForward);
  write_atomically(out, [&](const fs::path& temp) { m.save(temp.string()); });
  report.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  return report;
}

}  // namespace gantry::eval
