// Multi-spin-coded Metropolis (layout and acceptance rule in neurophase/msc.hpp).
#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>
#include <vector>

#include "neurophase/msc.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"

namespace neurophase {

namespace {

inline uint64_t rotl1(uint64_t v) {
    return (v << 1) | (v >> 63);
}
inline uint64_t rotr1(uint64_t v) {
    return (v >> 1) | (v << 63);
}
inline int popcount(uint64_t v) {
    return __builtin_popcountll(v);
}

constexpr uint64_t kEvenLanes = 0x5555555555555555ull;

// Plane pairs drawn for every word of a row before the bit-serial comparison
// starts; later pairs are drawn word by word, only while lanes are undecided.
// Results do not depend on this number (it only moves work between the two).
constexpr int kEagerPairs = 2;

// Thresholds of one sweep: class (spin bit, anti-aligned count a) -> group.
struct SweepGroups {
    AcceptanceGroups groups;
    // Per class index 2 * a + spin_bit: group j >= 0, kAlways or kNever.
    static constexpr int kAlways = -1, kNever = -2;
    int class_group[AcceptanceGroups::kMax];
    int n_classes = 0;
};

// Metropolis flip probability with the byte engine's convention: 1/2 at dE = 0.
double flip_probability(double beta, double delta_e) {
    if (delta_e < 0.0) return 1.0;
    if (delta_e == 0.0) return 0.5;
    return std::exp(-beta * delta_e);
}

SweepGroups make_groups(int dimension, double beta, double coupling, double field) {
    SweepGroups sg;
    const int z = 2 * dimension;
    sg.n_classes = 2 * (z + 1);
    for (int a = 0; a <= z; ++a) {
        for (int bit = 0; bit < 2; ++bit) {
            const double spin = bit ? 1.0 : -1.0;
            // s * (neighbour sum) = (z - a) - a.
            const double nn = spin * static_cast<double>(z - 2 * a);
            const double delta_e = 2.0 * spin * (coupling * nn + field);
            const uint64_t t = probability_threshold(flip_probability(beta, delta_e));
            int group;
            if (t == 0) {
                group = SweepGroups::kNever;
            } else if (t == (uint64_t{1} << 32)) {
                group = SweepGroups::kAlways;
            } else {
                group = -3;
                for (int j = 0; j < sg.groups.n; ++j)
                    if (sg.groups.threshold[j] == t) group = j;
                if (group == -3) {
                    group = sg.groups.n++;
                    sg.groups.threshold[group] = static_cast<uint32_t>(t);
                }
            }
            sg.class_group[2 * a + bit] = group;
        }
    }
    return sg;
}

// Bit-sliced count of set bits among the Z words d[0..Z): a = a0 + 2 a1 + 4 a2.
template <int Z>
inline void count_bits(const uint64_t* d, uint64_t& a0, uint64_t& a1, uint64_t& a2) {
    // Full adders: three inputs -> sum and carry.
    const uint64_t s1 = d[0] ^ d[1] ^ d[2];
    const uint64_t c1 = (d[0] & d[1]) | (d[2] & (d[0] ^ d[1]));
    if constexpr (Z == 4) {
        a0 = s1 ^ d[3];
        const uint64_t c2 = s1 & d[3];
        a1 = c1 ^ c2;
        a2 = c1 & c2;
    } else {
        const uint64_t s2 = d[3] ^ d[4] ^ d[5];
        const uint64_t c2 = (d[3] & d[4]) | (d[5] & (d[3] ^ d[4]));
        a0 = s1 ^ s2;
        const uint64_t c3 = s1 & s2;
        a1 = c1 ^ c2 ^ c3;
        a2 = (c1 & c2) | (c3 & (c1 ^ c2));
    }
}

// Group masks of a word from its spins and the anti-aligned indicator words.
template <int Z>
inline uint64_t group_masks(const SweepGroups& sg, uint64_t s, const uint64_t* anti,
                            uint64_t lanes, uint64_t* gm, uint64_t& always) {
    uint64_t a0, a1, a2;
    count_bits<Z>(anti, a0, a1, a2);
    for (int j = 0; j < sg.groups.n; ++j) gm[j] = 0;
    always = 0;
    uint64_t undecided = 0;
    for (int a = 0; a <= Z; ++a) {
        const uint64_t v =
            ((a & 1) ? a0 : ~a0) & ((a & 2) ? a1 : ~a1) & ((a & 4) ? a2 : ~a2) & lanes;
        for (int bit = 0; bit < 2; ++bit) {
            const uint64_t cls = v & (bit ? s : ~s);
            const int g = sg.class_group[2 * a + bit];
            if (g >= 0) {
                gm[g] |= cls;
                undecided |= cls;
            } else if (g == SweepGroups::kAlways) {
                always |= cls;
            }
        }
    }
    return undecided;
}

struct RowJob {
    int64_t row;
    int half;        // x parity of the words updated
    uint64_t lanes;  // bits updated in each of them
};

struct MscContext {
    const MscLayout& layout;
    uint64_t* words;
    const SweepGroups& groups;
    StreamKey stream;
};

// Updates the Lx / 2 words of one half-row; returns the number of flipped spins.
template <int Z>
int64_t update_half_row(const MscContext& c, const RowJob& job,
                        std::vector<uint32_t>& buffer) {
    const MscLayout& g = c.layout;
    const int64_t nh = g.side_x / 2;
    const int64_t zp = job.row / g.side_y, y = job.row % g.side_y;
    uint64_t* w = c.words;
    const int64_t base = job.row * g.side_x;
    uint64_t* centre = w + base + job.half * nh;
    const uint64_t* other = w + base + (1 - job.half) * nh;
    // Rows along axis 0 (rotated across the slab edge) and along y.
    const int64_t up_row = (zp == 0 ? g.slab - 1 : zp - 1) * g.side_y + y;
    const int64_t down_row = (zp == g.slab - 1 ? 0 : zp + 1) * g.side_y + y;
    const bool rot_up = zp == 0, rot_down = zp == g.slab - 1;
    const uint64_t* up = w + up_row * g.side_x + job.half * nh;
    const uint64_t* down = w + down_row * g.side_x + job.half * nh;
    const uint64_t* yl = nullptr;
    const uint64_t* yr = nullptr;
    if constexpr (Z == 6) {
        const int64_t yl_row = zp * g.side_y + (y == 0 ? g.side_y - 1 : y - 1);
        const int64_t yr_row = zp * g.side_y + (y + 1 == g.side_y ? 0 : y + 1);
        yl = w + yl_row * g.side_x + job.half * nh;
        yr = w + yr_row * g.side_x + job.half * nh;
    }

    // Eager plane pairs of every word of the half-row.
    const uint64_t first_word = static_cast<uint64_t>(base + job.half * nh);
    const uint64_t n_words = static_cast<uint64_t>(g.n_words);
    buffer.resize(static_cast<std::size_t>(4 * nh * kEagerPairs));
    for (int q = 0; q < kEagerPairs; ++q)
        philox_fill(c.stream, static_cast<uint64_t>(q) * n_words + first_word,
                    static_cast<std::size_t>(nh), buffer.data() + 4 * nh * q);

    int64_t flips = 0;
    uint64_t gm[AcceptanceGroups::kMax];
    for (int64_t i = 0; i < nh; ++i) {
        const uint64_t s = centre[i];
        uint64_t nb[Z];
        if (job.half == 0) {
            nb[0] = other[i == 0 ? nh - 1 : i - 1];
            nb[1] = other[i];
        } else {
            nb[0] = other[i];
            nb[1] = other[i + 1 == nh ? 0 : i + 1];
        }
        nb[2] = rot_up ? rotl1(up[i]) : up[i];
        nb[3] = rot_down ? rotr1(down[i]) : down[i];
        if constexpr (Z == 6) {
            nb[4] = yl[i];
            nb[5] = yr[i];
        }
        uint64_t anti[Z];
        for (int k = 0; k < Z; ++k) anti[k] = s ^ nb[k];
        uint64_t always;
        const uint64_t undecided =
            group_masks<Z>(c.groups, s, anti, job.lanes, gm, always);
        uint64_t flip = always;
        if (undecided) {
            uint64_t eager[2 * kEagerPairs];
            for (int q = 0; q < kEagerPairs; ++q) {
                const uint32_t* b = buffer.data() + 4 * (nh * q + i);
                eager[2 * q] = b[0] | (static_cast<uint64_t>(b[1]) << 32);
                eager[2 * q + 1] = b[2] | (static_cast<uint64_t>(b[3]) << 32);
            }
            flip = msc_decide(c.groups.groups, gm, always, eager, kEagerPairs, c.stream,
                              n_words, first_word + static_cast<uint64_t>(i), nullptr);
        }
        centre[i] = s ^ flip;
        flips += popcount(flip);
    }
    return flips;
}

// The half-row jobs of colour `colour`, in a fixed order.
std::vector<RowJob> colour_jobs(const MscLayout& g, int colour) {
    std::vector<RowJob> jobs;
    const bool even_slab = g.slab % 2 == 0;
    for (int64_t row = 0; row < g.n_rows; ++row) {
        const int parity = static_cast<int>((row / g.side_y + row % g.side_y) & 1);
        if (even_slab) {
            // Word (z', y, x) has colour parity(z' + y + x) in all its bits.
            jobs.push_back({row, colour ^ parity, ~uint64_t{0}});
        }
    }
    if (!even_slab) {
        // Bit b of word (z', y, x) has colour parity(z' + y + x + b): both halves,
        // half the bits each. All rows of half 0 first, then half 1.
        for (int half = 0; half < 2; ++half) {
            for (int64_t row = 0; row < g.n_rows; ++row) {
                const int parity =
                    static_cast<int>((row / g.side_y + row % g.side_y) & 1);
                const int odd_bits = colour ^ parity ^ half;
                jobs.push_back({row, half, odd_bits ? ~kEvenLanes : kEvenLanes});
            }
        }
    }
    return jobs;
}

int64_t site_index(const MscLayout& g, int64_t z, int64_t y, int64_t x) {
    return (z * g.side_y + y) * g.side_x + x;
}

}  // namespace

MscLayout MscLayout::from_shape(const std::vector<int64_t>& shape) {
    if (shape.size() != 2 && shape.size() != 3)
        throw std::invalid_argument(
            "the multi-spin-coded engine takes 2D or 3D lattices, got " +
            std::to_string(shape.size()) + " axes");
    MscLayout g;
    g.dimension = static_cast<int>(shape.size());
    g.side0 = shape[0];
    g.side_x = shape.back();
    g.side_y = g.dimension == 3 ? shape[1] : 1;
    if (g.side0 < 64 || g.side0 % 64 != 0)
        throw std::invalid_argument(
            "the multi-spin-coded engine needs the first side to be a multiple of 64, "
            "got " +
            std::to_string(g.side0));
    for (std::size_t k = 1; k < shape.size(); ++k)
        if (shape[k] < 2 || shape[k] % 2 != 0)
            throw std::invalid_argument(
                "the multi-spin-coded engine needs the other sides even and >= 2, "
                "got " +
                std::to_string(shape[k]));
    g.slab = g.side0 / 64;
    g.n_rows = g.slab * g.side_y;
    g.n_words = g.n_rows * g.side_x;
    g.n_sites = g.n_words * 64;
    if (g.n_words >= (int64_t{1} << 43))
        throw std::invalid_argument("lattice too large for the random-number counter");
    return g;
}

int effective_msc_threads(const MscLayout& g, int requested) {
    // Below 64k spins per thread (as in the byte engine) a sweep is shorter than
    // the cost of keeping the threads in step.
    constexpr int64_t kWordsPerThread = 1 << 10;
    if (g.slab % 2 != 0) return 1;
    const int64_t useful = std::max<int64_t>(1, g.n_words / kWordsPerThread);
    const int64_t capped = std::min<int64_t>(std::max(1, requested), useful);
    return static_cast<int>(std::min<int64_t>(capped, g.n_rows));
}

uint64_t msc_decide(const AcceptanceGroups& groups, const uint64_t* group_mask,
                    uint64_t always, const uint64_t* eager, int n_eager,
                    const StreamKey& stream, uint64_t n_words, uint64_t w,
                    int* planes_used) {
    uint64_t undecided = 0;
    for (int j = 0; j < groups.n; ++j) undecided |= group_mask[j];
    uint64_t flip = always;
    uint64_t lazy[2] = {0, 0};
    int k = 0;
    for (; k < 32 && undecided; ++k) {
        uint64_t plane;
        if (k < 2 * n_eager) {
            plane = eager[k];
        } else {
            if ((k & 1) == 0) {
                uint32_t out[4];
                stream.block(static_cast<uint64_t>(k >> 1) * n_words + w, out);
                lazy[0] = out[0] | (static_cast<uint64_t>(out[1]) << 32);
                lazy[1] = out[2] | (static_cast<uint64_t>(out[3]) << 32);
            }
            plane = lazy[k & 1];
        }
        // Bit 31 - k of every lane's threshold.
        uint64_t t = 0;
        for (int j = 0; j < groups.n; ++j)
            t |= group_mask[j] &
                 (uint64_t{0} - ((groups.threshold[j] >> (31 - k)) & 1u));
        // First differing bit: r = 0, t = 1 means r < t (flip); r = 1, t = 0 stays.
        flip |= undecided & ~plane & t;
        undecided &= ~(plane ^ t);
    }
    // Lanes still undecided have r == t: not below, no flip.
    if (planes_used) *planes_used = k;
    return flip;
}

void msc_pack(const MscLayout& g, const int8_t* spins, uint64_t* words, int threads) {
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t row = 0; row < g.n_rows; ++row) {
        const int64_t zp = row / g.side_y, y = row % g.side_y;
        for (int64_t x = 0; x < g.side_x; ++x) {
            uint64_t v = 0;
            for (int b = 0; b < 64; ++b)
                v |= static_cast<uint64_t>(spins[site_index(g, zp + b * g.slab, y, x)] >
                                           0)
                     << b;
            words[g.word(row, x)] = v;
        }
    }
}

void msc_unpack(const MscLayout& g, const uint64_t* words, int8_t* spins, int threads) {
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t row = 0; row < g.n_rows; ++row) {
        const int64_t zp = row / g.side_y, y = row % g.side_y;
        for (int64_t x = 0; x < g.side_x; ++x) {
            const uint64_t v = words[g.word(row, x)];
            for (int b = 0; b < 64; ++b)
                spins[site_index(g, zp + b * g.slab, y, x)] =
                    ((v >> b) & 1u) ? int8_t{1} : int8_t{-1};
        }
    }
}

void msc_hot_start(const MscLayout& g, uint64_t* words, uint64_t seed, int threads) {
    const StreamKey stream(seed, Purpose::hot_start, 0, 0);
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t row = 0; row < g.n_rows; ++row) {
        const int64_t zp = row / g.side_y, y = row % g.side_y;
        for (int64_t x = 0; x < g.side_x; ++x) {
            uint64_t v = 0;
            for (int b = 0; b < 64; ++b) {
                const int64_t site = site_index(g, zp + b * g.slab, y, x);
                v |= static_cast<uint64_t>(stream.at(static_cast<uint64_t>(site)) >> 31)
                     << b;
            }
            words[g.word(row, x)] = v;
        }
    }
}

namespace {

// Sums of one row of words: up spins, anti-aligned bonds in the positive direction
// of every axis, and the staggered sum.
struct RowSums {
    int64_t up = 0, anti = 0, staggered = 0;
};

void measure_row(const MscLayout& g, const uint64_t* words, int64_t row, RowSums& out) {
    const int64_t nh = g.side_x / 2;
    const int64_t zp = row / g.side_y, y = row % g.side_y;
    const uint64_t* r = words + row * g.side_x;
    const bool rot = zp == g.slab - 1;
    const uint64_t* down =
        words + ((zp == g.slab - 1 ? 0 : zp + 1) * g.side_y + y) * g.side_x;
    const uint64_t* right =
        words + (zp * g.side_y + (y + 1 == g.side_y ? 0 : y + 1)) * g.side_x;
    int64_t up = 0, anti = 0, even_up = 0, odd_up = 0;
    for (int64_t i = 0; i < g.side_x; ++i) {
        const uint64_t s = r[i];
        up += popcount(s);
        anti += popcount(s ^ (rot ? rotr1(down[i]) : down[i]));
        if (g.dimension == 3) anti += popcount(s ^ right[i]);
    }
    // Bonds along x: (2i, 2i + 1) and (2i + 1, 2i + 2).
    for (int64_t i = 0; i < nh; ++i) {
        anti += popcount(r[i] ^ r[nh + i]);
        anti += popcount(r[nh + i] ^ r[i + 1 == nh ? 0 : i + 1]);
    }
    // Staggered sign (-1)^(z + y + x) with z = z' + b H: per half-row (x parity),
    // and per bit parity when H is odd.
    for (int half = 0; half < 2; ++half) {
        const int64_t sign = ((zp + y + half) & 1) ? -1 : 1;
        int64_t sum = 0;
        for (int64_t i = 0; i < nh; ++i) {
            const uint64_t s = r[half * nh + i];
            if (g.slab % 2 == 0) {
                sum += 2 * popcount(s) - 64;
            } else {
                sum += (2 * popcount(s & kEvenLanes) - 32) -
                       (2 * popcount(s & ~kEvenLanes) - 32);
            }
        }
        (half ? odd_up : even_up) += sign * sum;
    }
    out.up += up;
    out.anti += anti;
    out.staggered += even_up + odd_up;
}

Measurement to_measurement(const MscLayout& g, const RowSums& sums) {
    Measurement m;
    m.magnetisation_sum = 2 * sums.up - g.n_sites;
    m.bond_sum = g.n_sites * g.dimension - 2 * sums.anti;
    m.staggered_sum = sums.staggered;
    return m;
}

}  // namespace

Measurement msc_measure(const MscLayout& g, const uint64_t* words, int threads) {
    int64_t up = 0, anti = 0, staggered = 0;
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static) \
    reduction(+ : up, anti, staggered)
    for (int64_t row = 0; row < g.n_rows; ++row) {
        RowSums s;
        measure_row(g, words, row, s);
        up += s.up;
        anti += s.anti;
        staggered += s.staggered;
    }
    return to_measurement(g, RowSums{up, anti, staggered});
}

RunStats run_msc(const MscLayout& g, uint64_t* words, const RunSpec& spec) {
    RunStats stats;
    const int nt = effective_msc_threads(g, spec.threads);
    stats.threads_used = nt;
    const std::vector<RowJob> jobs[2] = {colour_jobs(g, 0), colour_jobs(g, 1)};
    const int64_t n_jobs = static_cast<int64_t>(jobs[0].size());
    const bool want = spec.magnetisation || spec.energy || spec.staggered;
    const double n = static_cast<double>(g.n_sites);
    int64_t flips = 0;
    int64_t next_snapshot = 0;
    RowSums totals;

#pragma omp parallel num_threads(nt) reduction(+ : flips)
    {
        std::vector<uint32_t> buffer;
        for (int64_t t = 0; t < spec.n_sweeps; ++t) {
            const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
            const SweepGroups groups =
                make_groups(g.dimension, 1.0 / spec.temperature[t], spec.coupling,
                            spec.field_uniform[t]);
            for (int colour = 0; colour < 2; ++colour) {
                const MscContext ctx{g, words, groups,
                                     StreamKey(spec.seed, Purpose::msc_update,
                                               static_cast<uint32_t>(colour), sweep)};
#pragma omp for schedule(static)
                for (int64_t j = 0; j < n_jobs; ++j) {
                    const RowJob& job = jobs[colour][static_cast<std::size_t>(j)];
                    flips += g.dimension == 2 ? update_half_row<4>(ctx, job, buffer)
                                              : update_half_row<6>(ctx, job, buffer);
                }
            }
            if (want) {
                // Integer sums: the order in which threads add them changes nothing.
#pragma omp single
                totals = RowSums{};
                RowSums mine;
#pragma omp for schedule(static) nowait
                for (int64_t row = 0; row < g.n_rows; ++row)
                    measure_row(g, words, row, mine);
#pragma omp critical(neurophase_msc_measure)
                {
                    totals.up += mine.up;
                    totals.anti += mine.anti;
                    totals.staggered += mine.staggered;
                }
#pragma omp barrier
            }
#pragma omp single
            {
                if (want) {
                    const Measurement m = to_measurement(g, totals);
                    if (spec.magnetisation)
                        spec.magnetisation[t] = m.magnetisation_sum / n;
                    if (spec.staggered) spec.staggered[t] = m.staggered_sum / n;
                    if (spec.energy)
                        spec.energy[t] = (-spec.coupling * m.bond_sum -
                                          spec.field_uniform[t] * m.magnetisation_sum) /
                                         n;
                }
                if (next_snapshot < spec.n_snapshots &&
                    spec.snapshot_sweeps[next_snapshot] == t) {
                    msc_unpack(g, words, spec.snapshot_out + next_snapshot * g.n_sites,
                               1);
                    ++next_snapshot;
                }
            }
        }
    }
    stats.flips = flips;
    stats.attempts = g.n_sites * spec.n_sweeps;
    stats.team_sweeps = spec.n_sweeps;
    return stats;
}

}  // namespace neurophase
