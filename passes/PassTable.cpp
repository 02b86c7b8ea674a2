// The pass table: one row per built-in pass. Adding a pass = one factory + one row here;
// `reel passes`, pipeline parsing and docs/passes.md follow from the row. After editing a
// row, regenerate the docs: `reel passes --markdown > docs/passes.md` (a ctest compares).
#include "passes/PassTable.h"

#include "passes/DecisionPasses.h"
#include "support/Diagnostics.h"

#include <llvm/ADT/StringRef.h>

#include <algorithm>
#include <cctype>

namespace reel::passes {
namespace {

std::vector<PassInfo> makeTable() {
  std::vector<PassInfo> table = {
      {"shard",
       "split each graph over tp ranks, Megatron-style: q/k/v and gate/up by columns, attn_output and ffn_down by "
       "rows and an all_reduce, token embedding and output head by vocabulary (docs/ir.md, \"Tensor parallel\")",
       "shard",
       {OptionSpec{"tp", OptionKind::Int, "1", "ranks of the tensor-parallel group; 1: no change"}.atLeast(1)},
       createShardPass},
      {"specialize-buckets",
       "clone the generic step into one decode graph per bucket M (@decode.m1, ...), a @prefill graph and any smaller "
       "prefill buckets (@prefill.m64, ...)",
       "specialize",
       {{"buckets", OptionKind::IntList, "", "bucket sizes M of the decode graphs; default: the compile's --buckets"},
        {"prefill-tokens", OptionKind::Int, "",
         "M of the @prefill graph, 0 for none; default: the compile's --prefill-tokens, else the GPU profile's "
         "measured prefill_tokens, else 256"},
        {"prefill-buckets", OptionKind::IntList, "",
         "M of smaller prefill graphs beside @prefill (@prefill.m64, ...), each below prefill-tokens; default: the "
         "compile's --prefill-buckets, else none"}},
       createSpecializeBucketsPass},
      {"canonicalize",
       "merge duplicate source ops, move each next to its first use, drop no-op rope scaling and attention windows",
       "cleanup",
       {},
       createCanonicalizePass},
      {"cse",
       "merge identical side-effect-free ops (same op, operands, attributes and result types)",
       "cleanup",
       {},
       createCsePass},
      {"dce", "remove side-effect-free ops whose results are unused, transitively", "cleanup", {}, createDcePass},
  };
  // The decision passes, one row each, defined next to its pass (passes/<PassName>.cpp).
  for (PassInfo& info : decisionPassInfos()) table.push_back(std::move(info));
  return table;
}

bool isPassName(std::string_view name) {
  if (name.empty() || !std::islower(static_cast<unsigned char>(name.front()))) return false;
  for (size_t i = 0; i < name.size(); ++i) {
    char c = name[i];
    bool word = std::islower(static_cast<unsigned char>(c)) || std::isdigit(static_cast<unsigned char>(c));
    bool joiner = c == '-' && i + 1 < name.size() && name[i - 1] != '-';
    if (!word && !joiner) return false;
  }
  return true;
}

void checkOptionDeclarations(const PassInfo& info) {
  for (size_t i = 0; i < info.options.size(); ++i) {
    const OptionSpec& spec = info.options[i];
    if (!isPassName(spec.name))
      failPlain("pass '{}': option name '{}' is not lower-case words joined by '-'", info.name, spec.name);
    for (size_t j = 0; j < i; ++j)
      if (info.options[j].name == spec.name)
        failPlain("pass '{}': option '{}' is declared twice", info.name, spec.name);
    if (std::optional<std::string> error = optionDeclarationError(spec)) failPlain("pass '{}': {}", info.name, *error);
  }
}

/// The pass names of a pipeline without options (the default pipeline's form).
std::vector<std::string> splitNames(std::string_view text) {
  std::vector<std::string> names;
  for (size_t start = 0; start <= text.size();) {
    size_t comma = std::min(text.find(',', start), text.size());
    names.emplace_back(text.substr(start, comma - start));
    start = comma + 1;
  }
  return names;
}

/// `names` with `info`'s pass inserted next to the first run of its anchor; throws naming
/// the pass and the anchor when the pipeline does not run the anchor.
void insertAtAnchor(std::vector<std::string>& names, const PassInfo& info) {
  const bool after = !info.insertAfter.empty();
  const std::string& anchor = after ? info.insertAfter : info.insertBefore;
  auto found = std::find(names.begin(), names.end(), anchor);
  if (found == names.end())
    failPlain("pass '{}': insert-{} '{}' is not a pass of the default pipeline", info.name, after ? "after" : "before",
              anchor);
  names.insert(after ? found + 1 : found, info.name);
}

}  // namespace

const std::vector<std::string>& passPhases() {
  static const std::vector<std::string> phases = {"shard",  "specialize", "cleanup", "precision",
                                                  "fusion", "attention",  "launch",  "memory"};
  return phases;
}

const std::vector<PassInfo>& builtinPassTable() {
  static const std::vector<PassInfo> table = makeTable();
  return table;
}

PassRegistry& PassRegistry::global() {
  static PassRegistry* registry = [] {
    auto* created = new PassRegistry;
    for (const PassInfo& info : builtinPassTable()) created->add(info);
    return created;
  }();
  return *registry;
}

void registerBuiltinPasses() {
  (void)PassRegistry::global();
}

void PassRegistry::add(PassInfo info, const std::string& origin) {
  if (!isPassName(info.name)) failPlain("{}: pass name '{}' is not lower-case words joined by '-'", origin, info.name);
  if (const RegisteredPass* existing = find(info.name))
    failPlain("{}: pass '{}' is already registered (by {})", origin, info.name, existing->origin);
  if (!info.create) failPlain("{}: pass '{}' has no factory", origin, info.name);
  checkOptionDeclarations(info);
  if (!info.insertAfter.empty() && !info.insertBefore.empty())
    failPlain("{}: pass '{}' sets both insertAfter and insertBefore", origin, info.name);
  if (!info.insertAfter.empty() || !info.insertBefore.empty()) {
    std::vector<std::string> names = splitNames(defaultPipeline());
    try {
      insertAtAnchor(names, info);
    } catch (const Error& error) {
      failPlain("{}: {}", origin, error.what());
    }
  }
  for (const ir::OpDef& op : info.ops) ir::registerOp(op);
  passes_.push_back(std::make_unique<RegisteredPass>(RegisteredPass{std::move(info), origin}));
}

const RegisteredPass* PassRegistry::find(std::string_view name) const {
  for (const std::unique_ptr<RegisteredPass>& pass : passes_)
    if (pass->info.name == name) return pass.get();
  return nullptr;
}

std::vector<const RegisteredPass*> PassRegistry::all() const {
  std::vector<const RegisteredPass*> list;
  list.reserve(passes_.size());
  for (const std::unique_ptr<RegisteredPass>& pass : passes_) list.push_back(pass.get());
  return list;
}

std::string PassRegistry::nearest(std::string_view name) const {
  std::string best;
  unsigned bestDistance = 3;  // near misses only: at most two edits
  for (const std::unique_ptr<RegisteredPass>& pass : passes_) {
    unsigned distance = llvm::StringRef(pass->info.name).edit_distance(llvm::StringRef(name.data(), name.size()));
    if (distance < bestDistance) {
      bestDistance = distance;
      best = pass->info.name;
    }
  }
  return best;
}

std::string PassRegistry::defaultPipeline() const {
  std::vector<std::string> names = splitNames(kDefaultPipeline);
  for (const std::unique_ptr<RegisteredPass>& pass : passes_)
    if (!pass->info.insertAfter.empty() || !pass->info.insertBefore.empty()) insertAtAnchor(names, pass->info);
  std::string text;
  for (const std::string& name : names) text += (text.empty() ? "" : ",") + name;
  return text;
}

}  // namespace reel::passes
