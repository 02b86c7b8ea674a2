# reel as a CMake package, for out-of-tree pass plugins (examples/pass-plugin):
#
#   find_package(reel REQUIRED)                    # reel_DIR = a build tree or <prefix>/lib/cmake/reel
#   target_link_libraries(my_plugin PRIVATE reel::headers)
#
# reel::headers   include paths and compile settings for reel's headers, no libraries: what a
#                 plugin links (its references resolve against the reel executable at load)
# reel::ir, reel::models, reel::passes   the static libraries, for tools that embed reel
#                 (with what they need: reel::support, errors and shared utilities; reel::quant,
#                 the quantized tensor formats behind the IR's element types; reel::gguf, the
#                 GGUF reader models reads .gguf configs with)
#
# The build tree exports the package too (reelConfig.cmake in the build dir), so plugins
# build and tests run without installing.
include(GNUInstallDirs)
include(CMakePackageConfigHelpers)

set(REEL_INSTALL_INCLUDEDIR ${CMAKE_INSTALL_INCLUDEDIR}/reel)
set(REEL_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/reel)

add_library(reel_headers INTERFACE)
target_include_directories(reel_headers INTERFACE
  $<BUILD_INTERFACE:${PROJECT_SOURCE_DIR}> $<INSTALL_INTERFACE:${REEL_INSTALL_INCLUDEDIR}>)
target_include_directories(reel_headers SYSTEM INTERFACE ${LLVM_INCLUDE_DIRS})
target_compile_definitions(reel_headers INTERFACE ${LLVM_DEFINITIONS_LIST})
target_compile_features(reel_headers INTERFACE cxx_std_20)
target_link_libraries(reel_headers INTERFACE reel_fmt_headers)

set_target_properties(reel_headers PROPERTIES EXPORT_NAME headers)
set_target_properties(reel_ir PROPERTIES EXPORT_NAME ir)
set_target_properties(reel_models PROPERTIES EXPORT_NAME models)
set_target_properties(reel_passes PROPERTIES EXPORT_NAME passes)
set_target_properties(reel_gguf PROPERTIES EXPORT_NAME gguf)
set_target_properties(reel_support PROPERTIES EXPORT_NAME support)
set_target_properties(reel_quant PROPERTIES EXPORT_NAME quant)
set_target_properties(reel_kernels_host PROPERTIES EXPORT_NAME kernels_host)

set(reel_package_targets reel_headers reel_support reel_ir reel_models reel_passes reel_gguf reel_quant reel_kernels_host
    reel_llvm_support reel_toml reel_fmt reel_fmt_headers reel_options)
install(TARGETS ${reel_package_targets} EXPORT reelTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR}
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR})
install(TARGETS reel RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
foreach(dir ir models passes runtime/gguf quant support)
  install(DIRECTORY ${PROJECT_SOURCE_DIR}/${dir}/ DESTINATION ${REEL_INSTALL_INCLUDEDIR}/${dir}
    FILES_MATCHING PATTERN "*.h")
endforeach()
# The kernel table's host side (what the kernels support), which passes read as the target's
# description.
install(FILES ${PROJECT_SOURCE_DIR}/kernels/KernelCatalog.h ${PROJECT_SOURCE_DIR}/kernels/GemvShape.h
  DESTINATION ${REEL_INSTALL_INCLUDEDIR}/kernels)
install(EXPORT reelTargets NAMESPACE reel:: DESTINATION ${REEL_INSTALL_CMAKEDIR})

# The build tree's package: reel_DIR=${CMAKE_BINARY_DIR}.
export(EXPORT reelTargets NAMESPACE reel:: FILE ${CMAKE_BINARY_DIR}/reelTargets.cmake)
configure_file(${CMAKE_CURRENT_LIST_DIR}/reelConfig.cmake.in ${CMAKE_BINARY_DIR}/reelConfig.cmake @ONLY)
write_basic_package_version_file(${CMAKE_BINARY_DIR}/reelConfigVersion.cmake COMPATIBILITY SameMinorVersion)
install(FILES ${CMAKE_BINARY_DIR}/reelConfig.cmake ${CMAKE_BINARY_DIR}/reelConfigVersion.cmake
  DESTINATION ${REEL_INSTALL_CMAKEDIR})
