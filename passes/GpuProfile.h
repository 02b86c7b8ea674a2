#pragma once
/// \file
/// A GPU profile: what the compiler knows of the target GPU (the cost model's inputs and
/// the default decision thresholds). Bundled profiles live in passes/profiles/*.toml and
/// are embedded in the binary; `--gpu NAME`, `--gpu auto` or `--gpu-profile PATH` pick one.

#include "passes/Measurements.h"

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace reel::passes {

struct GpuProfile {
  std::string name;         ///< "h100"
  std::string description;  ///< "NVIDIA H100 80GB HBM3 (SXM)"
  std::string source;       ///< the file it was read from (for messages)
  int smCount = 0;
  int computeCapability = 0;      ///< e.g. 90
  double memoryBandwidthGBs = 0;  ///< achievable read bandwidth, GB/s
  double l2CacheMB = 0;
  double memoryGB = 0;
  double fp16Tflops = 0;    ///< dense tensor-core peak
  double fp8Tflops = 0;     ///< 0 when the GPU has no FP8 tensor cores
  double int8Tops = 0;      ///< DP4A / int8 peak (non tensor core for dp4a)
  double launchCostUs = 0;  ///< cost of one kernel launch inside a CUDA graph, microseconds
  int maxThreadsPerSm = 2048;

  // features
  bool dp4a = true;
  bool fp8 = false;
  bool wgmma = false;
  bool mma = true;  ///< int8/fp16 mma.sync tensor-core kernels on quantized weights

  // default thresholds of the decision passes (each also a pass option)
  int fp8MinM = 5;                     ///< FP8 GEMM from this M on (when fp8)
  int hgemmMinM = 64;                  ///< FP16 HGEMM from this M on
  int flashDecodingMinContext = 1024;  ///< flash-decoding above this KV length
  int gateUpFuseMinM = 2;              ///< fused gate+up DP4A from this M
  int gateUpFuseMaxM = 8;              ///< fused gate+up DP4A up to this M

  /// Kernel times `reel tune` measured on this GPU (`[measured]`; empty: every figure estimated).
  Measurements measured;

  /// Substrings of CUDA device names this profile stands for ("H100"), for --gpu auto.
  std::vector<std::string> deviceNames;
};

/// The GPU present, as the CUDA runtime names it.
struct DetectedGpu {
  std::string name;  ///< "NVIDIA H100 80GB HBM3"
  int smCount = 0;
  int computeCapability = 0;  ///< major * 10 + minor
};

/// Asks the driver for device 0; nullopt when no GPU is visible. passes/ does not link
/// CUDA: the tools layer registers a detector when built with CUDA.
using GpuDetector = std::optional<DetectedGpu> (*)();
/// Registers (or, with nullptr, removes) the detector `--gpu auto` uses.
void setGpuDetector(GpuDetector detector);

/// The bundled profile whose deviceNames match `gpu.name` (case-insensitive substring;
/// among several, the one with gpu's SM count). A matching profile with another SM count
/// takes gpu's SM count. No match: h100, with `note` saying so.
GpuProfile matchGpuProfile(const DetectedGpu& gpu, std::string* note = nullptr);

/// The bundled profile `name` (h100, h200, a100, l40s, rtx4090); throws reel::Error
/// listing the names if unknown.
GpuProfile bundledGpuProfile(const std::string& name);
/// Names of the bundled profiles.
std::vector<std::string> bundledGpuProfileNames();
/// Reads a profile TOML file; throws reel::Error naming file:line:col on bad input.
GpuProfile readGpuProfile(const std::string& path);
/// Parses profile TOML text (fileName for messages).
GpuProfile parseGpuProfile(const std::string& text, const std::string& fileName);
/// The profile as TOML that parseGpuProfile reads back: [gpu], [features], [thresholds] and,
/// where it has measurements, [measured].
std::string formatGpuProfile(const GpuProfile& profile);

/// The profile for `--gpu` (a bundled name or "auto": the GPU present, matched by name
/// and SM count; h100 when no GPU is visible, with `autoNote` saying so).
GpuProfile resolveGpuProfile(const std::string& gpuArg, std::string* autoNote = nullptr);

}  // namespace reel::passes
