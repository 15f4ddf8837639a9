# revunet_data: NIfTI I/O through nifti_clib (Debian: libnifti2-dev), BraTS case tables, regions,
# manifests and synthetic cases. nifti2_io reads and writes both NIfTI-1 and NIfTI-2; libniftiio
# (nifti1_io) is not linked, it defines the same symbols.
find_path(REVUNET_NIFTI_INCLUDE_DIR nifti2_io.h PATH_SUFFIXES nifti)
find_library(REVUNET_NIFTI2_LIBRARY nifti2)
find_library(REVUNET_ZNZ_LIBRARY znz)
if(NOT REVUNET_NIFTI_INCLUDE_DIR OR NOT REVUNET_NIFTI2_LIBRARY OR NOT REVUNET_ZNZ_LIBRARY)
  message(FATAL_ERROR "revunet: nifti_clib not found (nifti2_io.h, libnifti2, libznz). "
                      "On Debian/Ubuntu: apt-get install libnifti2-dev")
endif()
message(STATUS "revunet: nifti_clib ${REVUNET_NIFTI2_LIBRARY}")

revunet_area(data DEPS revunet_core LIBS ${REVUNET_NIFTI2_LIBRARY} ${REVUNET_ZNZ_LIBRARY} ZLIB::ZLIB)
# Only the .cpp files include nifti headers (they define many macros); tests check raw headers.
target_include_directories(revunet_data PRIVATE ${REVUNET_NIFTI_INCLUDE_DIR})
if(TARGET test_data)
  target_include_directories(test_data PRIVATE ${REVUNET_NIFTI_INCLUDE_DIR})
endif()
