// Multi-spin-coded Metropolis (layout and acceptance rule in neurophase/msc.hpp).
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "neurophase/dispatch.hpp"
#include "neurophase/msc.hpp"
#include "neurophase/parallel.hpp"
#include "neurophase/rng.hpp"

#if NEUROPHASE_AVX2_KERNELS
#include <immintrin.h>
// AVX-512 (foundation only) for the widest kernel, chosen at run time like AVX2.
#define NEUROPHASE_AVX512_KERNELS 1
#define NEUROPHASE_TARGET_AVX512 __attribute__((target("avx512f,avx2,popcnt")))
#else
#define NEUROPHASE_AVX512_KERNELS 0
#endif

namespace neurophase {

namespace {

inline uint64_t rotl1(uint64_t v) {
    return (v << 1) | (v >> 63);
}
inline uint64_t rotr1(uint64_t v) {
    return (v >> 1) | (v << 63);
}
inline __attribute__((always_inline)) int popcount(uint64_t v) {
    return __builtin_popcountll(v);
}

constexpr uint64_t kEvenLanes = 0x5555555555555555ull;
constexpr uint64_t kAll = ~uint64_t{0};

// Plane pairs drawn for every word of a tile before the comparison starts; later
// pairs are drawn only for words with undecided lanes. Results do not depend on
// this number: it only moves work between the bulk and the per-word generator.
constexpr int kEagerPairs = 4;

// Words per tile: the scratch a tile touches (group masks, random words: about
// 32 KiB with three groups) stays in L1 (48 KiB on recent x86 cores), and the
// costs per tile (Philox set-up, lists of undecided words) spread over 256 words.
constexpr int64_t kTile = 256;

constexpr int kMaxClasses = AcceptanceGroups::kMax;  // 2 (2d + 1), d <= 3

// Per plane k and group j: all-ones where bit 31 - k of the group's threshold is
// set (bit), and where the threshold has no set bit below it (end: a lane still
// equal to the threshold after plane k is then decided, r >= t).
// Four and eight words in GCC vectors: AVX2 and AVX-512 registers in those kernels
// (where every function below is inlined, so the ABI of passing them by value never
// applies).
#pragma GCC diagnostic ignored "-Wpsabi"
typedef uint64_t u64x4 __attribute__((vector_size(32)));
typedef uint64_t u64x8 __attribute__((vector_size(64)));

struct PlaneTables {
    int n_groups = 0;
    uint64_t bit[32][AcceptanceGroups::kMax];
    uint64_t end[32][AcceptanceGroups::kMax];
    bool any_end[32];
    // The same masks four and eight times over for the eager planes of the vector
    // kernels, so that they are operands of their AND instructions without a
    // broadcast (GCC builds a 512-bit broadcast of a mask lane by lane).
    u64x4 bit4[2 * kEagerPairs][AcceptanceGroups::kMax];
    u64x4 end4[2 * kEagerPairs][AcceptanceGroups::kMax];
    u64x8 bit8[2 * kEagerPairs][AcceptanceGroups::kMax];
    u64x8 end8[2 * kEagerPairs][AcceptanceGroups::kMax];
};

PlaneTables make_plane_tables(const AcceptanceGroups& groups) {
    PlaneTables p;
    p.n_groups = groups.n;
    for (int k = 0; k < 32; ++k) {
        p.any_end[k] = false;
        for (int j = 0; j < groups.n; ++j) {
            const uint32_t t = groups.threshold[j];
            const int shift = 31 - k;
            p.bit[k][j] = ((t >> shift) & 1u) ? kAll : 0;
            const uint32_t below = shift == 0 ? 0u : (t & ((1u << shift) - 1u));
            // Only the plane where the last set bit is reached needs the mask.
            const bool ends = below == 0 && ((t >> shift) & 1u);
            p.end[k][j] = ends ? kAll : 0;
            p.any_end[k] |= ends;
            if (k < 2 * kEagerPairs) {
                const uint64_t b = p.bit[k][j], e = p.end[k][j];
                p.bit4[k][j] = u64x4{b, b, b, b};
                p.end4[k][j] = u64x4{e, e, e, e};
                p.bit8[k][j] = u64x8{b, b, b, b, b, b, b, b};
                p.end8[k][j] = u64x8{e, e, e, e, e, e, e, e};
            }
        }
    }
    return p;
}

// One plane of the comparison for a group of words (V = uint64_t or a vector of
// them): lanes where r and t first differ are decided.
// NG: the number of groups when known at compile time (unrolled), 0 otherwise.
template <int NG, class V>
inline __attribute__((always_inline)) void apply_plane(const PlaneTables& p, int k,
                                                       const V* gm, V r, V& undecided,
                                                       V& flip) {
    const int n_groups = NG > 0 ? NG : p.n_groups;
    // The vector kernel only runs the eager planes, which have vector masks.
    const auto bit = [&](int j) -> V {
        if constexpr (std::is_same_v<V, u64x4>)
            return p.bit4[k][j];
        else if constexpr (std::is_same_v<V, u64x8>)
            return p.bit8[k][j];
        else
            return p.bit[k][j];
    };
    const auto end = [&](int j) -> V {
        if constexpr (std::is_same_v<V, u64x4>)
            return p.end4[k][j];
        else if constexpr (std::is_same_v<V, u64x8>)
            return p.end8[k][j];
        else
            return p.end[k][j];
    };
    V t = gm[0] & bit(0);
    for (int j = 1; j < n_groups; ++j) t |= gm[j] & bit(j);
    // r = 0, t = 1: r < t, flip; r = 1, t = 0: r > t, stay.
    flip |= undecided & ~r & t;
    undecided &= ~(r ^ t);
    if (p.any_end[k]) {
        V e = gm[0] & end(0);
        for (int j = 1; j < n_groups; ++j) e |= gm[j] & end(j);
        undecided &= ~e;
    }
}

// Thresholds of one sweep and the map class -> group.
struct SweepTables {
    AcceptanceGroups groups;
    PlaneTables planes;
    bool spin_dependent = false;  // thresholds differ between s = +1 and -1
    int n_classes = 0;            // (2d + 1), or 2 (2d + 1) if spin dependent
    // Classes of group j: members[j][0 .. n_members[j]); classes that always flip.
    int n_members[AcceptanceGroups::kMax];
    int members[AcceptanceGroups::kMax][kMaxClasses];
    int n_always = 0;
    int always[kMaxClasses];
};

// Metropolis flip probability with the byte engine's convention: 1/2 at dE = 0.
double flip_probability(double beta, double delta_e) {
    if (delta_e < 0.0) return 1.0;
    if (delta_e == 0.0) return 0.5;
    return std::exp(-beta * delta_e);
}

SweepTables make_sweep_tables(int dimension, double beta, double coupling,
                              double field) {
    const int z = 2 * dimension;
    uint64_t t[kMaxClasses];  // by 2 a + spin bit
    for (int a = 0; a <= z; ++a)
        for (int bit = 0; bit < 2; ++bit) {
            const double spin = bit ? 1.0 : -1.0;
            // s * (neighbour sum) = (z - a) - a.
            const double nn = spin * static_cast<double>(z - 2 * a);
            const double delta_e = 2.0 * spin * (coupling * nn + field);
            t[2 * a + bit] = probability_threshold(flip_probability(beta, delta_e));
        }
    SweepTables st;
    for (int a = 0; a <= z; ++a) st.spin_dependent |= t[2 * a] != t[2 * a + 1];
    st.n_classes = st.spin_dependent ? 2 * (z + 1) : z + 1;
    for (int c = 0; c < st.n_classes; ++c) {
        const uint64_t tc = st.spin_dependent ? t[c] : t[2 * c];
        if (tc == (uint64_t{1} << 32)) st.always[st.n_always++] = c;
        if (tc == 0 || tc == (uint64_t{1} << 32)) continue;
        int j = 0;
        while (j < st.groups.n && st.groups.threshold[j] != tc) ++j;
        if (j == st.groups.n) {
            st.groups.threshold[st.groups.n++] = static_cast<uint32_t>(tc);
            st.n_members[j] = 0;
        }
        st.members[j][st.n_members[j]++] = c;
    }
    st.planes = make_plane_tables(st.groups);
    return st;
}

// Lanes still undecided after 32 planes have r == t: not below, no flip.
uint64_t continue_word(const PlaneTables& p, const uint64_t* gm, uint64_t undecided,
                       uint64_t flip, int first_plane, const uint64_t* eager,
                       int n_eager, const StreamKey& stream, uint64_t n_words,
                       uint64_t w, int* planes_used) {
    uint64_t lazy[2] = {0, 0};
    int k = first_plane;
    for (; k < 32 && undecided; ++k) {
        uint64_t r;
        if (k < 2 * n_eager) {
            r = eager[k];
        } else {
            if ((k & 1) == 0) {
                uint32_t out[4];
                stream.block(static_cast<uint64_t>(k >> 1) * n_words + w, out);
                lazy[0] = out[0] | (static_cast<uint64_t>(out[1]) << 32);
                lazy[1] = out[2] | (static_cast<uint64_t>(out[3]) << 32);
            }
            r = lazy[k & 1];
        }
        apply_plane<0, uint64_t>(p, k, gm, r, undecided, flip);
    }
    if (planes_used) *planes_used = k;
    return flip;
}

struct RowJob {
    int64_t row;
    int half;                    // x parity of the words updated
    uint64_t lanes;              // bits updated in each of them
    int64_t begin = 0, end = 0;  // words [begin, end) of the half-row
};

// Thread-local scratch of one tile.
struct TileScratch {
    alignas(32) uint64_t ext[kTile + 8];  // the other half-row, with a word each side
    alignas(32) uint64_t gm[AcceptanceGroups::kMax][kTile];
    alignas(32) uint64_t undecided[kTile];
    bool any_undecided;
    alignas(32) uint64_t flip[kTile];
    alignas(32) uint32_t eager[kEagerPairs][4 * kTile];
    // The eager planes of the AVX-512 kernel, plane by plane: planes[k][i] is plane
    // k of word i (eager holds Philox blocks, planes 2q and 2q + 1 interleaved).
    alignas(64) uint64_t planes[2 * kEagerPairs][kTile];
    alignas(32) uint32_t random[4 * (kTile + 8)];
    // The later planes of the AVX-512 kernel: lazy[0][m] = plane 2q, lazy[1][m] =
    // plane 2q + 1 of pending word m.
    alignas(64) uint64_t lazy[2][kTile + 8];
    uint64_t index[kTile + 8];
    int64_t pending[kTile];
};

struct RowPointers {
    uint64_t* centre;
    const uint64_t* up;
    const uint64_t* down;
    const uint64_t* yl;
    const uint64_t* yr;
    bool rot_up, rot_down;
};

#define AI inline __attribute__((always_inline))
template <class V>
struct Lanes;
template <>
struct Lanes<uint64_t> {
    static constexpr int width = 1;
    AI static uint64_t load(const uint64_t* p) { return *p; }
    AI static void store(uint64_t* p, uint64_t v) { *p = v; }
    AI static uint64_t deinterleave_even(const uint64_t* p) { return p[0]; }
    AI static uint64_t deinterleave_odd(const uint64_t* p) { return p[1]; }
    AI static bool any(uint64_t v) { return v != 0; }
    AI static int64_t popcount(uint64_t v) { return __builtin_popcountll(v); }
};
// Loads, stores and lane reductions of a vector of N words.
template <class V, int N>
struct VectorLanes {
    static constexpr int width = N;
    AI static V load(const uint64_t* p) {
        V v;
        __builtin_memcpy(&v, p, sizeof v);
        return v;
    }
    AI static void store(uint64_t* p, V v) { __builtin_memcpy(p, &v, sizeof v); }
    AI static bool any(V v) {
        uint64_t o = 0;
        for (int l = 0; l < N; ++l) o |= v[l];
        return o != 0;
    }
    AI static int64_t popcount(V v) {
        int64_t n = 0;
        for (int l = 0; l < N; ++l) n += __builtin_popcountll(v[l]);
        return n;
    }
};
template <>
struct Lanes<u64x8> : VectorLanes<u64x8, 8> {};
template <>
struct Lanes<u64x4> : VectorLanes<u64x4, 4> {
    // Words p[0], p[2], p[4], p[6] (and p[1], p[3], ...): plane pairs of 4 blocks.
    AI static u64x4 deinterleave_even(const uint64_t* p) {
        return __builtin_shuffle(load(p), load(p + 4), u64x4{0, 2, 4, 6});
    }
    AI static u64x4 deinterleave_odd(const uint64_t* p) {
        return __builtin_shuffle(load(p), load(p + 4), u64x4{1, 3, 5, 7});
    }
};

template <class V>
inline __attribute__((always_inline)) V rotl1v(V v) {
    return (v << 1) | (v >> 63);
}
template <class V>
inline __attribute__((always_inline)) V rotr1v(V v) {
    return (v >> 1) | (v << 63);
}

// Words [i0, i0 + n) of a half-row; n a multiple of the vector width except for the
// scalar tail handled by the caller with V = uint64_t.
template <int Z, int NG, class V, bool Planes>
inline __attribute__((always_inline)) void tile_classes(const SweepTables& st,
                                                        const RowPointers& rp, int half,
                                                        uint64_t lanes, int64_t i0,
                                                        int64_t from, int64_t to,
                                                        TileScratch& sc) {
    using L = Lanes<V>;
    const int G = NG > 0 ? NG : st.groups.n;
    V open = V{} & 0;
    for (int64_t i = from; i < to; i += L::width) {
        const int64_t g = i0 + i;
        const V s = L::load(rp.centre + g);
        // ext[1 + i] is the other half's word i0 + i, ext[i] the one before it.
        V nb[Z];
        nb[0] = L::load(sc.ext + i + half);
        nb[1] = L::load(sc.ext + i + 1 + half);
        nb[2] = rp.rot_up ? rotl1v(L::load(rp.up + g)) : L::load(rp.up + g);
        nb[3] = rp.rot_down ? rotr1v(L::load(rp.down + g)) : L::load(rp.down + g);
        if constexpr (Z == 6) {
            nb[4] = L::load(rp.yl + g);
            nb[5] = L::load(rp.yr + g);
        }
        V d[Z];
        for (int k = 0; k < Z; ++k) d[k] = s ^ nb[k];
        // Bit-sliced count of anti-aligned neighbours, a = a0 + 2 a1 + 4 a2.
        V a0, a1, a2;
        const V s1 = d[0] ^ d[1] ^ d[2];
        const V c1 = (d[0] & d[1]) | (d[2] & (d[0] ^ d[1]));
        if constexpr (Z == 4) {
            a0 = s1 ^ d[3];
            const V c2 = s1 & d[3];
            a1 = c1 ^ c2;
            a2 = c1 & c2;
        } else {
            const V s2 = d[3] ^ d[4] ^ d[5];
            const V c2 = (d[3] & d[4]) | (d[5] & (d[3] ^ d[4]));
            a0 = s1 ^ s2;
            const V c3 = s1 & s2;
            a1 = c1 ^ c2 ^ c3;
            a2 = (c1 & c2) | (c3 & (c1 ^ c2));
        }
        const V n0 = ~a0;
        const V q0 = ~a1 & ~a2, q1 = a1 & ~a2, q2 = ~a1 & a2, q3 = a1 & a2;
        V v[Z + 1];
        v[0] = n0 & q0;
        v[1] = a0 & q0;
        v[2] = n0 & q1;
        v[3] = a0 & q1;
        v[4] = n0 & q2;
        if constexpr (Z == 6) {
            v[5] = a0 & q2;
            v[6] = n0 & q3;
        }
        V cls[2 * (Z + 1)];
        int nc = Z + 1;
        if (st.spin_dependent) {
            for (int a = 0; a <= Z; ++a) {
                cls[2 * a] = v[a] & ~s;
                cls[2 * a + 1] = v[a] & s;
            }
            nc = 2 * (Z + 1);
        } else {
            for (int a = 0; a <= Z; ++a) cls[a] = v[a];
        }
        (void)nc;
        V und = V{} & 0, always = V{} & 0;
        for (int c = 0; c < st.n_always; ++c) always |= cls[st.always[c]];
        V gm[AcceptanceGroups::kMax];
        for (int j = 0; j < G; ++j) {
            V m = cls[st.members[j][0]];
            for (int c = 1; c < st.n_members[j]; ++c) m |= cls[st.members[j][c]];
            gm[j] = m & lanes;
            und |= gm[j];
            L::store(sc.gm[j] + i, gm[j]);
        }
        // The eager planes, drawn for the whole tile beforehand.
        V flip = always & lanes;
        for (int q = 0; q < kEagerPairs; ++q) {
            if constexpr (Planes) {
                apply_plane<NG, V>(st.planes, 2 * q, gm, L::load(sc.planes[2 * q] + i),
                                   und, flip);
                apply_plane<NG, V>(st.planes, 2 * q + 1, gm,
                                   L::load(sc.planes[2 * q + 1] + i), und, flip);
            } else {
                const uint64_t* r64 = reinterpret_cast<const uint64_t*>(sc.eager[q]);
                apply_plane<NG, V>(st.planes, 2 * q, gm,
                                   L::deinterleave_even(r64 + 2 * i), und, flip);
                apply_plane<NG, V>(st.planes, 2 * q + 1, gm,
                                   L::deinterleave_odd(r64 + 2 * i), und, flip);
            }
        }
        L::store(sc.undecided + i, und);
        L::store(sc.flip + i, flip);
        open |= und;
    }
    sc.any_undecided |= L::any(open);
}

// Flips the decided lanes of words [from, to) of the tile; returns their number.
template <class V>
inline __attribute__((always_inline)) int64_t tile_apply(uint64_t* centre, int64_t from,
                                                         int64_t to,
                                                         const TileScratch& sc) {
    using L = Lanes<V>;
    int64_t flips = 0;
    for (int64_t i = from; i < to; i += L::width) {
        const V f = L::load(sc.flip + i);
        L::store(centre + i, L::load(centre + i) ^ f);
        flips += L::popcount(f);
    }
    return flips;
}

struct JobContext {
    const MscLayout& layout;
    uint64_t* words;
    const SweepTables& tables;
    StreamKey stream;
};

#if NEUROPHASE_AVX512_KERNELS
// The parts of Philox4x32-10 counters and keys shared by the blocks of one stream,
// one copy per 64-bit lane (in its low half).
struct PhiloxWide {
    __m512i c2, c3, tag;
    __m512i k0[Philox4x32::kRounds], k1[Philox4x32::kRounds];
};

NEUROPHASE_TARGET_AVX512 inline PhiloxWide make_philox_wide(const StreamKey& stream) {
    PhiloxWide w;
    w.c2 = _mm512_set1_epi64(static_cast<uint32_t>(stream.sweep));
    w.c3 = _mm512_set1_epi64(static_cast<uint32_t>(stream.sweep >> 32));
    w.tag = _mm512_set1_epi64(static_cast<int64_t>(stream.tag) << 16);
    uint32_t a = stream.key[0], b = stream.key[1];
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
        w.k0[r] = _mm512_set1_epi64(a);
        w.k1[r] = _mm512_set1_epi64(b);
        a += Philox4x32::kWeyl0;
        b += Philox4x32::kWeyl1;
    }
    return w;
}

// Blocks first .. first + 8 S - 1 (Indexed: blocks index[0 .. 8 S)), eight per
// register, one per 64-bit lane whose low half holds a counter word; S independent
// sets hide the latencies.
template <int S, bool Indexed>
NEUROPHASE_TARGET_AVX512 inline void philox_sets_avx512(const PhiloxWide& w,
                                                        uint64_t first,
                                                        const uint64_t* index_list,
                                                        uint64_t* even, uint64_t* odd) {
    constexpr int kXor3 = 0x96;
    const __m512i m0 = _mm512_set1_epi64(Philox4x32::kMul0);
    const __m512i m1 = _mm512_set1_epi64(Philox4x32::kMul1);
    const __m512i lane = _mm512_setr_epi64(0, 1, 2, 3, 4, 5, 6, 7);
    __m512i x0[S], x1[S], x2[S], x3[S];
    for (int i = 0; i < S; ++i) {
        __m512i index;
        if constexpr (Indexed)
            index = _mm512_loadu_si512(index_list + 8 * i);
        else
            index = _mm512_add_epi64(
                _mm512_set1_epi64(static_cast<int64_t>(first + 8 * i)), lane);
        x0[i] = index;  // the multiply reads the low 32 bits
        x1[i] = _mm512_or_si512(
            _mm512_and_si512(_mm512_srli_epi64(index, 32), _mm512_set1_epi64(0xFFFF)),
            w.tag);
        x2[i] = w.c2;
        x3[i] = w.c3;
    }
    // The high halves of the products move to the low halves by a dword shuffle
    // (port 5) rather than a shift (port 0, which the multiplies already keep busy);
    // what lands in the high halves is never read.
    for (int r = 0; r < Philox4x32::kRounds; ++r)
        for (int i = 0; i < S; ++i) {
            const __m512i p0 = _mm512_mul_epu32(x0[i], m0);
            const __m512i p1 = _mm512_mul_epu32(x2[i], m1);
            x0[i] = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(p1, _MM_PERM_CDAB),
                                              x1[i], w.k0[r], kXor3);
            x2[i] = _mm512_ternarylogic_epi64(_mm512_shuffle_epi32(p0, _MM_PERM_CDAB),
                                              x3[i], w.k1[r], kXor3);
            x1[i] = p1;
            x3[i] = p0;
        }
    for (int i = 0; i < S; ++i) {
        // Low halves: words 0 | 1 << 32 and 2 | 3 << 32 of each block.
        _mm512_storeu_si512(
            even + 8 * i,
            _mm512_mask_blend_epi32(0xAAAA, x0[i], _mm512_slli_epi64(x1[i], 32)));
        _mm512_storeu_si512(
            odd + 8 * i,
            _mm512_mask_blend_epi32(0xAAAA, x2[i], _mm512_slli_epi64(x3[i], 32)));
    }
}

// Philox4x32-10 blocks first .. first + n - 1 of `stream` (the numbers of
// StreamKey::block) as bit planes: even[i] = words 0, 1 of block first + i (plane
// 2q of its word when first = q n_words + word), odd[i] = words 2, 3.
NEUROPHASE_TARGET_AVX512 void philox_planes_avx512(const StreamKey& stream,
                                                   const PhiloxWide& w, uint64_t first,
                                                   int64_t n, uint64_t* even,
                                                   uint64_t* odd) {
    int64_t done = 0;
    for (; done + 32 <= n; done += 32)
        philox_sets_avx512<4, false>(w, first + static_cast<uint64_t>(done), nullptr,
                                     even + done, odd + done);
    for (; done + 8 <= n; done += 8)
        philox_sets_avx512<1, false>(w, first + static_cast<uint64_t>(done), nullptr,
                                     even + done, odd + done);
    for (; done < n; ++done) {
        uint32_t out[4];
        stream.block(first + static_cast<uint64_t>(done), out);
        even[done] = out[0] | (static_cast<uint64_t>(out[1]) << 32);
        odd[done] = out[2] | (static_cast<uint64_t>(out[3]) << 32);
    }
}

// philox_planes_avx512 for the scattered blocks index[0 .. n); index must hold
// n rounded up to a multiple of 8 entries (the padding is drawn and not used).
NEUROPHASE_TARGET_AVX512 void philox_list_avx512(const PhiloxWide& w,
                                                 const uint64_t* index, int64_t n,
                                                 uint64_t* even, uint64_t* odd) {
    int64_t done = 0;
    for (; done + 32 <= n; done += 32)
        philox_sets_avx512<4, true>(w, 0, index + done, even + done, odd + done);
    for (; done < n; done += 8)
        philox_sets_avx512<1, true>(w, 0, index + done, even + done, odd + done);
}
using WideKey = PhiloxWide;
#else
struct WideKey {};
#endif

// Kernels: portable (one word at a time), AVX2 (four) and AVX-512 (eight, with the
// eager planes drawn by its own Philox straight into plane order).
enum class Path { portable, avx2, avx512 };

template <int Z, int NG, Path P>
inline __attribute__((always_inline)) int64_t update_half_row_impl(const JobContext& c,
                                                                   const RowJob& job,
                                                                   TileScratch& sc) {
    using V = std::conditional_t<P == Path::avx512, u64x8,
                                 std::conditional_t<P == Path::avx2, u64x4, uint64_t>>;
    constexpr bool kPlanes = P == Path::avx512;
    constexpr int W = Lanes<V>::width;
    const MscLayout& g = c.layout;
    const int64_t nh = g.side_x / 2;
    const int64_t zp = job.row / g.side_y, y = job.row % g.side_y;
    uint64_t* w = c.words;
    const int64_t base = job.row * g.side_x;
    const uint64_t* other = w + base + (1 - job.half) * nh;
    const int64_t up_row = (zp == 0 ? g.slab - 1 : zp - 1) * g.side_y + y;
    const int64_t down_row = (zp == g.slab - 1 ? 0 : zp + 1) * g.side_y + y;
    RowPointers rp;
    rp.centre = w + base + job.half * nh;
    rp.up = w + up_row * g.side_x + job.half * nh;
    rp.down = w + down_row * g.side_x + job.half * nh;
    rp.rot_up = zp == 0;
    rp.rot_down = zp == g.slab - 1;
    rp.yl = rp.yr = nullptr;
    if constexpr (Z == 6) {
        const int64_t yl_row = zp * g.side_y + (y == 0 ? g.side_y - 1 : y - 1);
        const int64_t yr_row = zp * g.side_y + (y + 1 == g.side_y ? 0 : y + 1);
        rp.yl = w + yl_row * g.side_x + job.half * nh;
        rp.yr = w + yr_row * g.side_x + job.half * nh;
    }
    const PlaneTables& planes = c.tables.planes;
    const uint64_t n_words = static_cast<uint64_t>(g.n_words);
    const uint64_t first_word = static_cast<uint64_t>(base + job.half * nh);

    // The key schedule of the AVX-512 Philox, set up once for the half-row.
    [[maybe_unused]] std::conditional_t<kPlanes, WideKey, char> wide{};
#if NEUROPHASE_AVX512_KERNELS
    if constexpr (kPlanes) wide = make_philox_wide(c.stream);
#endif

    int64_t flips = 0;
    for (int64_t i0 = job.begin; i0 < job.end; i0 += kTile) {
        const int64_t n = std::min(kTile, job.end - i0);
        const int64_t n_vec = n - n % W;
        // The other half-row around the tile: its word x - 1 and x + 1 neighbours.
        sc.ext[0] = other[i0 == 0 ? nh - 1 : i0 - 1];
        std::memcpy(sc.ext + 1, other + i0, static_cast<std::size_t>(n) * 8);
        sc.ext[n + 1] = other[i0 + n == nh ? 0 : i0 + n];
        uint64_t firsts[kEagerPairs];
        uint32_t* outs[kEagerPairs];
        for (int q = 0; q < kEagerPairs; ++q) {
            firsts[q] = static_cast<uint64_t>(q) * n_words + first_word +
                        static_cast<uint64_t>(i0);
            outs[q] = sc.eager[q];
        }
        if constexpr (kPlanes) {
#if NEUROPHASE_AVX512_KERNELS
            for (int q = 0; q < kEagerPairs; ++q)
                philox_planes_avx512(c.stream, wide, firsts[q], n, sc.planes[2 * q],
                                     sc.planes[2 * q + 1]);
#endif
        } else {
            philox_fill_ranges(c.stream, firsts, kEagerPairs,
                               static_cast<std::size_t>(n), outs);
        }
        sc.any_undecided = false;
        tile_classes<Z, NG, V, kPlanes>(c.tables, rp, job.half, job.lanes, i0, 0, n_vec,
                                        sc);
        tile_classes<Z, NG, uint64_t, kPlanes>(c.tables, rp, job.half, job.lanes, i0,
                                               n_vec, n, sc);

        const bool open = sc.any_undecided;
        int q = kEagerPairs;
        // Words with undecided lanes continue pair by pair, drawn together.
        int64_t n_pending = 0;
        if (open)
            for (int64_t i = 0; i < n; ++i) {  // without branches: ~1 in 5 is kept
                sc.pending[n_pending] = i;
                n_pending += sc.undecided[i] != 0;
            }
        for (; q < 16 && n_pending > 0; ++q) {
            for (int64_t m = 0; m < n_pending; ++m)
                sc.index[m] = static_cast<uint64_t>(q) * n_words + first_word +
                              static_cast<uint64_t>(i0 + sc.pending[m]);
            if constexpr (kPlanes) {
#if NEUROPHASE_AVX512_KERNELS
                // Padded to whole sets of eight blocks (the vectorised width).
                for (int64_t m = n_pending; m % 8 != 0; ++m) sc.index[m] = sc.index[0];
                philox_list_avx512(wide, sc.index, n_pending, sc.lazy[0], sc.lazy[1]);
#endif
            } else {
                // Padded to whole sets of four blocks (the vectorised width).
                int64_t padded = n_pending;
                for (; padded % 4 != 0; ++padded) sc.index[padded] = sc.index[0];
                philox_blocks(c.stream, sc.index, static_cast<std::size_t>(padded),
                              sc.random);
            }
            int64_t still = 0;
            for (int64_t m = 0; m < n_pending; ++m) {
                const int64_t i = sc.pending[m];
                uint64_t gm[AcceptanceGroups::kMax];
                for (int j = 0; j < (NG > 0 ? NG : planes.n_groups); ++j)
                    gm[j] = sc.gm[j][i];
                uint64_t r0, r1;
                if constexpr (kPlanes) {
                    r0 = sc.lazy[0][m];
                    r1 = sc.lazy[1][m];
                } else {
                    const uint32_t* b = sc.random + 4 * m;
                    r0 = b[0] | (static_cast<uint64_t>(b[1]) << 32);
                    r1 = b[2] | (static_cast<uint64_t>(b[3]) << 32);
                }
                uint64_t und = sc.undecided[i], flip = sc.flip[i];
                apply_plane<NG, uint64_t>(planes, 2 * q, gm, r0, und, flip);
                apply_plane<NG, uint64_t>(planes, 2 * q + 1, gm, r1, und, flip);
                sc.undecided[i] = und;
                sc.flip[i] = flip;
                sc.pending[still] = i;
                still += und != 0;
            }
            n_pending = still;
        }
        // Lanes undecided after 32 planes have r == t: no flip.
        flips += tile_apply<V>(rp.centre + i0, 0, n_vec, sc) +
                 tile_apply<uint64_t>(rp.centre + i0, n_vec, n, sc);
    }
    return flips;
}

template <int Z, int NG>
int64_t update_half_row_portable(const JobContext& c, const RowJob& job,
                                 TileScratch& sc) {
    return update_half_row_impl<Z, NG, Path::portable>(c, job, sc);
}

#if NEUROPHASE_AVX2_KERNELS
template <int Z, int NG>
NEUROPHASE_TARGET_AVX2 int64_t update_half_row_avx2(const JobContext& c,
                                                    const RowJob& job,
                                                    TileScratch& sc) {
    return update_half_row_impl<Z, NG, Path::avx2>(c, job, sc);
}
#endif

#if NEUROPHASE_AVX512_KERNELS
template <int Z, int NG>
NEUROPHASE_TARGET_AVX512 int64_t update_half_row_avx512(const JobContext& c,
                                                        const RowJob& job,
                                                        TileScratch& sc) {
    return update_half_row_impl<Z, NG, Path::avx512>(c, job, sc);
}
#endif

template <int Z, int NG>
int64_t update_half_row_for(const JobContext& c, const RowJob& job, TileScratch& sc,
                            Path path) {
#if NEUROPHASE_AVX512_KERNELS
    if (path == Path::avx512) return update_half_row_avx512<Z, NG>(c, job, sc);
#endif
#if NEUROPHASE_AVX2_KERNELS
    if (path == Path::avx2) return update_half_row_avx2<Z, NG>(c, job, sc);
#endif
    (void)path;
    return update_half_row_portable<Z, NG>(c, job, sc);
}

// Kernels unrolled for up to 8 groups (every h = 0 case, and most with a field).
template <int Z>
int64_t update_half_row_z(const JobContext& c, const RowJob& job, TileScratch& sc,
                          Path path) {
    switch (c.tables.groups.n) {
        case 1:
            return update_half_row_for<Z, 1>(c, job, sc, path);
        case 2:
            return update_half_row_for<Z, 2>(c, job, sc, path);
        case 3:
            return update_half_row_for<Z, 3>(c, job, sc, path);
        case 4:
            return update_half_row_for<Z, 4>(c, job, sc, path);
        case 5:
            return update_half_row_for<Z, 5>(c, job, sc, path);
        case 6:
            return update_half_row_for<Z, 6>(c, job, sc, path);
        case 7:
            return update_half_row_for<Z, 7>(c, job, sc, path);
        case 8:
            return update_half_row_for<Z, 8>(c, job, sc, path);
        default:
            return update_half_row_for<Z, 0>(c, job, sc, path);
    }
}

int64_t update_half_row(const JobContext& c, const RowJob& job, TileScratch& sc,
                        Path path) {
    return c.layout.dimension == 3 ? update_half_row_z<6>(c, job, sc, path)
                                   : update_half_row_z<4>(c, job, sc, path);
}

bool has_avx512() {
#if NEUROPHASE_AVX512_KERNELS
    static const bool supported = [] {
        __builtin_cpu_init();
        return has_avx2() && __builtin_cpu_supports("avx512f");
    }();
    return supported;
#else
    return false;
#endif
}

// The widest kernel the CPU runs; NEUROPHASE_MSC_KERNEL=portable|avx2|avx512 asks
// for a narrower one (all give the same spins: the tests compare them).
Path msc_path() {
    static const Path path = [] {
        const Path best = has_avx512() ? Path::avx512
                          : has_avx2() ? Path::avx2
                                       : Path::portable;
        const char* want = std::getenv("NEUROPHASE_MSC_KERNEL");
        if (!want || !*want) return best;
        Path p;
        if (std::strcmp(want, "portable") == 0)
            p = Path::portable;
        else if (std::strcmp(want, "avx2") == 0)
            p = Path::avx2;
        else if (std::strcmp(want, "avx512") == 0)
            p = Path::avx512;
        else
            throw std::invalid_argument(
                std::string("NEUROPHASE_MSC_KERNEL must be portable, avx2 or avx512, "
                            "not '") +
                want + "'");
        return std::min(p, best);
    }();
    return path;
}

}  // namespace

const char* msc_kernel() {
    switch (msc_path()) {
        case Path::avx512:
            return "avx512";
        case Path::avx2:
            return "avx2";
        default:
            return "portable";
    }
}

namespace {

// The half-row jobs of colour `colour`, in a fixed order.
std::vector<RowJob> colour_jobs(const MscLayout& g, int colour) {
    std::vector<RowJob> jobs;
    const bool even_slab = g.slab % 2 == 0;
    for (int64_t row = 0; row < g.n_rows; ++row) {
        const int parity = static_cast<int>((row / g.side_y + row % g.side_y) & 1);
        if (even_slab) {
            // Word (z', y, x) has colour parity(z' + y + x) in all its bits.
            jobs.push_back({row, colour ^ parity, ~uint64_t{0}, 0, g.side_x / 2});
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
                jobs.push_back(
                    {row, half, odd_bits ? ~kEvenLanes : kEvenLanes, 0, g.side_x / 2});
            }
        }
    }
    return jobs;
}

// Words per unit of work handed to a thread: long enough that handing it out costs
// little (two atomic operations), short enough that the threads end a half-sweep
// close together.
constexpr int64_t kUnitWords = 512;

// The jobs of one colour cut into pieces of at most about kUnitWords words, and the
// pieces grouped into units of at least about kUnitWords words: unit u is pieces
// [unit_first[u], unit_first[u + 1]).
struct ColourWork {
    std::vector<RowJob> pieces;
    std::vector<int64_t> unit_first;
    int64_t n_units() const { return static_cast<int64_t>(unit_first.size()) - 1; }
};

ColourWork colour_work(const MscLayout& g, int colour) {
    ColourWork cw;
    const int64_t nh = g.side_x / 2;
    const int64_t n_cuts = (nh + kUnitWords - 1) / kUnitWords;
    // Cut at multiples of 4 words (the vector width).
    const auto cut = [&](int64_t p) {
        return p == n_cuts ? nh : (nh * p / n_cuts) & ~3;
    };
    for (const RowJob& job : colour_jobs(g, colour))
        for (int64_t p = 0; p < n_cuts; ++p) {
            RowJob piece = job;
            piece.begin = cut(p);
            piece.end = cut(p + 1);
            if (piece.end > piece.begin) cw.pieces.push_back(piece);
        }
    cw.unit_first.push_back(0);
    int64_t words = 0;
    for (std::size_t i = 0; i < cw.pieces.size(); ++i) {
        words += cw.pieces[i].end - cw.pieces[i].begin;
        if (words >= kUnitWords || i + 1 == cw.pieces.size()) {
            cw.unit_first.push_back(static_cast<int64_t>(i + 1));
            words = 0;
        }
    }
    return cw;
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
    const PlaneTables p = make_plane_tables(groups);
    uint64_t undecided = 0;
    for (int j = 0; j < groups.n; ++j) undecided |= group_mask[j];
    return continue_word(p, group_mask, undecided, always, 0, eager, n_eager, stream,
                         n_words, w, planes_used);
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

namespace {

void unpack_row(const MscLayout& g, const uint64_t* words, int64_t row, int8_t* spins) {
    const int64_t zp = row / g.side_y, y = row % g.side_y;
    for (int64_t x = 0; x < g.side_x; ++x) {
        const uint64_t v = words[g.word(row, x)];
        for (int b = 0; b < 64; ++b)
            spins[site_index(g, zp + b * g.slab, y, x)] =
                ((v >> b) & 1u) ? int8_t{1} : int8_t{-1};
    }
}

}  // namespace

void msc_unpack(const MscLayout& g, const uint64_t* words, int8_t* spins, int threads) {
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static)
    for (int64_t row = 0; row < g.n_rows; ++row) unpack_row(g, words, row, spins);
}

void msc_hot_start(const MscLayout& g, uint64_t* words, uint64_t seed, int threads) {
    const StreamKey stream(seed, Purpose::hot_start, 0, 0);
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel num_threads(nt)
    {
        // The words of the lattice line at (z, y) from one vectorised draw.
        std::vector<uint32_t> line(static_cast<std::size_t>(g.side_x + 8));
#pragma omp for schedule(static)
        for (int64_t row = 0; row < g.n_rows; ++row) {
            const int64_t zp = row / g.side_y, y = row % g.side_y;
            uint64_t* out = words + row * g.side_x;
            std::fill(out, out + g.side_x, 0);
            for (int b = 0; b < 64; ++b) {
                const uint64_t first =
                    static_cast<uint64_t>(site_index(g, zp + b * g.slab, y, 0));
                const uint64_t block = first >> 2;
                const uint64_t n_blocks = ((first + g.side_x - 1) >> 2) - block + 1;
                philox_fill(stream, block, static_cast<std::size_t>(n_blocks),
                            line.data());
                const uint32_t* r = line.data() + (first - 4 * block);
                for (int64_t x = 0; x < g.side_x; ++x)
                    out[g.word(0, x)] |= static_cast<uint64_t>(r[x] >> 31) << b;
            }
        }
    }
}

namespace {

// Sums of one row of words: up spins, anti-aligned bonds in the positive direction
// of every axis, and the staggered sum.
struct RowSums {
    int64_t up = 0, anti = 0, staggered = 0;
};

inline __attribute__((always_inline)) void measure_row_impl(const MscLayout& g,
                                                            const uint64_t* words,
                                                            int64_t row, RowSums& out) {
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

void measure_row_portable(const MscLayout& g, const uint64_t* words, int64_t row,
                          RowSums& out) {
    measure_row_impl(g, words, row, out);
}

#if NEUROPHASE_AVX2_KERNELS
// With the popcnt instruction (without it a popcount is a call into libgcc).
NEUROPHASE_TARGET_AVX2 void measure_row_popcnt(const MscLayout& g,
                                               const uint64_t* words, int64_t row,
                                               RowSums& out) {
    measure_row_impl(g, words, row, out);
}
#endif

void measure_row(const MscLayout& g, const uint64_t* words, int64_t row, RowSums& out,
                 Path path) {
#if NEUROPHASE_AVX2_KERNELS
    if (path != Path::portable) return measure_row_popcnt(g, words, row, out);
#endif
    (void)path;
    measure_row_portable(g, words, row, out);
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
    const Path path = msc_path();
    int64_t up = 0, anti = 0, staggered = 0;
    [[maybe_unused]] const int nt = std::max(1, threads);
#pragma omp parallel for num_threads(nt) schedule(static) \
    reduction(+ : up, anti, staggered)
    for (int64_t row = 0; row < g.n_rows; ++row) {
        RowSums s;
        measure_row(g, words, row, s, path);
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
    const ColourWork work[2] = {colour_work(g, 0), colour_work(g, 1)};
    const bool want = spec.magnetisation || spec.energy || spec.staggered;
    const bool recording = want || spec.n_snapshots > 0;
    const double n = static_cast<double>(g.n_sites);
    const Path path = msc_path();
    int64_t flips = 0;
    int64_t next_snapshot = 0;

    // A sweep is two or three phases of units of work, each started only when the
    // one before is done: colour 0, colour 1, and (when recording) sums and
    // snapshot over rows, in units of whole rows.
    const int64_t n_update = work[0].n_units();
    const int64_t rows_per_unit = std::max<int64_t>(1, kUnitWords / g.side_x);
    const int64_t n_record = (g.n_rows + rows_per_unit - 1) / rows_per_unit;

    // Sweeps [t_begin, t_end) with a team of `team` threads.
    const auto run_batch = [&](int64_t t_begin, int64_t t_end, int team) {
        const int64_t n_batch = t_end - t_begin;
        // Integer sums per sweep: the order in which units add them changes nothing.
        const std::size_t n_sums =
            recording ? static_cast<std::size_t>(3 * n_batch) : 0;
        std::unique_ptr<std::atomic<int64_t>[]> sums(new std::atomic<int64_t>[n_sums]);
        for (std::size_t k = 0; k < n_sums; ++k) sums[k].store(0);
        std::vector<int64_t> snapshot(static_cast<std::size_t>(n_batch), -1);
        for (int64_t s = 0; s < n_batch; ++s)
            if (next_snapshot < spec.n_snapshots &&
                spec.snapshot_sweeps[next_snapshot] == t_begin + s)
                snapshot[static_cast<std::size_t>(s)] = next_snapshot++;

        std::vector<int64_t> per_phase = {n_update, n_update};
        if (recording) per_phase.push_back(n_record);
        PhasedWork work_units(n_batch, per_phase, team);
#pragma omp parallel num_threads(team) reduction(+ : flips)
        {
            const int me = thread_index();
            std::vector<TileScratch> scratch(1);  // on the heap: ~80 KiB
            // Rebuilt only when the temperature or the field changes (~30 KiB).
            SweepTables tables;
            double tables_temperature = std::nan(""), tables_field = std::nan("");
            for (int64_t ph = 0; ph < work_units.n_phases(); ++ph) {
                const int64_t s = work_units.sweep_of(ph);
                const int64_t t = t_begin + s;
                const int phase = work_units.kind_of(ph);
                for (int64_t i; (i = work_units.claim(ph, me)) >= 0;) {
                    work_units.wait_for(ph);
                    if (phase < 2) {
                        if (!(spec.temperature[t] == tables_temperature &&
                              spec.field_uniform[t] == tables_field)) {
                            tables = make_sweep_tables(
                                g.dimension, 1.0 / spec.temperature[t], spec.coupling,
                                spec.field_uniform[t]);
                            tables_temperature = spec.temperature[t];
                            tables_field = spec.field_uniform[t];
                        }
                        const uint64_t sweep =
                            spec.first_sweep + static_cast<uint64_t>(t);
                        const JobContext ctx{
                            g, words, tables,
                            StreamKey(spec.seed, Purpose::msc_update,
                                      static_cast<uint32_t>(phase), sweep)};
                        const ColourWork& cw = work[phase];
                        for (int64_t p = cw.unit_first[static_cast<std::size_t>(i)];
                             p < cw.unit_first[static_cast<std::size_t>(i) + 1]; ++p)
                            flips += update_half_row(
                                ctx, cw.pieces[static_cast<std::size_t>(p)], scratch[0],
                                path);
                    } else {
                        const int64_t row_end =
                            std::min(g.n_rows, (i + 1) * rows_per_unit);
                        const int64_t shot = snapshot[static_cast<std::size_t>(s)];
                        RowSums mine;
                        for (int64_t row = i * rows_per_unit; row < row_end; ++row) {
                            if (want) measure_row(g, words, row, mine, path);
                            if (shot >= 0)
                                unpack_row(g, words, row,
                                           spec.snapshot_out + shot * g.n_sites);
                        }
                        if (want) {
                            sums[3 * s].fetch_add(mine.up, std::memory_order_relaxed);
                            sums[3 * s + 1].fetch_add(mine.anti,
                                                      std::memory_order_relaxed);
                            sums[3 * s + 2].fetch_add(mine.staggered,
                                                      std::memory_order_relaxed);
                        }
                    }
                    work_units.finish();
                }
            }
        }

        if (want)
            for (int64_t s = 0; s < n_batch; ++s) {
                const int64_t t = t_begin + s;
                const Measurement m = to_measurement(
                    g, RowSums{sums[3 * s].load(), sums[3 * s + 1].load(),
                               sums[3 * s + 2].load()});
                if (spec.magnetisation) spec.magnetisation[t] = m.magnetisation_sum / n;
                if (spec.staggered) spec.staggered[t] = m.staggered_sum / n;
                if (spec.energy)
                    spec.energy[t] = (-spec.coupling * m.bond_sum -
                                      spec.field_uniform[t] * m.magnetisation_sum) /
                                     n;
            }
    };

    stats.team_sweeps = run_team_or_single(spec.n_sweeps, nt, run_batch);
    stats.flips = flips;
    stats.attempts = g.n_sites * spec.n_sweeps;
    return stats;
}

}  // namespace neurophase
