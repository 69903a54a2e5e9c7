// Single-spin updates (Metropolis and heat-bath), threaded with OpenMP.
//
// Hypercubic lattices are updated in three phases per sweep: the two checkerboard
// colours (sites whose coordinate sum is even, then odd), each an independent set
// updated in parallel, and then the "seam": the sites at coordinate L - 1 of every
// periodic axis with odd L, updated one after another in index order. With odd L
// the checkerboard breaks across the periodic seam (x = L - 1 and x = 0 share a
// colour), and taking the seam out restores independence within each colour.
//
// The random number for a site is keyed by (seed, sweep, site), so neither the
// thread count nor the schedule of rows to threads changes any spin.
#include <algorithm>
#include <cmath>
#include <vector>

#include "neurophase/dispatch.hpp"
#include "neurophase/engine.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"
#include "observables_impl.hpp"

namespace neurophase {

namespace {

constexpr int kMaxZ = 10;  // 2d with d <= 5

// Acceptance thresholds for a uniform field, indexed by the neighbour sum + kMaxZ.
struct Thresholds {
    uint64_t up[2 * kMaxZ + 1];         // heat-bath: P(s -> +1)
    uint64_t flip_up[2 * kMaxZ + 1];    // Metropolis: P(flip) from s = +1
    uint64_t flip_down[2 * kMaxZ + 1];  // Metropolis: P(flip) from s = -1
};

inline double heat_bath_up(double beta, double local_field) {
    // P(+1) = e^{beta h} / (e^{beta h} + e^{-beta h}); exp overflow gives 0 or 1.
    return 1.0 / (1.0 + std::exp(-2.0 * beta * local_field));
}

inline double metropolis_flip(double beta, double spin, double local_field) {
    const double delta_e = 2.0 * spin * local_field;
    return delta_e <= 0.0 ? 1.0 : std::exp(-beta * delta_e);
}

Thresholds make_thresholds(double beta, double coupling, double field) {
    Thresholds t{};
    for (int nn = -kMaxZ; nn <= kMaxZ; ++nn) {
        const double local = coupling * nn + field;
        t.up[nn + kMaxZ] = probability_threshold(heat_bath_up(beta, local));
        t.flip_up[nn + kMaxZ] =
            probability_threshold(metropolis_flip(beta, 1.0, local));
        t.flip_down[nn + kMaxZ] =
            probability_threshold(metropolis_flip(beta, -1.0, local));
    }
    return t;
}

struct SweepParams {
    Algorithm algorithm;
    double beta;
    double coupling;
    double field;              // uniform part
    const double* field_site;  // per-site part or nullptr
    Thresholds thresholds;     // valid for the uniform field
};

// Thresholds as [spin is +1][neighbour sum + kMaxZ] for Metropolis.
inline uint64_t metropolis_threshold(const Thresholds& t, int8_t spin, int nn) {
    return spin > 0 ? t.flip_up[nn + kMaxZ] : t.flip_down[nn + kMaxZ];
}

// Updates one spin given its neighbour sum and random word; returns 1 if it changed.
// Branch-free in the uniform-field case: the accept decision is random, so a branch
// on it would be mispredicted about as often as it is taken.
template <Algorithm A, bool SiteField>
inline int update_spin(int8_t& spin, int nn, uint32_t r, int64_t site,
                       const SweepParams& p) {
    const int8_t old = spin;
    if constexpr (!SiteField) {
        if constexpr (A == Algorithm::heat_bath) {
            spin = static_cast<int8_t>(r < p.thresholds.up[nn + kMaxZ] ? 1 : -1);
        } else {
            const int accept = r < metropolis_threshold(p.thresholds, old, nn);
            spin = static_cast<int8_t>(accept ? -old : old);
        }
    } else {
        const double local = p.coupling * nn + p.field + p.field_site[site];
        if constexpr (A == Algorithm::heat_bath) {
            spin = static_cast<int8_t>(
                r < probability_threshold(heat_bath_up(p.beta, local)) ? 1 : -1);
        } else {
            if (r < probability_threshold(metropolis_flip(p.beta, old, local)))
                spin = static_cast<int8_t>(-old);
        }
    }
    return spin != old;
}

// Neighbour sum of site x of a row from its left/right neighbours and the NN rows
// above and below along the other axes (missing neighbours of an open boundary point
// at a row of zeros). Edge sites (x = 0, x = L - 1) take the slow path.
template <int NN>
inline int neighbour_sum(const int8_t* row, const int8_t* const* nbr, int64_t x,
                         int64_t L, bool periodic) {
    int sum = 0;
    for (int k = 0; k < NN; ++k) sum += nbr[k][x];
    if (x > 0 && x + 1 < L) return sum + row[x - 1] + row[x + 1];
    if (x > 0)
        sum += row[x - 1];
    else if (periodic)
        sum += row[L - 1];
    if (x + 1 < L)
        sum += row[x + 1];
    else if (periodic)
        sum += row[0];
    return sum;
}

// Sites x = x_first, x_first + 2, ... < x_end of one row; r[j] is the word of the
// j-th of them.
template <int NN, Algorithm A, bool SiteField>
int64_t update_row_sites(int8_t* s, const int8_t* const* nbr, int64_t x_first,
                         int64_t x_end, int64_t L, bool periodic, const uint32_t* r,
                         int64_t base, const SweepParams& p) {
    int64_t flips = 0;
    int64_t x = x_first, j = 0;
    if (x == 0 && x < x_end) {  // left edge
        flips += update_spin<A, SiteField>(
            s[0], neighbour_sum<NN>(s, nbr, 0, L, periodic), r[0], base, p);
        x += 2;
        ++j;
    }
    // Interior: both row neighbours exist.
    for (; x + 1 < L && x < x_end; x += 2, ++j) {
        int nn = s[x - 1] + s[x + 1];
        for (int k = 0; k < NN; ++k) nn += nbr[k][x];
        flips += update_spin<A, SiteField>(s[x], nn, r[j], base + x, p);
    }
    if (x < x_end)  // right edge, x = L - 1
        flips += update_spin<A, SiteField>(
            s[x], neighbour_sum<NN>(s, nbr, x, L, periodic), r[j], base + x, p);
    return flips;
}

template <int NN, Algorithm A>
int64_t dispatch_field(int8_t* s, const int8_t* const* nbr, int64_t x_first,
                       int64_t x_end, int64_t L, bool periodic, const uint32_t* r,
                       int64_t base, const SweepParams& p) {
    if (p.field_site)
        return update_row_sites<NN, A, true>(s, nbr, x_first, x_end, L, periodic, r,
                                             base, p);
    return update_row_sites<NN, A, false>(s, nbr, x_first, x_end, L, periodic, r, base,
                                          p);
}

template <int NN>
int64_t dispatch_algorithm(int8_t* s, const int8_t* const* nbr, int64_t x_first,
                           int64_t x_end, int64_t L, bool periodic, const uint32_t* r,
                           int64_t base, const SweepParams& p) {
    if (p.algorithm == Algorithm::heat_bath)
        return dispatch_field<NN, Algorithm::heat_bath>(s, nbr, x_first, x_end, L,
                                                        periodic, r, base, p);
    return dispatch_field<NN, Algorithm::metropolis>(s, nbr, x_first, x_end, L,
                                                     periodic, r, base, p);
}

int64_t update_sites(int n_nbr, int8_t* s, const int8_t* const* nbr, int64_t x_first,
                     int64_t x_end, int64_t L, bool periodic, const uint32_t* r,
                     int64_t base, const SweepParams& p) {
    switch (n_nbr) {
        case 0:
            return dispatch_algorithm<0>(s, nbr, x_first, x_end, L, periodic, r, base,
                                         p);
        case 2:
            return dispatch_algorithm<2>(s, nbr, x_first, x_end, L, periodic, r, base,
                                         p);
        case 4:
            return dispatch_algorithm<4>(s, nbr, x_first, x_end, L, periodic, r, base,
                                         p);
        case 6:
            return dispatch_algorithm<6>(s, nbr, x_first, x_end, L, periodic, r, base,
                                         p);
        default:
            return dispatch_algorithm<8>(s, nbr, x_first, x_end, L, periodic, r, base,
                                         p);
    }
}

struct RowContext {
    const Geometry& g;
    int8_t* spins;
    const int8_t* zero_row;
    int64_t half;  // ceil(L / 2): random-number slots per parity per row
};

void neighbour_rows(const RowContext& c, const RowInfo& info, const int8_t** nbr) {
    for (int k = 0; k < info.n_neighbours; ++k)
        nbr[k] =
            info.neighbour_base[k] >= 0 ? c.spins + info.neighbour_base[k] : c.zero_row;
}

// Stream slot of site x of a row: rows hold `half` slots for each parity of x.
inline uint64_t slot(const RowContext& c, int64_t row, int64_t x) {
    return static_cast<uint64_t>(row) * c.half + static_cast<uint64_t>(x >> 1);
}

// Updates the sites of one colour in one non-seam row; returns the number of flips.
int64_t update_row_colour(const RowContext& c, int64_t row, int colour,
                          const SweepParams& p, uint64_t seed, uint64_t sweep,
                          std::vector<uint32_t>& buffer) {
    const Geometry& g = c.g;
    const RowInfo info = row_info(g, row);
    if (info.seam) return 0;
    const int64_t L = g.row_length();
    const int64_t x_end = g.odd_periodic(g.dimension() - 1) ? L - 1 : L;
    const int x_parity = (colour + info.parity) & 1;
    if (x_parity >= x_end) return 0;
    const int64_t x_last = x_parity + ((x_end - 1 - x_parity) / 2) * 2;

    // Random words for the slots of this row and parity, fetched block-aligned.
    const StreamKey stream(seed, Purpose::local_update, x_parity, sweep);
    const uint64_t q_first = slot(c, row, x_parity);
    const uint64_t q_last = slot(c, row, x_last);
    const uint64_t block_first = q_first >> 2;
    const std::size_t n_blocks =
        static_cast<std::size_t>((q_last >> 2) - block_first + 1);
    buffer.resize(4 * n_blocks);
    philox_fill(stream, block_first, n_blocks, buffer.data());
    const uint32_t* r = buffer.data() + (q_first - 4 * block_first);

    const int8_t* nbr[8];
    neighbour_rows(c, info, nbr);
    return update_sites(info.n_neighbours, c.spins + info.base, nbr, x_parity, x_end, L,
                        g.periodic, r, info.base, p);
}

// The seam: every site of a seam row, and the last site of other rows when the
// last axis is periodic with odd length; updated sequentially in index order.
int64_t update_seam(const RowContext& c, const SweepParams& p, uint64_t seed,
                    uint64_t sweep) {
    const Geometry& g = c.g;
    const int64_t L = g.row_length();
    const bool last_odd = g.odd_periodic(g.dimension() - 1);
    bool any_seam_row = false;
    for (int k = 0; k + 1 < g.dimension(); ++k) any_seam_row |= g.odd_periodic(k);
    if (!last_odd && !any_seam_row) return 0;

    const StreamKey even(seed, Purpose::local_update, 0, sweep);
    const StreamKey odd(seed, Purpose::local_update, 1, sweep);
    int64_t flips = 0;
    const int8_t* nbr[8];
    for (int64_t row = 0; row < g.n_rows(); ++row) {
        const RowInfo info = row_info(g, row);
        if (!info.seam && !last_odd) continue;
        neighbour_rows(c, info, nbr);
        int8_t* s = c.spins + info.base;
        const int64_t x_begin = info.seam ? 0 : L - 1;
        for (int64_t x = x_begin; x < L; ++x) {
            const uint32_t r = ((x & 1) ? odd : even).at(slot(c, row, x));
            flips += update_sites(info.n_neighbours, s, nbr, x, x + 1, L, g.periodic,
                                  &r, info.base, p);
        }
    }
    return flips;
}

// Complete graph: every spin neighbours every other, so updates are sequential;
// the local field of site i is (J/N) (M - s_i) + h_i.
int64_t update_complete(const Geometry& g, int8_t* spins, const SweepParams& p,
                        uint64_t seed, uint64_t sweep, std::vector<uint32_t>& buffer) {
    const int64_t n = g.n_sites;
    int64_t total = 0;
    for (int64_t i = 0; i < n; ++i) total += spins[i];
    const StreamKey stream(seed, Purpose::local_update, 0, sweep);
    const double scale = p.coupling / static_cast<double>(n);
    constexpr int64_t kChunk = 4096;  // sites per batch of random words
    buffer.resize(kChunk);
    int64_t flips = 0;
    for (int64_t start = 0; start < n; start += kChunk) {
        const int64_t count = std::min(kChunk, n - start);
        philox_fill(stream, static_cast<uint64_t>(start) >> 2,
                    static_cast<std::size_t>((count + 3) / 4), buffer.data());
        for (int64_t i = start; i < start + count; ++i) {
            const int8_t old = spins[i];
            const double local = scale * static_cast<double>(total - old) + p.field +
                                 (p.field_site ? p.field_site[i] : 0.0);
            const uint32_t r = buffer[i - start];
            if (p.algorithm == Algorithm::heat_bath) {
                spins[i] = (r < probability_threshold(heat_bath_up(p.beta, local)))
                               ? int8_t{1}
                               : int8_t{-1};
            } else if (r < probability_threshold(metropolis_flip(p.beta, old, local))) {
                spins[i] = static_cast<int8_t>(-old);
            }
            if (spins[i] != old) {
                total += spins[i] - old;
                ++flips;
            }
        }
    }
    return flips;
}

}  // namespace

RunStats run_local(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int nt = effective_threads(g, spec.threads);
    stats.threads_used = nt;
    const bool complete = g.kind == LatticeKind::complete;
    const std::vector<int8_t> zero_row(static_cast<std::size_t>(g.row_length()), 0);
    const RowContext ctx{g, spins, zero_row.data(), (g.row_length() + 1) / 2};
    MeasureScratch scratch(g);
    const int64_t n_rows = g.n_rows();
    // Rows per scheduling chunk: about 8k sites, so that threads rarely contend for
    // work and a core slowed by other load hands its rows to the other thread.
    const int64_t chunk = std::max<int64_t>(1, 8192 / g.row_length());
    int64_t flips = 0;
    int64_t next_snapshot = 0;

#pragma omp parallel num_threads(nt) reduction(+ : flips)
    {
        std::vector<uint32_t> buffer;
        for (int64_t t = 0; t < spec.n_sweeps; ++t) {
            const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
            SweepParams p;
            p.algorithm = spec.algorithm;
            p.beta = 1.0 / spec.temperature[t];
            p.coupling = spec.coupling;
            p.field = spec.field_uniform[t];
            p.field_site = spec.field_site;
            p.thresholds = make_thresholds(p.beta, p.coupling, p.field);

            if (complete) {
#pragma omp single
                flips += update_complete(g, spins, p, spec.seed, sweep, buffer);
            } else {
                for (int colour = 0; colour < 2; ++colour) {
#pragma omp for schedule(dynamic, chunk)
                    for (int64_t row = 0; row < n_rows; ++row)
                        flips += update_row_colour(ctx, row, colour, p, spec.seed,
                                                   sweep, buffer);
                }
#pragma omp single
                flips += update_seam(ctx, p, spec.seed, sweep);
            }

            record_sweep(g, spins, spec, t, p.field, scratch, next_snapshot);
        }
    }
    stats.flips = flips;
    stats.attempts = g.n_sites * spec.n_sweeps;
    return stats;
}

}  // namespace neurophase
