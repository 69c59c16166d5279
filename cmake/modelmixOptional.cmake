# Optional targets that link a library. Each switches itself off with a message when its
# dependency is missing, so the header-only core always configures.
set(MODELMIX_OPTIONAL_TARGETS "")

# modelmix::nifti — NIfTI volume I/O on nifti_clib (Debian: libnifti2-dev).
set(MODELMIX_HAS_NIFTI OFF)
if(MODELMIX_WITH_NIFTI)
  find_package(NIfTIClib QUIET)
  if(NIfTIClib_FOUND)
    add_library(modelmix_nifti INTERFACE)
    set_target_properties(modelmix_nifti PROPERTIES EXPORT_NAME nifti)
    add_library(modelmix::nifti ALIAS modelmix_nifti)
    target_link_libraries(modelmix_nifti INTERFACE modelmix NIfTIClib::niftiio)
    list(APPEND MODELMIX_OPTIONAL_TARGETS modelmix_nifti)
    set(MODELMIX_HAS_NIFTI ON)
    message(STATUS "modelmix: NIfTI I/O enabled (modelmix::nifti)")
  else()
    message(STATUS "modelmix: nifti_clib not found; modelmix::nifti and NIfTI programs are off (apt-get install libnifti2-dev)")
  endif()
endif()
include(modelmixCuda)
