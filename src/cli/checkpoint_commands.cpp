// Checkpoint companions of gantry train:
//   gantry sample  --run-dir DIR [--checkpoint FILE] --count N --out FILE.png|DIR/ [--ema] [--seed S]
//                  (FILE.npy: the values as float32; 2-D models also FILE.csv | FILE.png, a scatter plot over the
//                  modes)
//   gantry export  --checkpoint FILE --net G|D|G_ema --out FILE.safetensors
//   gantry export  --checkpoint FILE --net G|G_ema --format torchscript --out FILE.pt
//                  (a module torch.jit.load runs without gantry: models/script_export.h; attributes net,
//                  step, config, and for 2-D models mixture, mixture_centers [K, 2] float64, mixture_sigma)
//   gantry inspect --checkpoint FILE   (see inspect_command.cpp)
#include <torch/script.h>
#include <xxhash.h>

#include <cstdio>
#include <filesystem>
#include <memory>

#include "cli/commands.h"
#include "common/atomic_file.h"
#include "common/mixture2d.h"
#include "eval/mode_coverage.h"
#include "train/checkpoint_nets.h"
#include "train/safetensors_writer.h"
#include "train/point_outputs.h"
#include "train/sample_grid.h"

namespace gantry::cli {

namespace fs = std::filesystem;

enum class ExportFormat { kSafetensors, kTorchscript };
constexpr EnumName<ExportFormat> kExportFormatNames[] = {{ExportFormat::kSafetensors, "safetensors"},
                                                         {ExportFormat::kTorchscript, "torchscript"}};
constexpr std::span<const EnumName<ExportFormat>> enum_names(ExportFormat) { return kExportFormatNames; }

// The generator of a checkpoint as TorchScript, with where it came from as attributes.
void write_torchscript(train::CheckpointNets& nets, train::Net which, const std::string& out) {
  if (which == train::Net::kD)
    throw std::invalid_argument("export: --format torchscript writes a generator (--net G or G_ema), not D");
  auto& g = which == train::Net::kG ? nets.g : nets.g_ema;
  auto m = g->to_torchscript();
  m.register_attribute("net", c10::StringType::get(), std::string(enum_name(which)));
  m.register_attribute("step", c10::IntType::get(), nets.step);
  m.register_attribute("config", c10::StringType::get(), nets.config_text);
  // A 2-D model carries its data's geometry, so that tools measuring samples against the modes
  // (bench/route_quality.py) read it from here rather than keep a copy of common/mixture2d.h.
  if (!nets.config.data.mixture.empty()) {
    const Mixture2D mix = mixture_by_name(nets.config.data.mixture);
    m.register_attribute("mixture", c10::StringType::get(), mix.name);
    m.register_attribute("mixture_centers", c10::TensorType::get(), eval::mixture_centers(mix));
    m.register_attribute("mixture_sigma", c10::FloatType::get(), mix.sigma);
  }
  write_atomically(out, [&](const fs::path& temp) { m.save(temp.string()); });
}

CLI::App* add_sample_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("sample", "Generate images from a checkpoint (a PNG grid, or one PNG per image)");
  struct Opts {
    std::string run_dir, checkpoint, out;
    int64_t count = 64;
    uint64_t seed = 0;
    bool ema = false;
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--run-dir", o->run_dir, "run dir (its newest valid checkpoint)");
  sub->add_option("--checkpoint", o->checkpoint, "a checkpoint file (instead of --run-dir)");
  sub->add_option("--count", o->count, "number of images")->check(CLI::Range(1, 100000));
  sub->add_option("--out", o->out,
                  "FILE.png for a grid, or DIR/ for one PNG per image (2-D models: .csv, .npy or a .png scatter plot)")
      ->required();
  sub->add_flag("--ema", o->ema, "use the EMA of G");
  sub->add_option("--seed", o->seed, "noise seed");
  sub->callback([&action, o] {
    action = [o] {
      if (o->run_dir.empty() == o->checkpoint.empty())
        throw std::invalid_argument("sample: give exactly one of --run-dir and --checkpoint");
      const fs::path file = o->checkpoint.empty() ? train::newest_checkpoint(o->run_dir) : fs::path(o->checkpoint);
      auto nets = train::load_nets(file);
      auto& g = o->ema ? nets.g_ema : nets.g;
      torch::NoGradGuard ng;
      auto gen = at::make_generator<at::CPUGeneratorImpl>(o->seed);
      std::vector<torch::Tensor> parts;
      for (int64_t done = 0; done < o->count; done += 256) {
        g->set_route_context({0, done});
        parts.push_back(g->forward(torch::randn({std::min<int64_t>(256, o->count - done), g->z_dim()}, gen)));
      }
      const auto images = torch::cat(parts);
      const bool to_dir = o->out.ends_with("/") || fs::is_directory(o->out);
      if (nets.config.model.arch == models::Arch::kMlp) {  // points: .csv | .npy | .png (scatter plot)
        train::write_points(images, mixture_by_name(nets.config.data.mixture), o->out);
      } else if (o->out.ends_with(".npy")) {
        train::write_npy(images, o->out);  // the values, unquantised
      } else if (to_dir) {
        fs::create_directories(o->out);
        char name[32];
        for (int64_t i = 0; i < images.size(0); ++i) {
          std::snprintf(name, sizeof name, "%06lld.png", static_cast<long long>(i));
          train::write_png(images[i], (fs::path(o->out) / name).string());
        }
      } else {
        train::write_png_grid(images, o->out);
      }
      std::printf("{\"checkpoint\":\"%s\",\"step\":%lld,\"count\":%lld,\"out\":\"%s\",\"ema\":%s}\n", file.c_str(),
                  static_cast<long long>(nets.step), static_cast<long long>(o->count), o->out.c_str(),
                  o->ema ? "true" : "false");
      return 0;
    };
  });
  return sub;
}

CLI::App* add_export_command(CLI::App& app, Action& action) {
  auto* sub = app.add_subcommand("export",
                                 "Write one network of a checkpoint as safetensors (tensors under their module names) "
                                 "or a generator as TorchScript (torch.jit.load, no gantry needed)");
  struct Opts {
    std::string checkpoint, net = "G_ema", out, format = "safetensors";
  };
  auto o = std::make_shared<Opts>();
  sub->add_option("--checkpoint", o->checkpoint, "checkpoint file")->required();
  sub->add_option("--net", o->net, enum_choices<train::Net>());
  sub->add_option("--out", o->out, "output file (.safetensors, or .pt for TorchScript)")->required();
  sub->add_option("--format", o->format, enum_choices<ExportFormat>());
  sub->callback([&action, o] {
    action = [o] {
      // A bad value's error line names the flag it came from.
      auto flag = [](const char* name, auto parse) {
        try {
          return parse();
        } catch (const std::invalid_argument& e) {
          throw std::invalid_argument(std::string("export: ") + name + " " + e.what());
        }
      };
      const auto which = flag("--net", [&] { return parse_enum<train::Net>(o->net); });
      const auto format = flag("--format", [&] { return parse_enum<ExportFormat>(o->format); });
      auto nets = train::load_nets(o->checkpoint);
      if (format == ExportFormat::kTorchscript) {
        write_torchscript(nets, which, o->out);
        std::printf("{\"out\":\"%s\",\"net\":\"%s\",\"format\":\"torchscript\",\"step\":%lld}\n", o->out.c_str(),
                    o->net.c_str(), static_cast<long long>(nets.step));
        return 0;
      }
      torch::nn::Module& m = nets.module(which);
      std::vector<std::pair<std::string, torch::Tensor>> tensors;
      for (const auto& p : m.named_parameters()) tensors.emplace_back(p.key(), p.value());
      for (const auto& b : m.named_buffers()) tensors.emplace_back(b.key(), b.value());
      train::write_safetensors(
          tensors, {{"net", o->net}, {"step", std::to_string(nets.step)}, {"config", nets.config_text}}, o->out);
      std::printf("{\"out\":\"%s\",\"net\":\"%s\",\"tensors\":%zu,\"step\":%lld}\n", o->out.c_str(), o->net.c_str(),
                  tensors.size(), static_cast<long long>(nets.step));
      return 0;
    };
  });
  return sub;
}

}  // namespace gantry::cli
