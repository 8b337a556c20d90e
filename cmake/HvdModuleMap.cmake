# The module map, checked when the project is configured: which of the
# project's targets each folder's targets may link, and that no target
# compiles another folder's sources. Included at the end of the top-level
# CMakeLists.txt, once every target exists. docs/architecture.md ("Module
# map") explains the rows.
#
#   hvd_module(<folder> TARGETS <targets...> [LINKS <targets...>])
#   hvd_module(<folder> ANY)
#
# TARGETS are all the targets declared in <folder> (relative to the source
# root; `.` is the top-level CMakeLists.txt; a subfolder with a row of its
# own is another module). LINKS are the targets of other folders they may
# end up linking, directly or through another target: the check follows
# the links as CMake puts them on the link line (PUBLIC links, and a static
# library's PRIVATE ones), so a target that gets a forbidden one through
# another is refused too. Targets of the same folder are always allowed;
# imported targets (system libraries) are not the project's and are not
# checked. ANY: programs that only use the modules (tests, benchmarks,
# examples); they may link anything, but compile only their own sources.
#
# Configure fails, naming each offence, when a target links outside its
# row, when it compiles a source or names an include directory in another
# module's folder (except the exceptions below), when a folder with
# targets has no row, and, with the tests on, when a tests/*/test_*.c is
# compiled by no target (a suite would be lost).
#
# HVD_MODULE_MAP_SELFTEST=link|transitive|source injects an offence to
# prove the check fails (tests/CMakeLists.txt, build.module_map.*);
# HVD_MODULE_MAP_PRINT=ON prints what each target links, as the check
# sees it.

function(hvd_module folder)
  cmake_parse_arguments(M "ANY" "" "TARGETS;LINKS" ${ARGN})
  if(M_UNPARSED_ARGUMENTS OR (M_ANY AND (M_TARGETS OR M_LINKS)) OR NOT (M_ANY OR M_TARGETS))
    message(FATAL_ERROR "hvd_module(${folder} ${ARGN}): TARGETS ... [LINKS ...], or ANY")
  endif()
  set_property(GLOBAL APPEND PROPERTY HVD_MODULES ${folder})
  set_property(GLOBAL PROPERTY HVD_MODULE_ANY_${folder} ${M_ANY})
  set_property(GLOBAL PROPERTY HVD_MODULE_TARGETS_${folder} ${M_TARGETS})
  set_property(GLOBAL PROPERTY HVD_MODULE_LINKS_${folder} ${M_LINKS})
endfunction()

# hvd_module_exception(<target> <path> <why>): <target> may compile or
# include <path> (relative to the source root) of another folder. Every
# exception must still be needed: one whose path the target no longer
# uses fails the check, so that it is deleted.
function(hvd_module_exception target path why)
  set_property(GLOBAL APPEND PROPERTY HVD_MODULE_EXCEPTIONS "${target}|${path}")
  set_property(GLOBAL PROPERTY "HVD_MODULE_EXCEPTION_${target}|${path}" "${why}")
endfunction()

# The map. A new module is one row here (and its name in the LINKS of the
# rows that link it), e.g. a front end `hva` in api/ linked by hvclient and
# hvdirect, or an arm64 backend beside the x86 one:
#   hvd_module(api           TARGETS hva       LINKS hvs hv_headers)
#   hvd_module(backend/arm64 TARGETS hvb_arm64 LINKS hvs hv_headers)
#
#          folder    its targets                    may link (directly or through another)
hvd_module(.         TARGETS hv_headers)
hvd_module(a64       TARGETS ha64)
hvd_module(vmcs      TARGETS hvs                    LINKS hv_headers)
hvd_module(api       TARGETS hva                    LINKS ha64 hv_headers)
hvd_module(backend   TARGETS hvb                    LINKS ha64 hvs hv_headers)
hvd_module(policy    TARGETS hvp)
hvd_module(proto     TARGETS hvd_proto_c hvd_proto_nanopb hvd_runpage hvd_hint LINKS ha64 hvs hv_headers)
hvd_module(client    TARGETS hvclient               LINKS hva hvd_proto_nanopb hvd_runpage hvd_hint ha64 hvs hv_headers)
hvd_module(direct    TARGETS hvdirect               LINKS hva hvb ha64 hvs hv_headers)
hvd_module(daemon    TARGETS hvd hvd_sandbox hvd_cpuquota hvd_cgroup hvd_tspec LINKS hvb hvp hvd_proto_c hvd_runpage ha64 hvs hv_headers)
# hvctl -> hvp: `hvctl policy check`, `keygen` and `grant sign|verify`
# work offline, without hvd, with the policy library itself, so that they
# accept exactly what hvd would. hvs comes with the protocol (the run
# page's layout in hvd_protocol.h), no code of it runs in hvctl.
hvd_module(hvctl     TARGETS hvctl                  LINKS hvd_proto_c hvd_hint hvp ha64 hvs hv_headers)
hvd_module(tests     ANY)
hvd_module(bench     ANY)
hvd_module(examples  ANY)

# Apple's headers live where they are installed from, client/include;
# hv_headers is declared at the top level so that every module, vmcs/
# first, can link it without linking client/.
hvd_module_exception(hv_headers client/include "Apple's installed headers")

set(HVD_MODULE_MAP_SELFTEST "" CACHE STRING
  "Inject a forbidden edge to test the module map check: link, transitive or source")
if(HVD_MODULE_MAP_SELFTEST STREQUAL "link")
  # hvctl linking the hypervisor core.
  target_link_libraries(hvctl PRIVATE hvb)
elseif(HVD_MODULE_MAP_SELFTEST STREQUAL "transitive")
  # The protocol allowed the backend and bringing it along: hvctl, which
  # names only hvd_proto_c, would get it.
  set_property(GLOBAL APPEND PROPERTY HVD_MODULE_LINKS_proto hvb)
  target_link_libraries(hvd_proto_c PUBLIC hvb)
elseif(HVD_MODULE_MAP_SELFTEST STREQUAL "source")
  target_sources(hvctl PRIVATE ${PROJECT_SOURCE_DIR}/daemon/hvd_log.c)
elseif(HVD_MODULE_MAP_SELFTEST)
  message(FATAL_ERROR "HVD_MODULE_MAP_SELFTEST=${HVD_MODULE_MAP_SELFTEST}: link, transitive or source")
endif()

# Every buildsystem target under `dir`, custom targets left out.
function(hvd__mm_targets dir out)
  get_property(all DIRECTORY ${dir} PROPERTY BUILDSYSTEM_TARGETS)
  set(targets "")
  foreach(t ${all})
    get_target_property(type ${t} TYPE)
    if(NOT type STREQUAL "UTILITY")
      list(APPEND targets ${t})
    endif()
  endforeach()
  get_property(subdirs DIRECTORY ${dir} PROPERTY SUBDIRECTORIES)
  foreach(sub ${subdirs})
    hvd__mm_targets(${sub} more)
    list(APPEND targets ${more})
  endforeach()
  set(${out} ${targets} PARENT_SCOPE)
endfunction()

# The row a folder (relative to the source root) belongs to: the longest
# row that is the folder or one of its parents; `.` only for the top level
# itself. Empty when there is none.
function(hvd__mm_module rel out)
  get_property(modules GLOBAL PROPERTY HVD_MODULES)
  set(best "")
  set(best_len -1)
  foreach(m ${modules})
    if(m STREQUAL ".")
      if(rel STREQUAL "" AND best_len LESS 0)
        set(best .)
        set(best_len 0)
      endif()
      continue()
    endif()
    string(LENGTH "${m}/" len)
    string(SUBSTRING "${rel}/" 0 ${len} head)
    if(head STREQUAL "${m}/" AND len GREATER best_len)
      set(best ${m})
      set(best_len ${len})
    endif()
  endforeach()
  set(${out} "${best}" PARENT_SCOPE)
endfunction()

# A path's place: `rel` relative to the source root, or empty when it is
# generated (in the build tree) or outside the project.
function(hvd__mm_rel path base out)
  get_filename_component(abs "${path}" ABSOLUTE BASE_DIR "${base}")
  set(rel "")
  foreach(root "${PROJECT_BINARY_DIR}" "${PROJECT_SOURCE_DIR}")
    string(LENGTH "${root}/" len)
    string(SUBSTRING "${abs}/" 0 ${len} head)
    if(head STREQUAL "${root}/")
      if(root STREQUAL PROJECT_SOURCE_DIR)
        file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${abs}")
      endif()
      break()
    endif()
  endforeach()
  set(${out} "${rel}" PARENT_SCOPE)
endfunction()

# The project targets a link item names (none for system libraries,
# imported targets and CMake's own markers).
function(hvd__mm_link_item item owner out problems_var)
  set(target "")
  if(item MATCHES "^\\$<LINK_ONLY:([^$<>]+)>$")
    set(item ${CMAKE_MATCH_1})
  endif()
  if(item MATCHES "^::@")
    # target_link_libraries called from another directory marks its items.
  elseif(item MATCHES "\\$<")
    set(${problems_var} "${${problems_var}}  - ${owner}: cannot read the link item `${item}`: teach cmake/HvdModuleMap.cmake\n" PARENT_SCOPE)
  elseif(TARGET ${item})
    get_target_property(aliased ${item} ALIASED_TARGET)
    if(aliased)
      set(item ${aliased})
    endif()
    get_target_property(imported ${item} IMPORTED)
    if(NOT imported)
      set(target ${item})
    endif()
  endif()
  set(${out} "${target}" PARENT_SCOPE)
endfunction()

function(hvd__mm_check)
  set(problems "")
  hvd__mm_targets(${PROJECT_SOURCE_DIR} targets)
  get_property(modules GLOBAL PROPERTY HVD_MODULES)
  get_property(exceptions GLOBAL PROPERTY HVD_MODULE_EXCEPTIONS)
  set(used_exceptions "")

  # Each target's module, and the rows' TARGETS against what exists.
  foreach(t ${targets})
    get_target_property(dir ${t} SOURCE_DIR)
    file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${dir}")
    hvd__mm_module("${rel}" m)
    set(mod_${t} "${m}")
    if(m STREQUAL "")
      string(APPEND problems "  - ${t} is declared in ${rel}/, which has no row: add one\n")
      continue()
    endif()
    get_property(any GLOBAL PROPERTY HVD_MODULE_ANY_${m})
    get_property(own GLOBAL PROPERTY HVD_MODULE_TARGETS_${m})
    if(NOT any AND NOT t IN_LIST own)
      string(APPEND problems "  - ${t} is declared in ${rel}/ but is not in the TARGETS of its row (${m})\n")
    endif()
  endforeach()
  foreach(m ${modules})
    get_property(own GLOBAL PROPERTY HVD_MODULE_TARGETS_${m})
    foreach(t ${own})
      if(NOT DEFINED mod_${t})
        string(APPEND problems "  - row ${m} names ${t}, which no CMakeLists.txt declares\n")
      elseif(NOT mod_${t} STREQUAL m)
        string(APPEND problems "  - row ${m} names ${t}, which is declared in ${mod_${t}}\n")
      endif()
    endforeach()
  endforeach()

  foreach(t ${targets})
    set(m "${mod_${t}}")
    if(m STREQUAL "")
      continue()
    endif()
    get_target_property(type ${t} TYPE)
    get_target_property(dir ${t} SOURCE_DIR)
    get_property(any GLOBAL PROPERTY HVD_MODULE_ANY_${m})
    get_property(allowed GLOBAL PROPERTY HVD_MODULE_LINKS_${m})
    set(props INTERFACE_LINK_LIBRARIES INTERFACE_SOURCES INTERFACE_INCLUDE_DIRECTORIES)
    if(NOT type STREQUAL "INTERFACE_LIBRARY")
      list(APPEND props LINK_LIBRARIES SOURCES INCLUDE_DIRECTORIES)
    endif()

    # Links: breadth first over what lands on the link line, each target
    # with the way it was reached.
    set(queue ${t})
    set(seen ${t})
    set(via_${t} ${t})
    while(queue)
      list(POP_FRONT queue cur)
      # The target's own links, then what each linked target brings.
      get_target_property(items ${cur} INTERFACE_LINK_LIBRARIES)
      if(cur STREQUAL t AND NOT type STREQUAL "INTERFACE_LIBRARY")
        get_target_property(own_links ${t} LINK_LIBRARIES)
        list(APPEND items ${own_links})
      endif()
      foreach(item ${items})
        if(item MATCHES "-NOTFOUND$")
          continue()
        endif()
        hvd__mm_link_item("${item}" ${cur} dep problems)
        if(dep STREQUAL "" OR dep IN_LIST seen)
          continue()
        endif()
        list(APPEND seen ${dep})
        list(APPEND queue ${dep})
        set(via_${dep} "${via_${cur}} -> ${dep}")
        if(any OR mod_${dep} STREQUAL m OR dep IN_LIST allowed)
          continue()
        endif()
        set(how "")
        if(NOT cur STREQUAL t)
          set(how " through ${via_${dep}}")
        endif()
        string(REPLACE ";" " " allowed_text "${allowed}")
        if(allowed_text STREQUAL "")
          set(allowed_text "nothing of the project's")
        endif()
        string(APPEND problems "  - ${t} (${m}/) links ${dep} (${mod_${dep}}/)${how}, but ${m}/ may link only ${allowed_text}\n")
      endforeach()
    endwhile()

    if(HVD_MODULE_MAP_PRINT)
      list(REMOVE_ITEM seen ${t})
      string(REPLACE ";" " " seen "${seen}")
      message(STATUS "module map: ${t} (${m}/) links ${seen}")
    endif()

    # Sources and include directories: the target's own folder's, the
    # build tree's or outside the project.
    foreach(p SOURCES INTERFACE_SOURCES INCLUDE_DIRECTORIES INTERFACE_INCLUDE_DIRECTORIES)
      if(NOT p IN_LIST props)
        continue()
      endif()
      get_target_property(v ${t} ${p})
      if(NOT v)
        continue()
      endif()
      foreach(path ${v})
        if(path MATCHES "^\\$<BUILD_INTERFACE:([^$<>]+)>$")
          set(path ${CMAKE_MATCH_1})
        elseif(path MATCHES "^\\$<(INSTALL_INTERFACE|TARGET_OBJECTS):")
          continue()
        elseif(path MATCHES "\\$<")
          string(APPEND problems "  - ${t}: cannot read the ${p} entry `${path}`: teach cmake/HvdModuleMap.cmake\n")
          continue()
        endif()
        hvd__mm_rel("${path}" "${dir}" rel)
        if(rel STREQUAL "")
          continue()
        endif()
        set(folder "${rel}")
        if(p MATCHES "SOURCES")
          get_filename_component(folder "${rel}" DIRECTORY)
        endif()
        hvd__mm_module("${folder}" owner)
        if(owner STREQUAL m)
          continue()
        elseif(owner STREQUAL "")
          set(owner "${folder}")
        endif()
        if("${t}|${rel}" IN_LIST exceptions)
          list(APPEND used_exceptions "${t}|${rel}")
          continue()
        endif()
        if(p MATCHES "SOURCES")
          string(APPEND problems "  - ${t} (${m}/) compiles ${rel}, a source of ${owner}/: link ${owner}/'s library instead\n")
        else()
          string(APPEND problems "  - ${t} (${m}/) includes ${rel}/, a directory of ${owner}/: link ${owner}/'s library instead\n")
        endif()
      endforeach()
    endforeach()
  endforeach()

  foreach(e ${exceptions})
    if(NOT e IN_LIST used_exceptions)
      get_property(why GLOBAL PROPERTY "HVD_MODULE_EXCEPTION_${e}")
      string(REPLACE "|" " " e "${e}")
      string(APPEND problems "  - the exception `${e}` (${why}) is no longer needed: delete it\n")
    endif()
  endforeach()

  # No test source that no target compiles (a suite lost by a typo).
  if(HVD_BUILD_TESTS)
    set(compiled "")
    foreach(t ${targets})
      get_target_property(dir ${t} SOURCE_DIR)
      get_target_property(type ${t} TYPE)
      if(type STREQUAL "INTERFACE_LIBRARY")
        continue()
      endif()
      get_target_property(sources ${t} SOURCES)
      foreach(s ${sources})
        get_filename_component(s "${s}" ABSOLUTE BASE_DIR "${dir}")
        list(APPEND compiled "${s}")
      endforeach()
    endforeach()
    # The arm64 suites are the folders named *64 (tests/conformance64),
    # built on arm64 only; every other folder is x86's.
    file(GLOB test_sources CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/*/test_*.c)
    file(GLOB test_sources64 CONFIGURE_DEPENDS ${PROJECT_SOURCE_DIR}/tests/*64/test_*.c)
    if(HVD_ARCH STREQUAL arm64)
      set(test_sources ${test_sources64})
    elseif(test_sources64)
      list(REMOVE_ITEM test_sources ${test_sources64})
    endif()
    foreach(s ${test_sources})
      if(NOT s IN_LIST compiled)
        file(RELATIVE_PATH rel "${PROJECT_SOURCE_DIR}" "${s}")
        string(APPEND problems "  - ${rel} is compiled by no target: register it in its folder's CMakeLists.txt\n")
      endif()
    endforeach()
  endif()

  if(problems)
    message(FATAL_ERROR "The module map (cmake/HvdModuleMap.cmake) does not hold:\n${problems}")
  endif()
endfunction()

hvd__mm_check()
