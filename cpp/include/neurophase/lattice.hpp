// Geometry of the membrane lattice: hypercubic (d = 1..5, periodic or open) or the
// complete graph (Curie-Weiss). Sites are numbered in row-major (C) order.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace neurophase {

enum class LatticeKind { hypercubic, complete };

struct Geometry {
    LatticeKind kind = LatticeKind::hypercubic;
    std::vector<int64_t> shape;    // sides; {N} for the complete graph
    std::vector<int64_t> strides;  // row-major strides in sites
    bool periodic = true;
    int64_t n_sites = 0;

    static Geometry hypercubic(const std::vector<int64_t>& shape, bool periodic);
    static Geometry complete(int64_t n_sites);

    int dimension() const { return static_cast<int>(shape.size()); }
    // Neighbours of a bulk site: 2d on hypercubic lattices (two bonds between the
    // same pair both count when a periodic side is 2), N - 1 on the complete graph.
    int64_t coordination() const;
    // Sites along the last (contiguous) axis, and the number of such rows.
    int64_t row_length() const { return shape.back(); }
    int64_t n_rows() const { return n_sites / shape.back(); }
    // True when axis k is periodic with an odd side: the two-colour checkerboard
    // breaks across its seam, so sites at coordinate L_k - 1 get a phase of their own.
    bool odd_periodic(int k) const { return periodic && (shape[k] % 2 == 1); }
};

// Per-row neighbour bookkeeping used by the local updates.
struct RowInfo {
    int64_t base;      // index of the row's first site
    int parity;        // parity of the sum of the row's coordinates
    bool seam;         // some odd periodic axis (other than the last) is at L - 1
    int n_neighbours;  // 2 (d - 1): rows above and below along each other axis
    int64_t neighbour_base[8];  // -1 where an open boundary has no neighbour
};

RowInfo row_info(const Geometry& g, int64_t row);

}  // namespace neurophase
