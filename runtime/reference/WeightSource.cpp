#include "runtime/reference/WeightSource.h"

#include "runtime/gguf/TensorCheck.h"
#include "support/Diagnostics.h"

#include <fmt/format.h>

#include <algorithm>

namespace reel::reference {

std::optional<WeightView> GgufWeightSource::find(std::string_view name) const {
  const GgufTensorInfo* info = file_.findTensor(name);
  if (info == nullptr) return std::nullopt;
  WeightView view;
  view.name = info->name;
  view.type = info->type;
  view.cols = info->ne[0];
  view.rows = info->rowCount();
  view.rank = static_cast<int>(info->nDims);
  view.bytes = file_.tensorData(*info);
  return view;
}

void GgufWeightSource::checkValues(const WeightView& view) const {
  if (check_ == TensorValueCheck::Off) return;
  std::lock_guard lock(checkedMutex_);
  if (checked_.count(view.name)) return;
  requireFiniteValues(describe(), view.name, view.type, view.cols, view.bytes);
  checked_.insert(view.name);
}

namespace {

/// "[rows, cols]" of a view, in the IR's order.
std::string viewShape(const WeightView& view) {
  return view.rank == 1 ? fmt::format("[{}]", view.cols) : fmt::format("[{}, {}]", view.rows, view.cols);
}

/// The rank and every dimension must match: a 3-D tensor whose rows multiply out to the
/// matrix's is still not the matrix.
bool shapeMatches(const ir::TensorType& type, const WeightView& view) {
  if (type.rank() != view.rank) return false;
  if (type.rank() == 1) return type.shape[0] == view.cols;
  return type.rank() == 2 && type.shape[0] == view.rows && type.shape[1] == view.cols;
}

void requireShape(const ir::TensorType& type, const WeightView& view, const WeightSource& source) {
  if (view.rank != type.rank())
    failPlain("{}: tensor {} has {} dimensions, the model needs {}", source.describe(), quoteForMessage(view.name),
              view.rank, type.str());
  if (!shapeMatches(type, view))
    failPlain("{}: tensor {} has shape {}, the model needs {}", source.describe(), quoteForMessage(view.name),
              viewShape(view), type.str());
}

WeightView requireWeight(const ir::Op& weightOp, const WeightSource& source) {
  std::string name = weightOp.attrs().getString("name").value_or("");
  std::optional<WeightView> view = source.find(name);
  if (!view)
    failPlain("{}: has no tensor {} (needed by {})", source.describe(), quoteForMessage(name), weightOp.describe());
  return *view;
}

}  // namespace

void checkWeightMatches(const ir::Op& weightOp, const WeightView& view, const WeightSource& source) {
  const ir::TensorType& type = weightOp.result()->type();
  requireShape(type, view, source);
  // Vectors (norms, biases) are read as f32 whatever their storage type.
  if (type.rank() != 1 && ir::toElemType(view.type) != type.elem)
    failPlain("{}: tensor {} is {}, the graph expects {}", source.describe(), quoteForMessage(view.name),
              quant::qtypeName(view.type), ir::elemTypeName(type.elem).str());
  source.checkValues(view);
}

WeightView weightPiece(const WeightView& full, const ir::WeightShard& shard, int64_t piece,
                       std::vector<uint8_t>& storage) {
  WeightView view = full;
  const bool byRows = full.rank == 2 && shard.axis == 0;
  const int64_t length = byRows ? full.rows : full.cols;
  const auto block = static_cast<int64_t>(quant::blockElems(full.type));
  if (length % shard.parts != 0 || (!byRows && (length / shard.parts) % block != 0))
    failPlain("tensor {}: {} {} do not cut into {} pieces{}", quoteForMessage(full.name), length,
              byRows ? "rows" : "columns", shard.parts, byRows ? "" : " of whole blocks");
  if (byRows) {
    view.rows = full.rows / shard.parts;
    view.bytes = full.bytes.subspan(static_cast<size_t>(piece * view.rows) * full.rowBytes(),
                                    static_cast<size_t>(view.rows) * full.rowBytes());
    return view;
  }
  view.cols = full.cols / shard.parts;
  const size_t pieceBytes = view.rowBytes();
  storage.resize(static_cast<size_t>(full.rows) * pieceBytes);
  for (int64_t r = 0; r < full.rows; ++r)
    std::copy_n(full.rowData(r) + static_cast<size_t>(piece) * pieceBytes, pieceBytes,
                storage.data() + static_cast<size_t>(r) * pieceBytes);
  view.bytes = storage;
  return view;
}

int adoptWeightTypes(ir::Module& module, const WeightSource& source) {
  int changed = 0;
  for (const auto& graph : module.graphs) {
    for (const auto& op : graph->ops()) {
      if (op->name() != "weight") continue;
      WeightView view = requireWeight(*op, source);
      ir::TensorType type = op->result()->type();
      requireShape(type, view, source);
      ir::ElemType stored = ir::toElemType(view.type);
      if (type.rank() == 1 || stored == type.elem) continue;  // vectors are always read as f32
      type.elem = stored;
      op->result()->setType(type);
      ++changed;
    }
  }
  return changed;
}

}  // namespace reel::reference
