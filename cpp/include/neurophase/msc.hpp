// Multi-spin-coded Metropolis: one bit per spin, 64 spins per 64-bit word, updated
// with bitwise arithmetic.
//
// Layout. A periodic lattice of shape (L0, Lx) or (L0, Ly, Lx) with L0 a multiple of
// 64 is cut along axis 0 into 64 slabs of H = L0 / 64 planes; bit b of a word holds
// the slab b, so word (z', y, x) holds the sites (z' + b H, y, x), b = 0 .. 63. The
// neighbours along y and x of every bit then sit in the same bit of the neighbouring
// words, and along axis 0 too, except across a slab edge (z' = 0 or H - 1), where
// the neighbour word is rotated by one bit. Each row of Lx words (fixed z', y) is
// stored as its Lx / 2 even-x words followed by its Lx / 2 odd-x words, so that the
// words of one checkerboard colour are contiguous.
//
// Colours. With H even, all 64 sites of a word have the same colour (parity of
// z' + y + x), and a half-sweep updates every other word. With H odd the colour
// alternates from bit to bit and a half-sweep updates half the bits of every word
// (twice the work per spin, and one thread, see effective_msc_threads).
//
// Acceptance. A move is accepted when a uniform 32-bit number r is below the
// threshold t = floor(p 2^32) of its class (spin and number of anti-aligned
// neighbours), exactly as in the byte engine. The 64 numbers of a word are held as
// 32 "bit planes": plane k is a 64-bit random word whose bit b is bit 31 - k of
// lane b's number. Comparing from plane 0 on decides most lanes after a few planes
// (a lane is decided at the first bit where r and t differ), so planes are drawn
// only while some lane of the word is undecided; the result equals a comparison of
// full 32-bit numbers. Plane pair q (planes 2q, 2q + 1) of word w is Philox block
// q * n_words + w of the stream (seed, msc_update, colour, sweep), so every plane
// is a pure function of its place and the thread count changes nothing.
//
// Work. Half-rows are cut into tiles of 128 words. For a tile, the first 8 planes
// of every word are drawn in bulk (vectorised Philox), the class of every lane is
// computed with bit-sliced adders and the 8 planes applied, four words per AVX2
// register; the few words with lanes still undecided then draw further plane pairs
// together (Philox on gathered counters) until every lane is decided. A lane whose
// threshold has no set bit below the current plane is decided there (r >= t), so
// the acceptance 1/2 of dE = 0 costs one plane.
#pragma once

#include <cstdint>
#include <vector>

#include "neurophase/engine.hpp"
#include "neurophase/rng.hpp"

namespace neurophase {

struct MscLayout {
    int dimension = 2;   // 2 or 3
    int64_t side0 = 0;   // L0, a multiple of 64
    int64_t side_y = 1;  // Ly (3D), 1 in 2D
    int64_t side_x = 0;  // Lx, even
    int64_t slab = 0;    // H = L0 / 64
    int64_t n_rows = 0;  // H * Ly
    int64_t n_words = 0;
    int64_t n_sites = 0;

    // Throws std::invalid_argument when the shape is not supported.
    static MscLayout from_shape(const std::vector<int64_t>& shape);

    // Word index of (row, x): even x in the first half of the row, odd x in the second.
    int64_t word(int64_t row, int64_t x) const {
        return row * side_x + (x & 1) * (side_x / 2) + (x >> 1);
    }
};

// Threads a run uses: one when the lattice is small (under 64k spins per thread) or
// H is odd.
// Limitation: with H odd (L0 = 64, 192, ...) words on both sides of the slab edge
// are written in the same half-sweep (different bits of the same words), so those
// lattices run on one thread, and at half the speed per spin.
int effective_msc_threads(const MscLayout& layout, int requested);

// The kernel run_msc uses: "avx512" (8 words per instruction), "avx2" (4) or
// "portable" (1); the widest this CPU runs unless NEUROPHASE_MSC_KERNEL names a
// narrower one. All give the same spins.
const char* msc_kernel();

// int8 spins in row-major order <-> packed words.
void msc_pack(const MscLayout& layout, const int8_t* spins, uint64_t* words,
              int threads);
void msc_unpack(const MscLayout& layout, const uint64_t* words, int8_t* spins,
                int threads);

// Hot start with the same spins as hot_start() on the byte lattice.
void msc_hot_start(const MscLayout& layout, uint64_t* words, uint64_t seed,
                   int threads);

// Sum of spins and sum over bonds of s_i s_j.
Measurement msc_measure(const MscLayout& layout, const uint64_t* words, int threads);

// Runs spec.n_sweeps Metropolis sweeps in place (uniform field only: spec.field_site
// must be nullptr). Records and snapshots as in run_sweeps (snapshots as int8).
RunStats run_msc(const MscLayout& layout, uint64_t* words, const RunSpec& spec);

// Lanes whose threshold differs only by value share a group; the acceptance of a
// word is decided group by group from the bit planes.
struct AcceptanceGroups {
    static constexpr int kMax = 14;  // 2 spins x (2d + 1) anti-aligned counts, d <= 3
    int n = 0;
    uint32_t threshold[kMax];  // 0 < t < 2^32
};

// Bit-serial decision of one word: lanes in `always` flip; lanes in group_mask[j]
// flip when their 32-bit number is below groups.threshold[j]; other lanes stay.
// Planes 0 .. 2 * n_eager - 1 are taken from eager[k] (already drawn), later ones
// drawn from Philox block q * n_words + w of `stream` only when needed.
uint64_t msc_decide(const AcceptanceGroups& groups, const uint64_t* group_mask,
                    uint64_t always, const uint64_t* eager, int n_eager,
                    const StreamKey& stream, uint64_t n_words, uint64_t w,
                    int* planes_used);

}  // namespace neurophase
