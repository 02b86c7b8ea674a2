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
int runLower(int argc, char** argv);
int runTokenize(int argc, char** argv);
int runServe(int argc, char** argv);
int runLoadgen(int argc, char** argv);
int runChat(int argc, char** argv);
int runTune(int argc, char** argv);

/// The bytes of the file at `path`, or of stdin when path is "-"; a one-line error naming
/// the file when it cannot be read.
std::string readInput(const std::string& path);

/// Writes `text` to `path`, or to stdout when path is empty or "-".
void writeOutput(const std::string& path, const std::string& text);

}  // namespace reel::tools
