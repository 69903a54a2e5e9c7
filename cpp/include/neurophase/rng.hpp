// Counter-based random numbers: Philox4x32-10 (Salmon et al., SC'11).
//
// Every random number used by the engine is a pure function of
// (seed, purpose, sweep, site-like counter), never of the thread that draws it,
// so a run gives bitwise the same spins for any thread count.
#pragma once

#include <cstddef>
#include <cstdint>

namespace neurophase {

struct Philox4x32 {
    static constexpr uint32_t kMul0 = 0xD2511F53u;
    static constexpr uint32_t kMul1 = 0xCD9E8D57u;
    static constexpr uint32_t kWeyl0 = 0x9E3779B9u;
    static constexpr uint32_t kWeyl1 = 0xBB67AE85u;
    static constexpr int kRounds = 10;
};

// One Philox4x32-10 block: 4 output words from a 128-bit counter and a 64-bit key.
inline void philox4x32(const uint32_t ctr[4], const uint32_t key[2], uint32_t out[4]) {
    uint32_t c0 = ctr[0], c1 = ctr[1], c2 = ctr[2], c3 = ctr[3];
    uint32_t k0 = key[0], k1 = key[1];
    for (int round = 0; round < Philox4x32::kRounds; ++round) {
        const uint64_t p0 = static_cast<uint64_t>(Philox4x32::kMul0) * c0;
        const uint64_t p1 = static_cast<uint64_t>(Philox4x32::kMul1) * c2;
        const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ k0;
        const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3 ^ k1;
        c1 = static_cast<uint32_t>(p1);
        c3 = static_cast<uint32_t>(p0);
        c0 = n0;
        c2 = n2;
        k0 += Philox4x32::kWeyl0;
        k1 += Philox4x32::kWeyl1;
    }
    out[0] = c0;
    out[1] = c1;
    out[2] = c2;
    out[3] = c3;
}

// What a stream of random numbers is used for; part of the counter so that
// different uses of the same (seed, sweep, site) never share numbers.
enum class Purpose : uint32_t {
    local_update = 1,
    cluster_seed = 2,
    bond = 3,
    cluster_flip = 4,
    hot_start = 5,
    // Bit planes of the multi-spin-coded Metropolis update (substream: colour).
    msc_update = 6,
};

// Counter layout (4 x 32 bits):
//   word 0: block index, low 32 bits
//   word 1: block index bits 32..47 | tag (16 bits) << 16
//   word 2: sweep, low 32 bits
//   word 3: sweep, high 32 bits
// The tag holds the purpose (4 bits) and a purpose-specific sub-stream (12 bits).
struct StreamKey {
    uint32_t key[2];
    uint32_t tag;
    uint64_t sweep;

    StreamKey(uint64_t seed, Purpose purpose, uint32_t substream, uint64_t sweep_index)
        : key{static_cast<uint32_t>(seed), static_cast<uint32_t>(seed >> 32)},
          tag((static_cast<uint32_t>(purpose) & 0xFu) | ((substream & 0xFFFu) << 4)),
          sweep(sweep_index) {}

    void block(uint64_t index, uint32_t out[4]) const {
        const uint32_t ctr[4] = {
            static_cast<uint32_t>(index),
            static_cast<uint32_t>((index >> 32) & 0xFFFFu) | (tag << 16),
            static_cast<uint32_t>(sweep), static_cast<uint32_t>(sweep >> 32)};
        philox4x32(ctr, key, out);
    }

    // The 32-bit number of element `index` of this stream (4 per block).
    uint32_t at(uint64_t index) const {
        uint32_t out[4];
        block(index >> 2, out);
        return out[index & 3u];
    }
};

// What the vectorised generators broadcast for the blocks of one 2^32-block segment
// of a stream, whose counters differ only in word 0: the round keys, and the
// counter words all its blocks share after rounds 0 to 2 (w0_r, w1_r, w3_r the
// shared words after round r).
struct PhiloxSegmentWords {
    uint32_t k0[Philox4x32::kRounds], k1[Philox4x32::kRounds];
    uint32_t c3k1_r0;  // counter word 3 ^ k1[0]
    uint32_t c1k0_r1;  // w1_0 ^ k0[1]
    uint32_t hk1_r1;   // hi(M0 * w0_0) ^ k1[1]
    uint32_t x3k1_r2;  // w3_1 ^ k1[2]
};

inline PhiloxSegmentWords philox_segment_words(const StreamKey& stream,
                                               uint64_t block) {
    PhiloxSegmentWords w;
    uint32_t k0 = stream.key[0], k1 = stream.key[1];
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
        w.k0[r] = k0;
        w.k1[r] = k1;
        k0 += Philox4x32::kWeyl0;
        k1 += Philox4x32::kWeyl1;
    }
    const uint32_t c1 =
        static_cast<uint32_t>((block >> 32) & 0xFFFFu) | (stream.tag << 16);
    const uint32_t c2 = static_cast<uint32_t>(stream.sweep);
    const uint32_t c3 = static_cast<uint32_t>(stream.sweep >> 32);
    const uint64_t p1 = static_cast<uint64_t>(Philox4x32::kMul1) * c2;
    const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1 ^ w.k0[0];
    const uint64_t p0 = static_cast<uint64_t>(Philox4x32::kMul0) * n0;
    w.c3k1_r0 = c3 ^ w.k1[0];
    w.c1k0_r1 = static_cast<uint32_t>(p1) ^ w.k0[1];
    w.hk1_r1 = static_cast<uint32_t>(p0 >> 32) ^ w.k1[1];
    w.x3k1_r2 = static_cast<uint32_t>(p0) ^ w.k1[2];
    return w;
}

// Writes the words of blocks [first_block, first_block + n_blocks) of a stream to
// out[0 .. 4*n_blocks). Vectorised over blocks; dispatched at run time to AVX2
// where the CPU has it.
void philox_fill(const StreamKey& stream, uint64_t first_block, std::size_t n_blocks,
                 uint32_t* out);

// philox_fill for n_ranges ranges of n_blocks blocks each, starting at first[r] and
// written to out[r]; one set-up of the key schedule serves all of them.
void philox_fill_ranges(const StreamKey& stream, const uint64_t* first, int n_ranges,
                        std::size_t n_blocks, uint32_t* const* out);

// Writes block index[i] of a stream to out[4 i .. 4 i + 4) for i < n: scattered
// blocks, vectorised over eight at a time.
void philox_blocks(const StreamKey& stream, const uint64_t* index, std::size_t n,
                   uint32_t* out);

// Probability p in [0, 1] as a 33-bit threshold t = floor(p * 2^32): a uniform
// 32-bit word r is accepted when r < t, which happens with probability t / 2^32.
inline uint64_t probability_threshold(double p) {
    if (!(p > 0.0)) return 0;  // also maps NaN to "never"
    if (p >= 1.0) return uint64_t{1} << 32;
    return static_cast<uint64_t>(p * 4294967296.0);
}

// Small fast generator for inherently sequential algorithms (Wolff); seeded per
// sweep from Philox so the sweep, not the thread or the history, fixes its output.
class Xoshiro256 {
  public:
    explicit Xoshiro256(const StreamKey& stream) {
        uint32_t w[8];
        stream.block(0, w);
        stream.block(1, w + 4);
        for (int i = 0; i < 4; ++i)
            s_[i] = (static_cast<uint64_t>(w[2 * i]) << 32) | w[2 * i + 1];
        if ((s_[0] | s_[1] | s_[2] | s_[3]) == 0) s_[0] = 1;  // the one bad state
    }
    uint64_t next() {
        const uint64_t result = rotl(s_[1] * 5, 7) * 9;
        const uint64_t t = s_[1] << 17;
        s_[2] ^= s_[0];
        s_[3] ^= s_[1];
        s_[1] ^= s_[2];
        s_[0] ^= s_[3];
        s_[2] ^= t;
        s_[3] = rotl(s_[3], 45);
        return result;
    }
    // Upper 32 bits: the best bits of xoshiro256**.
    uint32_t next32() { return static_cast<uint32_t>(next() >> 32); }

  private:
    static uint64_t rotl(uint64_t x, int k) { return (x << k) | (x >> (64 - k)); }
    uint64_t s_[4];
};

}  // namespace neurophase
