#include "neurophase/rng.hpp"

#include "neurophase/dispatch.hpp"

namespace neurophase {

namespace {

// Eight Philox blocks side by side, one per lane, so that the compiler turns each
// round into a few wide multiplies (vpmuludq) instead of eight scalar ones.
constexpr int kLanes = 8;

}  // namespace

NEUROPHASE_CLONES
void philox_fill(const StreamKey& stream, uint64_t first_block, std::size_t n_blocks,
                 uint32_t* out) {
    const uint32_t tag = stream.tag << 16;
    const uint32_t sweep_lo = static_cast<uint32_t>(stream.sweep);
    const uint32_t sweep_hi = static_cast<uint32_t>(stream.sweep >> 32);

    std::size_t done = 0;
    for (; done + kLanes <= n_blocks; done += kLanes) {
        uint32_t c0[kLanes], c1[kLanes], c2[kLanes], c3[kLanes];
        for (int l = 0; l < kLanes; ++l) {
            const uint64_t index = first_block + done + l;
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
    for (; done < n_blocks; ++done) stream.block(first_block + done, out + 4 * done);
}

}  // namespace neurophase
