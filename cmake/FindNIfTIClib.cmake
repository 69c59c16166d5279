# FindNIfTIClib — nifti_clib's niftiio and znz libraries (Debian: libnifti2-dev).
#
# Debian ships a NIFTIConfig.cmake whose imported targets point at /usr/lib/libznz.so.*
# while the libraries live in the multiarch folder, so find_package(NIFTI CONFIG) fails
# there. This module finds the files directly and defines NIfTIClib::niftiio.
find_path(NIfTIClib_INCLUDE_DIR nifti1_io.h PATH_SUFFIXES nifti)
find_library(NIfTIClib_NIFTIIO_LIBRARY niftiio)
find_library(NIfTIClib_ZNZ_LIBRARY znz)
find_package(ZLIB QUIET)

include(FindPackageHandleStandardArgs)
find_package_handle_standard_args(NIfTIClib
  REQUIRED_VARS NIfTIClib_NIFTIIO_LIBRARY NIfTIClib_ZNZ_LIBRARY NIfTIClib_INCLUDE_DIR ZLIB_FOUND)

if(NIfTIClib_FOUND AND NOT TARGET NIfTIClib::niftiio)
  add_library(NIfTIClib::znz UNKNOWN IMPORTED)
  set_target_properties(NIfTIClib::znz PROPERTIES
    IMPORTED_LOCATION "${NIfTIClib_ZNZ_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NIfTIClib_INCLUDE_DIR}"
    INTERFACE_COMPILE_DEFINITIONS HAVE_ZLIB
    INTERFACE_LINK_LIBRARIES ZLIB::ZLIB)
  add_library(NIfTIClib::niftiio UNKNOWN IMPORTED)
  set_target_properties(NIfTIClib::niftiio PROPERTIES
    IMPORTED_LOCATION "${NIfTIClib_NIFTIIO_LIBRARY}"
    INTERFACE_INCLUDE_DIRECTORIES "${NIfTIClib_INCLUDE_DIR}"
    INTERFACE_LINK_LIBRARIES "NIfTIClib::znz;m")
endif()
mark_as_advanced(NIfTIClib_INCLUDE_DIR NIfTIClib_NIFTIIO_LIBRARY NIfTIClib_ZNZ_LIBRARY)
