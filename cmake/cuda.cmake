# The CUDA predictor (docs/gpu.md). Included at the end of the root
# CMakeLists.txt, after lmzip_model exists. Exactly one implementation of
# src/model/cuda_predictor.h goes into lmzip_model:
#   LMZIP_CUDA=OFF (default): cuda_predictor_stub.cpp (CUDA "not built in");
#   LMZIP_CUDA=ON: cuda_predictor.cpp (ATen CUDA, GEMMs) and
#                  cuda_predictor.cu (the integer kernels, nvcc).
# ON needs a CUDA-enabled libtorch (-DTorch_DIR=...) and nvcc
# (-DCMAKE_CUDA_COMPILER=...); scripts/build-cuda.sh sets both.

if(NOT LMZIP_CUDA)
  target_sources(lmzip_model PRIVATE src/model/cuda_predictor_stub.cpp)
  return()
endif()

if(NOT TARGET torch_cuda AND NOT TORCH_LIBRARIES MATCHES "torch_cuda")
  message(FATAL_ERROR
    "LMZIP_CUDA=ON needs a CUDA-enabled libtorch, but the one found (Torch_DIR=${Torch_DIR}) has no torch_cuda. "
    "Point -DTorch_DIR at one, e.g. python3 -c 'import torch; print(torch.utils.cmake_prefix_path)' + /Torch, "
    "or run scripts/build-cuda.sh.")
endif()

# Devices: Ampere (80, 86), Ada (89), Hopper (90, with PTX for later GPUs).
# libtorch's CMake config sets CMAKE_CUDA_ARCHITECTURES to OFF (it wants
# TORCH_CUDA_ARCH_LIST, for its own FindCUDA flags), so lmzip's kernels take
# theirs from LMZIP_CUDA_ARCHITECTURES (e.g. -DLMZIP_CUDA_ARCHITECTURES=90
# builds faster for an H100 or H200 alone).
set(LMZIP_CUDA_ARCHITECTURES "80-real;86-real;89-real;90" CACHE STRING "CUDA architectures of lmzip's kernels")
enable_language(CUDA)
# libtorch's config also appends -gencode flags for its own list (for this
# toolkit possibly unsupported ones, e.g. compute_50 with CUDA 13) to
# CMAKE_CUDA_FLAGS: lmzip's kernels use LMZIP_CUDA_ARCHITECTURES instead.
string(REGEX REPLACE "-gencode[ =]+arch=[^ ]+" "" CMAKE_CUDA_FLAGS "${CMAKE_CUDA_FLAGS}")
find_package(CUDAToolkit REQUIRED)
set(CMAKE_CUDA_STANDARD 17)
set(CMAKE_CUDA_STANDARD_REQUIRED ON)

# The kernels know nothing of torch: plain CUDA, compiled by nvcc.
add_library(lmzip_cuda_kernels STATIC src/model/cuda_predictor.cu)
# The directory's -Wall -Wextra are host compiler flags that nvcc does not take.
set_property(TARGET lmzip_cuda_kernels PROPERTY COMPILE_OPTIONS "")
target_compile_options(lmzip_cuda_kernels PRIVATE
  $<$<COMPILE_LANGUAGE:CUDA>:-Xcompiler=-Wall,-Wextra>)
target_include_directories(lmzip_cuda_kernels PRIVATE src)
set_target_properties(lmzip_cuda_kernels PROPERTIES
  CUDA_ARCHITECTURES "${LMZIP_CUDA_ARCHITECTURES}"
  POSITION_INDEPENDENT_CODE ON
  CUDA_RUNTIME_LIBRARY Shared)
target_link_libraries(lmzip_cuda_kernels PUBLIC CUDA::cudart)

target_sources(lmzip_model PRIVATE src/model/cuda_predictor.cpp)
target_link_libraries(lmzip_model PUBLIC lmzip_cuda_kernels CUDA::cudart ${TORCH_LIBRARIES})
# Linking against a wheel's libtorch_cuda on a machine that lacks some of the
# CUDA libraries it names (the wheel's nvidia-* packages: cuSPARSELt, NVSHMEM,
# cuFile) needs -DCMAKE_EXE_LINKER_FLAGS=-Wl,--allow-shlib-undefined; they are
# needed only at run time, where the GPU machine's torch brings them
# (scripts/build-cuda.sh).

# A wheel's libtorch ships fmt headers (a newer fmt) in its include folder,
# which comes before the system's as -isystem; Debian's spdlog is built
# against Debian's fmt. The CLI, lmzip's only spdlog user and a file without
# torch headers, gets a -I folder whose fmt/ leads back to the system's fmt.
if(EXISTS "${TORCH_INSTALL_PREFIX}/include/fmt" AND TARGET lmzip)
  set(_lmzip_fmt_dir "")
  if(TARGET fmt::fmt)
    get_target_property(_lmzip_fmt_dir fmt::fmt INTERFACE_INCLUDE_DIRECTORIES)
  endif()
  if(NOT _lmzip_fmt_dir OR NOT EXISTS "${_lmzip_fmt_dir}/fmt/core.h")
    set(_lmzip_fmt_dir /usr/include)
  endif()
  if(EXISTS "${_lmzip_fmt_dir}/fmt/core.h")
    file(MAKE_DIRECTORY "${CMAKE_BINARY_DIR}/system-fmt")
    file(CREATE_LINK "${_lmzip_fmt_dir}/fmt" "${CMAKE_BINARY_DIR}/system-fmt/fmt" SYMBOLIC)
    target_include_directories(lmzip BEFORE PRIVATE "${CMAKE_BINARY_DIR}/system-fmt")
  endif()
endif()

# The GPU test runs the CLI with --device cpu and --device cuda and compares the .lmz bytes.
if(TARGET test_model)
  target_compile_definitions(test_model PRIVATE LMZIP_BINARY="$<TARGET_FILE:lmzip>")
  add_dependencies(test_model lmzip)
endif()

message(STATUS "lmzip: CUDA predictor ON (CUDA ${CUDAToolkit_VERSION}, architectures ${LMZIP_CUDA_ARCHITECTURES})")
