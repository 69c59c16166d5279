# Builds and runs the consumer project in one of two ways (see project/CMakeLists.txt).
#   cmake -DMODE=fetch|package -DSOURCE_DIR=<modelmix> -DWORK_DIR=<scratch> -P run_consumer.cmake
file(REMOVE_RECURSE "${WORK_DIR}")
file(MAKE_DIRECTORY "${WORK_DIR}")

function(run_step)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE err)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "consumer step failed (${rc}): ${ARGN}\n${out}\n${err}")
  endif()
  message(STATUS "${out}")
endfunction()

set(build_type -DCMAKE_BUILD_TYPE=Release)
if(MODE STREQUAL "package")
  # Install modelmix alone (no tests, benchmarks or examples) into a private prefix.
  run_step(${CMAKE_COMMAND} -S "${SOURCE_DIR}" -B "${WORK_DIR}/modelmix-build" ${build_type}
           -DMODELMIX_BUILD_TESTS=OFF -DMODELMIX_BUILD_BENCHMARKS=OFF -DMODELMIX_BUILD_EXAMPLES=OFF
           "-DCMAKE_INSTALL_PREFIX=${WORK_DIR}/prefix")
  run_step(${CMAKE_COMMAND} --install "${WORK_DIR}/modelmix-build")
  run_step(${CMAKE_COMMAND} -S "${CMAKE_CURRENT_LIST_DIR}/project" -B "${WORK_DIR}/consumer-build" ${build_type}
           -DMODELMIX_CONSUME=package "-DCMAKE_PREFIX_PATH=${WORK_DIR}/prefix")
else()
  run_step(${CMAKE_COMMAND} -S "${CMAKE_CURRENT_LIST_DIR}/project" -B "${WORK_DIR}/consumer-build" ${build_type}
           -DMODELMIX_CONSUME=fetch "-DMODELMIX_SOURCE_DIR=${SOURCE_DIR}")
endif()
run_step(${CMAKE_COMMAND} --build "${WORK_DIR}/consumer-build")
run_step("${WORK_DIR}/consumer-build/consumer")
