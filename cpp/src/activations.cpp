#include "neurophase/activations.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <vector>

#include "neurophase/dispatch.hpp"
#include "neurophase/parallel.hpp"

#if NEUROPHASE_AVX2_KERNELS
#include <immintrin.h>
#endif

namespace neurophase {

namespace {

// --- portable backend: one double per "vector" -------------------------------------
// std::fma is a correctly rounded fused multiply-add on every CPU (in hardware where
// there is one), so this path gives the same bits as the AVX2 + FMA path.
// Limitation: on a CPU without FMA, std::fma is emulated in software and this path
// is several times slower than plain arithmetic would be; identical bits win here.
namespace scalar_backend {

using V = double;
using M = bool;
constexpr int W = 1;

inline V bcast(double x) {
    return x;
}
inline V load(const double* p) {
    return *p;
}
inline void store(double* p, V v) {
    *p = v;
}
inline V fmadd(V a, V b, V c) {
    return std::fma(a, b, c);
}
inline V vmin(V a, V b) {
    return a < b ? a : b;
}  // as minpd: b when unordered
inline V vmax(V a, V b) {
    return a > b ? a : b;
}  // as maxpd: b when unordered
inline V vsqrt(V a) {
    return std::sqrt(a);
}
inline V vabs(V a) {
    return std::fabs(a);
}
inline V copysign_(V mag, V sgn) {
    return std::copysign(mag, sgn);
}
inline M signbit_(V a) {
    return std::signbit(a);
}
inline M isnan_(V a) {
    return a != a;
}
inline M lt(V a, V b) {
    return a < b;
}
inline M le(V a, V b) {
    return a <= b;
}
inline M gt(V a, V b) {
    return a > b;
}
inline M ge(V a, V b) {
    return a >= b;
}
inline M eq(V a, V b) {
    return a == b;
}
inline M mand(M a, M b) {
    return a && b;
}
inline M mor(M a, M b) {
    return a || b;
}
inline M mnot(M a) {
    return !a;
}
inline V sel(M m, V a, V b) {
    return m ? a : b;
}
inline bool any(M m) {
    return m;
}

inline uint64_t bits_of(double x) {
    uint64_t u;
    std::memcpy(&u, &x, sizeof u);
    return u;
}
inline double from_bits(uint64_t u) {
    double x;
    std::memcpy(&x, &u, sizeof x);
    return x;
}
// 2^n for an integer-valued n in [-1022, 1023].
inline V pow2(V n) {
    return from_bits(bits_of(n + 4503599627371519.0) << 52);
}
// Biased exponent field of x, as a double.
inline V exponent_bits(V x) {
    return from_bits((bits_of(x) >> 52) | 0x4330000000000000ULL) - 4503599627370496.0;
}
// Significand of a normal x scaled into [1, 2).
inline V mantissa_bits(V x) {
    return from_bits((bits_of(x) & 0x000FFFFFFFFFFFFFULL) | 0x3FF0000000000000ULL);
}

#include "activation_math.inc"

}  // namespace scalar_backend

#if NEUROPHASE_AVX2_KERNELS
#pragma GCC push_options
#pragma GCC target("avx2,fma")
namespace avx2_backend {

using V = __m256d;
using M = __m256d;
constexpr int W = 4;

inline V bcast(double x) {
    return _mm256_set1_pd(x);
}
inline V load(const double* p) {
    return _mm256_loadu_pd(p);
}
inline void store(double* p, V v) {
    _mm256_storeu_pd(p, v);
}
inline V fmadd(V a, V b, V c) {
    return _mm256_fmadd_pd(a, b, c);
}
inline V vmin(V a, V b) {
    return _mm256_min_pd(a, b);
}
inline V vmax(V a, V b) {
    return _mm256_max_pd(a, b);
}
inline V vsqrt(V a) {
    return _mm256_sqrt_pd(a);
}
inline V vabs(V a) {
    return _mm256_andnot_pd(_mm256_set1_pd(-0.0), a);
}
inline V copysign_(V mag, V sgn) {
    const V sign = _mm256_set1_pd(-0.0);
    return _mm256_or_pd(_mm256_andnot_pd(sign, mag), _mm256_and_pd(sign, sgn));
}
inline M signbit_(V a) {
    return _mm256_castsi256_pd(
        _mm256_cmpgt_epi64(_mm256_setzero_si256(), _mm256_castpd_si256(a)));
}
inline M isnan_(V a) {
    return _mm256_cmp_pd(a, a, _CMP_UNORD_Q);
}
inline M lt(V a, V b) {
    return _mm256_cmp_pd(a, b, _CMP_LT_OQ);
}
inline M le(V a, V b) {
    return _mm256_cmp_pd(a, b, _CMP_LE_OQ);
}
inline M gt(V a, V b) {
    return _mm256_cmp_pd(a, b, _CMP_GT_OQ);
}
inline M ge(V a, V b) {
    return _mm256_cmp_pd(a, b, _CMP_GE_OQ);
}
inline M eq(V a, V b) {
    return _mm256_cmp_pd(a, b, _CMP_EQ_OQ);
}
inline M mand(M a, M b) {
    return _mm256_and_pd(a, b);
}
inline M mor(M a, M b) {
    return _mm256_or_pd(a, b);
}
inline M mnot(M a) {
    return _mm256_xor_pd(a, _mm256_castsi256_pd(_mm256_set1_epi64x(-1)));
}
inline V sel(M m, V a, V b) {
    return _mm256_blendv_pd(b, a, m);
}
inline bool any(M m) {
    return _mm256_movemask_pd(m) != 0;
}

inline V pow2(V n) {
    const __m256i t = _mm256_castpd_si256(_mm256_add_pd(n, bcast(4503599627371519.0)));
    return _mm256_castsi256_pd(_mm256_slli_epi64(t, 52));
}
inline V exponent_bits(V x) {
    const __m256i e = _mm256_srli_epi64(_mm256_castpd_si256(x), 52);
    const __m256i b = _mm256_or_si256(e, _mm256_set1_epi64x(0x4330000000000000LL));
    return _mm256_sub_pd(_mm256_castsi256_pd(b), bcast(4503599627370496.0));
}
inline V mantissa_bits(V x) {
    const __m256i m = _mm256_and_si256(_mm256_castpd_si256(x),
                                       _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL));
    return _mm256_castsi256_pd(
        _mm256_or_si256(m, _mm256_set1_epi64x(0x3FF0000000000000LL)));
}

#include "activation_math.inc"

}  // namespace avx2_backend
#pragma GCC pop_options
#endif

// --- integrated mean-field magnetisation ---------------------------------------
// F(t) = integral_t^1 m_sp(t') dt' in reduced temperature t = T/T_c. Along the
// spontaneous branch m = tanh(u), t = tanh(u)/u, so with W(u) = integral_0^u
// Q(v) sech^2(v) dv and Q(v) = 1 - tanh(v)/v = R(tanh v)/v (R = artanh - id):
//   F(t) = (1 - t) m - W(u),   u = artanh(m) = m/t,
// an identity (integration by parts) free of cancellation as t -> 1. W is tabulated
// at panel ends once (Gauss-Legendre, 12 nodes per panel of width 1/4); one more
// panel gives W(u) anywhere.
class IntegratedMagnetisation {
  public:
    static const IntegratedMagnetisation& get() {
        static const IntegratedMagnetisation table;
        return table;
    }

    // F(t) for 0 < t < 1, given m = m_sp(t).
    double integral(double t, double m) const {
        const double u = m / t;
        return (1.0 - t) * m - w(u);
    }

    double plateau() const { return 1.0 - cumulative_.back(); }

  private:
    static constexpr int kNodes = 12;
    static constexpr double kPanel = 0.25;
    static constexpr int kPanels = 160;  // up to u = 40: the rest is below e^-80

    std::array<double, kNodes> x_{}, wt_{};
    std::vector<double> cumulative_;

    IntegratedMagnetisation() {
        legendre_nodes();
        cumulative_.assign(kPanels + 1, 0.0);
        for (int j = 0; j < kPanels; ++j)
            cumulative_[j + 1] = cumulative_[j] + panel(j * kPanel, (j + 1) * kPanel);
    }

    // Q(v) sech^2(v): Q = R(tanh v)/v keeps relative accuracy for small v (where
    // 1 - tanh(v)/v cancels); above tanh v = 1/2 the direct form has no such loss
    // and stays finite where tanh v rounds to 1.
    static double integrand(double v) {
        const double m = scalar_backend::vtanh(v);
        const double q =
            m <= 0.5 ? scalar_backend::artanh_minus_id(m) / v : 1.0 - m / v;
        return q * scalar_backend::vsech2(v);
    }

    double panel(double lo, double hi) const {
        const double c = 0.5 * (lo + hi), h = 0.5 * (hi - lo);
        double sum = 0.0;
        for (int i = 0; i < kNodes; ++i) sum += wt_[i] * integrand(c + h * x_[i]);
        return h * sum;
    }

    double w(double u) const {
        if (!(u < kPanels * kPanel)) return cumulative_.back();
        const int j = static_cast<int>(u / kPanel);
        return cumulative_[j] + panel(j * kPanel, u);
    }

    // Gauss-Legendre nodes and weights on [-1, 1] by Newton on P_n.
    void legendre_nodes() {
        const double pi = 3.14159265358979323846;
        for (int i = 0; i < kNodes; ++i) {
            double z = std::cos(pi * (i + 0.75) / (kNodes + 0.5));
            double dp = 1.0;
            for (int it = 0; it < 100; ++it) {
                double p0 = 1.0, p1 = z;
                for (int k = 2; k <= kNodes; ++k) {
                    const double p2 = ((2 * k - 1) * z * p1 - (k - 1) * p0) / k;
                    p0 = p1;
                    p1 = p2;
                }
                dp = kNodes * (z * p1 - p0) / (z * z - 1.0);
                const double dz = p1 / dp;
                z -= dz;
                if (std::fabs(dz) < 1e-17) break;
            }
            x_[i] = z;
            wt_[i] = 2.0 / ((1.0 - z * z) * dp * dp);
        }
    }
};

// Inputs s, T0, zJ, k, r. Scalar code for both paths (one code path, same bits).
// Limitation: not vectorised (a root and a 12-node quadrature per element).
template <bool Derivative>
void quench_meanfield_block(const double* const* in, double* out, int64_t n) {
    const IntegratedMagnetisation& table = IntegratedMagnetisation::get();
    for (int64_t i = 0; i < n; ++i) {
        const double s = in[0][i], t0 = in[1][i], zj = in[2][i], k = in[3][i],
                     r = in[4][i];
        const double t = (t0 - k * s) / zj;  // reduced temperature after the quench
        double value;
        if (std::isnan(t)) {
            value = t;
        } else if (t >= 1.0) {
            value = 0.0;
        } else if (t <= 0.0) {
            value = Derivative ? 0.0 : zj / r * table.plateau();
        } else {
            const double m =
                scalar_backend::meanfield_root(1.0 / t, 0.0, (t - 1.0) / t);
            value = Derivative ? k / r * m : zj / r * table.integral(t, m);
        }
        out[i] = value;
    }
}

using BlockFn = void (*)(Activation, const double* const*, double*, int64_t);

void scalar_block(Activation op, const double* const* in, double* out, int64_t n) {
    if (op == Activation::quench_mf) return quench_meanfield_block<false>(in, out, n);
    if (op == Activation::quench_mf_d) return quench_meanfield_block<true>(in, out, n);
    scalar_backend::run_block(op, in, out, n);
}

#if NEUROPHASE_AVX2_KERNELS
void avx2_block(Activation op, const double* const* in, double* out, int64_t n) {
    if (op == Activation::quench_mf || op == Activation::quench_mf_d)
        return scalar_block(op, in, out, n);
    avx2_backend::run_block(op, in, out, n);
}
#endif

#if NEUROPHASE_AVX2_KERNELS
bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

std::atomic<BlockFn>& selected_block() {
    static std::atomic<BlockFn> fn{[] {
#if NEUROPHASE_AVX2_KERNELS
        if (cpu_has_avx2_fma()) return &avx2_block;
#endif
        return &scalar_block;
    }()};
    return fn;
}

// --- strided blocks -----------------------------------------------------------------

constexpr int64_t kBlock = 1024;  // elements per block: a multiple of every width
// Limitation: float32 data are computed in double precision (4 lanes per AVX2
// instruction, not 8): exact to the float32 rounding, at the float64 speed.

struct Operand {
    const char* data;
    bool single;
    bool broadcast;   // every stride 0: one value
    bool contiguous;  // C order over the shape
    std::vector<int64_t> strides;
};

Operand describe(const ActivationOperand& a, const std::vector<int64_t>& shape) {
    Operand o{static_cast<const char*>(a.data), a.single, true, true, a.strides};
    int64_t expected = a.single ? 4 : 8;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
        if (shape[d] == 1) continue;
        if (a.strides[d] != 0) o.broadcast = false;
        if (a.strides[d] != expected) o.contiguous = false;
        expected *= shape[d];
    }
    return o;
}

// Byte offset of flat (C-order) element `flat` of an operand.
int64_t offset_of(const Operand& o, const std::vector<int64_t>& shape, int64_t flat) {
    int64_t off = 0;
    for (int d = static_cast<int>(shape.size()) - 1; d >= 0; --d) {
        off += (flat % shape[d]) * o.strides[d];
        flat /= shape[d];
    }
    return off;
}

// Walks the elements [first, first + n) of an operand in C order.
template <typename Visit>
void walk(const Operand& o, const std::vector<int64_t>& shape, int64_t first, int64_t n,
          Visit visit) {
    const int nd = static_cast<int>(shape.size());
    std::vector<int64_t> idx(nd);
    int64_t flat = first;
    for (int d = nd - 1; d >= 0; --d) {
        idx[d] = flat % shape[d];
        flat /= shape[d];
    }
    int64_t off = offset_of(o, shape, first);
    const int64_t inner_stride = o.strides[nd - 1], inner = shape[nd - 1];
    int64_t i = 0;
    while (i < n) {
        const int64_t run = std::min(n - i, inner - idx[nd - 1]);
        for (int64_t j = 0; j < run; ++j) visit(i + j, off + j * inner_stride);
        i += run;
        off += run * inner_stride;
        idx[nd - 1] += run;
        for (int d = nd - 1; d > 0 && idx[d] == shape[d]; --d) {
            off -= shape[d] * o.strides[d];
            idx[d] = 0;
            ++idx[d - 1];
            off += o.strides[d - 1];
        }
    }
}

inline double read(const char* p, bool single) {
    if (single) {
        float f;
        std::memcpy(&f, p, sizeof f);
        return f;
    }
    double d;
    std::memcpy(&d, p, sizeof d);
    return d;
}

bool heavy(Activation op) {
    return (op >= Activation::meanfield && op <= Activation::open_fraction_h_d) ||
           op == Activation::quench_mf || op == Activation::quench_mf_d;
}

}  // namespace

int activation_arity(Activation op) {
    switch (op) {
        case Activation::step:
        case Activation::step_d:
            return 1;
        case Activation::meanfield:
        case Activation::meanfield_d:
        case Activation::open_fraction:
        case Activation::open_fraction_d:
            return 3;
        case Activation::meanfield_h:
        case Activation::meanfield_h_d:
        case Activation::open_fraction_h:
        case Activation::open_fraction_h_d:
            return 4;
        case Activation::quench:
        case Activation::quench_d:
        case Activation::quench_sat:
        case Activation::quench_sat_d:
            return 6;
        case Activation::quench_mf:
        case Activation::quench_mf_d:
            return 5;
        default:
            return 2;
    }
}

void apply_activation(Activation op, const std::vector<int64_t>& shape,
                      const std::vector<ActivationOperand>& inputs,
                      const ActivationOperand& out, int threads) {
    int64_t total = 1;
    for (const int64_t s : shape) total *= s;
    if (total == 0) return;
    // A 0-d array is one element of a 1-d shape.
    std::vector<int64_t> shp = shape;
    std::vector<ActivationOperand> ins = inputs;
    ActivationOperand o = out;
    if (shp.empty()) {
        shp.push_back(1);
        for (auto& a : ins) a.strides.push_back(0);
        o.strides.push_back(0);
    }
    const int nin = static_cast<int>(ins.size());
    std::vector<Operand> src;
    for (const auto& a : ins) src.push_back(describe(a, shp));
    const Operand dst = describe(o, shp);
    const BlockFn block = selected_block().load();

    const int64_t n_blocks = (total + kBlock - 1) / kBlock;
    // Threads only pay off with enough work per thread; the split never changes a
    // result, because every element goes through the same kernel on its own.
    const int64_t per_thread = heavy(op) ? 2 * kBlock : 16 * kBlock;
    const int64_t useful = std::max<int64_t>(1, total / per_thread);
    const int team = static_cast<int>(std::min<int64_t>(threads, useful));
    (void)team;

#pragma omp parallel num_threads(team)
    {
        // Per-thread buffers: one block per input (broadcast inputs filled once) and
        // one for the result.
        std::vector<double> buf(static_cast<size_t>(nin + 1) * kBlock);
        std::vector<const double*> ptr(nin);
        for (int k = 0; k < nin; ++k)
            if (src[k].broadcast)
                std::fill_n(buf.begin() + k * kBlock, kBlock,
                            read(src[k].data, src[k].single));
        double* res = buf.data() + static_cast<size_t>(nin) * kBlock;

#pragma omp for schedule(static)
        for (int64_t b = 0; b < n_blocks; ++b) {
            const int64_t first = b * kBlock;
            const int64_t n = std::min(kBlock, total - first);
            for (int k = 0; k < nin; ++k) {
                const Operand& a = src[k];
                double* mine = buf.data() + static_cast<size_t>(k) * kBlock;
                if (a.broadcast) {
                    ptr[k] = mine;
                } else if (a.contiguous && !a.single) {
                    ptr[k] = reinterpret_cast<const double*>(a.data) + first;
                } else if (a.contiguous) {
                    const float* f = reinterpret_cast<const float*>(a.data) + first;
                    for (int64_t i = 0; i < n; ++i) mine[i] = f[i];
                    ptr[k] = mine;
                } else {
                    walk(a, shp, first, n, [&](int64_t i, int64_t off) {
                        mine[i] = read(a.data + off, a.single);
                    });
                    ptr[k] = mine;
                }
            }
            const bool direct = dst.contiguous && !dst.single;
            double* target =
                direct ? reinterpret_cast<double*>(const_cast<char*>(dst.data)) + first
                       : res;
            block(op, ptr.data(), target, n);
            if (direct) continue;
            char* base = const_cast<char*>(dst.data);
            if (dst.contiguous) {
                float* f = reinterpret_cast<float*>(base) + first;
                for (int64_t i = 0; i < n; ++i) f[i] = static_cast<float>(res[i]);
            } else {
                walk(dst, shp, first, n, [&](int64_t i, int64_t off) {
                    if (dst.single) {
                        const float f = static_cast<float>(res[i]);
                        std::memcpy(base + off, &f, sizeof f);
                    } else {
                        std::memcpy(base + off, &res[i], sizeof(double));
                    }
                });
            }
        }
    }
}

std::vector<std::string> activation_paths() {
    std::vector<std::string> paths{"scalar"};
#if NEUROPHASE_AVX2_KERNELS
    paths.insert(paths.begin(), "avx2-fma");
#endif
    return paths;
}

std::string activation_path() {
#if NEUROPHASE_AVX2_KERNELS
    if (selected_block().load() == &avx2_block) return "avx2-fma";
#endif
    return "scalar";
}

bool select_activation_path(const std::string& name) {
    if (name == "scalar") {
        selected_block().store(&scalar_block);
        return true;
    }
#if NEUROPHASE_AVX2_KERNELS
    if (name == "avx2-fma" && cpu_has_avx2_fma()) {
        selected_block().store(&avx2_block);
        return true;
    }
#endif
    return false;
}

double quench_meanfield_plateau() {
    return IntegratedMagnetisation::get().plateau();
}

}  // namespace neurophase
