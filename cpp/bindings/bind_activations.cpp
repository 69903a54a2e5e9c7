#include <array>

#include "common.hpp"
#include "neurophase/activations.hpp"

namespace neurophase::bindings {

namespace {

// An operand over the common shape: axes are matched from the right and axes of
// length 1 (or missing) are broadcast with stride 0, as NumPy does.
ActivationOperand operand(const py::array& a, const std::vector<int64_t>& shape,
                          const char* name) {
    const bool single = a.dtype().is(py::dtype::of<float>());
    if (!single && !a.dtype().is(py::dtype::of<double>()))
        throw py::type_error(std::string(name) + " must be float32 or float64");
    const auto nd = static_cast<py::ssize_t>(shape.size());
    if (a.ndim() > nd)
        throw py::value_error(std::string(name) + " has more axes than the result");
    ActivationOperand o{const_cast<void*>(a.data()), single, {}};
    for (py::ssize_t d = 0; d < nd; ++d) {
        const py::ssize_t ad = d - (nd - a.ndim());
        if (ad < 0 || (a.shape(ad) == 1 && shape[d] != 1)) {
            o.strides.push_back(0);
        } else if (a.shape(ad) == shape[d]) {
            o.strides.push_back(a.strides(ad));
        } else {
            throw py::value_error(std::string(name) +
                                  " does not broadcast to the result shape");
        }
    }
    return o;
}

}  // namespace

void bind_activations(py::module_& m) {
    m.def(
        "activation",
        [](int op, py::array out, const py::sequence& inputs, int threads) {
            if (op < 0 || op >= static_cast<int>(Activation::count))
                throw py::value_error("unknown activation " + std::to_string(op));
            const auto act = static_cast<Activation>(op);
            const auto n_in = static_cast<int>(inputs.size());
            if (n_in != activation_arity(act))
                throw py::value_error("activation " + std::to_string(op) + " takes " +
                                      std::to_string(activation_arity(act)) +
                                      " inputs");
            if (!out.writeable()) throw py::value_error("out must be writeable");
            const std::vector<int64_t> shape(out.shape(), out.shape() + out.ndim());
            const ActivationOperand dst = operand(out, shape, "out");
            // Python floats are scalar operands (stride 0 on every axis): no 0-d
            // array is made for them.
            std::array<double, 8> scalars{};
            std::vector<py::array> arrays;
            arrays.reserve(n_in);
            std::vector<ActivationOperand> src;
            src.reserve(n_in);
            for (int k = 0; k < n_in; ++k) {
                const py::handle item = inputs[k];
                if (PyFloat_CheckExact(item.ptr())) {
                    scalars[k] = PyFloat_AS_DOUBLE(item.ptr());
                    src.push_back(ActivationOperand{
                        &scalars[k], false, std::vector<int64_t>(shape.size(), 0)});
                } else {
                    if (!py::isinstance<py::array>(item))
                        throw py::type_error("input must be a float or an array");
                    arrays.push_back(py::reinterpret_borrow<py::array>(item));
                    src.push_back(operand(arrays.back(), shape, "input"));
                }
            }
            {
                // The arrays are held by the caller's frame for the whole call and
                // the kernels touch no Python object, so the GIL can go.
                py::gil_scoped_release release;
                apply_activation(act, shape, src, dst, threads < 1 ? 1 : threads);
            }
        },
        py::arg("op"), py::arg("out"), py::arg("inputs"), py::arg("threads"));
    m.def("activation_paths", &activation_paths);
    m.def("activation_path", &activation_path);
    m.def("select_activation_path", &select_activation_path, py::arg("name"));
    m.def("quench_meanfield_plateau", &quench_meanfield_plateau);
}

}  // namespace neurophase::bindings
