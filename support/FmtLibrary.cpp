/// \file
/// fmt's compiled part, built once for all of reel.
///
/// Every other file includes <fmt/format.h> without FMT_HEADER_ONLY, so the
/// formatting engine (format-inl.h: the float-to-decimal conversion, vformat, print) is
/// compiled here alone instead of in each of the two hundred files that format a
/// message. Debian's libfmt-dev ships only a shared libfmt, which the GPU host lacks; this
/// file keeps reel free of it at run time. The explicit instantiations are the templates
/// that format.h and core.h declare and format-inl.h defines.

#include <fmt/format-inl.h>

#include <locale>

FMT_BEGIN_NAMESPACE
namespace detail {

template FMT_API auto dragonbox::to_decimal(float x) noexcept -> dragonbox::decimal_fp<float>;
template FMT_API auto dragonbox::to_decimal(double x) noexcept -> dragonbox::decimal_fp<double>;

template FMT_API locale_ref::locale_ref(const std::locale& loc);
template FMT_API auto locale_ref::get<std::locale>() const -> std::locale;

template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<char>;
template FMT_API auto thousands_sep_impl(locale_ref) -> thousands_sep_result<wchar_t>;
template FMT_API auto decimal_point_impl(locale_ref) -> char;
template FMT_API auto decimal_point_impl(locale_ref) -> wchar_t;

}  // namespace detail
FMT_END_NAMESPACE
