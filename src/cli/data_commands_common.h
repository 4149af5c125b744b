// Options shared by the data-writing subcommands (pack idx, pack images, synth)
// and the JSON summary they print on stdout.
#pragma once
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "data/packers.h"

namespace gantry::cli {

void add_output_options(CLI::App* sub, data::PackOutput& out);
nlohmann::json summary_json(const data::PackResult& result);
// Runs a packer with SIGINT/SIGTERM handled: exit 130 after removing the partial output.
int run_packer(const std::function<data::PackResult()>& pack);

}  // namespace gantry::cli
