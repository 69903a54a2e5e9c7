// OpenMP behind one small interface, with a serial twin when OpenMP is off.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>

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

// Runs sweeps [0, n_sweeps) as run_batch(first, last, threads) calls and returns how
// many ran on the whole team of nt threads. A team is only faster while its threads
// run at the same time: when other processes hold the cores, each barrier waits for
// a descheduled thread and one thread does better. Callers' results must not depend
// on the thread count, so batches of about kBatchSeconds alternate between the team
// and one thread, keeping the faster and now and then re-timing the other.
template <class RunBatch>
int64_t run_team_or_single(int64_t n_sweeps, int nt, RunBatch&& run_batch) {
    if (nt == 1) {
        run_batch(int64_t{0}, n_sweeps, 1);
        return n_sweeps;
    }
    constexpr double kBatchSeconds = 0.01;
    constexpr int kRetimeEvery = 32;
    double per_sweep[2] = {0.0, 0.0};  // seconds; [0] one thread, [1] the team
    int64_t team_sweeps = 0;
    int64_t batches = 0;
    for (int64_t t = 0; t < n_sweeps; ++batches) {
        int use_team;
        if (per_sweep[1] == 0.0 || per_sweep[0] == 0.0)
            use_team = per_sweep[1] == 0.0;
        else
            use_team = (per_sweep[1] < per_sweep[0]) != (batches % kRetimeEvery == 0);
        const double estimate = per_sweep[use_team];
        const int64_t n =
            estimate > 0.0
                ? std::clamp<int64_t>(static_cast<int64_t>(kBatchSeconds / estimate), 1,
                                      n_sweeps - t)
                : 1;
        const auto start = std::chrono::steady_clock::now();
        run_batch(t, t + n, use_team ? nt : 1);
        if (use_team) team_sweeps += n;
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                .count();
        per_sweep[use_team] = seconds / static_cast<double>(n);
        t += n;
    }
    return team_sweeps;
}

}  // namespace neurophase
