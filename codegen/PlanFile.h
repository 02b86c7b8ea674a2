#pragma once
/// \file
/// The plan file: a versioned JSON document (docs/plan-format.md). Reading is strict: every
/// field is type-checked (a one-line reel::Error naming the file and the JSON path), then the
/// whole plan goes through checkPlan (codegen/PlanCheck.h): kernel ids, argument counts and
/// ranges, launch dims, and every pointer argument's footprint inside its buffer (one line
/// naming the step and the argument). A damaged or hostile plan never reaches a kernel.

#include "codegen/Plan.h"

#include <string>

namespace reel::codegen {

std::string planToJson(const Plan& plan);
/// Parses and validates; `fileName` is used in messages.
Plan planFromJson(const std::string& text, const std::string& fileName);

void writePlanFile(const Plan& plan, const std::string& path);
Plan readPlanFile(const std::string& path);

/// Whether `path` names a plan file: a `.plan` file, or a `.json` file whose top-level
/// "format" is the plan's (a Hugging Face config.json is a model, not a plan).
bool isPlanFile(const std::string& path);

/// A stable 64-bit hash (FNV-1a) of a model config's canonical text.
uint64_t hashConfigText(const std::string& canonicalText);

}  // namespace reel::codegen
