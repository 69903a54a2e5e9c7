// OpenMP behind one small interface, with a serial twin when OpenMP is off.
#pragma once

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cstdint>
#include <memory>
#include <thread>
#include <utility>
#include <vector>

#ifdef __linux__
#include <linux/futex.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <ctime>
#endif

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

inline int thread_index() {
#ifdef _OPENMP
    return omp_get_thread_num();
#else
    return 0;
#endif
}

// The units of work of a batch of sweeps, in place of barriers. A sweep is a fixed
// sequence of phases (phase k of a sweep has units_per_phase[k] units); a unit may
// only start once every unit of the phases before it is done. Each phase's units are
// split into one contiguous range per thread: a thread takes units from the front of
// its own range and, when that is empty, from the back of the others. A thread thus
// keeps to the same part of the lattice from phase to phase (and its data stays in
// that core's cache), the team still shares out the work of a thread that falls
// behind, and a thread waits only for units in progress, never for a thread that has
// merely not arrived (as a barrier waits for a thread the OS has descheduled, or
// that a sleeping OpenMP runtime has yet to wake). What a unit computes must not
// depend on which thread runs it.
class PhasedWork {
  public:
    PhasedWork(int64_t n_sweeps, std::vector<int64_t> units_per_phase, int team)
        : per_phase_(std::move(units_per_phase)),
          team_(team),
          n_phases_(n_sweeps * static_cast<int64_t>(per_phase_.size())) {
        first_.push_back(0);
        for (const int64_t n : per_phase_) first_.push_back(first_.back() + n);
        // One thread needs no ranges (and a long run on one thread would need many).
        if (team_ > 1) {
            slots_.reset(
                new std::atomic<uint64_t>[static_cast<std::size_t>(n_phases_ * team_)]);
            for (int64_t p = 0; p < n_phases_; ++p) {
                const int64_t n = units(p);
                for (int t = 0; t < team_; ++t)
                    slots_[static_cast<std::size_t>(p * team_ + t)].store(
                        pack(n * t / team_, n * (t + 1) / team_),
                        std::memory_order_relaxed);
            }
        }
    }

    int64_t n_phases() const { return n_phases_; }
    int64_t sweep_of(int64_t phase) const {
        return phase / static_cast<int64_t>(per_phase_.size());
    }
    int kind_of(int64_t phase) const {
        return static_cast<int>(phase % static_cast<int64_t>(per_phase_.size()));
    }

    // The next unit of `phase` for thread `me`, or -1 when all are taken.
    int64_t claim(int64_t phase, int me) {
        if (team_ == 1) {
            if (phase != single_phase_) single_phase_ = phase, single_next_ = 0;
            return single_next_ < units(phase) ? single_next_++ : -1;
        }
        std::atomic<uint64_t>* slot = &slots_[static_cast<std::size_t>(phase * team_)];
        for (int k = 0; k < team_; ++k) {
            std::atomic<uint64_t>& s = slot[(me + k) % team_];
            uint64_t v = s.load(std::memory_order_relaxed);
            for (;;) {
                const int64_t front = static_cast<int64_t>(v & 0xffffffffu);
                const int64_t back = static_cast<int64_t>(v >> 32);
                if (front >= back) break;
                const uint64_t taken =
                    k == 0 ? pack(front + 1, back) : pack(front, back - 1);
                if (s.compare_exchange_weak(v, taken, std::memory_order_relaxed))
                    return k == 0 ? front : back - 1;
            }
        }
        return -1;
    }

    // Waits until every unit of the phases before `phase` is done.
    void wait_for(int64_t phase) { wait_done(begin(phase)); }

    // Marks a unit done; its writes are visible to threads past a later wait_for().
    void finish() {
        if (team_ == 1) {
            done_.store(done_.load(std::memory_order_relaxed) + 1,
                        std::memory_order_relaxed);
            return;
        }
        done_.fetch_add(1, std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            wakes_.fetch_add(1, std::memory_order_seq_cst);
            wake_all(&wakes_);
        }
    }

  private:
    static uint64_t pack(int64_t front, int64_t back) {
        return static_cast<uint64_t>(front) | (static_cast<uint64_t>(back) << 32);
    }
    int64_t units(int64_t phase) const {
        return per_phase_[static_cast<std::size_t>(kind_of(phase))];
    }
    // Units of the phases before `phase`.
    int64_t begin(int64_t phase) const {
        return sweep_of(phase) * first_.back() +
               first_[static_cast<std::size_t>(kind_of(phase))];
    }

    // Waits until `n` units are done: a short spin (a wait normally lasts less than
    // a unit), then sleeps, so that a wait for a thread the OS has descheduled
    // leaves the core to that thread or to other processes.
    void wait_done(int64_t n) {
        if (done_.load(std::memory_order_acquire) >= n) return;
        const auto start = std::chrono::steady_clock::now();
        for (int spins = 0; done_.load(std::memory_order_acquire) < n; ++spins) {
            if (spins < kSpinChecks) {
                pause();
                continue;
            }
            spins = 0;
            if (std::chrono::steady_clock::now() - start < kSpinTime) continue;
            // Announce the sleep before the last look at done_; finish() looks at
            // sleepers_ after adding to done_, so one of the two sees the other.
            const uint32_t seen = wakes_.load(std::memory_order_seq_cst);
            sleepers_.fetch_add(1, std::memory_order_seq_cst);
            if (done_.load(std::memory_order_seq_cst) < n) sleep_while(&wakes_, seen);
            sleepers_.fetch_sub(1, std::memory_order_seq_cst);
        }
    }

    static constexpr int kSpinChecks = 64;
    static constexpr std::chrono::microseconds kSpinTime{20};

    static void pause() {
#if defined(__x86_64__) || defined(__i386__)
        __builtin_ia32_pause();
#endif
    }

    // Sleeps while *word == seen (at most a millisecond); a futex on Linux.
    static void sleep_while(std::atomic<uint32_t>* word, uint32_t seen) {
#ifdef __linux__
        static_assert(sizeof(std::atomic<uint32_t>) == sizeof(uint32_t));
        const timespec timeout{0, 1000000};
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAIT_PRIVATE, seen,
                &timeout, nullptr, 0);
#else
        if (word->load() == seen) std::this_thread::yield();
#endif
    }
    static void wake_all(std::atomic<uint32_t>* word) {
#ifdef __linux__
        syscall(SYS_futex, reinterpret_cast<uint32_t*>(word), FUTEX_WAKE_PRIVATE,
                INT32_MAX, nullptr, nullptr, 0);
#else
        (void)word;
#endif
    }

    const std::vector<int64_t> per_phase_;
    std::vector<int64_t> first_;
    const int team_;
    const int64_t n_phases_;
    std::unique_ptr<std::atomic<uint64_t>[]> slots_;
    int64_t single_phase_ = -1, single_next_ = 0;
    alignas(64) std::atomic<int64_t> done_{0};
    alignas(64) std::atomic<uint32_t> sleepers_{0};
    std::atomic<uint32_t> wakes_{0};
};

// Which of the team and one thread ran faster at the last comparison, kept from run
// to run of one engine so that a run does not begin by timing the slower one again.
// Shared by all runs of the engine, also concurrent ones: a race only changes which
// of two schedules with the same results runs.
struct TeamChoice {
    static constexpr int kMinInterval = 16;   // batches between re-timings, at first
    static constexpr int kMaxInterval = 256;  // ... and once the choice has held
    std::atomic<int> prefer_team{1};
    std::atomic<int> interval{kMinInterval};
    std::atomic<int> since{kMinInterval};  // batches since the other was timed
};

// Runs sweeps [0, n_sweeps) as run_batch(first, last, threads) calls and returns how
// many ran on the whole team of nt threads. A team is only faster while its threads
// run at the same time: when other processes hold the cores, a thread waits for
// work held by a descheduled one, and one thread can do better. Callers' results
// must not depend on the thread count, so the sweeps run in batches of about
// kBatchSeconds, on the mode (team or one thread) found faster, with a short batch
// of the other mode now and then: after `interval` batches (doubled each time the
// choice holds, up to kMaxInterval), or at once when the chosen mode slows down.
// Limitation: runs of a few tens of milliseconds under load spend a large share of
// their batches re-timing (2 threads / 1 thread 0.975 in bench_engine --quick with
// a core busy, 1.000 in its longer runs).
template <class RunBatch>
int64_t run_team_or_single(int64_t n_sweeps, int nt, RunBatch&& run_batch) {
    if (nt == 1) {
        run_batch(int64_t{0}, n_sweeps, 1);
        return n_sweeps;
    }
    static TeamChoice choice;  // one per engine (per RunBatch type)
    constexpr double kBatchSeconds = 0.01;
    constexpr double kSlowdown = 1.3;  // this much slower than its best: re-time
    // Seconds per sweep in this run, last and best; [0] one thread, [1] the team.
    double last[2] = {0.0, 0.0}, best[2] = {0.0, 0.0};
    int64_t team_sweeps = 0;
    for (int64_t t = 0; t < n_sweeps;) {
        const int preferred = choice.prefer_team.load(std::memory_order_relaxed);
        const bool retime = last[preferred] > 0.0 &&
                            choice.since.load(std::memory_order_relaxed) >=
                                choice.interval.load(std::memory_order_relaxed);
        const int use_team = retime ? 1 - preferred : preferred;
        // A first batch is one sweep; a re-timing batch a quarter of the usual.
        const double estimate =
            last[use_team] > 0.0 ? last[use_team] : 4.0 * last[preferred];
        const int64_t n =
            estimate > 0.0
                ? std::clamp<int64_t>(static_cast<int64_t>(kBatchSeconds / estimate), 1,
                                      n_sweeps - t)
                : 1;
        const auto start = std::chrono::steady_clock::now();
        run_batch(t, t + n, use_team ? nt : 1);
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start)
                .count();
        if (use_team) team_sweeps += n;
        t += n;
        const double per_sweep = seconds / static_cast<double>(n);
        last[use_team] = per_sweep;
        if (best[use_team] == 0.0 || per_sweep < best[use_team])
            best[use_team] = per_sweep;

        if (retime) {
            choice.since.store(0, std::memory_order_relaxed);
            if (per_sweep < last[preferred]) {
                choice.prefer_team.store(use_team, std::memory_order_relaxed);
                choice.interval.store(TeamChoice::kMinInterval,
                                      std::memory_order_relaxed);
            } else {
                choice.interval.store(
                    std::min(2 * choice.interval.load(std::memory_order_relaxed),
                             TeamChoice::kMaxInterval),
                    std::memory_order_relaxed);
            }
        } else if (per_sweep > kSlowdown * best[use_team]) {
            choice.since.store(choice.interval.load(std::memory_order_relaxed),
                               std::memory_order_relaxed);
        } else {
            choice.since.fetch_add(1, std::memory_order_relaxed);
        }
    }
    return team_sweeps;
}

}  // namespace neurophase
