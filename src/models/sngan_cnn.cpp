// SNGAN "standard CNN" [Miyato et al. 2018, Table 3] for 32² and 48²:
// G (models/deconv_stack_generator.h): z → linear → (8w, s0, s0) [s0 = res/8],
//    norm, ReLU → 3 × [deconv 4×4 s2 halving, norm, ReLU] → conv 3×3 → image,
//    tanh   (w = 64: 512-256-128-64)
// D: conv3 w, conv4s2 w, conv3 2w, conv4s2 2w, conv3 4w, conv4s2 4w, conv3 8w
//    (LeakyReLU 0.1; d_norm after every conv but the first), features =
//    flatten (8w · s0²), head. Widths 64-64-128-128-256-256-512 as Miyato
//    (GN-GAN's doubled widths: d_width = 128). Init N(0, 0.02²).
#include "models/architectures.h"
#include "models/conv_stack_discriminator.h"
#include "models/deconv_stack_generator.h"

namespace gantry::models {

std::shared_ptr<Generator> make_sngan_cnn_generator(const ModelConfig& c, dist::Communicator* bn_sync) {
  const int64_t w = c.g_width > 0 ? c.g_width : 64;
  return make_deconv_stack_generator(c, {c.resolution / 8, 8 * w, 3, w, /*last_deconv_writes_image=*/false}, bn_sync);
}
std::shared_ptr<Discriminator> make_sngan_cnn_discriminator(const ModelConfig& c, dist::Communicator* bn_sync,
                                                            dist::Communicator* mbd_sync) {
  // Miyato et al. 2018, Table 3: 3×3 stride-1 / 4×4 stride-2 pairs, widths 64-64-128-128-256-256-512, LeakyReLU 0.1.
  const int64_t w = c.d_width > 0 ? c.d_width : 64;
  const std::vector<ConvSpec> specs = {{w, 3, 1, 1},     {w, 4, 2, 1},     {2 * w, 3, 1, 1}, {2 * w, 4, 2, 1},
                                       {4 * w, 3, 1, 1}, {4 * w, 4, 2, 1}, {8 * w, 3, 1, 1}};
  return make_conv_stack_discriminator(c, specs, c.resolution / 8, 0.1, bn_sync, mbd_sync);
}

}  // namespace gantry::models
