# Configures and builds examples/pass-plugin out of tree against a reel build tree:
#   cmake -DSOURCE_DIR=... -DBINARY_DIR=... -DREEL_DIR=... -DGENERATOR=... -P BuildExamplePlugin.cmake
execute_process(
  COMMAND ${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${BINARY_DIR} -G ${GENERATOR}
    -Dreel_DIR=${REEL_DIR} -DCMAKE_CXX_COMPILER=${CXX_COMPILER} -DCMAKE_BUILD_TYPE=${BUILD_TYPE}
  RESULT_VARIABLE configured)
if(NOT configured EQUAL 0)
  message(FATAL_ERROR "configuring the example plugin failed (${configured})")
endif()
execute_process(COMMAND ${CMAKE_COMMAND} --build ${BINARY_DIR} RESULT_VARIABLE built)
if(NOT built EQUAL 0)
  message(FATAL_ERROR "building the example plugin failed (${built})")
endif()
