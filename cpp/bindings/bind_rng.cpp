#include <array>

#include "common.hpp"
#include "neurophase/rng.hpp"

namespace neurophase::bindings {

void bind_rng(py::module_& m) {
    m.def(
        "philox4x32",
        [](std::array<uint32_t, 4> ctr, std::array<uint32_t, 2> key) {
            std::array<uint32_t, 4> out{};
            philox4x32(ctr.data(), key.data(), out.data());
            return out;
        },
        py::arg("counter"), py::arg("key"));
    m.def(
        "philox_stream",
        [](uint64_t seed, uint32_t purpose, uint32_t substream, uint64_t sweep,
           uint64_t first_block, std::size_t n_blocks, bool vectorised) {
            carray<uint32_t> out(static_cast<py::ssize_t>(4 * n_blocks));
            uint32_t* dst = out.mutable_data();
            const StreamKey stream(seed, static_cast<Purpose>(purpose), substream,
                                   sweep);
            {
                py::gil_scoped_release release;  // only the new array is touched
                if (vectorised) {
                    philox_fill(stream, first_block, n_blocks, dst);
                } else {
                    for (std::size_t b = 0; b < n_blocks; ++b)
                        stream.block(first_block + b, dst + 4 * b);
                }
            }
            return out;
        },
        py::arg("seed"), py::arg("purpose"), py::arg("substream"), py::arg("sweep"),
        py::arg("first_block"), py::arg("n_blocks"), py::arg("vectorised") = true);
}

}  // namespace neurophase::bindings
