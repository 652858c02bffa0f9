# pyengine._cuda: built when CMake finds a CUDA compiler. cudart is linked statically so that the
# module imports on a machine with no GPU or driver (it then reports "no usable GPU").
if(NOT PYENGINE_CUDA)
  return()
endif()
include(CheckLanguage)
check_language(CUDA)
if(NOT CMAKE_CUDA_COMPILER)
  message(STATUS "pyengine: no CUDA compiler found, building CPU only")
  return()
endif()

# Which GPU code goes into the module. The default is SASS for sm_90 (H100/H200, the GPU this
# project benchmarks on) and PTX for compute_80, both from ONE device compilation (one cicc pass,
# one ptxas pass; nvcc's documented `arch=compute_XX,code=[...]` form): compute_80 is the oldest
# architecture the kernels need (TF32 wmma), so its PTX runs, JIT-compiled once by the driver and
# cached, on every GPU from the A100 on, Blackwell included. No kernel uses a feature newer than
# sm_80, so sm_90 SASS built from compute_80 PTX is the code compute_90 would give. The former
# default (SASS sm_80 + sm_90, PTX compute_90) cost two cicc and two ptxas passes per file (README,
# install). -DCMAKE_CUDA_ARCHITECTURES=... overrides.
if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  set(PE_CUDA_GENCODE "--generate-code=arch=compute_80,code=[compute_80,sm_90]")
  set(PE_CUDA_ARCHS_STR "sm_90 SASS + compute_80 PTX")
  set(CMAKE_CUDA_ARCHITECTURES OFF)   # CMake adds no -arch flags; PE_CUDA_GENCODE says it all
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
find_package(CUDAToolkit REQUIRED)

file(GLOB PE_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/csrc/cuda/*.cu)
# The family bindings are compiled a second time for this module, with the CUDA policy of bind.h.
pybind11_add_module(_cuda ${PE_FAMILY_BIND_SOURCES} ${CMAKE_SOURCE_DIR}/csrc/bindings/cuda_module.cpp
                    ${PE_CUDA_SOURCES})
set_target_properties(_cuda PROPERTIES UNITY_BUILD ON UNITY_BUILD_MODE GROUP)   # the bindings, as for _C
target_include_directories(_cuda PRIVATE ${CMAKE_SOURCE_DIR}/csrc/include ${CMAKE_SOURCE_DIR}/csrc)
target_link_libraries(_cuda PRIVATE CUDA::cudart_static)
if(PE_CUDA_GENCODE)
  target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:${PE_CUDA_GENCODE}>)
else()
  string(REPLACE ";" " " PE_CUDA_ARCHS_STR "${CMAKE_CUDA_ARCHITECTURES}")
endif()
target_compile_definitions(_cuda PRIVATE PYENGINE_CUDA_ARCHS="${PE_CUDA_ARCHS_STR}" PYENGINE_CUDA_MODULE=1)
target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
if(PYENGINE_CUDA_WERROR)
  target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--Werror all-warnings>
                                       $<$<COMPILE_LANGUAGE:CXX>:-Wall -Werror>)
endif()
if(SKBUILD)
  install(TARGETS _cuda DESTINATION pyengine)
else()
  set_target_properties(_cuda PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${PYENGINE_MODULE_DIR})
endif()
message(STATUS "pyengine: building pyengine._cuda for ${PE_CUDA_ARCHS_STR}")
