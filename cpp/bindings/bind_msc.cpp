#include <stdexcept>

#include "common.hpp"
#include "neurophase/msc.hpp"

namespace neurophase::bindings {

namespace {

MscLayout layout_of(const std::vector<int64_t>& shape) {
    try {
        return MscLayout::from_shape(shape);
    } catch (const std::invalid_argument& e) {
        throw py::value_error(e.what());
    }
}

uint64_t* words_pointer(py::array& words, const MscLayout& g) {
    // The words are updated in place, so no silent conversion copy is allowed.
    if (words.dtype().kind() != 'u' || words.dtype().itemsize() != 8 ||
        !(words.flags() & py::array::c_style) || !words.writeable())
        throw py::value_error("words must be a writeable C-contiguous uint64 array");
    require_size(words, g.n_words, "words");
    return static_cast<uint64_t*>(words.mutable_data());
}

py::dict measurement_dict(const Measurement& m) {
    py::dict d;
    d["magnetisation_sum"] = m.magnetisation_sum;
    d["bond_sum"] = m.bond_sum;
    d["staggered_sum"] = m.staggered_sum;
    return d;
}

}  // namespace

void bind_msc(py::module_& m) {
    m.def(
        "msc_n_words",
        [](const std::vector<int64_t>& shape) { return layout_of(shape).n_words; },
        py::arg("shape"));

    m.def("msc_kernel", [] { return std::string(msc_kernel()); });

    m.def(
        "msc_effective_threads",
        [](const std::vector<int64_t>& shape, int requested) {
            return effective_msc_threads(layout_of(shape), requested);
        },
        py::arg("shape"), py::arg("requested"));

    m.def(
        "msc_pack",
        [](const std::vector<int64_t>& shape, carray<int8_t> spins, int threads) {
            const MscLayout g = layout_of(shape);
            require_size(spins, g.n_sites, "spins");
            carray<uint64_t> words(g.n_words);
            uint64_t* out = words.mutable_data();
            {
                py::gil_scoped_release release;  // both buffers held by this frame
                msc_pack(g, spins.data(), out, threads);
            }
            return words;
        },
        py::arg("shape"), py::arg("spins"), py::arg("threads"));

    m.def(
        "msc_unpack",
        [](const std::vector<int64_t>& shape, carray<uint64_t> words, int threads) {
            const MscLayout g = layout_of(shape);
            require_size(words, g.n_words, "words");
            carray<int8_t> spins(g.n_sites);
            int8_t* out = spins.mutable_data();
            {
                py::gil_scoped_release release;  // both buffers held by this frame
                msc_unpack(g, words.data(), out, threads);
            }
            return spins;
        },
        py::arg("shape"), py::arg("words"), py::arg("threads"));

    m.def(
        "msc_hot_start",
        [](const std::vector<int64_t>& shape, uint64_t seed, int threads) {
            const MscLayout g = layout_of(shape);
            carray<uint64_t> words(g.n_words);
            uint64_t* out = words.mutable_data();
            {
                py::gil_scoped_release release;  // the buffer is held by this frame
                msc_hot_start(g, out, seed, threads);
            }
            return words;
        },
        py::arg("shape"), py::arg("seed"), py::arg("threads"));

    m.def(
        "msc_measure",
        [](const std::vector<int64_t>& shape, carray<uint64_t> words, int threads) {
            const MscLayout g = layout_of(shape);
            require_size(words, g.n_words, "words");
            Measurement result;
            {
                py::gil_scoped_release release;  // the buffer is held by this frame
                result = msc_measure(g, words.data(), threads);
            }
            return measurement_dict(result);
        },
        py::arg("shape"), py::arg("words"), py::arg("threads"));

    m.def(
        "msc_run",
        [](const std::vector<int64_t>& shape, py::array words, uint64_t seed,
           uint64_t first_sweep, double coupling, carray<double> temperature,
           carray<double> field_uniform, int threads, bool record,
           carray<int64_t> snapshot_sweeps) {
            const MscLayout g = layout_of(shape);
            uint64_t* w = words_pointer(words, g);
            const int64_t n_sweeps = temperature.size();
            require_size(field_uniform, n_sweeps, "field_uniform");
            RunSpec spec;
            spec.seed = seed;
            spec.first_sweep = first_sweep;
            spec.n_sweeps = n_sweeps;
            spec.coupling = coupling;
            spec.temperature = temperature.data();
            spec.field_uniform = field_uniform.data();
            spec.threads = threads < 1 ? 1 : threads;

            const int64_t n_rec = record ? n_sweeps : 0;
            carray<double> mag(n_rec), energy(n_rec), stag(n_rec);
            if (record) {
                spec.magnetisation = mag.mutable_data();
                spec.energy = energy.mutable_data();
                spec.staggered = stag.mutable_data();
            }
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
                stats = run_msc(g, w, spec);
            }
            return py::make_tuple(stats_dict(stats), mag, energy, stag, snapshots);
        },
        py::arg("shape"), py::arg("words"), py::arg("seed"), py::arg("first_sweep"),
        py::arg("coupling"), py::arg("temperature"), py::arg("field_uniform"),
        py::arg("threads"), py::arg("record"), py::arg("snapshot_sweeps"));

    m.def(
        "msc_decide_check",
        [](carray<int64_t> thresholds, uint64_t seed, uint64_t sweep, uint32_t colour,
           uint64_t n_words, uint64_t word, int n_eager) {
            // The engine's bit-serial decision for one word against a direct
            // comparison of each lane's full 32-bit number (built from all 32
            // planes); thresholds are per lane, in [0, 2^32].
            require_size(thresholds, 64, "thresholds");
            if (n_eager < 0 || n_eager > 16)
                throw py::value_error("n_eager must be in [0, 16]");
            if (word >= n_words) throw py::value_error("word must be below n_words");
            const int64_t* t = thresholds.data();
            for (int b = 0; b < 64; ++b)
                if (t[b] < 0 || t[b] > (int64_t{1} << 32))
                    throw py::value_error("thresholds must be in [0, 2**32]");
            const StreamKey stream(seed, Purpose::msc_update, colour, sweep);
            uint64_t planes[32];
            for (int q = 0; q < 16; ++q) {
                uint32_t out[4];
                stream.block(static_cast<uint64_t>(q) * n_words + word, out);
                planes[2 * q] = out[0] | (static_cast<uint64_t>(out[1]) << 32);
                planes[2 * q + 1] = out[2] | (static_cast<uint64_t>(out[3]) << 32);
            }
            // Bit-serial, through the engine's function.
            AcceptanceGroups groups;
            uint64_t mask[AcceptanceGroups::kMax] = {};
            uint64_t always = 0;
            std::vector<int64_t> seen;
            for (int b = 0; b < 64; ++b) {
                const uint64_t bit = uint64_t{1} << b;
                if (t[b] == 0) continue;
                if (t[b] == (int64_t{1} << 32)) {
                    always |= bit;
                    continue;
                }
                int j = 0;
                while (j < groups.n &&
                       groups.threshold[j] != static_cast<uint32_t>(t[b]))
                    ++j;
                if (j == groups.n) {
                    if (groups.n == AcceptanceGroups::kMax)
                        throw py::value_error(
                            "at most 14 distinct thresholds in (0, 2**32)");
                    groups.threshold[groups.n++] = static_cast<uint32_t>(t[b]);
                }
                mask[j] |= bit;
            }
            int planes_used = 0;
            const uint64_t serial = msc_decide(groups, mask, always, planes, n_eager,
                                               stream, n_words, word, &planes_used);
            // Direct: lane b's number has bit 31 - k equal to bit b of plane k.
            uint64_t direct = 0;
            py::list uniforms;
            for (int b = 0; b < 64; ++b) {
                uint64_t r = 0;
                for (int k = 0; k < 32; ++k) r |= ((planes[k] >> b) & 1u) << (31 - k);
                uniforms.append(r);
                if (static_cast<int64_t>(r) < t[b]) direct |= uint64_t{1} << b;
            }
            return py::make_tuple(serial, direct, planes_used, uniforms);
        },
        py::arg("thresholds"), py::arg("seed"), py::arg("sweep"), py::arg("colour"),
        py::arg("n_words"), py::arg("word"), py::arg("n_eager"));
}

}  // namespace neurophase::bindings
