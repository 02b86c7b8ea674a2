# Every dependency comes from a Debian package; nothing is downloaded.

# LLVM ADT + Support, linked statically. We make our own imported target rather than
# LLVM's exported one, whose interface pulls in libz3.so, absent on the GPU host.
find_package(LLVM 14 REQUIRED CONFIG HINTS /usr/lib/llvm-14/lib/cmake/llvm)
find_library(REEL_LLVM_SUPPORT_LIB NAMES libLLVMSupport.a HINTS ${LLVM_LIBRARY_DIRS} REQUIRED NO_DEFAULT_PATH)
find_library(REEL_LLVM_DEMANGLE_LIB NAMES libLLVMDemangle.a HINTS ${LLVM_LIBRARY_DIRS} REQUIRED NO_DEFAULT_PATH)
find_package(Threads REQUIRED)
find_package(ZLIB REQUIRED)
find_library(REEL_TINFO_LIB NAMES tinfo REQUIRED)
add_library(reel_llvm_support INTERFACE)
target_include_directories(reel_llvm_support SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
target_link_libraries(reel_llvm_support INTERFACE
  ${REEL_LLVM_SUPPORT_LIB} ${REEL_LLVM_DEMANGLE_LIB} Threads::Threads ZLIB::ZLIB ${REEL_TINFO_LIB} dl rt m)
target_compile_definitions(reel_llvm_support INTERFACE ${LLVM_DEFINITIONS_LIST})

# fmt's headers alone (no FMT_HEADER_ONLY, no libfmt.so). Its compiled part is reel_fmt
# (support/CMakeLists.txt), built once: no libfmt.so at run time, and no copy of the
# formatting engine in each file that includes <fmt/format.h>. Plugins take the headers
# alone; their fmt references resolve against the executable that loads them.
find_package(fmt 9 REQUIRED CONFIG)
add_library(reel_fmt_headers INTERFACE)
get_target_property(_fmt_inc fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(reel_fmt_headers SYSTEM INTERFACE ${_fmt_inc})

# TOML++ in header-only mode: no libtomlplusplus.so at run time.
find_package(tomlplusplus REQUIRED CONFIG)
add_library(reel_toml INTERFACE)
get_target_property(_toml_inc tomlplusplus::tomlplusplus INTERFACE_INCLUDE_DIRECTORIES)
target_include_directories(reel_toml SYSTEM INTERFACE ${_toml_inc})
# TOML_ASSERT (off: TOML++ 3.3 aborts on some malformed input it otherwise reports as an
# error) is a function-style macro, which a compile definition cannot carry: support/TomlParse.h
# defines it, and every file reaches TOML++ through that header.
target_compile_definitions(reel_toml INTERFACE TOML_HEADER_ONLY=1 TOML_EXCEPTIONS=1)

find_package(nlohmann_json 3 REQUIRED CONFIG)

# Boost.Beast and Boost.Asio (reel serve's HTTP server), header-only: no libboost*.so at run
# time. Asio's error codes come from Boost.System, header-only since Boost 1.69.
find_package(Boost 1.74 REQUIRED CONFIG)
add_library(reel_boost_headers INTERFACE)
target_link_libraries(reel_boost_headers INTERFACE Boost::headers Threads::Threads)
target_compile_definitions(reel_boost_headers INTERFACE BOOST_ASIO_NO_DEPRECATED BOOST_BEAST_USE_STD_STRING_VIEW)

# PCRE2 (8-bit, with Unicode properties) for the byte-level BPE pre-tokenizer regexes,
# linked statically: the GPU host need not have libpcre2-8.so (scripts/stage checks).
find_path(REEL_PCRE2_INCLUDE_DIR pcre2.h REQUIRED)
find_library(REEL_PCRE2_STATIC_LIB NAMES libpcre2-8.a REQUIRED)
add_library(reel_pcre2 INTERFACE)
target_include_directories(reel_pcre2 SYSTEM INTERFACE ${REEL_PCRE2_INCLUDE_DIR})
target_link_libraries(reel_pcre2 INTERFACE ${REEL_PCRE2_STATIC_LIB})

if(REEL_BUILD_TESTS)
  find_package(Catch2 2 REQUIRED CONFIG)
  find_package(Python3 REQUIRED COMPONENTS Interpreter)
  find_program(REEL_FILECHECK NAMES FileCheck-14 FileCheck HINTS /usr/lib/llvm-14/bin REQUIRED)
  find_file(REEL_LIT_PY lit.py HINTS /usr/lib/llvm-14/build/utils/lit REQUIRED NO_DEFAULT_PATH)
endif()
