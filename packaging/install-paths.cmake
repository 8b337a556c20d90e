# Run by `cmake --install` (install(SCRIPT) in packaging/CMakeLists.txt),
# where CMAKE_INSTALL_PREFIX is the prefix of this install, --prefix P
# included: hvd.conf goes to the sysconfdir of that prefix, and the unit
# names that prefix's programs and configuration, so that nothing lands
# outside P and the installed unit runs the installed hvd. The
# directories follow GNUInstallDirs: a relative one is under the prefix;
# the prefix /usr (a package) has its configuration in /etc.
# Set before including: HVD_CONF_SRC, HVD_SERVICE_IN, HVD_BUILD_DIR,
# HVD_CFG_BINDIR, HVD_CFG_SYSCONFDIR, HVD_CFG_UNITDIR (as configured).
function(hvd_full_dir out dir is_sysconf)
  if(IS_ABSOLUTE "${dir}")
    set(full "${dir}")
  elseif(is_sysconf AND CMAKE_INSTALL_PREFIX MATCHES "^/(usr/?)?$")
    set(full "/${dir}")
  else()
    set(full "${CMAKE_INSTALL_PREFIX}/${dir}")
  endif()
  string(REGEX REPLACE "/+" "/" full "${full}")
  set(${out} "${full}" PARENT_SCOPE)
endfunction()

hvd_full_dir(HVD_BINDIR "${HVD_CFG_BINDIR}" FALSE)
hvd_full_dir(HVD_SYSCONFDIR "${HVD_CFG_SYSCONFDIR}" TRUE)
hvd_full_dir(unitdir "${HVD_CFG_UNITDIR}" FALSE)

# A scratch copy per destination: two installs of one tree may run at
# once (the install tests do).
string(MD5 tag "$ENV{DESTDIR}|${CMAKE_INSTALL_PREFIX}")
set(service "${HVD_BUILD_DIR}/install-${tag}/hvd.service")
configure_file("${HVD_SERVICE_IN}" "${service}" @ONLY)
# file(INSTALL) puts DESTDIR in front and records the files in the
# install manifest, as install(FILES) does.
file(INSTALL "${service}" DESTINATION "${unitdir}")
file(REMOVE_RECURSE "${HVD_BUILD_DIR}/install-${tag}")
file(INSTALL "${HVD_CONF_SRC}" DESTINATION "${HVD_SYSCONFDIR}/hvd")
