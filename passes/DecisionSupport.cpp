#include "passes/DecisionSupport.h"

#include <fmt/format.h>

#include <algorithm>
#include <cassert>
#include <cctype>

namespace reel::passes {

std::optional<BucketShape> bucketShape(const ir::Graph& graph) {
  std::optional<int64_t> bucket = graph.attrs().getInt("bucket");
  if (!bucket || *bucket <= 0) return std::nullopt;
  BucketShape shape;
  shape.m = *bucket;
  shape.prefill = graph.attrs().getString("phase") == std::optional<std::string>("prefill");
  return shape;
}

std::string describeBucket(const BucketShape& bucket) {
  return bucket.prefill ? fmt::format("prefill M={}", bucket.m) : fmt::format("M={}", bucket.m);
}

std::string layerPattern(const std::string& valueName) {
  if (valueName.size() < 3 || valueName[0] != 'l' || !std::isdigit(static_cast<unsigned char>(valueName[1])))
    return valueName;
  size_t end = 1;
  while (end < valueName.size() && std::isdigit(static_cast<unsigned char>(valueName[end]))) ++end;
  if (end >= valueName.size() || valueName[end] != '.') return valueName;
  return "l*" + valueName.substr(end);
}

int64_t intOption(const PassOptions& options, const std::string& name, int64_t fallback) {
  return options.getIntOr(name, fallback);
}

bool boolOption(const PassOptions& options, const std::string& name, bool fallback) {
  return options.given(name) ? options.getBool(name) : fallback;
}

bool setAttr(ir::AttrDict& attrs, llvm::StringRef name, const ir::Attribute& value) {
  const ir::Attribute* old = attrs.find(name);
  if (old && *old == value) return false;
  attrs.set(name, value);
  return true;
}

void DecisionGroups::add(const std::string& subject, const std::string& choice, const std::string& reason) {
  std::string pattern = layerPattern(subject);
  std::string key = pattern + '\n' + choice + '\n' + reason;
  auto [it, inserted] = index_.try_emplace(key, groups_.size());
  if (inserted) groups_.push_back({pattern, subject, choice, reason, 0});
  ++groups_[it->second].count;
}

void DecisionGroups::flush(PassContext& context) {
  for (const Group& group : groups_) {
    std::string subject =
        group.count == 1 ? "%" + group.firstSubject : fmt::format("%{} ({} layers)", group.pattern, group.count);
    context.decide({pass_, graph_, subject, group.choice, group.reason});
  }
  groups_.clear();
  index_.clear();
}

OpOrder::OpOrder(const ir::Graph& graph) {
  position_.reserve(static_cast<unsigned>(graph.size()));
  size_t index = 0;
  for (const std::unique_ptr<ir::Op>& op : graph.ops()) position_[op.get()] = index++;
}

size_t OpOrder::of(const ir::Op* op) const {
  auto it = position_.find(op);
  assert(it != position_.end() && "op created after the OpOrder snapshot");
  return it->second;
}

ir::Op* replaceByFusedOp(ir::Graph& graph, ir::OpSpec spec, const std::vector<ir::Value*>& oldResults, ir::Op* before) {
  std::vector<std::string> names;
  std::vector<ir::Op*> oldOps;
  spec.resultNames.clear();
  for (ir::Value* old : oldResults) {
    names.push_back(old->name());
    spec.resultNames.push_back(old->name() + ".fusing");
    if (std::find(oldOps.begin(), oldOps.end(), old->producer()) == oldOps.end()) oldOps.push_back(old->producer());
  }
  ir::Op* staging = graph.create(spec, before);
  for (size_t i = 0; i < oldResults.size(); ++i)
    oldResults[i]->replaceAllUsesWith(staging->result(static_cast<unsigned>(i)));
  for (ir::Op* old : oldOps) graph.erase(old);
  spec.resultNames.assign(names.begin(), names.end());
  ir::Op* fused = graph.create(spec, staging);
  for (unsigned i = 0; i < staging->numResults(); ++i) staging->result(i)->replaceAllUsesWith(fused->result(i));
  graph.erase(staging);
  return fused;
}

}  // namespace reel::passes
