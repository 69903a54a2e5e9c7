#include <algorithm>
#include <cmath>

#include "neurophase/engine.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"
#include "observables_impl.hpp"

namespace neurophase {

MeasureScratch::MeasureScratch(const Geometry& g, bool with_fourier)
    : magnetisation(static_cast<std::size_t>(g.n_rows())),
      bonds(static_cast<std::size_t>(g.n_rows())),
      staggered(static_cast<std::size_t>(g.n_rows())),
      field(static_cast<std::size_t>(g.n_rows())),
      fourier(with_fourier && g.kind == LatticeKind::hypercubic) {
    if (!fourier) return;
    row_real.assign(static_cast<std::size_t>(g.n_rows()), 0.0);
    row_imag.assign(static_cast<std::size_t>(g.n_rows()), 0.0);
    // The phases are tabulated once, so every sweep multiplies by the same numbers.
    const double two_pi = 6.283185307179586476925286766559;
    for (int a = 0; a < g.dimension(); ++a) {
        table_offset.push_back(cos_table.size());
        const int64_t L = g.shape[static_cast<std::size_t>(a)];
        for (int64_t x = 0; x < L; ++x) {
            const double phase =
                two_pi * static_cast<double>(x) / static_cast<double>(L);
            cos_table.push_back(std::cos(phase));
            sin_table.push_back(std::sin(phase));
        }
    }
}

namespace {

// sum_x s[x] (cos, sin)(2 pi x / L) of one row, in a fixed order: four interleaved
// partial sums (independent additions the CPU can overlap), added at the end.
void row_fourier(const int8_t* s, const double* c, const double* sn, int64_t L,
                 double& real, double& imag) {
    double re[4] = {0.0, 0.0, 0.0, 0.0}, im[4] = {0.0, 0.0, 0.0, 0.0};
    int64_t x = 0;
    for (; x + 4 <= L; x += 4)
        for (int k = 0; k < 4; ++k) {
            re[k] += s[x + k] * c[x + k];
            im[k] += s[x + k] * sn[x + k];
        }
    for (int k = 0; x < L; ++x, ++k) {
        re[k] += s[x] * c[x];
        im[k] += s[x] * sn[x];
    }
    real = (re[0] + re[1]) + (re[2] + re[3]);
    imag = (im[0] + im[1]) + (im[2] + im[3]);
}

}  // namespace

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
    if (scratch.fourier) {
        const std::size_t last = scratch.table_offset.back();
        row_fourier(s, scratch.cos_table.data() + last, scratch.sin_table.data() + last,
                    L, scratch.row_real[slot], scratch.row_imag[slot]);
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
    if (scratch.fourier) {
        // Along the other axes the phase is constant on a row: the row's
        // magnetisation times the phase of the row's coordinate.
        const int d = g.dimension();
        const int64_t n_rows = g.n_rows();
        for (int64_t r = 0; r < n_rows; ++r) {
            const std::size_t slot = static_cast<std::size_t>(r);
            const double mag = static_cast<double>(scratch.magnetisation[slot]);
            int64_t rest = r;
            for (int a = d - 2; a >= 0; --a) {
                const int64_t side = g.shape[static_cast<std::size_t>(a)];
                const std::size_t at =
                    scratch.table_offset[static_cast<std::size_t>(a)] +
                    static_cast<std::size_t>(rest % side);
                rest /= side;
                m.kmin_real[a] += mag * scratch.cos_table[at];
                m.kmin_imag[a] += mag * scratch.sin_table[at];
            }
            m.kmin_real[d - 1] += scratch.row_real[slot];
            m.kmin_imag[d - 1] += scratch.row_imag[slot];
        }
    }
    return m;
}

Measurement measure(const Geometry& g, const int8_t* spins, const double* field_site,
                    int threads, bool fourier) {
    MeasureScratch scratch(g, fourier);
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
