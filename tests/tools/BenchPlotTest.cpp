// reel bench --plot's SVG: a point per bucket, the bandwidth bound, the step panel's bars, and
// text escaped.
#include "tools/BenchPlot.h"

#include <catch2/catch.hpp>

#include <string>

using namespace reel::tools;

namespace {

size_t count(const std::string& text, const std::string& what) {
  size_t n = 0;
  for (size_t at = text.find(what); at != std::string::npos; at = text.find(what, at + 1)) ++n;
  return n;
}

}  // namespace

TEST_CASE("kernel ids fall into the plot's kernel classes", "[bench-plot]") {
  CHECK(kernelClassOf("gemv_dp4a_stack3_q4_k_q6_k") == "GEMV (dp4a)");
  CHECK(kernelClassOf("mmq_q6_k") == "mma");
  CHECK(kernelClassOf("hgemm_cublas") == "cuBLAS");
  CHECK(kernelClassOf("fp8_gemm_cublaslt") == "cuBLAS");
  CHECK(kernelClassOf("dequant_f16_q4_k") == "dequant");
  CHECK(kernelClassOf("attn_decode_rope_q8_1") == "attention");
  CHECK(kernelClassOf("add_rms_norm_q8_1") == "norm, RoPE, elementwise");
  CHECK(kernelClassOf("sample") == "sampling");
  CHECK(kernelClassOf("something_new") == "other");
}

TEST_CASE("the bench plot draws every bucket, its bound and the timed steps", "[bench-plot]") {
  BenchPlot plot;
  plot.title = "llama <synthetic> & co";
  plot.bandwidthGBs = 3000;
  plot.buckets = {{"decode.m16", 16, 3000, 4.1e9}, {"decode.m1", 1, 500, 4.1e9}, {"decode.m64", 64, 5000, 4.2e9}};
  const std::string one = benchPlotSvg(plot);
  CHECK(one.rfind("<svg xmlns=\"http://www.w3.org/2000/svg\"", 0) == 0);
  CHECK(one.substr(one.size() - 7) == "</svg>\n");
  CHECK(count(one, "<circle") == 3);
  CHECK(count(one, "<polyline") == 2);  // measured and the bound
  CHECK(one.find("llama &lt;synthetic&gt; &amp; co") != std::string::npos);
  CHECK(one.find("<synthetic>") == std::string::npos);
  CHECK(one.find("one step by kernel class") == std::string::npos);

  plot.steps = {{"decode.m1", {{"GEMV (dp4a)", 1500}, {"attention", 200}}, 4.1e9},
                {"decode.m16", {{"mma", 4000}, {"attention", 400}}, 4.1e9}};
  const std::string two = benchPlotSvg(plot);
  CHECK(two.find("one step by kernel class") != std::string::npos);
  CHECK(count(two, "<title>GEMV (dp4a): 1500.0 us</title>") == 1);
  CHECK(count(two, "<title>mma: 4000.0 us</title>") == 1);
  CHECK(count(two, "stroke-width=\"2\"/>") >= 2);  // a bound marker per bar
}
