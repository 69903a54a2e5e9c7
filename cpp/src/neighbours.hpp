// Neighbours of a site of a hypercubic lattice from its index alone, for the
// cluster algorithms, which visit sites in no particular order (private header).
#pragma once

#include <cmath>
#include <cstdint>
#include <type_traits>

#include "neurophase/lattice.hpp"

namespace neurophase {

// Quotient by a fixed divisor through a rounded floating-point reciprocal and one
// correction step: exact for 0 <= n < 2^52, and several times cheaper than a
// 64-bit hardware division in the inner loop of cluster growth.
class Divider {
  public:
    Divider() = default;
    explicit Divider(int64_t d) : d_(d), inv_(1.0 / static_cast<double>(d)) {}
    int64_t quotient(int64_t n) const {
        int64_t q = static_cast<int64_t>(static_cast<double>(n) * inv_);
        const int64_t r = n - q * d_;
        if (r < 0) return q - 1;
        if (r >= d_) return q + 1;
        return q;
    }

  private:
    int64_t d_ = 1;
    double inv_ = 1.0;
};

// Remainder by a fixed 32-bit divisor with two multiplications and no division
// (Lemire, Kaser and Kurz, 2019): exact for every 32-bit numerator and divisor.
class Remainder32 {
  public:
    Remainder32() = default;
    explicit Remainder32(uint64_t d) : d_(d), m_(~uint64_t{0} / d + 1) {}
    uint32_t operator()(uint32_t n) const {
        __extension__ using uint128 = unsigned __int128;
        return static_cast<uint32_t>((static_cast<uint128>(m_ * n) * d_) >> 64);
    }

  private:
    uint64_t d_ = 1, m_ = 0;
};

// Remainder for indices past 32 bits, through Divider (exact below 2^52).
class Remainder64 {
  public:
    Remainder64() = default;
    explicit Remainder64(int64_t d) : d_(d), div_(d) {}
    int64_t operator()(int64_t n) const { return n - div_.quotient(n) * d_; }

  private:
    int64_t d_ = 1;
    Divider div_;
};

// Neighbours of a site along each axis with the dimension and index type fixed at
// compile time. The coordinate along axis k is never formed: only whether it is
// first or last matters, and that shows in the index modulo L_k * stride_k (the
// index itself for axis 0), one multiply-based remainder per axis past the first.
// Every neighbour is a valid index (an open edge gives the periodic image) with a
// flag saying whether the bond exists, so callers can stay branch-free.
template <int D, typename Index, bool Periodic>
class AxisSteps {
  public:
    using Rem = std::conditional_t<sizeof(Index) == 4, Remainder32, Remainder64>;

    explicit AxisSteps(const Geometry& g) {
        for (int k = 0; k < D; ++k) {
            stride_[k] = static_cast<Index>(g.strides[k]);
            block_[k] = static_cast<Index>(g.strides[k] * g.shape[k]);
            last_[k] = block_[k] - stride_[k];
            rem_[k] = Rem(block_[k]);
        }
    }

    // Same order as NeighbourFinder: + then - along each axis.
    void operator()(Index site, Index* out, bool* exists) const {
        for (int k = 0; k < D; ++k) {
            const Index r = k == 0 ? site : static_cast<Index>(rem_[k](site));
            const Index stride = k == D - 1 ? Index{1} : stride_[k];
            const bool top = r >= last_[k], bottom = r < stride;
            out[2 * k] = site + stride - (top ? block_[k] : Index{0});
            out[2 * k + 1] = site - stride + (bottom ? block_[k] : Index{0});
            exists[2 * k] = Periodic || !top;
            exists[2 * k + 1] = Periodic || !bottom;
        }
    }

  private:
    Index stride_[D], block_[D], last_[D];
    Rem rem_[D];
};

}  // namespace neurophase
