# Cross build for Linux/arm64 from an x86 Debian machine:
#
#   scripts/arm64-sysroot.sh            # Debian's arm64 -dev packages, unpacked
#   cmake -S . -B build-arm64-cmake -DCMAKE_TOOLCHAIN_FILE=cmake/aarch64-linux-gnu.cmake
#
# The compiler is Debian's gcc-aarch64-linux-gnu; headers, libraries and
# .pc files come from the sysroot only (HVD_ARM64_SYSROOT, default the one
# arm64-sysroot.sh makes), never from the build machine's own multiarch
# directories, so what links here is what the arm64 lab runs.
set(CMAKE_SYSTEM_NAME Linux)
set(CMAKE_SYSTEM_PROCESSOR aarch64)
set(CMAKE_C_COMPILER aarch64-linux-gnu-gcc)

if(NOT HVD_ARM64_SYSROOT)
  if(DEFINED ENV{HVD_ARM64_SYSROOT})
    set(HVD_ARM64_SYSROOT $ENV{HVD_ARM64_SYSROOT})
  else()
    set(HVD_ARM64_SYSROOT /var/cache/hvd-lab/arm64/sysroot)
  endif()
endif()
if(NOT EXISTS ${HVD_ARM64_SYSROOT}/usr/include/stdio.h)
  message(FATAL_ERROR "no arm64 sysroot at ${HVD_ARM64_SYSROOT}: run scripts/arm64-sysroot.sh")
endif()
set(HVD_ARM64_SYSROOT ${HVD_ARM64_SYSROOT} CACHE PATH "arm64 sysroot (scripts/arm64-sysroot.sh)")
# try_compile projects re-read this file: pass the sysroot on.
list(APPEND CMAKE_TRY_COMPILE_PLATFORM_VARIABLES HVD_ARM64_SYSROOT)

set(CMAKE_SYSROOT ${HVD_ARM64_SYSROOT})
set(CMAKE_FIND_ROOT_PATH_MODE_PROGRAM NEVER)
set(CMAKE_FIND_ROOT_PATH_MODE_LIBRARY ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_INCLUDE ONLY)
set(CMAKE_FIND_ROOT_PATH_MODE_PACKAGE ONLY)

# pkg-config: the sysroot's .pc files, paths prefixed with the sysroot.
set(ENV{PKG_CONFIG_DIR} "")
set(ENV{PKG_CONFIG_PATH} "")
set(ENV{PKG_CONFIG_LIBDIR}
  "${HVD_ARM64_SYSROOT}/usr/lib/aarch64-linux-gnu/pkgconfig:${HVD_ARM64_SYSROOT}/usr/share/pkgconfig")
set(ENV{PKG_CONFIG_SYSROOT_DIR} ${HVD_ARM64_SYSROOT})
