// Run-time dispatch between a portable build and AVX2 (AVX-512 for the activation
// kernels): the default flags stay portable, and CPUs with the wider instructions
// get the wider path. Loops the compiler vectorises well use GCC's target_clones;
// hand-written kernels are compiled for AVX2 (or AVX-512) with a target attribute or
// pragma and chosen once at run time (has_avx2(), the activation path selection).
#pragma once

#if defined(NEUROPHASE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__x86_64__)
#define NEUROPHASE_CLONES __attribute__((target_clones("avx2", "default")))
#define NEUROPHASE_HAS_CLONES 1
#else
#define NEUROPHASE_CLONES
#define NEUROPHASE_HAS_CLONES 0
#endif

#if defined(NEUROPHASE_DISPATCH) && defined(__GNUC__) && defined(__x86_64__)
#define NEUROPHASE_AVX2_KERNELS 1
#define NEUROPHASE_TARGET_AVX2 __attribute__((target("avx2,popcnt")))
// The AVX-512 kernels use byte permutes (VBMI) and bit deposits (BMI2) as well.
#define NEUROPHASE_TARGET_AVX512 \
    __attribute__((target("avx512f,avx512bw,avx512vbmi,bmi2,popcnt")))
#else
#define NEUROPHASE_AVX2_KERNELS 0
#define NEUROPHASE_TARGET_AVX2
#define NEUROPHASE_TARGET_AVX512
#endif

// AVX-512 (F, DQ, BW, VL) activation kernels, compiled under a target pragma.
#if defined(NEUROPHASE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__x86_64__)
#define NEUROPHASE_AVX512_KERNELS 1
#else
#define NEUROPHASE_AVX512_KERNELS 0
#endif

namespace neurophase {

// True when the hand-written AVX2 kernels are compiled in and the CPU runs them.
inline bool has_avx2() {
#if NEUROPHASE_AVX2_KERNELS
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("popcnt");
    }();
    return supported;
#else
    return false;
#endif
}

// True when the CPU (and the operating system) runs the AVX-512 kernels: AVX-512 F
// and BW with VBMI, and BMI2.
inline bool has_avx512() {
#if NEUROPHASE_AVX2_KERNELS
    static const bool supported = [] {
        __builtin_cpu_init();
        return __builtin_cpu_supports("avx512f") &&
               __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vbmi") && __builtin_cpu_supports("bmi2") &&
               __builtin_cpu_supports("popcnt");
    }();
    return supported;
#else
    return false;
#endif
}

}  // namespace neurophase
