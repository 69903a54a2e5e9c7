#include "common.hpp"
#include "neurophase/engine.hpp"

namespace neurophase::bindings {

namespace {

Algorithm parse_algorithm(const std::string& name) {
    if (name == "metropolis") return Algorithm::metropolis;
    if (name == "heat-bath") return Algorithm::heat_bath;
    if (name == "wolff") return Algorithm::wolff;
    if (name == "swendsen-wang") return Algorithm::swendsen_wang;
    throw py::value_error(
        "algorithm must be one of 'metropolis', 'heat-bath', 'wolff', "
        "'swendsen-wang', got '" +
        name + "'");
}

int8_t* spins_pointer(py::array& spins, const Geometry& g) {
    // The spins are updated in place, so no silent conversion copy is allowed.
    if (!spins.dtype().is(py::dtype::of<int8_t>()) ||
        !(spins.flags() & py::array::c_style) || !spins.writeable())
        throw py::value_error("spins must be a writeable C-contiguous int8 array");
    require_size(spins, g.n_sites, "spins");
    return static_cast<int8_t*>(spins.mutable_data());
}

}  // namespace

void bind_engine(py::module_& m) {
    m.def(
        "run",
        [](const std::vector<int64_t>& shape, bool periodic, bool complete,
           py::array spins, const std::string& algorithm, uint64_t seed,
           uint64_t first_sweep, double coupling, carray<double> temperature,
           carray<double> field_uniform, std::optional<carray<double>> field_site,
           int threads, bool record, carray<int64_t> snapshot_sweeps,
           int64_t clusters_per_sweep, bool record_kmin) {
            const Geometry g = make_geometry(shape, periodic, complete);
            RunSpec spec;
            spec.algorithm = parse_algorithm(algorithm);
            if (complete && (spec.algorithm == Algorithm::wolff ||
                             spec.algorithm == Algorithm::swendsen_wang))
                throw py::value_error("cluster algorithms need a hypercubic lattice");
            int8_t* s = spins_pointer(spins, g);
            const int64_t n_sweeps = temperature.size();
            require_size(field_uniform, n_sweeps, "field_uniform");
            spec.seed = seed;
            spec.first_sweep = first_sweep;
            spec.n_sweeps = n_sweeps;
            spec.coupling = coupling;
            spec.temperature = temperature.data();
            spec.field_uniform = field_uniform.data();
            if (field_site) {
                require_size(*field_site, g.n_sites, "field_site");
                spec.field_site = field_site->data();
            }
            spec.threads = threads < 1 ? 1 : threads;
            if (clusters_per_sweep < 0)
                throw py::value_error("clusters_per_sweep must be >= 0 (0: automatic)");
            spec.clusters_per_sweep = clusters_per_sweep;

            if (record_kmin && (complete || !record))
                throw py::value_error(
                    "record_kmin needs record=True and a hypercubic lattice");
            const int64_t n_rec = record ? n_sweeps : 0;
            const int64_t n_kmin = record_kmin ? n_sweeps : 0;
            carray<double> mag(n_rec), energy(n_rec), stag(n_rec);
            carray<double> kmin({n_kmin, static_cast<int64_t>(g.dimension())});
            if (record) {
                spec.magnetisation = mag.mutable_data();
                spec.energy = energy.mutable_data();
                spec.staggered = stag.mutable_data();
            }
            if (record_kmin) spec.kmin_magnetisation2 = kmin.mutable_data();
            check_snapshot_sweeps(snapshot_sweeps, n_sweeps);
            const int64_t n_snap = snapshot_sweeps.size();
            const int64_t* snap = snapshot_sweeps.data();
            carray<int8_t> snapshots({n_snap, g.n_sites});
            spec.snapshot_sweeps = snap;
            spec.n_snapshots = n_snap;
            spec.snapshot_out = snapshots.mutable_data();

            RunStats stats;
            {
                // Every buffer was checked and allocated above and is kept alive by
                // this frame, so the sweeps can run without the GIL.
                py::gil_scoped_release release;
                stats = run_sweeps(g, s, spec);
            }
            return py::make_tuple(stats_dict(stats), mag, energy, stag, snapshots,
                                  kmin);
        },
        py::arg("shape"), py::arg("periodic"), py::arg("complete"), py::arg("spins"),
        py::arg("algorithm"), py::arg("seed"), py::arg("first_sweep"),
        py::arg("coupling"), py::arg("temperature"), py::arg("field_uniform"),
        py::arg("field_site"), py::arg("threads"), py::arg("record"),
        py::arg("snapshot_sweeps"), py::arg("clusters_per_sweep") = 0,
        py::arg("record_kmin") = false);

    m.def(
        "measure",
        [](const std::vector<int64_t>& shape, bool periodic, bool complete,
           carray<int8_t> spins, std::optional<carray<double>> field_site,
           double coupling, double field, int threads, bool fourier) {
            const Geometry g = make_geometry(shape, periodic, complete);
            if (fourier && complete)
                throw py::value_error("fourier needs a hypercubic lattice");
            require_size(spins, g.n_sites, "spins");
            const double* h = nullptr;
            if (field_site) {
                require_size(*field_site, g.n_sites, "field_site");
                h = field_site->data();
            }
            Measurement result;
            double energy = 0.0;
            {
                py::gil_scoped_release release;  // arrays are held by this frame
                result = measure(g, spins.data(), h, threads, fourier);
                energy = energy_per_spin(g, result, coupling, field);
            }
            py::dict d;
            d["magnetisation_sum"] = result.magnetisation_sum;
            d["bond_sum"] = result.bond_sum;
            d["staggered_sum"] = result.staggered_sum;
            d["site_field_sum"] = result.site_field_sum;
            d["energy"] = energy;
            if (fourier) {
                py::list sums;
                for (int a = 0; a < g.dimension(); ++a)
                    sums.append(
                        py::make_tuple(result.kmin_real[a], result.kmin_imag[a]));
                d["kmin_sums"] = sums;
            }
            return d;
        },
        py::arg("shape"), py::arg("periodic"), py::arg("complete"), py::arg("spins"),
        py::arg("field_site"), py::arg("coupling"), py::arg("field"),
        py::arg("threads"), py::arg("fourier") = false);

    m.def(
        "hot_start",
        [](const std::vector<int64_t>& shape, bool periodic, bool complete,
           py::array spins, uint64_t seed, int threads) {
            const Geometry g = make_geometry(shape, periodic, complete);
            int8_t* s = spins_pointer(spins, g);
            py::gil_scoped_release release;  // spins checked above, owned by caller
            hot_start(g, s, seed, threads);
        },
        py::arg("shape"), py::arg("periodic"), py::arg("complete"), py::arg("spins"),
        py::arg("seed"), py::arg("threads"));

    m.def(
        "effective_threads",
        [](const std::vector<int64_t>& shape, bool periodic, bool complete,
           int requested) {
            return effective_threads(make_geometry(shape, periodic, complete),
                                     requested);
        },
        py::arg("shape"), py::arg("periodic"), py::arg("complete"),
        py::arg("requested"));

    m.def("local_update_paths", &local_update_paths);
    m.def("local_update_path", &local_update_path);
    m.def("select_local_update_path", &select_local_update_path, py::arg("name"));

    m.def(
        "coordination",
        [](const std::vector<int64_t>& shape, bool periodic, bool complete) {
            return make_geometry(shape, periodic, complete).coordination();
        },
        py::arg("shape"), py::arg("periodic"), py::arg("complete"));
}

}  // namespace neurophase::bindings
