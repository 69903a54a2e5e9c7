#include "neurophase/build_info.hpp"

#include "neurophase/dispatch.hpp"
#include "neurophase/parallel.hpp"

namespace neurophase {

BuildInfo build_info() {
    BuildInfo info;
    info.openmp = openmp_enabled();
    info.max_threads = max_threads();
#if defined(__clang__)
    info.compiler = "clang " __clang_version__;
#elif defined(__GNUC__)
    info.compiler = "gcc " __VERSION__;
#else
    info.compiler = "unknown";
#endif
    info.runtime_dispatch = NEUROPHASE_HAS_CLONES != 0;
    info.simd_paths = {"default"};
    info.selected_path = "default";
#if NEUROPHASE_HAS_CLONES
    info.simd_paths.push_back("avx2");
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx2")) info.selected_path = "avx2";
#endif
    return info;
}

}  // namespace neurophase
