// Run-time dispatch between a portable build and AVX2 (GCC's target_clones):
// the default flags stay portable, and CPUs with AVX2 get the wider path.
#pragma once

#if defined(NEUROPHASE_DISPATCH) && defined(__GNUC__) && !defined(__clang__) && \
    defined(__x86_64__)
#define NEUROPHASE_CLONES __attribute__((target_clones("avx2", "default")))
#define NEUROPHASE_HAS_CLONES 1
#else
#define NEUROPHASE_CLONES
#define NEUROPHASE_HAS_CLONES 0
#endif
