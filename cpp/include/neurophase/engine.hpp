// The Monte Carlo engine: runs sweeps of one update algorithm on a spin array.
//
// The engine is stateless: the caller owns the spins and the sweep counter, and the
// random numbers of sweep t depend only on (seed, t, site), so a run split in two
// continues bitwise like an uninterrupted one.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "neurophase/lattice.hpp"

namespace neurophase {

enum class Algorithm { metropolis, heat_bath, wolff, swendsen_wang };

struct RunSpec {
    Algorithm algorithm = Algorithm::metropolis;
    uint64_t seed = 0;
    uint64_t first_sweep = 0;  // global index of the first sweep of this call
    int64_t n_sweeps = 0;
    double coupling = 1.0;
    const double* temperature = nullptr;    // [n_sweeps], each finite and > 0
    const double* field_uniform = nullptr;  // [n_sweeps], added to every site
    const double* field_site = nullptr;     // [n_sites] or nullptr (no per-site part)
    int threads = 1;
    // Wolff: clusters per sweep; 0 lets a pilot run choose about N / <cluster size>.
    int64_t clusters_per_sweep = 0;
    // Records (each nullptr to skip): per-spin magnetisation, energy and staggered
    // magnetisation after every sweep.
    double* magnetisation = nullptr;
    double* energy = nullptr;
    double* staggered = nullptr;
    // Per-spin |m(k)|^2 = |N^-1 sum_j s_j exp(i k x_j)|^2 at the smallest nonzero
    // wavevector along each axis, k = (2 pi / L_a) e_a, after every sweep:
    // kmin_magnetisation2[t * d + a] (hypercubic lattices only; nullptr to skip).
    double* kmin_magnetisation2 = nullptr;
    // Snapshots: copies of the spins after the listed sweeps (indices into this call,
    // strictly increasing), written to snapshot_out[k * n_sites ...].
    const int64_t* snapshot_sweeps = nullptr;
    int64_t n_snapshots = 0;
    int8_t* snapshot_out = nullptr;
};

struct RunStats {
    int64_t attempts = 0;     // single-spin update attempts (local algorithms)
    int64_t flips = 0;        // spins whose value changed
    int64_t clusters = 0;     // clusters built (Wolff) or formed (Swendsen-Wang)
    int threads_used = 1;     // threads in the team
    int64_t team_sweeps = 0;  // sweeps run by the whole team (the rest by one thread)
    int64_t clusters_per_sweep = 0;  // Wolff: the value used
};

// Runs spec.n_sweeps sweeps in place on spins[0 .. g.n_sites). Inputs must have been
// validated by the caller (the Python layer); nothing here throws inside a parallel
// region.
RunStats run_sweeps(const Geometry& g, int8_t* spins, const RunSpec& spec);

// Observables of a configuration.
struct Measurement {
    int64_t magnetisation_sum = 0;  // sum_i s_i
    int64_t bond_sum = 0;           // sum over bonds of s_i s_j
    int64_t staggered_sum = 0;      // sum_i (-1)^(x_1 + ... + x_d) s_i
    double site_field_sum = 0.0;    // sum_i h_i s_i over the per-site field
    // sum_j s_j exp(2 pi i x_a / L_a) along each axis a (only when asked for).
    double kmin_real[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
    double kmin_imag[5] = {0.0, 0.0, 0.0, 0.0, 0.0};
};

// `fourier` adds the smallest-wavevector sums (hypercubic lattices only).
Measurement measure(const Geometry& g, const int8_t* spins, const double* field_site,
                    int threads, bool fourier = false);

// Energy per spin from a measurement: (-J * bonds - h * M - sum_i h_i s_i) / N, with
// the complete graph's bonds scaled by 1/N.
double energy_per_spin(const Geometry& g, const Measurement& m, double coupling,
                       double field_uniform);

// Hot start: each spin +1 or -1 with probability 1/2, keyed by (seed, site).
void hot_start(const Geometry& g, int8_t* spins, uint64_t seed, int threads);

// Number of threads a call will use for a lattice of this size, given the request.
int effective_threads(const Geometry& g, int requested);

// Code paths of the single-spin updates (Metropolis and heat-bath) that this build
// and CPU can run, widest first: "avx512", "avx2", "portable". Every path gives
// bitwise the same spins; the widest is used unless another one is selected.
std::vector<std::string> local_update_paths();
std::string local_update_path();
// Switches to one of local_update_paths() (for tests and benchmarks); returns false,
// changing nothing, for any other name. Not to be called while a run is going on.
bool select_local_update_path(const std::string& name);

}  // namespace neurophase
