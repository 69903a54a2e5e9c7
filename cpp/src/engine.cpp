#include "neurophase/engine.hpp"

#include "observables_impl.hpp"

namespace neurophase {

RunStats run_sweeps(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    switch (spec.algorithm) {
        case Algorithm::metropolis:
        case Algorithm::heat_bath:
            return run_local(g, spins, spec);
        case Algorithm::wolff:
        case Algorithm::swendsen_wang: {
            RunStats stats = spec.algorithm == Algorithm::wolff
                                 ? run_wolff(g, spins, spec)
                                 : run_swendsen_wang(g, spins, spec);
            stats.team_sweeps = spec.n_sweeps;  // one thread is the whole team
            return stats;
        }
    }
    return RunStats{};
}

}  // namespace neurophase
