// OpenMP behind one small interface, with a serial twin when OpenMP is off.
#pragma once

#ifdef _OPENMP
#include <omp.h>
#endif

namespace neurophase {

inline bool openmp_enabled() {
#ifdef _OPENMP
    return true;
#else
    return false;
#endif
}

inline int max_threads() {
#ifdef _OPENMP
    return omp_get_max_threads();
#else
    return 1;
#endif
}

}  // namespace neurophase
