#pragma once
/// \file
/// The reel subcommands: one file each, listed once in main.cpp's table.

#include <string>

namespace reel::tools {

int runCompile(int argc, char** argv);
int runOpt(int argc, char** argv);
int runModels(int argc, char** argv);
int runPasses(int argc, char** argv);
int runSynth(int argc, char** argv);
int runRun(int argc, char** argv);
int runBench(int argc, char** argv);
int runInspect(int argc, char** argv);

/// Writes `text` to `path`, or to stdout when path is empty or "-".
void writeOutput(const std::string& path, const std::string& text);

}  // namespace reel::tools
