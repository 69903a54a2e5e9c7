#include <algorithm>

#include "neurophase/engine.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"
#include "observables_impl.hpp"

namespace neurophase {

void measure_row(const Geometry& g, const int8_t* spins, const double* field_site,
                 int64_t row, MeasureScratch& scratch) {
    const std::size_t slot = static_cast<std::size_t>(row);
    const int64_t L = g.row_length();
    const int64_t base = row * L;
    const int8_t* s = spins + base;

    int64_t mag = 0, bonds = 0, stag = 0;
    double field = 0.0;
    if (g.kind == LatticeKind::complete) {
        for (int64_t x = 0; x < L; ++x) mag += s[x];
    } else {
        const RowInfo info = row_info(g, row);
        int64_t even = 0;
        for (int64_t x = 0; x < L; ++x) {
            mag += s[x];
            if ((x & 1) == 0) even += s[x];
        }
        // (-1)^(row parity + x): even-x sites carry the row's sign.
        stag = (2 * even - mag) * (info.parity ? -1 : 1);
        for (int64_t x = 0; x + 1 < L; ++x) bonds += s[x] * s[x + 1];
        if (g.periodic) bonds += s[L - 1] * s[0];
        // Positive direction along the other axes: one bond per (site, axis).
        for (int k = 0; k + 1 < g.dimension(); ++k) {
            const int64_t up = info.neighbour_base[2 * k];
            if (up < 0) continue;
            const int8_t* u = spins + up;
            int64_t sum = 0;
            for (int64_t x = 0; x < L; ++x) sum += s[x] * u[x];
            bonds += sum;
        }
    }
    if (field_site != nullptr) {
        const double* h = field_site + base;
        for (int64_t x = 0; x < L; ++x) field += h[x] * s[x];
    }
    scratch.magnetisation[slot] = mag;
    scratch.bonds[slot] = bonds;
    scratch.staggered[slot] = stag;
    scratch.field[slot] = field;
}

Measurement combine(const Geometry& g, const MeasureScratch& scratch) {
    Measurement m;
    for (std::size_t r = 0; r < scratch.magnetisation.size(); ++r) {
        m.magnetisation_sum += scratch.magnetisation[r];
        m.bond_sum += scratch.bonds[r];
        m.staggered_sum += scratch.staggered[r];
        m.site_field_sum += scratch.field[r];
    }
    if (g.kind == LatticeKind::complete)
        m.bond_sum = (m.magnetisation_sum * m.magnetisation_sum - g.n_sites) / 2;
    return m;
}

Measurement measure(const Geometry& g, const int8_t* spins, const double* field_site,
                    int threads) {
    MeasureScratch scratch(g);
    const int64_t n_rows = g.n_rows();
    [[maybe_unused]] const int nt = effective_threads(g, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t row = 0; row < n_rows; ++row)
        measure_row(g, spins, field_site, row, scratch);
    return combine(g, scratch);
}

double energy_per_spin(const Geometry& g, const Measurement& m, double coupling,
                       double field_uniform) {
    const double n = static_cast<double>(g.n_sites);
    double bond_coupling = coupling;
    if (g.kind == LatticeKind::complete) bond_coupling = coupling / n;
    const double h_total = -bond_coupling * static_cast<double>(m.bond_sum) -
                           field_uniform * static_cast<double>(m.magnetisation_sum) -
                           m.site_field_sum;
    return h_total / n;
}

void hot_start(const Geometry& g, int8_t* spins, uint64_t seed, int threads) {
    const StreamKey stream(seed, Purpose::hot_start, 0, 0);
    const int64_t n_blocks = (g.n_sites + 3) / 4;
    [[maybe_unused]] const int nt = effective_threads(g, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t b = 0; b < n_blocks; ++b) {
        uint32_t w[4];
        stream.block(static_cast<uint64_t>(b), w);
        for (int64_t k = 0; k < 4 && 4 * b + k < g.n_sites; ++k)
            spins[4 * b + k] = (w[k] >> 31) ? int8_t{1} : int8_t{-1};
    }
}

// Limitation: threads split rows, so a chain (one row) and the complete graph
// (sequential by nature) always run on one thread.
int effective_threads(const Geometry& g, int requested) {
    // Below ~64k sites per thread a sweep is shorter than the cost of keeping the
    // threads in step, and far shorter than a time slice lost to another process;
    // one thread is faster there. The cut does not change results (random numbers
    // are keyed by site), only speed.
    constexpr int64_t kSitesPerThread = 1 << 16;
    if (g.kind == LatticeKind::complete) return 1;
    const int64_t useful = std::max<int64_t>(1, g.n_sites / kSitesPerThread);
    const int64_t capped = std::min<int64_t>(std::max(1, requested), useful);
    return static_cast<int>(std::min<int64_t>(capped, g.n_rows()));
}

}  // namespace neurophase
