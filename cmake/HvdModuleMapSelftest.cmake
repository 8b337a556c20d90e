# The module map check refuses a forbidden edge (tests/CMakeLists.txt,
# build.module_map.<mode>): configure this source tree afresh with one
# offence injected (HVD_MODULE_MAP_SELFTEST, cmake/HvdModuleMap.cmake) and
# pass only if configuring fails naming that offence and nothing else.
# Configure only, no build.
#
#   cmake -DSOURCE=<tree> -DBINARY=<scratch dir> -DMODE=link|transitive|source
#         [-DGENERATOR=<generator>] [-DCC=<C compiler>] -P HvdModuleMapSelftest.cmake
if(MODE STREQUAL "link")
  set(expect "hvctl \\(hvctl/\\) links hvb \\(backend/\\), but hvctl/ may link only ")
elseif(MODE STREQUAL "transitive")
  set(expect "hvctl \\(hvctl/\\) links hvb \\(backend/\\) through hvctl -> hvd_proto_c -> hvb, but ")
elseif(MODE STREQUAL "source")
  set(expect "hvctl \\(hvctl/\\) compiles daemon/hvd_log.c, a source of daemon/")
else()
  message(FATAL_ERROR "MODE=${MODE}: link, transitive or source")
endif()

set(args -S ${SOURCE} -B ${BINARY} -DHVD_MODULE_MAP_SELFTEST=${MODE})
if(GENERATOR)
  list(APPEND args -G ${GENERATOR})
endif()
if(CC)
  list(APPEND args -DCMAKE_C_COMPILER=${CC})
endif()
file(REMOVE_RECURSE ${BINARY})
execute_process(COMMAND ${CMAKE_COMMAND} ${args}
  RESULT_VARIABLE rc OUTPUT_VARIABLE out ERROR_VARIABLE out)
# (No `;` in the messages: MATCHALL's result is a list.)
string(REGEX MATCHALL "\n    - [^\n]*" offences "${out}")
list(LENGTH offences n)
if(rc EQUAL 0)
  message(FATAL_ERROR "configure with HVD_MODULE_MAP_SELFTEST=${MODE} succeeded; the check let the offence through:\n${out}")
elseif(NOT out MATCHES "The module map \\(cmake/HvdModuleMap.cmake\\) does not hold:\n\n    - ${expect}")
  message(FATAL_ERROR "configure failed, but not for the injected offence (`${expect}`):\n${out}")
elseif(NOT n EQUAL 1)
  message(FATAL_ERROR "configure named ${n} offences, expected the injected one only:\n${out}")
endif()
file(REMOVE_RECURSE ${BINARY})
message("module map selftest ${MODE}: ok")
