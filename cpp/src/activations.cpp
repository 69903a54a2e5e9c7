#include "neurophase/activations.hpp"

#include <algorithm>
#include <array>
#include <atomic>
#include <cmath>
#include <cstring>
#include <type_traits>
#include <vector>

#include "neurophase/dispatch.hpp"
#include "neurophase/parallel.hpp"

#if NEUROPHASE_AVX2_KERNELS || NEUROPHASE_AVX512_KERNELS
#include <immintrin.h>
#endif

namespace neurophase {

namespace {

// Code paths: AVX-512 (8 doubles, 16 floats), AVX2 + FMA (4 doubles, 8 floats) and
// the portable one, the widest the CPU runs chosen at load time; all give the same
// bits.
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

// --- portable single-precision backend: one float per "vector" ----------------------
namespace scalar_f32_backend {

using V = float;
using M = bool;
constexpr int W = 1;

inline V bcast(float x) {
    return x;
}
inline V load(const float* p) {
    return *p;
}
inline void store(float* p, V v) {
    *p = v;
}
inline V fmadd(V a, V b, V c) {
    return std::fma(a, b, c);
}
inline V vmin(V a, V b) {
    return a < b ? a : b;
}  // as minps: b when unordered
inline V vmax(V a, V b) {
    return a > b ? a : b;
}  // as maxps: b when unordered
inline V vabs(V a) {
    return std::fabs(a);
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
inline M gt(V a, V b) {
    return a > b;
}
inline M ne(V a, V b) {
    return a != b;
}
inline M mand(M a, M b) {
    return a && b;
}
inline M mor(M a, M b) {
    return a || b;
}
inline V sel(M m, V a, V b) {
    return m ? a : b;
}
inline bool any(M m) {
    return m;
}
// 2^n for an integer-valued n in [-126, 127].
inline V pow2(V n) {
    uint32_t u;
    const float t = n + 8388735.0f;  // 2^23 + 127: n + 127 in the low bits
    std::memcpy(&u, &t, sizeof u);
    u <<= 23;
    float r;
    std::memcpy(&r, &u, sizeof r);
    return r;
}

// min(|x|, c) for c > 0 (a NaN x gives a NaN).
inline V abs_min(V x, V c) {
    return vmin(c, vabs(x));
}
// copysign(mag, x), and x itself where x is NaN.
inline V sign_of(V mag, V x) {
    return isnan_(x) ? x : std::copysign(mag, x);
}
// Slot (bits(x) >> 22) mod 16 of a 16-entry table, bits below `floor` raised to it.
using Index = uint32_t;
inline Index lut_index(V x, uint32_t floor) {
    uint32_t u;
    std::memcpy(&u, &x, sizeof u);
    return (std::max(u, floor) >> 22) & 15u;
}
inline V lut(const float* table, Index i) {
    return table[i];
}

#include "activation_math_f32.inc"

}  // namespace scalar_f32_backend

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

namespace avx2_f32_backend {

using V = __m256;
using M = __m256;
constexpr int W = 8;

inline V bcast(float x) {
    return _mm256_set1_ps(x);
}
inline V load(const float* p) {
    return _mm256_loadu_ps(p);
}
inline void store(float* p, V v) {
    _mm256_storeu_ps(p, v);
}
inline V fmadd(V a, V b, V c) {
    return _mm256_fmadd_ps(a, b, c);
}
inline V vmin(V a, V b) {
    return _mm256_min_ps(a, b);
}
inline V vmax(V a, V b) {
    return _mm256_max_ps(a, b);
}
inline V vabs(V a) {
    return _mm256_andnot_ps(_mm256_set1_ps(-0.0f), a);
}
inline M signbit_(V a) {
    return _mm256_castsi256_ps(_mm256_srai_epi32(_mm256_castps_si256(a), 31));
}
inline M isnan_(V a) {
    return _mm256_cmp_ps(a, a, _CMP_UNORD_Q);
}
inline M lt(V a, V b) {
    return _mm256_cmp_ps(a, b, _CMP_LT_OQ);
}
inline M gt(V a, V b) {
    return _mm256_cmp_ps(a, b, _CMP_GT_OQ);
}
inline M ne(V a, V b) {
    return _mm256_cmp_ps(a, b, _CMP_NEQ_UQ);
}
inline M mand(M a, M b) {
    return _mm256_and_ps(a, b);
}
inline M mor(M a, M b) {
    return _mm256_or_ps(a, b);
}
inline V sel(M m, V a, V b) {
    return _mm256_blendv_ps(b, a, m);
}
inline bool any(M m) {
    return _mm256_movemask_ps(m) != 0;
}
inline V pow2(V n) {
    const __m256i t = _mm256_castps_si256(_mm256_add_ps(n, bcast(8388735.0f)));
    return _mm256_castsi256_ps(_mm256_slli_epi32(t, 23));
}

inline V abs_min(V x, V c) {
    return vmin(c, vabs(x));
}
inline V sign_of(V mag, V x) {
    const V sign = _mm256_set1_ps(-0.0f);
    return sel(isnan_(x), x,
               _mm256_or_ps(_mm256_andnot_ps(sign, mag), _mm256_and_ps(sign, x)));
}
// The slot as lane indices for two 8-entry permutes, and bit 3 of it moved to the
// sign bit to choose between them.
// Limitation: two permutes per lookup, 16 per vector for the tanh table, all on one
// port of current x86 cores: the AVX2 float32 tanh runs at about a third of the
// speed of the AVX-512 one (one permute per lookup).
struct Index {
    __m256i slot, high;
};
inline Index lut_index(V x, uint32_t floor) {
    const __m256i u = _mm256_max_epu32(_mm256_castps_si256(x),
                                       _mm256_set1_epi32(static_cast<int>(floor)));
    const __m256i slot = _mm256_srli_epi32(u, 22);
    return {slot, _mm256_slli_epi32(slot, 28)};
}
inline V lut(const float* table, const Index& i) {
    const V lo = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table), i.slot);
    const V hi = _mm256_permutevar8x32_ps(_mm256_loadu_ps(table + 8), i.slot);
    return _mm256_blendv_ps(lo, hi, _mm256_castsi256_ps(i.high));
}

#include "activation_math_f32.inc"

}  // namespace avx2_f32_backend
#pragma GCC pop_options
#endif

#if NEUROPHASE_AVX512_KERNELS
#pragma GCC push_options
#pragma GCC target("avx512f,avx512dq,avx512bw,avx512vl,fma")
// --- AVX-512 backends: 8 doubles / 16 floats per vector, lane masks in k registers --
// The same IEEE operations as the other backends (explicit FMAs, correctly rounded
// division and square root), so the results are bitwise identical to them.
namespace avx512_backend {

using V = __m512d;
using M = __mmask8;
constexpr int W = 8;

inline V bcast(double x) {
    return _mm512_set1_pd(x);
}
inline V load(const double* p) {
    return _mm512_loadu_pd(p);
}
inline void store(double* p, V v) {
    _mm512_storeu_pd(p, v);
}
inline V fmadd(V a, V b, V c) {
    return _mm512_fmadd_pd(a, b, c);
}
inline V vmin(V a, V b) {
    return _mm512_min_pd(a, b);
}
inline V vmax(V a, V b) {
    return _mm512_max_pd(a, b);
}
inline V vsqrt(V a) {
    return _mm512_sqrt_pd(a);
}
inline V vabs(V a) {
    return _mm512_andnot_pd(_mm512_set1_pd(-0.0), a);
}
inline V copysign_(V mag, V sgn) {
    const V sign = _mm512_set1_pd(-0.0);
    return _mm512_or_pd(_mm512_andnot_pd(sign, mag), _mm512_and_pd(sign, sgn));
}
inline M signbit_(V a) {
    return _mm512_movepi64_mask(_mm512_castpd_si512(a));
}
inline M isnan_(V a) {
    return _mm512_cmp_pd_mask(a, a, _CMP_UNORD_Q);
}
inline M lt(V a, V b) {
    return _mm512_cmp_pd_mask(a, b, _CMP_LT_OQ);
}
inline M le(V a, V b) {
    return _mm512_cmp_pd_mask(a, b, _CMP_LE_OQ);
}
inline M gt(V a, V b) {
    return _mm512_cmp_pd_mask(a, b, _CMP_GT_OQ);
}
inline M ge(V a, V b) {
    return _mm512_cmp_pd_mask(a, b, _CMP_GE_OQ);
}
inline M eq(V a, V b) {
    return _mm512_cmp_pd_mask(a, b, _CMP_EQ_OQ);
}
inline M mand(M a, M b) {
    return static_cast<M>(a & b);
}
inline M mor(M a, M b) {
    return static_cast<M>(a | b);
}
inline M mnot(M a) {
    return static_cast<M>(~a);
}
inline V sel(M m, V a, V b) {
    return _mm512_mask_blend_pd(m, b, a);
}
inline bool any(M m) {
    return m != 0;
}

inline V pow2(V n) {
    const __m512i t = _mm512_castpd_si512(_mm512_add_pd(n, bcast(4503599627371519.0)));
    return _mm512_castsi512_pd(_mm512_slli_epi64(t, 52));
}
inline V exponent_bits(V x) {
    const __m512i e = _mm512_srli_epi64(_mm512_castpd_si512(x), 52);
    const __m512i b = _mm512_or_si512(e, _mm512_set1_epi64(0x4330000000000000LL));
    return _mm512_sub_pd(_mm512_castsi512_pd(b), bcast(4503599627370496.0));
}
inline V mantissa_bits(V x) {
    const __m512i m = _mm512_and_si512(_mm512_castpd_si512(x),
                                       _mm512_set1_epi64(0x000FFFFFFFFFFFFFLL));
    return _mm512_castsi512_pd(
        _mm512_or_si512(m, _mm512_set1_epi64(0x3FF0000000000000LL)));
}

#include "activation_math.inc"

}  // namespace avx512_backend

namespace avx512_f32_backend {

using V = __m512;
using M = __mmask16;
constexpr int W = 16;

inline V bcast(float x) {
    return _mm512_set1_ps(x);
}
inline V load(const float* p) {
    return _mm512_loadu_ps(p);
}
inline void store(float* p, V v) {
    _mm512_storeu_ps(p, v);
}
inline V fmadd(V a, V b, V c) {
    return _mm512_fmadd_ps(a, b, c);
}
inline V vmin(V a, V b) {
    return _mm512_min_ps(a, b);
}
inline V vmax(V a, V b) {
    return _mm512_max_ps(a, b);
}
inline V vabs(V a) {
    return _mm512_andnot_ps(_mm512_set1_ps(-0.0f), a);
}
inline M signbit_(V a) {
    return _mm512_movepi32_mask(_mm512_castps_si512(a));
}
inline M isnan_(V a) {
    return _mm512_cmp_ps_mask(a, a, _CMP_UNORD_Q);
}
inline M lt(V a, V b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_LT_OQ);
}
inline M gt(V a, V b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_GT_OQ);
}
inline M ne(V a, V b) {
    return _mm512_cmp_ps_mask(a, b, _CMP_NEQ_UQ);
}
inline M mand(M a, M b) {
    return static_cast<M>(a & b);
}
inline M mor(M a, M b) {
    return static_cast<M>(a | b);
}
inline V sel(M m, V a, V b) {
    return _mm512_mask_blend_ps(m, b, a);
}
inline bool any(M m) {
    return m != 0;
}
inline V pow2(V n) {
    const __m512i t = _mm512_castps_si512(_mm512_add_ps(n, bcast(8388735.0f)));
    return _mm512_castsi512_ps(_mm512_slli_epi32(t, 23));
}

// vrangeps 0b1010: the operand of smaller magnitude, its sign cleared.
inline V abs_min(V x, V c) {
    return _mm512_range_ps(x, c, 0x0A);
}
// One masked ternary-logic operation: (x & sign) | (mag & ~sign) where x is not
// NaN, x itself where it is.
inline V sign_of(V mag, V x) {
    const __m512i sign = _mm512_set1_epi32(static_cast<int>(0x80000000u));
    const __mmask16 ordered = _mm512_cmp_ps_mask(x, x, _CMP_ORD_Q);
    return _mm512_castsi512_ps(_mm512_mask_ternarylogic_epi32(
        _mm512_castps_si512(x), ordered, _mm512_castps_si512(mag), sign, 0xE4));
}
// The slot as lane indices of a 16-entry permute (which reads their low 4 bits).
using Index = __m512i;
inline Index lut_index(V x, uint32_t floor) {
    const __m512i u = _mm512_max_epu32(_mm512_castps_si512(x),
                                       _mm512_set1_epi32(static_cast<int>(floor)));
    return _mm512_srli_epi32(u, 22);
}
inline V lut(const float* table, Index i) {
    return _mm512_permutexvar_ps(i, _mm512_loadu_ps(table));
}

#include "activation_math_f32.inc"

}  // namespace avx512_f32_backend
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

// A block of n elements; single: the results will be rounded to float32.
using BlockFn = void (*)(Activation, const double* const*, double*, int64_t, bool);

void scalar_block(Activation op, const double* const* in, double* out, int64_t n,
                  bool single) {
    if (op == Activation::quench_mf) return quench_meanfield_block<false>(in, out, n);
    if (op == Activation::quench_mf_d) return quench_meanfield_block<true>(in, out, n);
    scalar_backend::run_block(op, in, out, n, single);
}

#if NEUROPHASE_AVX2_KERNELS
void avx2_block(Activation op, const double* const* in, double* out, int64_t n,
                bool single) {
    if (op == Activation::quench_mf || op == Activation::quench_mf_d)
        return scalar_block(op, in, out, n, single);
    avx2_backend::run_block(op, in, out, n, single);
}
#endif

#if NEUROPHASE_AVX512_KERNELS
void avx512_block(Activation op, const double* const* in, double* out, int64_t n,
                  bool single) {
    if (op == Activation::quench_mf || op == Activation::quench_mf_d)
        return scalar_block(op, in, out, n, single);
    avx512_backend::run_block(op, in, out, n, single);
}
#endif

#if NEUROPHASE_AVX2_KERNELS
bool cpu_has_avx2_fma() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}
#endif

#if NEUROPHASE_AVX512_KERNELS
// F for the 512-bit registers and k masks, DQ for the mask moves, BW and VL as the
// target the kernels are compiled for (GCC may use them for the glue code).
bool cpu_has_avx512() {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq") &&
           __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
           __builtin_cpu_supports("fma");
}
#endif

std::atomic<BlockFn>& selected_block() {
    static std::atomic<BlockFn> fn{[] {
#if NEUROPHASE_AVX512_KERNELS
        if (cpu_has_avx512()) return &avx512_block;
#endif
#if NEUROPHASE_AVX2_KERNELS
        if (cpu_has_avx2_fma()) return &avx2_block;
#endif
        return &scalar_block;
    }()};
    return fn;
}

// --- strided blocks -----------------------------------------------------------------

constexpr int64_t kBlock = 1024;  // elements per block: a multiple of every width
// float32 data of logistic, tanh, softplus and their derivatives run through native
// single-precision kernels (8 lanes per AVX2 instruction, a few ulp of float32).
// Limitation: the other activations compute float32 data in double precision
// (4 lanes per AVX2 instruction): exact to the float32 rounding, at the float64 speed.
// For the mean-field root that is ~17x the cost of NumPy's float32 tanh (its double
// solver stops early for float32 output, but no single-precision solver exists).

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

namespace {

using BlockFnF32 = void (*)(Activation, const float* const*, float*, int64_t, int);

// The single-precision kernels of the selected path.
BlockFnF32 f32_block_for([[maybe_unused]] BlockFn block) {
#if NEUROPHASE_AVX512_KERNELS
    if (block == &avx512_block) return &avx512_f32_backend::run_block_f32;
#endif
#if NEUROPHASE_AVX2_KERNELS
    if (block == &avx2_block) return &avx2_f32_backend::run_block_f32;
#endif
    return &scalar_f32_backend::run_block_f32;
}

bool has_f32_kernel(Activation op) {
    return op == Activation::logistic || op == Activation::logistic_d ||
           op == Activation::tanh || op == Activation::tanh_d ||
           op == Activation::softplus || op == Activation::softplus_d;
}

// Gains whose single-precision split gh + gl keeps g x and the scalings of the
// kernels in the normal range; other gains take the double-precision kernels.
bool f32_gain_ok(double g) {
    return g >= 0x1p-60 && g <= 0x1p60;
}

// Scratch space of one thread, kept between calls (no allocation per call).
struct Workspace {
    std::vector<double> d;
    std::vector<float> f;
};
Workspace& workspace() {
    thread_local Workspace w;
    return w;
}

// Everything the blocks of one call share.
struct Job {
    Activation op;
    std::vector<int64_t> shape;
    std::vector<Operand> src;
    Operand dst;
    int64_t total;
    BlockFn block;
    BlockFnF32 block_f32;  // nullptr: no single-precision kernel for this call
};

// Reads elements [first, first + n) of a non-broadcast operand as T (direct
// pointer when it is contiguous of that type).
template <typename T>
const T* gather(const Job& job, const Operand& a, int64_t first, int64_t n, T* mine) {
    const bool same = a.single == std::is_same_v<T, float>;
    if (a.contiguous && same) return reinterpret_cast<const T*>(a.data) + first;
    if (a.contiguous && a.single) {
        const float* f = reinterpret_cast<const float*>(a.data) + first;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) mine[i] = static_cast<T>(f[i]);
    } else if (a.contiguous) {
        const double* d = reinterpret_cast<const double*>(a.data) + first;
        for (int64_t i = 0; i < n; ++i) mine[i] = static_cast<T>(d[i]);
    } else {
        walk(a, job.shape, first, n, [&](int64_t i, int64_t off) {
            mine[i] = static_cast<T>(read(a.data + off, a.single));
        });
    }
    return mine;
}

// Writes n results of type T to elements [first, first + n) of the output.
template <typename T>
void scatter(const Job& job, int64_t first, int64_t n, const T* res) {
    const Operand& dst = job.dst;
    char* base = const_cast<char*>(dst.data);
    if (dst.contiguous && dst.single) {
        float* f = reinterpret_cast<float*>(base) + first;
#pragma omp simd
        for (int64_t i = 0; i < n; ++i) f[i] = static_cast<float>(res[i]);
    } else if (dst.contiguous) {
        double* d = reinterpret_cast<double*>(base) + first;
        for (int64_t i = 0; i < n; ++i) d[i] = static_cast<double>(res[i]);
    } else {
        walk(dst, job.shape, first, n, [&](int64_t i, int64_t off) {
            if (dst.single) {
                const float f = static_cast<float>(res[i]);
                std::memcpy(base + off, &f, sizeof f);
            } else {
                const double d = static_cast<double>(res[i]);
                std::memcpy(base + off, &d, sizeof d);
            }
        });
    }
}

// The gain split g = gh + gl into two floats.
inline void split_gain(double g, float& gh, float& gl) {
    gh = static_cast<float>(g);
    gl = static_cast<float>(g - static_cast<double>(gh));
}

// A gain (within f32_gain_ok) that is a power of two: g x is exact in float32.
inline bool power_of_two(double g) {
    int e;
    return std::frexp(g, &e) == 0.5;
}

// Blocks [b_begin, b_end) of a call, on the calling thread.
void run_blocks(const Job& job, int64_t b_begin, int64_t b_end) {
    const int nin = static_cast<int>(job.src.size());
    Workspace& ws = workspace();
    const int64_t width = std::min(kBlock, job.total);
    // Double path: one block per input and one for the result.
    ws.d.resize(static_cast<size_t>(nin + 1) * kBlock);
    double* res = ws.d.data() + static_cast<size_t>(nin) * kBlock;
    std::array<const double*, 8> ptr{};
    for (int k = 0; k < nin; ++k)
        if (job.src[k].broadcast)
            std::fill_n(ws.d.begin() + k * kBlock, width,
                        read(job.src[k].data, job.src[k].single));
    // Single-precision path: x, gh, gl and the result.
    float* fx = nullptr;
    float* fgh = nullptr;
    float* fgl = nullptr;
    float* fres = nullptr;
    bool gain_ok_bcast = true;
    int gains_bcast = 0;  // see run_block_f32: 0 any, 1 powers of two, 2 ones
    if (job.block_f32) {
        ws.f.resize(4 * kBlock);
        fx = ws.f.data();
        fgh = fx + kBlock;
        fgl = fgh + kBlock;
        fres = fgl + kBlock;
        if (job.src[0].broadcast)
            std::fill_n(fx, width, static_cast<float>(read(job.src[0].data, true)));
        if (job.src[1].broadcast) {
            const double g = read(job.src[1].data, job.src[1].single);
            gain_ok_bcast = f32_gain_ok(g);
            gains_bcast = g == 1.0 ? 2 : power_of_two(g) ? 1 : 0;
            float gh, gl;
            split_gain(g, gh, gl);
            std::fill_n(fgh, width, gh);
            std::fill_n(fgl, width, gl);
        }
    }

    // Every gain 1, x and the output contiguous float32: the kernels read x alone,
    // so the whole range runs as one call (the same elements, the same bits).
    const Operand& x = job.src[0];
    if (job.block_f32 && gains_bcast == 2 && x.contiguous && x.single && !x.broadcast &&
        job.dst.contiguous && job.dst.single) {
        const int64_t first = b_begin * kBlock;
        const int64_t n = std::min(b_end * kBlock, job.total) - first;
        const float* in[3] = {reinterpret_cast<const float*>(x.data) + first, fgh, fgl};
        float* out = reinterpret_cast<float*>(const_cast<char*>(job.dst.data));
        job.block_f32(job.op, in, out + first, n, 2);
        return;
    }

    for (int64_t b = b_begin; b < b_end; ++b) {
        const int64_t first = b * kBlock;
        const int64_t n = std::min(kBlock, job.total - first);
        if (job.block_f32 && gain_ok_bcast) {
            bool ok = true;
            int gains = gains_bcast;
            if (!job.src[1].broadcast) {
                double* slot = ws.d.data() + kBlock;  // the gain's slot
                const double* g = gather<double>(job, job.src[1], first, n, slot);
                bool exact = true, ones = true;
                for (int64_t i = 0; i < n; ++i) {
                    ok = ok && f32_gain_ok(g[i]);
                    exact = exact && power_of_two(g[i]);
                    ones = ones && g[i] == 1.0;
                    split_gain(g[i], fgh[i], fgl[i]);
                }
                gains = ones ? 2 : exact ? 1 : 0;
            }
            // Limitation: a block holding a gain outside [2^-60, 2^60] is computed by
            // the double-precision kernels as a whole (same bits for any thread count).
            if (ok) {
                const float* in[3] = {
                    job.src[0].broadcast ? fx
                                         : gather<float>(job, job.src[0], first, n, fx),
                    fgh, fgl};
                const bool direct = job.dst.contiguous && job.dst.single;
                float* target =
                    direct ? reinterpret_cast<float*>(const_cast<char*>(job.dst.data)) +
                                 first
                           : fres;
                job.block_f32(job.op, in, target, n, gains);
                if (!direct) scatter<float>(job, first, n, fres);
                continue;
            }
        }
        for (int k = 0; k < nin; ++k) {
            double* mine = ws.d.data() + static_cast<size_t>(k) * kBlock;
            ptr[k] = job.src[k].broadcast
                         ? mine
                         : gather<double>(job, job.src[k], first, n, mine);
        }
        const bool direct = job.dst.contiguous && !job.dst.single;
        double* target =
            direct ? reinterpret_cast<double*>(const_cast<char*>(job.dst.data)) + first
                   : res;
        job.block(job.op, ptr.data(), target, n, job.dst.single);
        if (!direct) scatter<double>(job, first, n, res);
    }
}

}  // namespace

void apply_activation(Activation op, const std::vector<int64_t>& shape,
                      const std::vector<ActivationOperand>& inputs,
                      const ActivationOperand& out, int threads) {
    int64_t total = 1;
    for (const int64_t s : shape) total *= s;
    if (total == 0) return;
    Job job;
    job.op = op;
    job.total = total;
    // A 0-d array is one element of a 1-d shape.
    job.shape = shape;
    const bool scalar = job.shape.empty();
    if (scalar) job.shape.push_back(1);
    for (const auto& a : inputs) {
        ActivationOperand in = a;
        if (scalar) in.strides.push_back(0);
        job.src.push_back(describe(in, job.shape));
    }
    ActivationOperand o = out;
    if (scalar) o.strides.push_back(0);
    job.dst = describe(o, job.shape);
    job.block = selected_block().load();
    const bool f32 = has_f32_kernel(op) && job.dst.single && job.src[0].single &&
                     job.src.size() == 2;
    job.block_f32 = f32 ? f32_block_for(job.block) : nullptr;

    const int64_t n_blocks = (total + kBlock - 1) / kBlock;
    // Threads only pay off with enough work per thread; the split never changes a
    // result, because the blocks are fixed by the size alone and every element goes
    // through the same kernel on its own.
    const int64_t per_thread = heavy(op) ? 2 * kBlock : 16 * kBlock;
    const int64_t useful = std::max<int64_t>(1, total / per_thread);
    const int team = static_cast<int>(std::min<int64_t>(threads, useful));
    if (team <= 1) {
        // Small calls: no parallel region to start (it costs microseconds).
        run_blocks(job, 0, n_blocks);
        return;
    }
    // Runs of whole blocks handed out in turn: a thread that starts late (its core
    // busy with another process) leaves its share to the others instead of
    // holding up the call.
    // Limitation: a thread descheduled in the middle of its run still holds up the
    // end of the call, so with the other core busy two threads can be slower than
    // one; there is no fallback to one thread as the lattice engines have.
    const int64_t chunk = per_thread / kBlock;
    std::atomic<int64_t> next{0};
#pragma omp parallel num_threads(team)
    {
        for (;;) {
            const int64_t lo = next.fetch_add(chunk, std::memory_order_relaxed);
            if (lo >= n_blocks) break;
            run_blocks(job, lo, std::min(lo + chunk, n_blocks));
        }
    }
}

std::vector<std::string> activation_paths() {
    std::vector<std::string> paths;
#if NEUROPHASE_AVX512_KERNELS
    paths.push_back("avx512");
#endif
#if NEUROPHASE_AVX2_KERNELS
    paths.push_back("avx2-fma");
#endif
    paths.push_back("scalar");
    return paths;
}

std::string activation_path() {
#if NEUROPHASE_AVX512_KERNELS
    if (selected_block().load() == &avx512_block) return "avx512";
#endif
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
#if NEUROPHASE_AVX512_KERNELS
    if (name == "avx512" && cpu_has_avx512()) {
        selected_block().store(&avx512_block);
        return true;
    }
#endif
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
