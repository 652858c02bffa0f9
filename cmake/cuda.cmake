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

if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
  # explicit SASS for A100 and H100, plus PTX for newer GPUs
  set(CMAKE_CUDA_ARCHITECTURES 80-real 90-real 90-virtual)
endif()
enable_language(CUDA)
set(CMAKE_CUDA_STANDARD 17)
find_package(CUDAToolkit REQUIRED)

file(GLOB PE_CUDA_SOURCES CONFIGURE_DEPENDS ${CMAKE_SOURCE_DIR}/csrc/cuda/*.cu)
# The family bindings are compiled a second time for this module, with the CUDA policy of bind.h.
pybind11_add_module(_cuda ${PE_FAMILY_BIND_SOURCES} ${CMAKE_SOURCE_DIR}/csrc/bindings/cuda_module.cpp
                    ${PE_CUDA_SOURCES})
target_include_directories(_cuda PRIVATE ${CMAKE_SOURCE_DIR}/csrc/include ${CMAKE_SOURCE_DIR}/csrc)
target_link_libraries(_cuda PRIVATE CUDA::cudart_static)
string(REPLACE ";" " " PE_CUDA_ARCHS_STR "${CMAKE_CUDA_ARCHITECTURES}")
target_compile_definitions(_cuda PRIVATE PYENGINE_CUDA_ARCHS="${PE_CUDA_ARCHS_STR}" PYENGINE_CUDA_MODULE=1)
target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--expt-relaxed-constexpr -lineinfo>)
if(PYENGINE_CUDA_WERROR)
  target_compile_options(_cuda PRIVATE $<$<COMPILE_LANGUAGE:CUDA>:--Werror all-warnings>
                                       $<$<COMPILE_LANGUAGE:CXX>:-Wall -Werror>)
endif()
if(SKBUILD)
  install(TARGETS _cuda DESTINATION pyengine)
else()
  set_target_properties(_cuda PROPERTIES LIBRARY_OUTPUT_DIRECTORY ${CMAKE_SOURCE_DIR}/pyengine)
endif()
message(STATUS "pyengine: building pyengine._cuda for ${CMAKE_CUDA_ARCHITECTURES}")
