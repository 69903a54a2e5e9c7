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
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstring>
#include <string>
#include <vector>

#include "neurophase/dispatch.hpp"
#include "neurophase/engine.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"
#include "observables_impl.hpp"

#if NEUROPHASE_AVX2_KERNELS
#include <immintrin.h>
#endif

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

// Metropolis acceptance min(1, exp(-beta dE)), except that a move of dE = 0 is
// accepted with probability 1/2 (detailed balance holds either way). With a fixed
// update order and acceptance 1 at dE = 0, a spin whose neighbours cancel flips at
// every visit, and at h = 0 the chain (and the 2 x 2 lattice) splits into sets of
// states the dynamics never leaves.
inline double metropolis_flip(double beta, double spin, double local_field) {
    const double delta_e = 2.0 * spin * local_field;
    if (delta_e < 0.0) return 1.0;
    if (delta_e == 0.0) return 0.5;
    return std::exp(-beta * delta_e);
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

// Thresholds as [spin is +1][neighbour sum + kMaxZ] for Metropolis.
inline uint64_t metropolis_threshold(const Thresholds& t, int8_t spin, int nn) {
    return spin > 0 ? t.flip_up[nn + kMaxZ] : t.flip_down[nn + kMaxZ];
}

// The vectorised kernel looks thresholds up with byte shuffles (16 entries), so it
// takes rows with at most 4 neighbour rows (d <= 3): with n neighbours present, the
// class k = (neighbour sum + n) + (spin < 0) is below 2 * (2 * 3) + 2 = 14.
// Limitation: d = 4 and 5 and the per-site field use the scalar loop.
constexpr int kMaxVectorRows = 4;
constexpr int kMaxVectorPresent = kMaxVectorRows + 2;

// Per class k: a spin flips when (r < t) != invert. Both algorithms fit this form,
// and t = 2^32 ("always") is stored as t = 0 with the inversion toggled, so that t
// fits in 32 bits. Each table is repeated in both 128-bit lanes for vpshufb.
struct alignas(32) ByteTable {
    uint8_t plane[4][32];  // byte b of t
    uint8_t keep[32];      // 0xFF where a flip needs r >= t to be false (no invert)
};

// The AVX-512 kernel looks the class up with 32-bit permutes of two tables of 16
// (class = neighbour sum mod 16, plus 16 for spin -1, in the low 5 bits of a byte):
// neighbour sums within +-7, so rows with at most 4 neighbour rows (d <= 3) as well.
// The inversion flags sit in a byte table of 64 (the low 6 bits: sum mod 16, plus 48
// for spin -1), looked up with a byte permute.
struct alignas(64) WideTable {
    uint32_t threshold[32];
    uint8_t invert[64];  // 0xFF where a flip needs r >= t (see ByteTable)
};

// Code paths of the row kernels, widest last.
enum class LocalPath { portable, avx2, avx512 };

LocalPath widest_local_path() {
    if (has_avx512()) return LocalPath::avx512;
    if (has_avx2()) return LocalPath::avx2;
    return LocalPath::portable;
}

std::atomic<LocalPath>& selected_local_path() {
    static std::atomic<LocalPath> path{widest_local_path()};
    return path;
}

struct SweepParams {
    Algorithm algorithm;
    double beta;
    double coupling;
    double field;                             // uniform part
    const double* field_site;                 // per-site part or nullptr
    Thresholds thresholds;                    // valid for the uniform field
    bool vector_rows;                         // use a vector kernel where it applies
    LocalPath path = LocalPath::portable;     // which one (set by make_byte_tables)
    ByteTable tables[kMaxVectorPresent + 1];  // by number of neighbours present
    WideTable wide;                           // the AVX-512 kernel's tables
};

// The flip rule of one class: flip when (r < t) != invert, with t < 2^32.
void class_rule(const SweepParams& p, int8_t spin, int nn, uint64_t& t, bool& invert) {
    invert = false;
    if (p.algorithm == Algorithm::heat_bath) {
        // New spin +1 when r < t_up: a flip for spin -1, a stay for +1.
        t = p.thresholds.up[nn + kMaxZ];
        invert = spin > 0;
    } else {
        t = metropolis_threshold(p.thresholds, spin, nn);
    }
    if (t == (uint64_t{1} << 32)) {
        t = 0;  // r < 2^32 always, and !(r < 0) always
        invert = !invert;
    }
}

void make_wide_table(SweepParams& p) {
    WideTable& w = p.wide;
    std::memset(&w, 0, sizeof(w));  // classes that cannot occur never flip
    for (int nn = -(kMaxVectorRows + 2); nn <= kMaxVectorRows + 2; ++nn) {
        for (const int8_t spin : {int8_t{1}, int8_t{-1}}) {
            uint64_t t = 0;
            bool invert = false;
            class_rule(p, spin, nn, t, invert);
            const int low = nn & 15;
            w.threshold[low | (spin < 0 ? 16 : 0)] = static_cast<uint32_t>(t);
            w.invert[low | (spin < 0 ? 48 : 0)] = invert ? 0xFF : 0x00;
        }
    }
}

// Chooses the row kernel of this sweep and builds its tables.
void make_byte_tables(SweepParams& p) {
    p.path = selected_local_path().load(std::memory_order_relaxed);
    if (p.path == LocalPath::avx512) {
        make_wide_table(p);
        return;
    }
    if (p.path != LocalPath::avx2) return;
    for (int present = 0; present <= kMaxVectorPresent; ++present) {
        ByteTable& table = p.tables[present];
        for (int k = 0; k < 16; ++k) {
            uint64_t t = 0;  // classes that cannot occur never flip
            bool invert = false;
            const int sum = k & ~1;
            if (sum <= 2 * present)
                class_rule(p, (k & 1) ? -1 : 1, sum - present, t, invert);
            for (int lane = 0; lane < 32; lane += 16) {
                for (int b = 0; b < 4; ++b)
                    table.plane[b][lane + k] = static_cast<uint8_t>(t >> (8 * b));
                table.keep[lane + k] = invert ? 0x00 : 0xFF;
            }
        }
    }
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

#if NEUROPHASE_AVX2_KERNELS

// One chunk is 32 sites of a colour: the 64 bytes x0 .. x0 + 63 of a row, with the
// sites at even offsets. Neighbour sums are formed on all 64 bytes, then the even
// bytes are gathered ("compact" order), looked up and compared with the random
// words, and the flip decisions spread back over the even bytes.
//
// Compact order C (in 4-site groups, per 128-bit lane): [0 1 4 5 | 2 3 6 7] (sites
// 0..7 and 16..23, then 8..15 and 24..31). Widening bytes to 32-bit words with
// unpacklo/hi wants order D = [0 2 4 6 | 1 3 5 7] instead, which is also what
// packing 32-bit masks back to bytes produces; kSwap converts either way.
NEUROPHASE_TARGET_AVX2
inline __m256i load(const int8_t* p) {
    return _mm256_loadu_si256(reinterpret_cast<const __m256i*>(p));
}

NEUROPHASE_TARGET_AVX2
inline void store(int8_t* p, __m256i v) {
    _mm256_storeu_si256(reinterpret_cast<__m256i*>(p), v);
}

struct VectorConsts {
    __m256i plane[4], keep, present, even_first, swap;
};

NEUROPHASE_TARGET_AVX2
inline VectorConsts vector_consts(const ByteTable& t, int present) {
    VectorConsts c;
    for (int b = 0; b < 4; ++b)
        c.plane[b] = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.plane[b]));
    c.keep = _mm256_load_si256(reinterpret_cast<const __m256i*>(t.keep));
    c.present = _mm256_set1_epi8(static_cast<char>(present));
    c.even_first =
        _mm256_setr_epi8(0, 2, 4, 6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15, 0, 2, 4,
                         6, 8, 10, 12, 14, 1, 3, 5, 7, 9, 11, 13, 15);
    c.swap = _mm256_setr_epi32(0, 4, 2, 6, 1, 5, 3, 7);
    return c;
}

// Flip decisions (0xFF = flip) of the 32 sites of the chunk at x, in order C. s0,
// s1 are the chunk's 64 bytes; x - 1 .. x + 62 and nb[k][off .. off + 63] are read.
template <int NNB>
NEUROPHASE_TARGET_AVX2 inline __m256i chunk_flips(const int8_t* x, __m256i s0,
                                                  __m256i s1, const int8_t* const* nb,
                                                  int64_t off, const uint32_t* r,
                                                  const VectorConsts& c) {
    // Right neighbours of the upper half from s1 shifted by one byte: the last one
    // (x + 64) is never a neighbour of a chunk site and may lie past the row.
    const __m256i r1 =
        _mm256_alignr_epi8(_mm256_permute2x128_si256(s1, s1, 0x81), s1, 1);
    __m256i n0 = _mm256_add_epi8(load(x - 1), load(x + 1));
    __m256i n1 = _mm256_add_epi8(load(x + 31), r1);
    for (int k = 0; k < NNB; ++k) {
        n0 = _mm256_add_epi8(n0, load(nb[k] + off));
        n1 = _mm256_add_epi8(n1, load(nb[k] + off + 32));
    }
    const __m256i zero = _mm256_setzero_si256();
    const __m256i k0 =
        _mm256_sub_epi8(_mm256_add_epi8(n0, c.present), _mm256_cmpgt_epi8(zero, s0));
    const __m256i k1 =
        _mm256_sub_epi8(_mm256_add_epi8(n1, c.present), _mm256_cmpgt_epi8(zero, s1));
    const __m256i kc = _mm256_unpacklo_epi64(_mm256_shuffle_epi8(k0, c.even_first),
                                             _mm256_shuffle_epi8(k1, c.even_first));
    const __m256i kd = _mm256_permutevar8x32_epi32(kc, c.swap);

    const __m256i b0 = _mm256_shuffle_epi8(c.plane[0], kd);
    const __m256i b1 = _mm256_shuffle_epi8(c.plane[1], kd);
    const __m256i b2 = _mm256_shuffle_epi8(c.plane[2], kd);
    const __m256i b3 = _mm256_shuffle_epi8(c.plane[3], kd);
    const __m256i w01lo = _mm256_unpacklo_epi8(b0, b1),
                  w01hi = _mm256_unpackhi_epi8(b0, b1);
    const __m256i w23lo = _mm256_unpacklo_epi8(b2, b3),
                  w23hi = _mm256_unpackhi_epi8(b2, b3);
    __m256i t[4] = {
        _mm256_unpacklo_epi16(w01lo, w23lo), _mm256_unpackhi_epi16(w01lo, w23lo),
        _mm256_unpacklo_epi16(w01hi, w23hi), _mm256_unpackhi_epi16(w01hi, w23hi)};
    __m256i ge[4];  // r >= t, sites 8i .. 8i + 7
    for (int i = 0; i < 4; ++i) {
        const __m256i w =
            _mm256_loadu_si256(reinterpret_cast<const __m256i*>(r + 8 * i));
        ge[i] = _mm256_cmpeq_epi32(_mm256_max_epu32(w, t[i]), w);
    }
    const __m256i fd =
        _mm256_xor_si256(_mm256_packs_epi16(_mm256_packs_epi32(ge[0], ge[1]),
                                            _mm256_packs_epi32(ge[2], ge[3])),
                         _mm256_shuffle_epi8(c.keep, kd));
    return _mm256_permutevar8x32_epi32(fd, c.swap);
}

// Applies flips in order C to the chunk's bytes; returns the new bytes.
NEUROPHASE_TARGET_AVX2
inline void apply_flips(__m256i fc, __m256i& s0, __m256i& s1) {
    const __m256i zero = _mm256_setzero_si256();
    const __m256i e0 = _mm256_unpacklo_epi8(fc, zero);
    const __m256i e1 = _mm256_unpackhi_epi8(fc, zero);
    s0 = _mm256_sub_epi8(_mm256_xor_si256(s0, e0), e0);  // -s = (s ^ -1) + 1
    s1 = _mm256_sub_epi8(_mm256_xor_si256(s1, e1), e1);
}

// Keeps the decisions of sites [lo, hi) of a chunk (order C).
NEUROPHASE_TARGET_AVX2
inline __m256i keep_sites(__m256i fc, int lo, int hi) {
    const __m256i site =
        _mm256_setr_epi8(0, 1, 2, 3, 4, 5, 6, 7, 16, 17, 18, 19, 20, 21, 22, 23, 8, 9,
                         10, 11, 12, 13, 14, 15, 24, 25, 26, 27, 28, 29, 30, 31);
    const __m256i in = _mm256_andnot_si256(
        _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(lo)), site),
        _mm256_cmpgt_epi8(_mm256_set1_epi8(static_cast<char>(hi)), site));
    return _mm256_and_si256(fc, in);
}

NEUROPHASE_TARGET_AVX2
inline int64_t count_flips(__m256i fc) {
    return _mm_popcnt_u32(static_cast<uint32_t>(_mm256_movemask_epi8(fc)));
}

// Sites x = xa, xa + 2, ..., xa + 2 (n - 1) of a row, all with both row neighbours
// inside the row; r[j] is the word of the j-th.
template <int NNB>
NEUROPHASE_TARGET_AVX2 int64_t update_run_avx2(int8_t* s, const int8_t* const* nbr,
                                               int64_t xa, int64_t n, const uint32_t* r,
                                               const ByteTable& table, int present) {
    const VectorConsts c = vector_consts(table, present);
    int64_t flips = 0;
    if (n >= 32) {
        int64_t j = 0;
        for (; j + 32 <= n; j += 32) {
            int8_t* x = s + xa + 2 * j;
            __m256i s0 = load(x), s1 = load(x + 32);
            const __m256i fc = chunk_flips<NNB>(x, s0, s1, nbr, xa + 2 * j, r + j, c);
            flips += count_flips(fc);
            apply_flips(fc, s0, s1);
            store(x, s0);
            store(x + 32, s1);
        }
        if (j < n) {  // the last 32 sites, of which the first ones are done
            const int64_t j_last = n - 32;
            int8_t* x = s + xa + 2 * j_last;
            __m256i s0 = load(x), s1 = load(x + 32);
            const __m256i fc = keep_sites(
                chunk_flips<NNB>(x, s0, s1, nbr, xa + 2 * j_last, r + j_last, c),
                static_cast<int>(j - j_last), 32);
            flips += count_flips(fc);
            apply_flips(fc, s0, s1);
            store(x, s0);
            store(x + 32, s1);
        }
        return flips;
    }
    // Short rows: work on copies padded to a whole chunk. Bytes between the sites
    // (the other colour) are copied back unchanged.
    // Limitation: rows under 66 sites pay for the copies and the scalar edge sites,
    // so they run several times slower per site than long rows.
    const int64_t span = 2 * n - 1;
    alignas(32) int8_t row[96] = {};
    alignas(32) int8_t nb_rows[NNB > 0 ? NNB : 1][64] = {};
    const int8_t* nb[NNB > 0 ? NNB : 1];
    std::memcpy(row, s + xa - 1, static_cast<std::size_t>(span + 2));
    for (int k = 0; k < NNB; ++k) {
        std::memcpy(nb_rows[k], nbr[k] + xa, static_cast<std::size_t>(span));
        nb[k] = nb_rows[k];
    }
    __m256i s0 = load(row + 1), s1 = load(row + 33);
    const __m256i fc = keep_sites(chunk_flips<NNB>(row + 1, s0, s1, nb, 0, r, c), 0,
                                  static_cast<int>(n));
    flips += count_flips(fc);
    apply_flips(fc, s0, s1);
    store(row + 1, s0);
    store(row + 33, s1);
    std::memcpy(s + xa, row + 1, static_cast<std::size_t>(span));
    return flips;
}

// --- AVX-512: Philox words generated in registers beside the update ---------------
//
// One chunk is again 32 sites of a colour in 64 bytes of a row (sites at even byte
// offsets), but the chunk starts at a site whose stream slot is a multiple of 4, so
// that its 32 words are the 4 words of 8 consecutive Philox blocks: one 512-bit
// register of counters, 64 bits per block as in the AVX2 generator of rng.cpp. The
// words never go through memory. A row whose first slot is not block-aligned starts
// its first chunk up to 3 sites before the row; those lanes are masked off.
//
// Words and thresholds are compared in two sets of 16: the even sites 0, 2, .., 30
// (words 0 and 2 of each block) and the odd ones 1, 3, .., 31 (words 1 and 3), which
// is the order the last Philox round produces with two blends and the order in which
// the classes of the sites sit in the 32-bit lanes of the chunk's bytes (site 2d at
// byte 4d, site 2d + 1 at byte 4d + 2), so thresholds come straight from two
// 32-bit permutes.

// Key schedule and the counter words shared by every block of one 2^32-block segment
// of a stream (see PhiloxSegment in rng.cpp; the same arithmetic, 8 blocks wide).
struct Philox512 {
    __m512i m0, m1;
    __m512i c3k1_r0, c1k0_r1, hk1_r1, x3k1_r2;
    __m512i k0[Philox4x32::kRounds], k1[Philox4x32::kRounds];
    __m512i k1_high;  // k1 of the last round in the high 32 bits
    __m512i lanes;    // 0, 1, .., 7
};

NEUROPHASE_TARGET_AVX512
inline void make_philox512(Philox512& ph, const StreamKey& stream, uint64_t block) {
    const PhiloxSegmentWords w = philox_segment_words(stream, block);
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
        ph.k0[r] = _mm512_set1_epi64(w.k0[r]);
        ph.k1[r] = _mm512_set1_epi64(w.k1[r]);
    }
    constexpr int last = Philox4x32::kRounds - 1;
    ph.m0 = _mm512_set1_epi64(Philox4x32::kMul0);
    ph.m1 = _mm512_set1_epi64(Philox4x32::kMul1);
    ph.c3k1_r0 = _mm512_set1_epi64(w.c3k1_r0);
    ph.c1k0_r1 = _mm512_set1_epi64(w.c1k0_r1);
    ph.hk1_r1 = _mm512_set1_epi64(w.hk1_r1);
    ph.x3k1_r2 = _mm512_set1_epi64(w.x3k1_r2);
    ph.k1_high = _mm512_set1_epi64(static_cast<int64_t>(uint64_t{w.k1[last]} << 32));
    ph.lanes = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
}

NEUROPHASE_TARGET_AVX512
inline __m512i xor3(__m512i a, __m512i b, __m512i c) {
    return _mm512_ternarylogic_epi64(a, b, c, 0x96);
}

// The words of blocks block .. block + 7 (one segment): even[2b + j] is word 2j of
// block b, odd[2b + j] word 2j + 1.
NEUROPHASE_TARGET_AVX512
inline void philox512(const Philox512& ph, uint64_t block, __m512i& even,
                      __m512i& odd) {
    // Rounds 0 to 2 as in rng.cpp: only word 0 of the counter differs between blocks.
    const __m512i c0 =
        _mm512_add_epi64(_mm512_set1_epi64(static_cast<int64_t>(block)), ph.lanes);
    __m512i x3 = _mm512_mul_epu32(c0, ph.m0);
    __m512i x2 = _mm512_xor_si512(_mm512_srli_epi64(x3, 32), ph.c3k1_r0);
    __m512i x1 = _mm512_mul_epu32(x2, ph.m1);
    __m512i x0 = _mm512_xor_si512(_mm512_srli_epi64(x1, 32), ph.c1k0_r1);
    x2 = _mm512_xor_si512(x3, ph.hk1_r1);
    {
        const __m512i q0 = _mm512_mul_epu32(x0, ph.m0);
        const __m512i q1 = _mm512_mul_epu32(x2, ph.m1);
        x0 = xor3(_mm512_srli_epi64(q1, 32), x1, ph.k0[2]);
        x2 = _mm512_xor_si512(_mm512_srli_epi64(q0, 32), ph.x3k1_r2);
        x1 = q1;
        x3 = q0;
    }
    constexpr int last = Philox4x32::kRounds - 1;
    for (int r = 3; r < last; ++r) {
        const __m512i p0 = _mm512_mul_epu32(x0, ph.m0);
        const __m512i p1 = _mm512_mul_epu32(x2, ph.m1);
        x0 = xor3(_mm512_srli_epi64(p1, 32), x1, ph.k0[r]);
        x2 = xor3(_mm512_srli_epi64(p0, 32), x3, ph.k1[r]);
        x1 = p1;
        x3 = p0;
    }
    // The last round leaves word 2 in the high half of each lane and blends the
    // words of a lane pairwise: (0, 2) and (1, 3).
    const __m512i p0 = _mm512_mul_epu32(x0, ph.m0);
    const __m512i p1 = _mm512_mul_epu32(x2, ph.m1);
    const __m512i w0 = xor3(_mm512_srli_epi64(p1, 32), x1, ph.k0[last]);
    const __m512i w2 = xor3(p0, _mm512_slli_epi64(x3, 32), ph.k1_high);
    even = _mm512_mask_blend_epi32(0xAAAA, w0, w2);
    odd = _mm512_mask_blend_epi32(0xAAAA, p1, _mm512_slli_epi64(p0, 32));
}

struct WideConsts {
    __m512i t_lo, t_hi, invert, low4, even_bytes, left_index;
};

NEUROPHASE_TARGET_AVX512
inline WideConsts wide_consts(const WideTable& t) {
    WideConsts c;
    c.t_lo = _mm512_loadu_si512(t.threshold);
    c.t_hi = _mm512_loadu_si512(t.threshold + 16);
    c.invert = _mm512_loadu_si512(t.invert);
    c.low4 = _mm512_set1_epi8(0x0F);
    c.even_bytes = _mm512_set1_epi16(0x00FF);
    // Byte i takes byte i - 1 of the chunk, byte 0 the last byte of the one before.
    alignas(64) uint8_t index[64];
    index[0] = 127;
    for (int i = 1; i < 64; ++i) index[i] = static_cast<uint8_t>(i - 1);
    c.left_index = _mm512_load_si512(index);
    return c;
}

// What a chunk needs to know about its row to handle the row's ends.
struct RowEnds {
    int64_t length;     // L
    int64_t x_first;    // first site of the colour in the row (0 or 1)
    int64_t x_last;     // last one updated here
    int8_t wrap_left;   // left neighbour of x = 0: s[L - 1] if periodic, else 0
    int8_t wrap_right;  // right neighbour of x = L - 1: s[0] if periodic, else 0
};

// Bits lo .. hi of a 64-bit mask (clamped to 0 .. 63; none if lo > hi).
inline uint64_t bit_range(int64_t lo, int64_t hi) {
    lo = std::max<int64_t>(lo, 0);
    hi = std::min<int64_t>(hi, 63);
    if (lo > hi) return 0;
    return (~uint64_t{0} << lo) & (~uint64_t{0} >> (63 - hi));
}

constexpr uint64_t kEvenBytes = 0x5555555555555555u;

// Updates the sites of the chunk of bytes x0 .. x0 + 63 of a row and returns the mask
// of flipped bytes. `prev` holds the bytes of the previous chunk (only its last byte,
// a site of the other colour, is used) and is set to this chunk's. Edge chunks reach
// past an end of the row or hold x = 0 or x = L - 1: they load under masks (bytes off
// the row are not read) and put the wrapped neighbours in place.
template <int NNB, bool Edge>
NEUROPHASE_TARGET_AVX512 inline uint64_t chunk_flips512(
    int8_t* row, const int8_t* const* nb, int64_t x0, __m512i& prev, __m512i r_even,
    __m512i r_odd, const WideConsts& c, const RowEnds& e) {
    const int64_t L = e.length;
    __m512i s, sum;
    if constexpr (Edge) {
        const __mmask64 in = bit_range(-x0, L - 1 - x0);
        s = _mm512_maskz_loadu_epi8(in, row + x0);
        sum = _mm512_maskz_loadu_epi8(bit_range(-x0 - 1, L - 2 - x0), row + x0 + 1);
        if (L - 1 - x0 >= 0 && L - 1 - x0 < 64)
            sum = _mm512_mask_set1_epi8(sum, uint64_t{1} << (L - 1 - x0), e.wrap_right);
        for (int k = 0; k < NNB; ++k)
            sum = _mm512_add_epi8(sum, _mm512_maskz_loadu_epi8(in, nb[k] + x0));
    } else {
        s = _mm512_loadu_si512(row + x0);
        sum = _mm512_loadu_si512(row + x0 + 1);
        for (int k = 0; k < NNB; ++k)
            sum = _mm512_add_epi8(sum, _mm512_loadu_si512(nb[k] + x0));
    }
    // Left neighbours from registers rather than memory: a load overlapping the
    // previous chunk's store would wait for that store to complete.
    __m512i left = _mm512_permutex2var_epi8(s, c.left_index, prev);
    if constexpr (Edge)
        if (x0 <= 0 && x0 > -64)
            left = _mm512_mask_set1_epi8(left, uint64_t{1} << (-x0), e.wrap_left);
    prev = s;
    sum = _mm512_add_epi8(sum, left);

    // Class: neighbour sum mod 16 in the low 4 bits, the sign of s above (bits 4, 5).
    const __m512i k = _mm512_ternarylogic_epi32(sum, s, c.low4, 0xE4);
    const __m512i t_even = _mm512_permutex2var_epi32(c.t_lo, k, c.t_hi);
    const __m512i t_odd =
        _mm512_permutex2var_epi32(c.t_lo, _mm512_srli_epi32(k, 16), c.t_hi);
    uint64_t flips =
        _pdep_u64(_mm512_cmplt_epu32_mask(r_even, t_even), 0x1111111111111111u) |
        _pdep_u64(_mm512_cmplt_epu32_mask(r_odd, t_odd), 0x4444444444444444u);
    flips ^= _mm512_test_epi8_mask(_mm512_permutexvar_epi8(k, c.invert), c.even_bytes);
    if constexpr (Edge) flips &= bit_range(e.x_first - x0, e.x_last - x0) & kEvenBytes;
    _mm512_mask_storeu_epi8(row + x0, flips,
                            _mm512_sub_epi8(_mm512_setzero_si512(), s));
    return flips;
}

// Sites x_first, x_first + 2, .., x_last of one row, whose stream slots start at
// q_first; all their blocks lie in one segment of the stream.
template <int NNB>
NEUROPHASE_TARGET_AVX512 int64_t update_row_avx512(int8_t* row, const int8_t* const* nb,
                                                   const RowEnds& e,
                                                   const StreamKey& stream,
                                                   uint64_t q_first,
                                                   const WideTable& table) {
    const WideConsts c = wide_consts(table);
    uint64_t block = q_first >> 2;
    Philox512 ph;
    make_philox512(ph, stream, block);
    int64_t x0 = e.x_first - 2 * static_cast<int64_t>(q_first & 3);
    __m512i prev = _mm512_set1_epi8(x0 >= 1 ? row[x0 - 1] : 0);
    int64_t flips = 0;
    for (; x0 <= e.x_last; x0 += 64, block += 8) {
        __m512i r_even, r_odd;
        philox512(ph, block, r_even, r_odd);
        uint64_t f;
        if (x0 >= 1 && x0 + 64 <= e.length - 1)
            f = chunk_flips512<NNB, false>(row, nb, x0, prev, r_even, r_odd, c, e);
        else
            f = chunk_flips512<NNB, true>(row, nb, x0, prev, r_even, r_odd, c, e);
        flips += _mm_popcnt_u64(f);
    }
    return flips;
}

#endif

// Uniform field on a row with at most kMaxVectorRows neighbour rows: the sites at
// x = 0 and x = L - 1 (whose row neighbours wrap or are missing) take the scalar
// path, the rest the AVX2 kernel.
int64_t update_row_vector(int n_nbr, int8_t* s, const int8_t* const* nbr,
                          int64_t x_first, int64_t x_last, int64_t L, bool periodic,
                          const uint32_t* r, int64_t base, const SweepParams& p,
                          int present) {
    int64_t flips = 0;
    int64_t xa = x_first, xb = x_last;
    if (xa == 0) {
        flips += update_sites(n_nbr, s, nbr, 0, 1, L, periodic, r, base, p);
        xa = 2;
    }
    const bool right_edge = xb == L - 1;
    if (right_edge) xb -= 2;
#if NEUROPHASE_AVX2_KERNELS
    if (xb >= xa) {
        const int64_t n = (xb - xa) / 2 + 1;
        const uint32_t* rr = r + (xa >> 1);
        const ByteTable& t = p.tables[present];
        switch (n_nbr) {
            case 0:
                flips += update_run_avx2<0>(s, nbr, xa, n, rr, t, present);
                break;
            case 2:
                flips += update_run_avx2<2>(s, nbr, xa, n, rr, t, present);
                break;
            default:
                flips += update_run_avx2<4>(s, nbr, xa, n, rr, t, present);
                break;
        }
    }
#else
    (void)present;
    if (xb >= xa)
        flips += update_sites(n_nbr, s, nbr, xa, xb + 1, L, periodic, r + (xa >> 1),
                              base, p);
#endif
    if (right_edge)
        flips += update_sites(n_nbr, s, nbr, L - 1, L, L, periodic, r + ((L - 1) >> 1),
                              base, p);
    return flips;
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
    const int8_t* nbr[8];
    neighbour_rows(c, info, nbr);
#if NEUROPHASE_AVX2_KERNELS
    // The AVX-512 kernel draws the words itself; it needs the row's blocks in one
    // segment of the stream, which only lattices of over 2^34 sites can break.
    if (p.vector_rows && p.path == LocalPath::avx512 &&
        info.n_neighbours <= kMaxVectorRows &&
        (block_first >> 32) == ((q_last >> 2) >> 32)) {
        int8_t* s = c.spins + info.base;
        const RowEnds ends{L, x_parity, x_last, g.periodic ? s[L - 1] : int8_t{0},
                           g.periodic ? s[0] : int8_t{0}};
        switch (info.n_neighbours) {
            case 0:
                return update_row_avx512<0>(s, nbr, ends, stream, q_first, p.wide);
            case 2:
                return update_row_avx512<2>(s, nbr, ends, stream, q_first, p.wide);
            default:
                return update_row_avx512<4>(s, nbr, ends, stream, q_first, p.wide);
        }
    }
#endif
    const std::size_t n_blocks =
        static_cast<std::size_t>((q_last >> 2) - block_first + 1);
    // Padded: the vector kernel reads whole chunks of words.
    buffer.resize(4 * n_blocks + 32);
    philox_fill(stream, block_first, n_blocks, buffer.data());
    const uint32_t* r = buffer.data() + (q_first - 4 * block_first);

    if (p.vector_rows && p.path == LocalPath::avx2 && !p.field_site &&
        info.n_neighbours <= kMaxVectorRows) {
        int present = 2;
        for (int k = 0; k < info.n_neighbours; ++k)
            present += info.neighbour_base[k] >= 0;
        return update_row_vector(info.n_neighbours, c.spins + info.base, nbr, x_parity,
                                 x_last, L, g.periodic, r, info.base, p, present);
    }
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

const char* path_name(LocalPath path) {
    switch (path) {
        case LocalPath::avx512:
            return "avx512";
        case LocalPath::avx2:
            return "avx2";
        default:
            return "portable";
    }
}

}  // namespace

std::vector<std::string> local_update_paths() {
    std::vector<std::string> paths;
    if (has_avx512()) paths.emplace_back(path_name(LocalPath::avx512));
    if (has_avx2()) paths.emplace_back(path_name(LocalPath::avx2));
    paths.emplace_back(path_name(LocalPath::portable));
    return paths;
}

std::string local_update_path() {
    return path_name(selected_local_path().load());
}

bool select_local_update_path(const std::string& name) {
    for (const LocalPath path :
         {LocalPath::avx512, LocalPath::avx2, LocalPath::portable}) {
        if (name != path_name(path)) continue;
        if ((path == LocalPath::avx512 && !has_avx512()) ||
            (path == LocalPath::avx2 && !has_avx2()))
            return false;
        selected_local_path().store(path);
        return true;
    }
    return false;
}

RunStats run_local(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int nt = effective_threads(g, spec.threads);
    stats.threads_used = nt;
    const bool complete = g.kind == LatticeKind::complete;
    const std::vector<int8_t> zero_row(static_cast<std::size_t>(g.row_length()), 0);
    const RowContext ctx{g, spins, zero_row.data(), (g.row_length() + 1) / 2};
    MeasureScratch scratch(g, spec.kmin_magnetisation2 != nullptr);
    const int64_t n_rows = g.n_rows();
    // Rows per scheduling chunk: about 8k sites, so that threads rarely contend for
    // work and a core slowed by other load hands its rows to the other thread.
    const int64_t chunk = std::max<int64_t>(1, 8192 / g.row_length());
    int64_t flips = 0;
    int64_t next_snapshot = 0;
    // Every barrier costs a wake-up of a sleeping thread, which is slow on a busy
    // machine: skip the phases that have nothing to do.
    bool has_seam = false;
    for (int k = 0; k < g.dimension(); ++k) has_seam |= g.odd_periodic(k);
    const bool recording = spec.magnetisation || spec.energy || spec.staggered ||
                           spec.kmin_magnetisation2 || spec.n_snapshots > 0;

    // A sweep is phases of units of work, each started only when the one before is
    // done (no barrier: see PhasedWork): the rows of colour 0 and of colour 1 in
    // chunks, and the seam as one unit; or the complete graph as one unit.
    const int64_t n_chunks = (n_rows + chunk - 1) / chunk;
    std::vector<int64_t> per_phase = {n_chunks, n_chunks};
    if (has_seam) per_phase.push_back(1);
    if (complete) per_phase = {1};

    // Sweeps [t_begin, t_end) with a team of `team` threads.
    const auto run_batch = [&](int64_t t_begin, int64_t t_end, int team) {
        PhasedWork work(t_end - t_begin, per_phase, team);
        const int64_t phases_per_sweep = static_cast<int64_t>(per_phase.size());
#pragma omp parallel num_threads(team) reduction(+ : flips)
        {
            const int me = thread_index();
            std::vector<uint32_t> buffer;
            SweepParams p;
            int64_t params_sweep = -1;
            for (int64_t ph = 0; ph < work.n_phases(); ++ph) {
                const int64_t t = t_begin + work.sweep_of(ph);
                const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
                if (params_sweep != t) {
                    p = SweepParams{};
                    p.algorithm = spec.algorithm;
                    p.beta = 1.0 / spec.temperature[t];
                    p.coupling = spec.coupling;
                    p.field = spec.field_uniform[t];
                    p.field_site = spec.field_site;
                    p.thresholds = make_thresholds(p.beta, p.coupling, p.field);
                    p.vector_rows = !complete && !p.field_site && has_avx2();
                    if (p.vector_rows) make_byte_tables(p);
                    params_sweep = t;
                }
                const int kind = work.kind_of(ph);
                for (int64_t i; (i = work.claim(ph, me)) >= 0;) {
                    work.wait_for(ph);
                    if (complete) {
                        flips += update_complete(g, spins, p, spec.seed, sweep, buffer);
                    } else if (kind == 2) {
                        flips += update_seam(ctx, p, spec.seed, sweep);
                    } else {
                        const int64_t row_end = std::min(n_rows, (i + 1) * chunk);
                        for (int64_t row = i * chunk; row < row_end; ++row)
                            flips += update_row_colour(ctx, row, kind, p, spec.seed,
                                                       sweep, buffer);
                    }
                    work.finish();
                }
                // Records need the whole sweep done; record_sweep shares its work
                // out with OpenMP and ends in a barrier.
                if (recording && kind == phases_per_sweep - 1) {
                    work.wait_for(ph + 1);
                    record_sweep(g, spins, spec, t, p.field, scratch, next_snapshot);
                }
            }
        }
    };

    stats.team_sweeps = run_team_or_single(spec.n_sweeps, nt, run_batch);
    stats.flips = flips;
    stats.attempts = g.n_sites * spec.n_sweeps;
    return stats;
}

}  // namespace neurophase
