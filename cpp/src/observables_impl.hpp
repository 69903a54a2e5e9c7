// Measurement helpers shared by the update algorithms (private to the core).
//
// Sums are taken per row into fixed slots and then added in row order, so the
// floating-point result does not depend on how rows were spread over threads.
// The smallest-wavevector Fourier sums follow the same rule: each row's sum along
// the last axis is taken in site order, and rows are combined in row order.
#pragma once

#include <cstdint>
#include <cstring>
#include <vector>

#include "neurophase/engine.hpp"
#include "neurophase/lattice.hpp"

namespace neurophase {

struct MeasureScratch {
    std::vector<int64_t> magnetisation, bonds, staggered;
    std::vector<double> field;
    // Fourier sums at k = 2 pi / L along each axis; empty unless `fourier`.
    bool fourier = false;
    std::vector<double> row_real, row_imag;  // per row, along the last axis
    // cos and sin of 2 pi x / L_a, axis a's table at offset table_offset[a].
    std::vector<double> cos_table, sin_table;
    std::vector<std::size_t> table_offset;
    MeasureScratch(const Geometry& g, bool with_fourier = false);
};

// Fills the scratch slots of one row.
void measure_row(const Geometry& g, const int8_t* spins, const double* field_site,
                 int64_t row, MeasureScratch& scratch);

// Adds the slots in row order.
Measurement combine(const Geometry& g, const MeasureScratch& scratch);

// Measures into scratch with an orphaned `omp for` (runs serially outside a
// parallel region), then, in one thread, writes the records of sweep t of the run
// and the snapshot if one is due. Every thread of a team must call it.
inline void record_sweep(const Geometry& g, const int8_t* spins, const RunSpec& spec,
                         int64_t t, double field_uniform, MeasureScratch& scratch,
                         int64_t& next_snapshot) {
    const bool want =
        spec.magnetisation || spec.energy || spec.staggered || spec.kmin_magnetisation2;
    const int64_t n_rows = g.n_rows();
    if (want) {
#pragma omp for schedule(static)
        for (int64_t row = 0; row < n_rows; ++row)
            measure_row(g, spins, spec.field_site, row, scratch);
    }
#pragma omp single
    {
        if (want) {
            const Measurement m = combine(g, scratch);
            const double n = static_cast<double>(g.n_sites);
            if (spec.magnetisation) spec.magnetisation[t] = m.magnetisation_sum / n;
            if (spec.staggered) spec.staggered[t] = m.staggered_sum / n;
            if (spec.energy)
                spec.energy[t] = energy_per_spin(g, m, spec.coupling, field_uniform);
            if (spec.kmin_magnetisation2) {
                const int d = g.dimension();
                for (int a = 0; a < d; ++a) {
                    const double re = m.kmin_real[a] / n, im = m.kmin_imag[a] / n;
                    spec.kmin_magnetisation2[t * d + a] = re * re + im * im;
                }
            }
        }
        if (next_snapshot < spec.n_snapshots &&
            spec.snapshot_sweeps[next_snapshot] == t) {
            std::memcpy(spec.snapshot_out + next_snapshot * g.n_sites, spins,
                        static_cast<std::size_t>(g.n_sites));
            ++next_snapshot;
        }
    }
}

RunStats run_local(const Geometry& g, int8_t* spins, const RunSpec& spec);
RunStats run_wolff(const Geometry& g, int8_t* spins, const RunSpec& spec);
RunStats run_swendsen_wang(const Geometry& g, int8_t* spins, const RunSpec& spec);

}  // namespace neurophase
