#include "neurophase/engine.hpp"

#include "observables_impl.hpp"

namespace neurophase {

RunStats run_sweeps(const Geometry& g, int8_t* spins, const RunSpec& spec) {
    switch (spec.algorithm) {
        case Algorithm::metropolis:
        case Algorithm::heat_bath:
            return run_local(g, spins, spec);
        case Algorithm::wolff:
            return run_wolff(g, spins, spec);
        case Algorithm::swendsen_wang:
            return run_swendsen_wang(g, spins, spec);
    }
    return RunStats{};
}

}  // namespace neurophase
