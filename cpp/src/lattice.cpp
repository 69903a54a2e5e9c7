#include "neurophase/lattice.hpp"

namespace neurophase {

Geometry Geometry::hypercubic(const std::vector<int64_t>& shape, bool periodic) {
    Geometry g;
    g.kind = LatticeKind::hypercubic;
    g.shape = shape;
    g.periodic = periodic;
    g.strides.assign(shape.size(), 1);
    for (int k = static_cast<int>(shape.size()) - 2; k >= 0; --k)
        g.strides[k] = g.strides[k + 1] * shape[k + 1];
    g.n_sites = g.strides[0] * shape[0];
    return g;
}

Geometry Geometry::complete(int64_t n_sites) {
    Geometry g;
    g.kind = LatticeKind::complete;
    g.shape = {n_sites};
    g.strides = {1};
    g.periodic = false;
    g.n_sites = n_sites;
    return g;
}

int64_t Geometry::coordination() const {
    if (kind == LatticeKind::complete) return n_sites - 1;
    return 2 * static_cast<int64_t>(shape.size());
}

RowInfo row_info(const Geometry& g, int64_t row) {
    RowInfo info{};
    const int d = g.dimension();
    info.base = row * g.row_length();
    info.n_neighbours = 2 * (d - 1);

    // Coordinates of the row along axes 0 .. d-2, slowest axis first.
    int64_t rest = row;
    int64_t coord[5] = {0, 0, 0, 0, 0};
    for (int k = d - 2; k >= 0; --k) {
        coord[k] = rest % g.shape[k];
        rest /= g.shape[k];
    }

    int parity = 0;
    for (int k = 0; k < d - 1; ++k) {
        parity += static_cast<int>(coord[k] & 1);
        if (g.odd_periodic(k) && coord[k] == g.shape[k] - 1) info.seam = true;
        const int64_t L = g.shape[k];
        const int64_t stride = g.strides[k];
        int64_t up = -1, down = -1;
        if (coord[k] + 1 < L)
            up = info.base + stride;
        else if (g.periodic)
            up = info.base - (L - 1) * stride;
        if (coord[k] > 0)
            down = info.base - stride;
        else if (g.periodic)
            down = info.base + (L - 1) * stride;
        info.neighbour_base[2 * k] = up;
        info.neighbour_base[2 * k + 1] = down;
    }
    info.parity = parity & 1;
    return info;
}

}  // namespace neurophase
