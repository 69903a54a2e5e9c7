// Batched activation functions of the mean-field membrane: elementwise kernels over
// strided arrays of float32/float64, threaded with OpenMP and vectorised with
// AVX-512 or AVX2 + FMA where the CPU has it. Results are bitwise identical for any
// thread count and on every code path (see activation_math.inc).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace neurophase {

// Each activation with its inputs; parameters broadcast like the first input.
enum class Activation : int {
    logistic,           // x, gain
    logistic_d,         // x, gain
    tanh,               // x, gain
    tanh_d,             // x, gain
    step,               // x
    step_d,             // x
    relu,               // x, gain
    relu_d,             // x, gain
    softplus,           // x, gain
    softplus_d,         // x, gain
    swish,              // x, gain
    swish_d,            // x, gain
    meanfield,          // h, T, zJ
    meanfield_d,        // h, T, zJ
    open_fraction,      // h, T, zJ
    open_fraction_d,    // h, T, zJ
    meanfield_h,        // h, T, zJ, m_prev (hysteresis)
    meanfield_h_d,      // h, T, zJ, m_prev
    open_fraction_h,    // h, T, zJ, m_prev
    open_fraction_h_d,  // h, T, zJ, m_prev
    quench,             // s, T0, Tc, k, r, sigma (no saturation)
    quench_d,           // s, T0, Tc, k, r, sigma
    quench_sat,         // s, T0, Tc, k, r, sigma (saturating at Tc/r)
    quench_sat_d,       // s, T0, Tc, k, r, sigma
    quench_mf,          // s, T0, zJ, k, r (integrated mean-field magnetisation)
    quench_mf_d,        // s, T0, zJ, k, r
    count
};

// Number of inputs of an activation (the input itself plus its parameters).
int activation_arity(Activation op);

// One operand: a strided array of float32 or float64 with the common shape.
struct ActivationOperand {
    void* data;
    bool single;                   // float32 (else float64)
    std::vector<int64_t> strides;  // in bytes, one per axis (0: broadcast)
};

// out[i] = op(inputs[0][i], inputs[1][i], ...) over every index of `shape`.
// Inputs may alias `out` element for element (out[i] and in[i] the same memory);
// any other overlap must be resolved by the caller. `threads` >= 1.
void apply_activation(Activation op, const std::vector<int64_t>& shape,
                      const std::vector<ActivationOperand>& inputs,
                      const ActivationOperand& out, int threads);

// SIMD code paths of the activation kernels compiled in, and the one in use.
std::vector<std::string> activation_paths();
std::string activation_path();
// Select a compiled path this CPU can run ("avx512", "avx2-fma" or "scalar"); false
// if not.
bool select_activation_path(const std::string& name);

// (1/r) * integral of the mean-field spontaneous magnetisation over the reheating
// from max(0, T0 - k s) to T_c = zJ, in units of zJ: the value at T0 - k s <= 0.
double quench_meanfield_plateau();

}  // namespace neurophase
