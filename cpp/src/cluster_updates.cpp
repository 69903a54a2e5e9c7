// Cluster updates on hypercubic lattices: Wolff single-cluster and Swendsen-Wang.
//
// A field enters through a ghost spin fixed along +1: site i is bonded to it with
// coupling |h_i| when s_i h_i > 0 (the pair is satisfied), with probability
// 1 - exp(-2 beta |h_i|). A cluster bonded to the ghost is not flipped. Couplings of
// either sign work the same way: a bond can only form on a satisfied pair
// (J s_i s_j > 0), with probability 1 - exp(-2 beta |J|).
#include <cmath>
#include <vector>

#include "neurophase/engine.hpp"
#include "neurophase/rng.hpp"
#include "observables_impl.hpp"

namespace neurophase {

namespace {

inline double field_at(const RunSpec& spec, double uniform, int64_t site) {
    return spec.field_site ? uniform + spec.field_site[site] : uniform;
}

inline uint64_t ghost_threshold(double beta, double h) {
    return probability_threshold(-std::expm1(-2.0 * beta * std::fabs(h)));
}

}  // namespace

// One Wolff "sweep" builds clusters until their sizes add up to at least N. With a
// field, a cluster bonded to the ghost is built (and counted) but not flipped, so the
// sweep ends even when the field freezes almost every cluster.
RunStats run_wolff(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int64_t n = g.n_sites;
    std::vector<uint8_t> in_cluster(static_cast<std::size_t>(n), 0);
    std::vector<int64_t> cluster;
    cluster.reserve(1024);
    MeasureScratch scratch(g);
    int64_t next_snapshot = 0;
    int64_t nbr[10];

    for (int64_t t = 0; t < spec.n_sweeps; ++t) {
        const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
        const double beta = 1.0 / spec.temperature[t];
        const double h = spec.field_uniform[t];
        const double coupling = spec.coupling;
        const uint64_t bond =
            probability_threshold(-std::expm1(-2.0 * beta * std::fabs(coupling)));
        const uint64_t ghost_uniform = ghost_threshold(beta, h);
        const bool has_field = h != 0.0 || spec.field_site != nullptr;
        Xoshiro256 rng(StreamKey(spec.seed, Purpose::cluster_seed, 0, sweep));

        int64_t built = 0;
        while (built < n) {
            const int64_t start =
                static_cast<int64_t>((static_cast<unsigned __int128>(rng.next()) *
                                      static_cast<uint64_t>(n)) >>
                                     64);
            cluster.clear();
            cluster.push_back(start);
            in_cluster[start] = 1;
            bool frozen = false;
            for (std::size_t head = 0; head < cluster.size(); ++head) {
                const int64_t a = cluster[head];
                const int sa = spins[a];
                if (has_field && !frozen) {
                    const double ha = field_at(spec, h, a);
                    if (sa * ha > 0.0) {
                        const uint64_t thr =
                            spec.field_site ? ghost_threshold(beta, ha) : ghost_uniform;
                        frozen = rng.next32() < thr;
                    }
                }
                const int count = neighbours(g, a, nbr);
                for (int k = 0; k < count; ++k) {
                    const int64_t b = nbr[k];
                    if (b < 0 || in_cluster[b]) continue;
                    if (coupling * sa * spins[b] > 0.0 && rng.next32() < bond) {
                        in_cluster[b] = 1;
                        cluster.push_back(b);
                    }
                }
            }
            for (const int64_t a : cluster) {
                in_cluster[a] = 0;
                if (!frozen) spins[a] = static_cast<int8_t>(-spins[a]);
            }
            const int64_t size = static_cast<int64_t>(cluster.size());
            built += size;
            if (!frozen) stats.flips += size;
            ++stats.clusters;
        }
        record_sweep(g, spins, spec, t, h, scratch, next_snapshot);
    }
    return stats;
}

namespace {

inline int64_t find_root(std::vector<int64_t>& parent, int64_t i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];  // path halving
        i = parent[i];
    }
    return i;
}

// Union keeping the smaller index as root, so a cluster's root is its smallest
// site: a canonical label that does not depend on the order bonds were added.
inline void unite(std::vector<int64_t>& parent, int64_t a, int64_t b) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return;
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b;
}

}  // namespace

// Limitation: bond drawing and labelling run on one thread; the union-find pass is
// sequential, so Swendsen-Wang does not use the thread count.
RunStats run_swendsen_wang(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int64_t n = g.n_sites;
    const int d = g.dimension();
    std::vector<int64_t> parent(static_cast<std::size_t>(n));
    std::vector<uint8_t> ghost(static_cast<std::size_t>(n));
    MeasureScratch scratch(g);
    int64_t next_snapshot = 0;
    int64_t nbr[10];

    for (int64_t t = 0; t < spec.n_sweeps; ++t) {
        const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
        const double beta = 1.0 / spec.temperature[t];
        const double h = spec.field_uniform[t];
        const double coupling = spec.coupling;
        const uint64_t bond =
            probability_threshold(-std::expm1(-2.0 * beta * std::fabs(coupling)));
        const uint64_t ghost_uniform = ghost_threshold(beta, h);
        const bool has_field = h != 0.0 || spec.field_site != nullptr;

        for (int64_t i = 0; i < n; ++i) {
            parent[i] = i;
            ghost[i] = 0;
        }
        // Bond (i, i + e_k) draws word i of sub-stream k; the ghost bond of i draws
        // word i of sub-stream d.
        for (int k = 0; k <= d; ++k) {
            const StreamKey stream(spec.seed, Purpose::bond, static_cast<uint32_t>(k),
                                   sweep);
            uint32_t words[4];
            for (int64_t i = 0; i < n; ++i) {
                if ((i & 3) == 0) stream.block(static_cast<uint64_t>(i) >> 2, words);
                const uint32_t r = words[i & 3];
                if (k < d) {
                    neighbours(g, i, nbr);
                    const int64_t j = nbr[2 * k];
                    if (j >= 0 && coupling * spins[i] * spins[j] > 0.0 && r < bond)
                        unite(parent, i, j);
                } else if (has_field) {
                    const double hi = field_at(spec, h, i);
                    if (spins[i] * hi > 0.0) {
                        const uint64_t thr =
                            spec.field_site ? ghost_threshold(beta, hi) : ghost_uniform;
                        if (r < thr) ghost[i] = 1;
                    }
                }
            }
        }
        // Roots are smallest sites; mark ghost-bonded clusters at their root.
        for (int64_t i = 0; i < n; ++i) {
            const int64_t root = find_root(parent, i);
            parent[i] = root;
            if (ghost[i]) ghost[root] = 1;
        }
        // ghost[] now holds, at each root: 1 bonded to the ghost, 2 flip, 3 keep.
        // Each free cluster flips with probability 1/2, decided by a word keyed by its
        // root, so the decision does not depend on labelling order or threads.
        const StreamKey flip(spec.seed, Purpose::cluster_flip, 0, sweep);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t root = parent[i];
            if (root == i) ++stats.clusters;
            if (ghost[root] == 1) continue;  // bonded to the ghost: stays
            if (root == i) ghost[i] = (flip.at(static_cast<uint64_t>(i)) >> 31) ? 2 : 3;
            if (ghost[root] == 2) {
                spins[i] = static_cast<int8_t>(-spins[i]);
                ++stats.flips;
            }
        }
        record_sweep(g, spins, spec, t, h, scratch, next_snapshot);
    }
    return stats;
}

}  // namespace neurophase
