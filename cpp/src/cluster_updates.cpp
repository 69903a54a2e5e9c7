// Cluster updates on hypercubic lattices: Wolff single-cluster and Swendsen-Wang.
//
// A field enters through a ghost spin fixed along +1: site i is bonded to it with
// coupling |h_i| when s_i h_i > 0 (the pair is satisfied), with probability
// 1 - exp(-2 beta |h_i|). A cluster bonded to the ghost is not flipped. Couplings of
// either sign work the same way: a bond can only form on a satisfied pair
// (J s_i s_j > 0), with probability 1 - exp(-2 beta |J|).
#include <algorithm>
#include <cmath>
#include <vector>

#include "neighbours.hpp"
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

namespace {

// Uniform index in [0, n) from a 64-bit word: the high half of word * n
// (Lemire's multiply-shift; the bias is below n / 2^64).
inline int64_t uniform_index(uint64_t word, int64_t n) {
    __extension__ using uint128 = unsigned __int128;
    return static_cast<int64_t>(
        (static_cast<uint128>(word) * static_cast<uint64_t>(n)) >> 64);
}

// Cluster-growth parameters of one temperature and field.
struct WolffParams {
    double beta, h;
    uint64_t bond, ghost_uniform;
    bool has_field;

    WolffParams(const RunSpec& spec, int64_t t)
        : beta(1.0 / spec.temperature[t]),
          h(spec.field_uniform[t]),
          bond(probability_threshold(
              -std::expm1(-2.0 * beta * std::fabs(spec.coupling)))),
          ghost_uniform(ghost_threshold(beta, h)),
          has_field(h != 0.0 || spec.field_site != nullptr) {}
};

// The words of one sweep's xoshiro256** stream, generated ahead in blocks so the
// cluster loop reads them from memory and can skip a draw without a branch (a
// skipped draw just leaves the read position in place). The words are consumed in
// stream order exactly as if drawn one at a time; the unread ones are discarded
// with the buffer at the end of the sweep.
class WordBuffer {
  public:
    static constexpr std::ptrdiff_t kSize = 512;

    explicit WordBuffer(const StreamKey& stream) : next(words_ + kSize), gen_(stream) {}

    // Last read position from which `need` words can be read without a refill.
    const uint64_t* last_start(std::ptrdiff_t need) const {
        return words_ + kSize - need;
    }

    // Moves the unread words, from `from` on, to the front, generates the rest and
    // returns the new read position.
    const uint64_t* refill(const uint64_t* from) {
        const std::ptrdiff_t kept = words_ + kSize - from;
        std::copy(from, static_cast<const uint64_t*>(words_ + kSize), words_);
        Xoshiro256 gen = gen_;  // a local copy stays in registers
        for (std::ptrdiff_t i = kept; i < kSize; ++i) words_[i] = gen.next();
        gen_ = gen;
        return words_;
    }

    const uint64_t* next;  // the first unread word

  private:
    uint64_t words_[kSize];
    Xoshiro256 gen_;
};

// Single-cluster growth for a lattice of dimension D with site indices of type
// Index. Members are kept in a preallocated FIFO queue: neighbours are visited and
// random words consumed breadth-first, in the order of AxisSteps.
//
// Ferromagnetic couplings (Ferro = true) use the classic shortcut: a site is
// flipped as it joins, so "same sign as the seed" means "satisfied and not yet in
// the cluster", and no membership array is read. Antiferromagnetic couplings need
// the membership array, since members then differ in sign. Both consume words in
// the same order.
//
// The neighbour loop has no data-dependent branch: whether a bond is tried or
// formed is random and mispredicts about half the time, so each neighbour is
// written to the queue and to the spins unconditionally and the counts advance by
// the outcome.
template <int D, bool Ferro, bool Periodic, typename Index>
class WolffKernel {
  public:
    WolffKernel(const Geometry& g, int8_t* spins, const RunSpec& spec)
        : steps_(g),
          spins_(spins),
          spec_(spec),
          n_(g.n_sites),
          queue_(static_cast<std::size_t>(g.n_sites) + 1),
          in_cluster_(Ferro ? 0 : static_cast<std::size_t>(g.n_sites), 0) {}

    // Grows one cluster from a seed drawn from `buf` and flips it unless it is
    // bonded to the ghost spin; returns the cluster size and sets `frozen`.
    int64_t grow(WordBuffer& buf, const WolffParams& p, bool& frozen) {
        const uint64_t* word = buf.next;
        const uint64_t* const last_start = buf.last_start(2 * D + 1);
        if (word > buf.last_start(1)) word = buf.refill(word);
        const Index start = static_cast<Index>(uniform_index(*word++, n_));
        int8_t* const spins = spins_;
        Index* const queue = queue_.data();
        uint8_t* const member = in_cluster_.data();
        const uint64_t bond = p.bond;
        const int8_t seed_spin = spins[start];
        const int8_t flipped = static_cast<int8_t>(-seed_spin);
        queue[0] = start;
        if constexpr (Ferro)
            spins[start] = flipped;
        else
            member[start] = 1;
        bool is_frozen = false;
        Index nbr[2 * D];
        bool exists[2 * D];
        std::size_t tail = 1;
        for (std::size_t head = 0; head < tail; ++head) {
            if (word > last_start) word = buf.refill(word);
            const Index a = queue[head];
            const int sa = Ferro ? seed_spin : spins[a];
            if (p.has_field && !is_frozen) {
                const double ha = field_at(spec_, p.h, static_cast<int64_t>(a));
                if (sa * ha > 0.0) {
                    const uint64_t thr = spec_.field_site ? ghost_threshold(p.beta, ha)
                                                          : p.ghost_uniform;
                    is_frozen = (*word++ >> 32) < thr;
                }
            }
            steps_(a, nbr, exists);
            for (int k = 0; k < 2 * D; ++k) {
                const Index b = nbr[k];
                const int8_t sb = spins[b];
                bool tried;
                if constexpr (Ferro)
                    tried = exists[k] & (sb == seed_spin);
                else
                    tried = exists[k] & !member[b] & (sa * sb < 0);
                const uint64_t w = *word;
                word += tried;
                const bool joins = tried & ((w >> 32) < bond);
                queue[tail] = b;
                tail += joins;
                // Arithmetic, not a select, which the compiler may turn into a
                // branch: +-1 ^ -2 is -+1.
                if constexpr (Ferro)
                    spins[b] = static_cast<int8_t>(sb ^ (-2 * static_cast<int>(joins)));
                else
                    member[b] = static_cast<uint8_t>(member[b] | joins);
            }
        }
        buf.next = word;
        for (std::size_t i = 0; i < tail; ++i) {
            const Index a = queue[i];
            if constexpr (Ferro) {
                if (is_frozen) spins[a] = seed_spin;  // undo: the ghost holds it
            } else {
                member[a] = 0;
                if (!is_frozen) spins[a] = static_cast<int8_t>(-spins[a]);
            }
        }
        frozen = is_frozen;
        return static_cast<int64_t>(tail);
    }

  private:
    AxisSteps<D, Index, Periodic> steps_;
    int8_t* spins_;
    const RunSpec& spec_;
    int64_t n_;
    std::vector<Index> queue_;
    std::vector<uint8_t> in_cluster_;
};

template <int D, bool Ferro, bool Periodic, typename Index>
RunStats wolff_sweeps(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int64_t n = g.n_sites;
    MeasureScratch scratch(g, spec.kmin_magnetisation2 != nullptr);
    int64_t next_snapshot = 0;
    WolffKernel<D, Ferro, Periodic, Index> kernel(g, spins, spec);

    auto one_cluster = [&](WordBuffer& buf, const WolffParams& p) {
        bool frozen = false;
        const int64_t size = kernel.grow(buf, p, frozen);
        if (!frozen) stats.flips += size;
        ++stats.clusters;
        return size;
    };

    // The number of clusters per sweep must not depend on the clusters grown in that
    // sweep: stopping once their sizes reach N would record states right after large
    // clusters too often and bias every average. So it is fixed, given by the
    // caller or set once by a pilot: clusters are grown (real updates, at the first
    // sweep's temperature) until their sizes add up to 20 N, and a sweep is N over
    // the mean size of the second half of them, rounded up.
    int64_t per_sweep = spec.clusters_per_sweep;
    if (per_sweep <= 0 && spec.n_sweeps > 0) {
        const WolffParams p(spec, 0);
        WordBuffer buf(
            StreamKey(spec.seed, Purpose::cluster_seed, 1, spec.first_sweep));
        int64_t built = 0, late_sites = 0, late_clusters = 0;
        while (built < 20 * n) {
            const int64_t size = one_cluster(buf, p);
            built += size;
            if (built > 10 * n) {
                late_sites += size;
                ++late_clusters;
            }
        }
        per_sweep =
            std::max<int64_t>(1, (n * late_clusters + late_sites - 1) / late_sites);
    }
    stats.clusters_per_sweep = per_sweep;

    for (int64_t t = 0; t < spec.n_sweeps; ++t) {
        const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
        const WolffParams p(spec, t);
        WordBuffer buf(StreamKey(spec.seed, Purpose::cluster_seed, 0, sweep));
        for (int64_t c = 0; c < per_sweep; ++c) one_cluster(buf, p);
        record_sweep(g, spins, spec, t, p.h, scratch, next_snapshot);
    }
    return stats;
}

// 32-bit indices halve the queue's memory traffic and make the remainders cheap.
template <int D, bool Ferro>
RunStats wolff_indexed(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    if (g.n_sites < (int64_t{1} << 32)) {
        if (g.periodic) return wolff_sweeps<D, Ferro, true, uint32_t>(g, spins, spec);
        return wolff_sweeps<D, Ferro, false, uint32_t>(g, spins, spec);
    }
    if (g.periodic) return wolff_sweeps<D, Ferro, true, int64_t>(g, spins, spec);
    return wolff_sweeps<D, Ferro, false, int64_t>(g, spins, spec);
}

template <bool Ferro>
RunStats wolff_dimension(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    switch (g.dimension()) {
        case 1:
            return wolff_indexed<1, Ferro>(g, spins, spec);
        case 2:
            return wolff_indexed<2, Ferro>(g, spins, spec);
        case 3:
            return wolff_indexed<3, Ferro>(g, spins, spec);
        case 4:
            return wolff_indexed<4, Ferro>(g, spins, spec);
        default:
            return wolff_indexed<5, Ferro>(g, spins, spec);
    }
}

}  // namespace

// One Wolff "sweep" is a fixed number of clusters (see wolff_sweeps). With a field,
// a cluster bonded to the ghost is built (and counted) but not flipped. With J = 0
// no bond forms and every cluster is a single site.
RunStats run_wolff(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    if (spec.coupling >= 0.0) return wolff_dimension<true>(g, spins, spec);
    return wolff_dimension<false>(g, spins, spec);
}

namespace {

template <typename Index>
inline Index find_root(Index* parent, Index i) {
    while (parent[i] != i) {
        parent[i] = parent[parent[i]];  // path halving
        i = parent[i];
    }
    return i;
}

// Union keeping the smaller index as root, so a cluster's root is its smallest
// site: a canonical label that does not depend on the order bonds were added.
template <typename Index>
inline void unite(Index* parent, Index a, Index b) {
    a = find_root(parent, a);
    b = find_root(parent, b);
    if (a == b) return;
    if (a < b)
        parent[b] = a;
    else
        parent[a] = b;
}

template <int D, bool Periodic, typename Index>
RunStats sw_sweeps(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    RunStats stats;
    const int64_t n = g.n_sites;
    std::vector<Index> parent_store(static_cast<std::size_t>(n));
    std::vector<uint8_t> ghost_store(static_cast<std::size_t>(n));
    Index* const parent = parent_store.data();
    uint8_t* const ghost = ghost_store.data();
    MeasureScratch scratch(g, spec.kmin_magnetisation2 != nullptr);
    int64_t next_snapshot = 0;
    const AxisSteps<D, Index, Periodic> steps(g);
    // Bond words are drawn a chunk of sites at a time with the vectorised Philox.
    constexpr int64_t kChunk = 2048;
    std::vector<uint32_t> word_store(static_cast<std::size_t>((D + 1) * kChunk));
    uint32_t* const words = word_store.data();
    // J s_i s_j > 0 as an integer test: s_i s_j must equal the sign of J.
    const int satisfied = spec.coupling > 0.0 ? 1 : (spec.coupling < 0.0 ? -1 : 0);
    Index nbr[2 * D];
    bool exists[2 * D];

    for (int64_t t = 0; t < spec.n_sweeps; ++t) {
        const uint64_t sweep = spec.first_sweep + static_cast<uint64_t>(t);
        const double beta = 1.0 / spec.temperature[t];
        const double h = spec.field_uniform[t];
        const uint64_t bond =
            probability_threshold(-std::expm1(-2.0 * beta * std::fabs(spec.coupling)));
        const uint64_t ghost_uniform = ghost_threshold(beta, h);
        const bool has_field = h != 0.0 || spec.field_site != nullptr;

        for (int64_t i = 0; i < n; ++i) {
            parent[i] = static_cast<Index>(i);
            ghost[i] = 0;
        }
        // Bond (i, i + e_k) draws word i of sub-stream k; the ghost bond of i draws
        // word i of sub-stream d. The partition does not depend on the order in
        // which bonds are united, and its labels are canonical (smallest site).
        for (int64_t c0 = 0; c0 < n; c0 += kChunk) {
            const int64_t c1 = std::min(n, c0 + kChunk);
            const uint64_t first_block = static_cast<uint64_t>(c0) >> 2;
            const std::size_t n_blocks = static_cast<std::size_t>((c1 - c0 + 3) >> 2);
            for (int k = 0; k < D + (has_field ? 1 : 0); ++k)
                philox_fill(StreamKey(spec.seed, Purpose::bond, k, sweep), first_block,
                            n_blocks, words + k * kChunk);
            for (int64_t i = c0; i < c1; ++i) {
                const Index site = static_cast<Index>(i);
                steps(site, nbr, exists);
                const int si = spins[i];
                for (int k = 0; k < D; ++k) {
                    const Index j = nbr[2 * k];
                    if (exists[2 * k] && si * spins[j] == satisfied &&
                        words[k * kChunk + (i - c0)] < bond)
                        unite(parent, site, j);
                }
                if (has_field) {
                    const double hi = field_at(spec, h, i);
                    if (si * hi > 0.0) {
                        const uint64_t thr =
                            spec.field_site ? ghost_threshold(beta, hi) : ghost_uniform;
                        if (words[D * kChunk + (i - c0)] < thr) ghost[i] = 1;
                    }
                }
            }
        }
        // Roots are smallest sites; mark ghost-bonded clusters at their root.
        for (int64_t i = 0; i < n; ++i) {
            const Index root = find_root(parent, static_cast<Index>(i));
            parent[i] = root;
            if (ghost[i]) ghost[root] = 1;
        }
        // ghost[] now holds, at each root: 1 bonded to the ghost, 2 flip, 3 keep.
        // Each free cluster flips with probability 1/2, decided by a word keyed by its
        // root, so the decision does not depend on labelling order or threads.
        const StreamKey flip(spec.seed, Purpose::cluster_flip, 0, sweep);
        for (int64_t i = 0; i < n; ++i) {
            const int64_t root = static_cast<int64_t>(parent[i]);
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

template <int D>
RunStats sw_dimension(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    if (g.n_sites < (int64_t{1} << 32)) {
        if (g.periodic) return sw_sweeps<D, true, uint32_t>(g, spins, spec);
        return sw_sweeps<D, false, uint32_t>(g, spins, spec);
    }
    if (g.periodic) return sw_sweeps<D, true, int64_t>(g, spins, spec);
    return sw_sweeps<D, false, int64_t>(g, spins, spec);
}

}  // namespace

// Limitation: bond drawing and labelling run on one thread; the union-find pass is
// sequential, so Swendsen-Wang does not use the thread count.
RunStats run_swendsen_wang(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    switch (g.dimension()) {
        case 1:
            return sw_dimension<1>(g, spins, spec);
        case 2:
            return sw_dimension<2>(g, spins, spec);
        case 3:
            return sw_dimension<3>(g, spins, spec);
        case 4:
            return sw_dimension<4>(g, spins, spec);
        default:
            return sw_dimension<5>(g, spins, spec);
    }
}

}  // namespace neurophase
