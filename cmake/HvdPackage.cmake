# `cpack -G DEB` (or scripts/package.sh): one Debian package, hvd, with the
# daemon, hvctl, the libraries, headers, pkg-config and CMake files, units,
# default policy and man pages.
set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME hvd)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_CONTACT "hvd developers <dev@hvd.invalid>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "Apple's Hypervisor.framework API as a service on KVM")
set(CPACK_PACKAGE_DESCRIPTION "hvd owns virtual machines through KVM on behalf of sandboxed
programs that link libhvclient, which offers Apple's Hypervisor.framework C
API (Intel/VMX flavour) with Apple's names, types and values. Guest RAM and
vCPU registers are shared memory; entitlements, signed grants and tenant
quotas decide who may do what. hvctl is the administration tool.")
set(CPACK_DEBIAN_PACKAGE_SECTION admin)
set(CPACK_DEBIAN_PACKAGE_PRIORITY optional)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# adduser: the postinst's fallback where systemd-sysusers is missing.
set(CPACK_DEBIAN_PACKAGE_DEPENDS "adduser")
set(CPACK_DEBIAN_PACKAGE_CONTROL_EXTRA
  ${PROJECT_SOURCE_DIR}/packaging/debian/postinst
  ${PROJECT_SOURCE_DIR}/packaging/debian/prerm
  ${PROJECT_SOURCE_DIR}/packaging/debian/postrm
  ${PROJECT_SOURCE_DIR}/packaging/debian/conffiles
  ${PROJECT_SOURCE_DIR}/packaging/debian/triggers)
set(CPACK_DEBIAN_PACKAGE_CONTROL_STRICT_PERMISSION ON)
set(CPACK_STRIP_FILES ON)
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
include(CPack)
