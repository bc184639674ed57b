# libFuzzer targets (tests/fuzz; docs/reliability.md). Included from the root
# CMakeLists.txt when LMZIP_FUZZ is ON. Needs clang, in a build folder of its
# own, since every library is recompiled with the sanitizers:
#
#   CC=clang-14 CXX=clang++-14 cmake -S . -B build-fuzz -DLMZIP_FUZZ=ON \
#     -DLMZIP_BUILD_TESTS=OFF -DCMAKE_BUILD_TYPE=RelWithDebInfo
#   cmake --build build-fuzz --target fuzz_decompress
#
# tests/fuzz/run.sh does this and runs a target. libtorch stays the
# g++-built Debian library (uninstrumented, which is fine for linking: it uses
# the same libstdc++); only our code carries the fuzzer and sanitizers.
if(NOT CMAKE_CXX_COMPILER_ID MATCHES "Clang")
  message(FATAL_ERROR "LMZIP_FUZZ needs clang for libFuzzer: configure with CC=clang-14 CXX=clang++-14")
endif()

set(LMZIP_FUZZ_SANITIZERS "address,undefined" CACHE STRING "sanitizers besides fuzzer (comma-separated)")
set(lmzip_fuzz_compile -fsanitize=fuzzer-no-link,${LMZIP_FUZZ_SANITIZERS}
    -fno-sanitize-recover=undefined -fno-omit-frame-pointer -g)
# The libraries the targets link, instrumented for coverage and the sanitizers.
foreach(lib lmzip_hash lmzip_coder lmzip_format lmzip_tokenize lmzip_model lmzip_adapt lmzip_media lmzip_engine)
  target_compile_options(${lib} PRIVATE ${lmzip_fuzz_compile})
endforeach()

function(lmzip_fuzz_target name)
  add_executable(fuzz_${name} ${CMAKE_SOURCE_DIR}/tests/fuzz/fuzz_${name}.cpp)
  target_compile_options(fuzz_${name} PRIVATE ${lmzip_fuzz_compile})
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer,${LMZIP_FUZZ_SANITIZERS})
  target_include_directories(fuzz_${name} PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)
  target_link_libraries(fuzz_${name} PRIVATE ${ARGN})
endfunction()

lmzip_fuzz_target(container lmzip_format)
lmzip_fuzz_target(model_file lmzip_model)
lmzip_fuzz_target(decompress lmzip_engine)
lmzip_fuzz_target(roundtrip lmzip_engine)
lmzip_fuzz_target(inflated lmzip_coder)

# The seed-corpus generator: an ordinary program (with the same sanitizers,
# since it links the instrumented libraries, but no fuzzer main).
add_executable(make_corpus ${CMAKE_SOURCE_DIR}/tests/fuzz/make_corpus.cpp)
target_compile_options(make_corpus PRIVATE ${lmzip_fuzz_compile})
target_link_options(make_corpus PRIVATE -fsanitize=${LMZIP_FUZZ_SANITIZERS})
target_include_directories(make_corpus PRIVATE ${CMAKE_SOURCE_DIR}/tests/fuzz)
# zlib: the deflate streams of the mode-13 seeds.
target_link_libraries(make_corpus PRIVATE lmzip_engine lmzip_coder ZLIB::ZLIB)
