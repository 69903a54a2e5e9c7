// Neighbours of a site of a hypercubic lattice from its index alone, for the
// cluster algorithms, which visit sites in no particular order (private header).
#pragma once

#include <cmath>
#include <cstdint>

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

class NeighbourFinder {
  public:
    explicit NeighbourFinder(const Geometry& g) : g_(g), d_(g.dimension()) {
        for (int k = 0; k < d_; ++k) div_[k] = Divider(g.shape[k]);
    }

    // Writes the 2d neighbours of `site` (+ then - along each axis); -1 where an
    // open boundary has none. A periodic side of 2 lists the same site twice: both
    // bonds count.
    int operator()(int64_t site, int64_t* out) const {
        switch (d_) {
            case 1:
                return fixed<1>(site, out);
            case 2:
                return fixed<2>(site, out);
            case 3:
                return fixed<3>(site, out);
            case 4:
                return fixed<4>(site, out);
            default:
                return fixed<5>(site, out);
        }
    }

    // The same with the dimension known at compile time, so the axis loop unrolls.
    template <int D>
    int fixed(int64_t site, int64_t* out) const {
        int64_t rest = site;
        for (int k = D - 1; k >= 0; --k) {
            const int64_t L = g_.shape[k];
            const int64_t q = div_[k].quotient(rest);
            const int64_t x = rest - q * L;
            rest = q;
            const int64_t stride = g_.strides[k];
            int64_t up = -1, down = -1;
            if (x + 1 < L)
                up = site + stride;
            else if (g_.periodic)
                up = site - (L - 1) * stride;
            if (x > 0)
                down = site - stride;
            else if (g_.periodic)
                down = site + (L - 1) * stride;
            out[2 * k] = up;
            out[2 * k + 1] = down;
        }
        return 2 * D;
    }

  private:
    const Geometry& g_;
    int d_;
    Divider div_[5];
};

}  // namespace neurophase
