# Project-wide compile options, applied through reel_options to every target of ours.
add_library(reel_options INTERFACE)
target_compile_options(reel_options INTERFACE
  $<$<COMPILE_LANGUAGE:CXX>:-Wall -Wextra -Wpedantic -Wnon-virtual-dtor>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wshadow=local>
  # GCC 12 at -O3 reports -Wrestrict inside libstdc++'s string concatenation (GCC bug 105329).
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<CXX_COMPILER_ID:GNU>>:-Wno-restrict>
  $<$<AND:$<COMPILE_LANGUAGE:CXX>,$<BOOL:${REEL_WERROR}>>:-Werror>
  $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -Xcompiler=-Wall>
  $<$<AND:$<COMPILE_LANGUAGE:CUDA>,$<BOOL:${REEL_WERROR}>>:-Werror=all-warnings>)
target_compile_definitions(reel_options INTERFACE $<$<BOOL:${REEL_WITH_CUDA}>:REEL_WITH_CUDA=1>)
target_link_options(reel_options INTERFACE -Wl,--as-needed)
if(REEL_SANITIZE)
  target_compile_options(reel_options INTERFACE
    $<$<COMPILE_LANGUAGE:CXX>:-fsanitize=address,undefined -fno-sanitize-recover=all -fno-omit-frame-pointer>)
  # libstdc++'s cheap checks (operator[] in bounds, front() of a non-empty container, ...)
  # trap container misuse that stays inside an allocation, which ASan cannot see. They do
  # not change the ABI, so the libraries built without them (LLVM Support) still link.
  target_compile_definitions(reel_options INTERFACE $<$<COMPILE_LANGUAGE:CXX>:_GLIBCXX_ASSERTIONS>)
  target_link_options(reel_options INTERFACE -fsanitize=address,undefined)
endif()

# reel_add_library(NAME DIR SOURCES... DEPS ...): one library per top-level folder.
function(reel_add_library name)
  cmake_parse_arguments(ARG "" "" "SOURCES;DEPS" ${ARGN})
  add_library(${name} STATIC ${ARG_SOURCES})
  target_include_directories(${name} PUBLIC
    $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:include/reel>)
  target_link_libraries(${name} PUBLIC ${ARG_DEPS} PRIVATE reel_options)
endfunction()
