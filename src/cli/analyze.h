// lmzip ncd, classify and score: the model as a measure of texts
// (lmzip.h's CodeLengths; docs/cli.md).
#pragma once
#include <CLI/CLI.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace lmzip::cli {

struct AnalyzeOptions {
  // Shared by the three commands, as for compressing.
  int level = 0;
  int threads = 0;  // 0: the usable cores
  std::string model;
  std::string device = "auto";
  std::uint64_t memory_limit = 0;
  int verbosity = 0;
  // ncd
  std::vector<std::string> files;
  std::vector<std::string> against;
  // classify
  std::string train_dir;
  std::string eval_dir;
  int k = 1;
  std::string distances_file;
  // score
  bool lines = false;
};

struct AnalyzeCommands {
  CLI::App* ncd = nullptr;
  CLI::App* classify = nullptr;
  CLI::App* score = nullptr;
};

// Declares the commands' own options (the caller adds the shared ones).
AnalyzeCommands add_analyze_commands(CLI::App& app, AnalyzeOptions& options);
// The level `command` of these runs at without a level flag: ncd and classify
// code every pair of texts, 1 (on the classification benchmark, 61.3% right
// against -5's 62.5%, in a eighteenth of the time: bench/results/classify.md);
// score codes each text once, the compressor's default.
int default_analyze_level(const AnalyzeCommands& commands, const CLI::App* command);
// Runs the command that was parsed; returns the exit status (1 on error,
// with a message on stderr).
int run_analyze(const AnalyzeCommands& commands, const AnalyzeOptions& options);

}  // namespace lmzip::cli
