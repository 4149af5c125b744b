// gantry pack idx | images: build a gantry HDF5 dataset (data/packers.h).
#include <memory>

#include "cli/commands.h"
#include "cli/data_commands_common.h"

namespace gantry::cli {

CLI::App* add_pack_command(CLI::App& app, Action& action) {
  auto* pack = app.add_subcommand("pack", "Pack a dataset into gantry's HDF5 format");
  pack->require_subcommand(1);

  auto idx = std::make_shared<data::PackIdxOptions>();
  auto* sub_idx = pack->add_subcommand("idx", "MNIST / Fashion-MNIST idx files (gzipped or plain)");
  sub_idx->add_option("--images", idx->images, "idx3 image file")->required();
  sub_idx->add_option("--labels", idx->labels, "idx1 label file (optional)");
  add_output_options(sub_idx, idx->output);
  sub_idx->callback([&action, idx] {
    action = [idx] {
      idx->output.command = invocation();
      return run_packer([idx] { return data::pack_idx(*idx); });
    };
  });

  auto img = std::make_shared<data::PackImagesOptions>();
  auto* sub_img =
      pack->add_subcommand("images", "A folder tree of PNG/JPEG images, center-cropped and resized to R x R");
  sub_img->add_option("--dir", img->dir, "image folder (searched recursively, sorted by path)")->required();
  sub_img->add_option("--size", img->size, "output resolution R")->required()->check(CLI::Range(1, 8192));
  sub_img->add_option("--channels", img->channels, "3 (RGB) or 1 (grayscale)")->check(CLI::IsMember({1, 3}));
  sub_img->add_option("--threads", img->threads, "decoding threads (0: all cores)")->check(CLI::NonNegativeNumber);
  sub_img->add_flag("--skip-bad", img->skip_bad, "skip undecodable images and list them at the end");
  add_output_options(sub_img, img->output);
  sub_img->callback([&action, img] {
    action = [img] {
      img->output.command = invocation();
      return run_packer([img] { return data::pack_images(*img); });
    };
  });
  return pack;
}

}  // namespace gantry::cli
