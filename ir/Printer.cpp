#include "ir/Printer.h"

namespace reel::ir {

std::string printOp(const Op& op) {
  std::string line;
  for (unsigned i = 0; i < op.numResults(); ++i) line += (i ? ", %" : "%") + op.result(i)->name();
  if (op.numResults()) line += " = ";
  line += op.name().str();
  for (unsigned i = 0; i < op.numOperands(); ++i) line += (i ? ", %" : " %") + op.operand(i)->name();
  if (!op.attrs().empty()) line += " " + op.attrs().str();
  for (unsigned i = 0; i < op.numResults(); ++i) line += (i ? ", " : " : ") + op.result(i)->type().str();
  return line;
}

std::string printGraph(const Graph& graph) {
  std::string text = "graph @" + graph.name();
  if (!graph.attrs().empty()) text += " attributes " + graph.attrs().str();
  text += " {\n";
  int openLayer = -1;
  for (const std::unique_ptr<Op>& op : graph.ops()) {
    if (op->layer() != openLayer) {
      if (openLayer >= 0) text += "  }\n";
      if (op->layer() >= 0) text += fmt::format("  layer {} {{\n", op->layer());
      openLayer = op->layer();
    }
    text += (openLayer >= 0 ? "    " : "  ") + printOp(*op) + "\n";
  }
  if (openLayer >= 0) text += "  }\n";
  return text + "}\n";
}

std::string printModule(const Module& module) {
  std::string text = "module @" + module.name;
  if (!module.attrs.empty()) text += " attributes " + module.attrs.str();
  text += "\n";
  for (const std::unique_ptr<Graph>& graph : module.graphs) text += "\n" + printGraph(*graph);
  return text;
}

}  // namespace reel::ir
