# modelmix::cuda — the CUDA backend: runtime (streams, device memory, cuDNN handle), the fused
# mixed-convolution kernels and the cuDNN baseline, compiled from src/cuda/*.cu and *.cpp.
#
#   MODELMIX_WITH_CUDA       AUTO (default when top-level: on when nvcc works, off with a
#                            message otherwise), ON (error when nvcc or cuDNN is missing), OFF.
#                            A project that pulls modelmix in (FetchContent) gets OFF unless it asks.
#   CMAKE_CUDA_ARCHITECTURES default "80;90" (A100, H100/H200).
#
# Every CUDA translation unit is compiled with ptxas -v (register/spill/shared-memory lines for
# each kernel in the build log) and -warn-spills -warn-lmem-usage -Werror: a kernel that spills
# or touches local memory fails the build.
#
# Sets MODELMIX_HAS_CUDA ON when the target exists. modelmix::cuda is not installed: its link
# interface (static cudart, cuDNN by path) would need find_dependency(CUDAToolkit) and a cuDNN
# lookup in modelmixConfig.cmake; consumers build it from source (FetchContent) instead.
set(MODELMIX_HAS_CUDA OFF)

if(PROJECT_IS_TOP_LEVEL)
  set(_modelmix_cuda_default AUTO)
else()
  set(_modelmix_cuda_default OFF)
endif()
set(MODELMIX_WITH_CUDA ${_modelmix_cuda_default} CACHE STRING "Build modelmix::cuda: AUTO, ON or OFF")
set_property(CACHE MODELMIX_WITH_CUDA PROPERTY STRINGS AUTO ON OFF)
string(TOUPPER "${MODELMIX_WITH_CUDA}" _modelmix_cuda_mode)
if(_modelmix_cuda_mode MATCHES "^(1|YES|TRUE|Y)$")
  set(_modelmix_cuda_mode ON)
elseif(_modelmix_cuda_mode MATCHES "^(0|NO|FALSE|N)$")
  set(_modelmix_cuda_mode OFF)
endif()

# Report why CUDA is off: an error when it was forced on, a status line otherwise.
macro(_modelmix_cuda_unavailable why)
  if(_modelmix_cuda_mode STREQUAL "ON")
    message(FATAL_ERROR "modelmix: MODELMIX_WITH_CUDA=ON but ${why}")
  endif()
  message(STATUS "modelmix: ${why}; modelmix::cuda and the gpu tests/benchmarks are off")
endmacro()

# enable_language() must run at file scope (not in a function), so the steps below are a
# chain of file-scope blocks guarded by _modelmix_cuda_ok.
set(_modelmix_cuda_ok OFF)
if(_modelmix_cuda_mode STREQUAL "OFF")
  message(STATUS "modelmix: MODELMIX_WITH_CUDA=OFF; modelmix::cuda and the gpu tests/benchmarks are off")
elseif(NOT _modelmix_cuda_mode MATCHES "^(AUTO|ON)$")
  message(FATAL_ERROR "modelmix: MODELMIX_WITH_CUDA must be AUTO, ON or OFF, got '${MODELMIX_WITH_CUDA}'")
else()
  set(_modelmix_cuda_ok ON)
  # nvcc: the cache, CUDACXX, PATH, then the usual toolkit location.
  if(NOT DEFINED CMAKE_CUDA_COMPILER AND NOT DEFINED ENV{CUDACXX})
    find_program(MODELMIX_NVCC nvcc HINTS ENV CUDA_PATH ENV CUDA_HOME PATH_SUFFIXES bin
                 PATHS /usr/local/cuda/bin)
    if(MODELMIX_NVCC)
      set(CMAKE_CUDA_COMPILER "${MODELMIX_NVCC}" CACHE FILEPATH "CUDA compiler")
    else()
      _modelmix_cuda_unavailable("nvcc was found neither in PATH nor in /usr/local/cuda/bin")
      set(_modelmix_cuda_ok OFF)
    endif()
  endif()
endif()

if(_modelmix_cuda_ok)
  # nvcc must use the C++ compiler of the rest of the build (one ABI, one C++20 library).
  if(NOT DEFINED CMAKE_CUDA_HOST_COMPILER AND CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    set(CMAKE_CUDA_HOST_COMPILER "${CMAKE_CXX_COMPILER}" CACHE FILEPATH "Host compiler of nvcc")
  endif()
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    _modelmix_cuda_unavailable("nvcc does not compile a test program (check_language(CUDA))")
    set(_modelmix_cuda_ok OFF)
  endif()
endif()

if(_modelmix_cuda_ok)
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    set(CMAKE_CUDA_ARCHITECTURES "80;90" CACHE STRING "CUDA architectures of modelmix::cuda")
  endif()
  enable_language(CUDA)
  find_package(CUDAToolkit)
  if(NOT CUDAToolkit_FOUND)
    _modelmix_cuda_unavailable("the CUDA toolkit (cudart) was not found beside ${CMAKE_CUDA_COMPILER}")
    set(_modelmix_cuda_ok OFF)
  endif()
endif()

if(_modelmix_cuda_ok)
  # cuDNN: beside the toolkit (/usr/local/cuda/lib64, lib), CUDNN_ROOT / CUDNN_PATH, or the
  # system. cuDNN 9 ships shared libraries only: libcudnn.so is a small dispatcher that loads
  # libcudnn_{graph,ops,cnn,engines_*}.so from its own folder or the loader path at run time.
  get_filename_component(_modelmix_toolkit_root "${CUDAToolkit_LIBRARY_DIR}" DIRECTORY)
  find_path(MODELMIX_CUDNN_INCLUDE_DIR cudnn.h
            HINTS ENV CUDNN_ROOT ENV CUDNN_PATH ${CUDAToolkit_INCLUDE_DIRS} ${_modelmix_toolkit_root}
            PATH_SUFFIXES include)
  find_library(MODELMIX_CUDNN_LIBRARY NAMES cudnn
               HINTS ENV CUDNN_ROOT ENV CUDNN_PATH ${CUDAToolkit_LIBRARY_DIR} ${_modelmix_toolkit_root}
               PATH_SUFFIXES lib64 lib lib/x64)
  if(NOT MODELMIX_CUDNN_INCLUDE_DIR OR NOT MODELMIX_CUDNN_LIBRARY)
    _modelmix_cuda_unavailable("cuDNN (cudnn.h, libcudnn) was not found (set CUDNN_ROOT)")
    set(_modelmix_cuda_ok OFF)
  endif()
endif()

if(_modelmix_cuda_ok)
  file(GLOB _modelmix_cuda_sources CONFIGURE_DEPENDS
       "${PROJECT_SOURCE_DIR}/src/cuda/*.cu" "${PROJECT_SOURCE_DIR}/src/cuda/*.cpp")
  add_library(modelmix_cuda STATIC ${_modelmix_cuda_sources})
  add_library(modelmix::cuda ALIAS modelmix_cuda)
  set_target_properties(modelmix_cuda PROPERTIES
    EXPORT_NAME cuda
    CUDA_SEPARABLE_COMPILATION OFF
    CUDA_RUNTIME_LIBRARY Static
    POSITION_INDEPENDENT_CODE ON)
  target_link_libraries(modelmix_cuda PUBLIC modelmix::modelmix CUDA::cudart_static "${MODELMIX_CUDNN_LIBRARY}")
  target_include_directories(modelmix_cuda PUBLIC "$<BUILD_INTERFACE:${MODELMIX_CUDNN_INCLUDE_DIR}>")
  target_compile_definitions(modelmix_cuda INTERFACE MODELMIX_WITH_CUDA=1)
  # CMake 3.25 knows no cuda_std_20 for nvcc 13: pass the standard directly. Host-only flags
  # stay behind $<COMPILE_LANGUAGE:CXX> so they never reach nvcc.
  target_compile_options(modelmix_cuda PRIVATE
    "$<$<COMPILE_LANGUAGE:CUDA>:-std=c++20;-Xptxas=-v,-warn-spills,-warn-lmem-usage,-Werror>"
    "$<$<COMPILE_LANGUAGE:CXX>:-Wall;-Wextra>")
  set(MODELMIX_HAS_CUDA ON)
  message(STATUS "modelmix: CUDA enabled (modelmix::cuda): nvcc ${CMAKE_CUDA_COMPILER_VERSION}, "
                 "architectures ${CMAKE_CUDA_ARCHITECTURES}, cuDNN ${MODELMIX_CUDNN_LIBRARY}")
endif()
