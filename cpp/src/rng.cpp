#include "neurophase/rng.hpp"

#include <algorithm>

#include "neurophase/dispatch.hpp"

#if NEUROPHASE_AVX2_KERNELS
#include <immintrin.h>
#endif

namespace neurophase {

namespace {

// Eight Philox blocks side by side, one per lane, so that the compiler turns each
// round into a few wide multiplies (vpmuludq) instead of eight scalar ones.
constexpr int kLanes = 8;

// Blocks index_of(0), ..., index_of(n - 1) of the stream into out (4 words each).
// Inlined into each target clone below, so that every clone vectorises it for its
// own instruction set.
template <class IndexOf>
__attribute__((always_inline)) inline void philox_lanes(const StreamKey& stream,
                                                        IndexOf index_of, std::size_t n,
                                                        uint32_t* out) {
    const uint32_t tag = stream.tag << 16;
    const uint32_t sweep_lo = static_cast<uint32_t>(stream.sweep);
    const uint32_t sweep_hi = static_cast<uint32_t>(stream.sweep >> 32);
    std::size_t done = 0;
    for (; done + kLanes <= n; done += kLanes) {
        uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
        for (int l = 0; l < kLanes; ++l) {
            const uint64_t index = index_of(done + l);
            c0[l] = static_cast<uint32_t>(index);
            c1[l] = static_cast<uint32_t>((index >> 32) & 0xFFFFu) | tag;
            c2[l] = sweep_lo;
            c3[l] = sweep_hi;
        }
        uint32_t k0 = stream.key[0], k1 = stream.key[1];
        for (int round = 0; round < Philox4x32::kRounds; ++round) {
            for (int l = 0; l < kLanes; ++l) {
                const uint64_t p0 = static_cast<uint64_t>(Philox4x32::kMul0) * c0[l];
                const uint64_t p1 = static_cast<uint64_t>(Philox4x32::kMul1) * c2[l];
                const uint32_t n0 = static_cast<uint32_t>(p1 >> 32) ^ c1[l] ^ k0;
                const uint32_t n2 = static_cast<uint32_t>(p0 >> 32) ^ c3[l] ^ k1;
                c1[l] = static_cast<uint32_t>(p1);
                c3[l] = static_cast<uint32_t>(p0);
                c0[l] = n0;
                c2[l] = n2;
            }
            k0 += Philox4x32::kWeyl0;
            k1 += Philox4x32::kWeyl1;
        }
        uint32_t* dst = out + 4 * done;
        for (int l = 0; l < kLanes; ++l) {
            dst[4 * l + 0] = c0[l];
            dst[4 * l + 1] = c1[l];
            dst[4 * l + 2] = c2[l];
            dst[4 * l + 3] = c3[l];
        }
    }
    for (; done < n; ++done) stream.block(index_of(done), out + 4 * done);
}

NEUROPHASE_CLONES
void philox_fill_portable(const StreamKey& stream, uint64_t first_block,
                          std::size_t n_blocks, uint32_t* out) {
    philox_lanes(
        stream, [first_block](std::size_t i) { return first_block + i; }, n_blocks,
        out);
}

NEUROPHASE_CLONES
void philox_blocks_portable(const StreamKey& stream, const uint64_t* index,
                            std::size_t n, uint32_t* out) {
    philox_lanes(stream, [index](std::size_t i) { return index[i]; }, n, out);
}

#if NEUROPHASE_AVX2_KERNELS

// Blocks whose counters differ only in word 0 (the same 2^32-block segment of the
// stream): words 1..3 of the counter are then shared, so the first two rounds are
// mostly scalar constants, computed once per call.
//
// Each 64-bit lane carries one block's 32-bit word in its low half: vpmuludq reads
// only the low halves, so the high halves may hold leftovers and no shuffles are
// needed between rounds. Four blocks per register, kSets registers in flight to
// cover the multiply latency.
struct PhiloxSegment {
    // Shared words after round r are w0_r, w1_r, w3_r; keys are k0[r], k1[r].
    __m256i c3k1_r0;  // counter word 3 ^ k1[0]
    __m256i c1k0_r1;  // w1_0 ^ k0[1]
    __m256i hk1_r1;   // hi(M0 * w0_0) ^ k1[1]
    __m256i x3k1_r2;  // w3_1 ^ k1[2]
    __m256i k0[Philox4x32::kRounds], k1[Philox4x32::kRounds];
};

NEUROPHASE_TARGET_AVX2
PhiloxSegment make_segment(const StreamKey& stream, uint64_t first_block) {
    const PhiloxSegmentWords w = philox_segment_words(stream, first_block);
    PhiloxSegment seg;
    for (int r = 0; r < Philox4x32::kRounds; ++r) {
        seg.k0[r] = _mm256_set1_epi64x(w.k0[r]);
        seg.k1[r] = _mm256_set1_epi64x(w.k1[r]);
    }
    seg.c3k1_r0 = _mm256_set1_epi64x(w.c3k1_r0);
    seg.c1k0_r1 = _mm256_set1_epi64x(w.c1k0_r1);
    seg.hk1_r1 = _mm256_set1_epi64x(w.hk1_r1);
    seg.x3k1_r2 = _mm256_set1_epi64x(w.x3k1_r2);
    return seg;
}

// Blocks first, first + 1, ... first + 4 * kSets - 1 of one segment.
// With `index`, the blocks index[0 .. 4 * kSets) instead (all in the segment).
template <int kSets>
NEUROPHASE_TARGET_AVX2 inline void philox_sets(const PhiloxSegment& seg, uint64_t first,
                                               uint32_t* out,
                                               const uint64_t* index = nullptr) {
    const __m256i m0 = _mm256_set1_epi64x(Philox4x32::kMul0);
    const __m256i m1 = _mm256_set1_epi64x(Philox4x32::kMul1);
    __m256i x0[kSets], x1[kSets], x2[kSets], x3[kSets];
    const __m256i base =
        _mm256_add_epi64(_mm256_set1_epi64x(static_cast<int64_t>(first)),
                         _mm256_setr_epi64x(0, 1, 2, 3));
    for (int i = 0; i < kSets; ++i) {
        // Round 0: only word 0 of the counter differs between blocks.
        const __m256i c0 =
            index ? _mm256_loadu_si256(reinterpret_cast<const __m256i*>(index + 4 * i))
                  : _mm256_add_epi64(base, _mm256_set1_epi64x(4 * i));
        const __m256i p0 = _mm256_mul_epu32(c0, m0);
        x2[i] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32), seg.c3k1_r0);
        x3[i] = p0;
        // Round 1: words 0 and 1 are still shared.
        const __m256i p1 = _mm256_mul_epu32(x2[i], m1);
        x0[i] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32), seg.c1k0_r1);
        x2[i] = _mm256_xor_si256(x3[i], seg.hk1_r1);
        x1[i] = p1;
        // Round 2: word 3 is shared.
        const __m256i q0 = _mm256_mul_epu32(x0[i], m0);
        const __m256i q1 = _mm256_mul_epu32(x2[i], m1);
        const __m256i n0 = _mm256_xor_si256(_mm256_srli_epi64(q1, 32),
                                            _mm256_xor_si256(x1[i], seg.k0[2]));
        x2[i] = _mm256_xor_si256(_mm256_srli_epi64(q0, 32), seg.x3k1_r2);
        x0[i] = n0;
        x1[i] = q1;
        x3[i] = q0;
    }
    for (int r = 3; r < Philox4x32::kRounds; ++r) {
        for (int i = 0; i < kSets; ++i) {
            const __m256i p0 = _mm256_mul_epu32(x0[i], m0);
            const __m256i p1 = _mm256_mul_epu32(x2[i], m1);
            x0[i] = _mm256_xor_si256(_mm256_srli_epi64(p1, 32),
                                     _mm256_xor_si256(x1[i], seg.k0[r]));
            x2[i] = _mm256_xor_si256(_mm256_srli_epi64(p0, 32),
                                     _mm256_xor_si256(x3[i], seg.k1[r]));
            x1[i] = p1;
            x3[i] = p0;
        }
    }
    for (int i = 0; i < kSets; ++i) {
        // Low halves of the four words of each block, back to block order.
        const __m256i w01 =
            _mm256_blend_epi32(x0[i], _mm256_slli_epi64(x1[i], 32), 0xAA);
        const __m256i w23 =
            _mm256_blend_epi32(x2[i], _mm256_slli_epi64(x3[i], 32), 0xAA);
        const __m256i b02 = _mm256_unpacklo_epi64(w01, w23);
        const __m256i b13 = _mm256_unpackhi_epi64(w01, w23);
        __m256i* dst = reinterpret_cast<__m256i*>(out + 16 * i);
        _mm256_storeu_si256(dst, _mm256_permute2x128_si256(b02, b13, 0x20));
        _mm256_storeu_si256(dst + 1, _mm256_permute2x128_si256(b02, b13, 0x31));
    }
}

NEUROPHASE_TARGET_AVX2
void philox_fill_avx2(const StreamKey& stream, uint64_t first_block,
                      std::size_t n_blocks, uint32_t* out) {
    while (n_blocks > 0) {
        // Up to the end of the segment of first_block.
        const uint64_t segment_end = ((first_block >> 32) + 1) << 32;
        const std::size_t count = static_cast<std::size_t>(
            std::min<uint64_t>(n_blocks, segment_end - first_block));
        const PhiloxSegment seg = make_segment(stream, first_block);
        std::size_t done = 0;
        for (; done + 16 <= count; done += 16)
            philox_sets<4>(seg, first_block + done, out + 4 * done);
        for (; done + 4 <= count; done += 4)
            philox_sets<1>(seg, first_block + done, out + 4 * done);
        for (; done < count; ++done) stream.block(first_block + done, out + 4 * done);
        first_block += count;
        out += 4 * count;
        n_blocks -= count;
    }
}

NEUROPHASE_TARGET_AVX2
bool philox_fill_ranges_avx2(const StreamKey& stream, const uint64_t* first,
                             int n_ranges, std::size_t n_blocks, uint32_t* const* out) {
    // One segment for all ranges, or the caller falls back to range by range.
    const uint64_t segment = first[0] >> 32;
    for (int r = 0; r < n_ranges; ++r)
        if ((first[r] >> 32) != segment || ((first[r] + n_blocks - 1) >> 32) != segment)
            return false;
    const PhiloxSegment seg = make_segment(stream, first[0]);
    for (int r = 0; r < n_ranges; ++r) {
        std::size_t done = 0;
        for (; done + 16 <= n_blocks; done += 16)
            philox_sets<4>(seg, first[r] + done, out[r] + 4 * done);
        for (; done + 4 <= n_blocks; done += 4)
            philox_sets<1>(seg, first[r] + done, out[r] + 4 * done);
        for (; done < n_blocks; ++done)
            stream.block(first[r] + done, out[r] + 4 * done);
    }
    return true;
}

NEUROPHASE_TARGET_AVX2
void philox_blocks_avx2(const StreamKey& stream, const uint64_t* index, std::size_t n,
                        uint32_t* out) {
    // vpmuludq reads the low 32 bits of each index; the rest of the counter is shared
    // by blocks of one segment, so runs of blocks in one segment go four at a time.
    std::size_t done = 0;
    while (done < n) {
        const uint64_t segment = index[done] >> 32;
        std::size_t end = done + 1;
        while (end < n && (index[end] >> 32) == segment) ++end;
        const PhiloxSegment seg = make_segment(stream, index[done]);
        for (; done + 16 <= end; done += 16)
            philox_sets<4>(seg, 0, out + 4 * done, index + done);
        for (; done + 4 <= end; done += 4)
            philox_sets<1>(seg, 0, out + 4 * done, index + done);
        for (; done < end; ++done) stream.block(index[done], out + 4 * done);
    }
}

#endif

}  // namespace

void philox_fill(const StreamKey& stream, uint64_t first_block, std::size_t n_blocks,
                 uint32_t* out) {
#if NEUROPHASE_AVX2_KERNELS
    if (has_avx2()) return philox_fill_avx2(stream, first_block, n_blocks, out);
#endif
    philox_fill_portable(stream, first_block, n_blocks, out);
}

void philox_fill_ranges(const StreamKey& stream, const uint64_t* first, int n_ranges,
                        std::size_t n_blocks, uint32_t* const* out) {
#if NEUROPHASE_AVX2_KERNELS
    if (has_avx2() && n_blocks > 0 &&
        philox_fill_ranges_avx2(stream, first, n_ranges, n_blocks, out))
        return;
#endif
    for (int r = 0; r < n_ranges; ++r) philox_fill(stream, first[r], n_blocks, out[r]);
}

void philox_blocks(const StreamKey& stream, const uint64_t* index, std::size_t n,
                   uint32_t* out) {
#if NEUROPHASE_AVX2_KERNELS
    if (has_avx2()) return philox_blocks_avx2(stream, index, n, out);
#endif
    philox_blocks_portable(stream, index, n, out);
}

}  // namespace neurophase
