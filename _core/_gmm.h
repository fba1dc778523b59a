/* Gaussian-mixture loops on a transposed chunk (features x rows), vectorised across rows.
 *
 * A chunk of m rows is stored transposed, XT[f * m + r], so that every loop below runs its
 * innermost index over rows: contiguous, independent, and vectorised by the compiler (the
 * sums over features stay in feature order for each row, so results do not depend on the
 * vector width). Compiled for AVX2 + FMA (chosen at run time) and for the baseline.
 */
#ifndef KMIX_GMM_H
#define KMIX_GMM_H

#include <math.h>
#include <stddef.h>
#include "_fused.h"

/* LT[c * m + r] = sum_f ((XT[f * m + r] - mu[c * d + f]) * p[c * d + f])^2  (p NULL: 1).
 * Rows in blocks of 16 whose sums stay in registers across the features. */
#define KMIX_GMM_ROWBLOCK 16
#define KMIX_GMM_SQDIST_BODY                                                        \
    for (ptrdiff_t c = 0; c < k; ++c) {                                             \
        double *restrict out = LT + c * m;                                          \
        const double *restrict muc = mu + c * d;                                    \
        const double *restrict pc = p ? p + c * d : NULL;                           \
        ptrdiff_t r0 = 0;                                                           \
        for (; r0 + KMIX_GMM_ROWBLOCK <= m; r0 += KMIX_GMM_ROWBLOCK) {              \
            double acc[KMIX_GMM_ROWBLOCK] = {0};                                    \
            for (ptrdiff_t f = 0; f < d; ++f) {                                     \
                const double a = muc[f], b = pc ? pc[f] : 1.0;                      \
                const double *restrict x = XT + f * m + r0;                         \
                for (int r = 0; r < KMIX_GMM_ROWBLOCK; ++r) {                       \
                    const double t = (x[r] - a) * b;                                \
                    acc[r] += t * t;                                                \
                }                                                                   \
            }                                                                       \
            for (int r = 0; r < KMIX_GMM_ROWBLOCK; ++r) out[r0 + r] = acc[r];       \
        }                                                                           \
        for (ptrdiff_t r = r0; r < m; ++r) {                                        \
            double acc = 0.0;                                                       \
            for (ptrdiff_t f = 0; f < d; ++f) {                                     \
                const double t = (XT[f * m + r] - muc[f]) * (pc ? pc[f] : 1.0);     \
                acc += t * t;                                                       \
            }                                                                       \
            out[r] = acc;                                                           \
        }                                                                           \
    }

/* out[r] = sum_f ZT[f * m + r]^2 */
#define KMIX_GMM_COLSUMSQ_BODY                                                      \
    for (ptrdiff_t r = 0; r < m; ++r) out[r] = 0.0;                                 \
    for (ptrdiff_t f = 0; f < d; ++f) {                                             \
        const double *restrict z = ZT + f * m;                                      \
        for (ptrdiff_t r = 0; r < m; ++r) out[r] += z[r] * z[r];                    \
    }

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static void kmix_gmm_sqdist_avx2(const double *restrict XT, ptrdiff_t m, ptrdiff_t d,
                                 const double *restrict mu, const double *restrict p,
                                 ptrdiff_t k, double *restrict LT)
{
    /* The same sums as KMIX_GMM_SQDIST_BODY (feature order per row), 16 rows in registers. */
    for (ptrdiff_t c = 0; c < k; ++c) {
        double *restrict out = LT + c * m;
        const double *restrict muc = mu + c * d;
        const double *restrict pc = p ? p + c * d : NULL;
        ptrdiff_t r0 = 0;
        for (; r0 + 16 <= m; r0 += 16) {
            __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
            __m256d a2 = _mm256_setzero_pd(), a3 = _mm256_setzero_pd();
            for (ptrdiff_t f = 0; f < d; ++f) {
                const __m256d a = _mm256_set1_pd(muc[f]);
                const __m256d b = _mm256_set1_pd(pc ? pc[f] : 1.0);
                const double *x = XT + f * m + r0;
                const __m256d t0 = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x), a), b);
                const __m256d t1 = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x + 4), a), b);
                const __m256d t2 = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x + 8), a), b);
                const __m256d t3 = _mm256_mul_pd(_mm256_sub_pd(_mm256_loadu_pd(x + 12), a), b);
                a0 = _mm256_fmadd_pd(t0, t0, a0);
                a1 = _mm256_fmadd_pd(t1, t1, a1);
                a2 = _mm256_fmadd_pd(t2, t2, a2);
                a3 = _mm256_fmadd_pd(t3, t3, a3);
            }
            _mm256_storeu_pd(out + r0, a0);
            _mm256_storeu_pd(out + r0 + 4, a1);
            _mm256_storeu_pd(out + r0 + 8, a2);
            _mm256_storeu_pd(out + r0 + 12, a3);
        }
        for (ptrdiff_t r = r0; r < m; ++r) {
            double acc = 0.0;
            for (ptrdiff_t f = 0; f < d; ++f) {
                const double t = (XT[f * m + r] - muc[f]) * (pc ? pc[f] : 1.0);
                acc = fma(t, t, acc);
            }
            out[r] = acc;
        }
    }
}

__attribute__((target("avx2,fma")))
static void kmix_gmm_colsumsq_avx2(const double *restrict ZT, ptrdiff_t m, ptrdiff_t d,
                                   double *restrict out)
{ KMIX_GMM_COLSUMSQ_BODY }
#endif

static void kmix_gmm_sqdist_base(const double *restrict XT, ptrdiff_t m, ptrdiff_t d,
                                 const double *restrict mu, const double *restrict p,
                                 ptrdiff_t k, double *restrict LT)
{ KMIX_GMM_SQDIST_BODY }

static void kmix_gmm_colsumsq_base(const double *restrict ZT, ptrdiff_t m, ptrdiff_t d,
                                   double *restrict out)
{ KMIX_GMM_COLSUMSQ_BODY }

static inline void kmix_gmm_sqdist(const double *XT, ptrdiff_t m, ptrdiff_t d, const double *mu,
                                   const double *p, ptrdiff_t k, double *LT)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_gmm_sqdist_avx2(XT, m, d, mu, p, k, LT); return; }
#endif
    kmix_gmm_sqdist_base(XT, m, d, mu, p, k, LT);
}

static inline void kmix_gmm_colsumsq(const double *ZT, ptrdiff_t m, ptrdiff_t d, double *out)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_gmm_colsumsq_avx2(ZT, m, d, out); return; }
#endif
    kmix_gmm_colsumsq_base(ZT, m, d, out);
}

/* Log-sum-exp over components for every row of LT (k x m), turned into responsibilities.
 * LT holds sq (the squared Mahalanobis terms) on entry; logdet[c] + logw[c] is added.
 * On exit LT[c * m + r] = responsibility, lpn[r] = log p(x_r), best[r] = first argmax and,
 * when ent is given, ent[r] = sum_c r_c log r_c (tmp: m scratch values). Without normalize,
 * LT is left as the unnormalised exp(l - max) (enough for lpn and best).
 * EXP(t) is called for t in (-700, 0] only (smaller terms cannot change a sum >= 1). */
#define KMIX_GMM_LSE_BODY(EXP, LOG)                                                 \
    for (ptrdiff_t r = 0; r < m; ++r) { mx[r] = -INFINITY; s[r] = 0.0; best[r] = 0; } \
    for (ptrdiff_t c = 0; c < k; ++c) {                                             \
        double *restrict l = LT + c * m;                                            \
        const double a = logdet[c], b = logw[c];                                    \
        for (ptrdiff_t r = 0; r < m; ++r) {                                         \
            l[r] = -0.5 * (dlog2pi + l[r]) + a + b;                                 \
            if (l[r] > mx[r]) { mx[r] = l[r]; best[r] = (int)c; }                   \
        }                                                                           \
    }                                                                               \
    if (ent) for (ptrdiff_t r = 0; r < m; ++r) ent[r] = 0.0;                        \
    for (ptrdiff_t c = 0; c < k; ++c) {                                             \
        double *restrict l = LT + c * m;                                            \
        for (ptrdiff_t r = 0; r < m; ++r) l[r] -= mx[r];                            \
        if (ent) for (ptrdiff_t r = 0; r < m; ++r) tmp[r] = l[r];                   \
        EXP(l, m);                                                                  \
        for (ptrdiff_t r = 0; r < m; ++r) s[r] += l[r];                             \
        if (ent) for (ptrdiff_t r = 0; r < m; ++r) ent[r] += l[r] * tmp[r];         \
    }                                                                               \
    for (ptrdiff_t r = 0; r < m; ++r) lpn[r] = s[r];                                \
    LOG(lpn, m);                                                                    \
    for (ptrdiff_t r = 0; r < m; ++r) {                                             \
        const double ls = lpn[r];                                                   \
        lpn[r] = mx[r] + ls;                                                        \
        s[r] = 1.0 / s[r];                                                          \
        /* sum_c r_c log r_c = sum_c r_c (t_c - log s) = (sum_c e_c t_c) / s - log s */ \
        if (ent) ent[r] = ent[r] * s[r] - ls;                                       \
    }                                                                               \
    if (normalize)                                                                  \
        for (ptrdiff_t c = 0; c < k; ++c) {                                         \
            double *restrict l = LT + c * m;                                        \
            for (ptrdiff_t r = 0; r < m; ++r) l[r] *= s[r];                         \
        }

static void kmix_exp_array_libm(double *v, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) v[i] = v[i] > -700.0 ? exp(v[i]) : 0.0;
}

static void kmix_log_array_libm(double *v, ptrdiff_t n)
{
    for (ptrdiff_t i = 0; i < n; ++i) v[i] = log(v[i]);
}

static void kmix_gmm_lse_base(double *restrict LT, ptrdiff_t m, ptrdiff_t k, double dlog2pi,
                              const double *restrict logdet, const double *restrict logw,
                              double *restrict mx, double *restrict s, double *restrict lpn,
                              int *restrict best, double *restrict ent, double *restrict tmp,
                              int normalize)
{ KMIX_GMM_LSE_BODY(kmix_exp_array_libm, kmix_log_array_libm) }

#if KMIX_HAVE_DISPATCH
/* e^x for x in (-700, 0]: x = n ln2 + r (Cody-Waite, |r| <= ln2 / 2), e^r by its Taylor
 * polynomial of degree 13 (truncation < 1e-17), times 2^n set in the exponent bits. Within
 * 2 ulp of libm's exp; the vector and scalar paths round identically. */
__attribute__((target("avx2,fma")))
static inline double kmix_exp1_fma(double x)
{
    const double n = nearbyint(x * 1.4426950408889634);
    double r = fma(-n, 6.93147180369123816490e-01, x);
    r = fma(-n, 1.90821492927058770002e-10, r);
    double p = 1.0 / 6227020800.0;
    static const double c[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                                 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    for (int i = 0; i < 13; ++i) p = fma(p, r, c[i]);
    union { double d; long long i; } u;
    u.i = (long long)(n + 1023.0) << 52;
    return p * u.d;
}

__attribute__((target("avx2,fma")))
static void kmix_exp_array_fma(double *v, ptrdiff_t n)
{
    static const double c[13] = {1.0 / 479001600.0, 1.0 / 39916800.0, 1.0 / 3628800.0,
                                 1.0 / 362880.0, 1.0 / 40320.0, 1.0 / 5040.0, 1.0 / 720.0,
                                 1.0 / 120.0, 1.0 / 24.0, 1.0 / 6.0, 0.5, 1.0, 1.0};
    const __m256d log2e = _mm256_set1_pd(1.4426950408889634);
    const __m256d ln2hi = _mm256_set1_pd(6.93147180369123816490e-01);
    const __m256d ln2lo = _mm256_set1_pd(1.90821492927058770002e-10);
    const __m256d lo = _mm256_set1_pd(-700.0);
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) {
        const __m256d x0 = _mm256_loadu_pd(v + i);
        const __m256d keep = _mm256_cmp_pd(x0, lo, _CMP_GT_OQ);
        const __m256d x = _mm256_max_pd(x0, lo);
        const __m256d nn = _mm256_round_pd(_mm256_mul_pd(x, log2e),
                                           _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        __m256d r = _mm256_fnmadd_pd(nn, ln2hi, x);
        r = _mm256_fnmadd_pd(nn, ln2lo, r);
        __m256d p = _mm256_set1_pd(1.0 / 6227020800.0);
        for (int j = 0; j < 13; ++j) p = _mm256_fmadd_pd(p, r, _mm256_set1_pd(c[j]));
        const __m128i n32 = _mm256_cvtpd_epi32(_mm256_add_pd(nn, _mm256_set1_pd(1023.0)));
        const __m256i bits = _mm256_slli_epi64(_mm256_cvtepi32_epi64(n32), 52);
        const __m256d y = _mm256_mul_pd(p, _mm256_castsi256_pd(bits));
        _mm256_storeu_pd(v + i, _mm256_and_pd(y, keep));
    }
    for (; i < n; ++i) v[i] = v[i] > -700.0 ? kmix_exp1_fma(v[i]) : 0.0;
}

/* log x for positive normal x, four at a time: x = 2^e (1 + f) with 1 + f in
 * [sqrt(2)/2, sqrt(2)), then fdlibm's log1p kernel (s = f / (2 + f), a degree-14 polynomial
 * in s; error < 1 ulp). A tail shorter than four is padded, so every value is rounded by the
 * same vector code. */
__attribute__((target("avx2,fma")))
static inline __m256d kmix_log4_fma(__m256d x)
{
    const __m256i bits = _mm256_castpd_si256(x);
    const __m256i mant_mask = _mm256_set1_epi64x(0x000FFFFFFFFFFFFFLL);
    /* mantissa with exponent 0 (in [1, 2)); above sqrt(2) take exponent -1 instead */
    __m256d m = _mm256_castsi256_pd(_mm256_or_si256(_mm256_and_si256(bits, mant_mask),
                                                    _mm256_set1_epi64x(0x3FF0000000000000LL)));
    const __m256d big = _mm256_cmp_pd(m, _mm256_set1_pd(1.4142135623730951), _CMP_GT_OQ);
    m = _mm256_blendv_pd(m, _mm256_mul_pd(m, _mm256_set1_pd(0.5)), big);
    /* exponent as a double: ((bits >> 52) & 0x7FF) - 1023 (+1 where halved) */
    const __m256i e64 = _mm256_and_si256(_mm256_srli_epi64(bits, 52), _mm256_set1_epi64x(0x7FF));
    const __m256d two52 = _mm256_set1_pd(4503599627370496.0);
    __m256d e = _mm256_sub_pd(_mm256_castsi256_pd(_mm256_or_si256(e64, _mm256_castpd_si256(two52))),
                              two52);
    e = _mm256_sub_pd(e, _mm256_set1_pd(1023.0));
    e = _mm256_add_pd(e, _mm256_and_pd(big, _mm256_set1_pd(1.0)));
    const __m256d f = _mm256_sub_pd(m, _mm256_set1_pd(1.0));
    const __m256d sv = _mm256_div_pd(f, _mm256_add_pd(_mm256_set1_pd(2.0), f));
    const __m256d z = _mm256_mul_pd(sv, sv);
    const __m256d w = _mm256_mul_pd(z, z);
    const __m256d t1 = _mm256_mul_pd(w, _mm256_add_pd(_mm256_set1_pd(3.999999999940941908e-01),
        _mm256_mul_pd(w, _mm256_add_pd(_mm256_set1_pd(2.222219843214978396e-01),
        _mm256_mul_pd(w, _mm256_set1_pd(1.531383769920937332e-01))))));
    const __m256d t2 = _mm256_mul_pd(z, _mm256_add_pd(_mm256_set1_pd(6.666666666666735130e-01),
        _mm256_mul_pd(w, _mm256_add_pd(_mm256_set1_pd(2.857142874366239149e-01),
        _mm256_mul_pd(w, _mm256_add_pd(_mm256_set1_pd(1.818357216161805012e-01),
        _mm256_mul_pd(w, _mm256_set1_pd(1.479819860511658591e-01))))))));
    const __m256d R = _mm256_add_pd(t2, t1);
    const __m256d hfsq = _mm256_mul_pd(_mm256_set1_pd(0.5), _mm256_mul_pd(f, f));
    /* e ln2_hi - ((hfsq - (s (hfsq + R) + e ln2_lo)) - f) */
    const __m256d inner = _mm256_add_pd(_mm256_mul_pd(sv, _mm256_add_pd(hfsq, R)),
                                        _mm256_mul_pd(e, _mm256_set1_pd(1.90821492927058770002e-10)));
    __m256d y = _mm256_sub_pd(_mm256_mul_pd(e, _mm256_set1_pd(6.93147180369123816490e-01)),
                              _mm256_sub_pd(_mm256_sub_pd(hfsq, inner), f));
    /* as libm: log 0 = -inf, log of a negative = NaN, log inf = inf, log NaN = NaN */
    const __m256d zero = _mm256_setzero_pd();
    y = _mm256_blendv_pd(y, _mm256_set1_pd(-INFINITY), _mm256_cmp_pd(x, zero, _CMP_EQ_OQ));
    y = _mm256_blendv_pd(y, _mm256_set1_pd(NAN), _mm256_cmp_pd(x, zero, _CMP_LT_OQ));
    const __m256d special = _mm256_or_pd(_mm256_cmp_pd(x, x, _CMP_UNORD_Q),
                                         _mm256_cmp_pd(x, _mm256_set1_pd(INFINITY), _CMP_EQ_OQ));
    return _mm256_blendv_pd(y, x, special);
}

__attribute__((target("avx2,fma")))
static void kmix_log_array_fma(double *v, ptrdiff_t n)
{
    ptrdiff_t i = 0;
    for (; i + 4 <= n; i += 4) _mm256_storeu_pd(v + i, kmix_log4_fma(_mm256_loadu_pd(v + i)));
    if (i < n) {
        double pad[4] = {1.0, 1.0, 1.0, 1.0};
        for (ptrdiff_t j = i; j < n; ++j) pad[j - i] = v[j];
        _mm256_storeu_pd(pad, kmix_log4_fma(_mm256_loadu_pd(pad)));
        for (ptrdiff_t j = i; j < n; ++j) v[j] = pad[j - i];
    }
}

__attribute__((target("avx2,fma")))
static void kmix_gmm_lse_fma(double *restrict LT, ptrdiff_t m, ptrdiff_t k, double dlog2pi,
                              const double *restrict logdet, const double *restrict logw,
                              double *restrict mx, double *restrict s, double *restrict lpn,
                              int *restrict best, double *restrict ent, double *restrict tmp,
                              int normalize)
{ KMIX_GMM_LSE_BODY(kmix_exp_array_fma, kmix_log_array_fma) }
#endif

static inline void kmix_gmm_lse(double *LT, ptrdiff_t m, ptrdiff_t k, double dlog2pi,
                                const double *logdet, const double *logw, double *mx,
                                double *s, double *lpn, int *best, double *ent, double *tmp,
                                int normalize)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) {
        kmix_gmm_lse_fma(LT, m, k, dlog2pi, logdet, logw, mx, s, lpn, best, ent, tmp, normalize);
        return;
    }
#endif
    kmix_gmm_lse_base(LT, m, k, dlog2pi, logdet, logw, mx, s, lpn, best, ent, tmp, normalize);
}

/* For tests: e^x for x in (-700, 0] by the kernel's exp (vectorised where available). */
static inline void kmix_gmm_log_array(double *v, ptrdiff_t n)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_log_array_fma(v, n); return; }
#endif
    kmix_log_array_libm(v, n);
}

static inline void kmix_gmm_exp_array(double *v, ptrdiff_t n)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_exp_array_fma(v, n); return; }
#endif
    kmix_exp_array_libm(v, n);
}

/* Small-d versions of the BLAS calls of the pass (below ~12 features a BLAS call costs more
 * than its arithmetic). Z (m x d) is stored transposed: ZT[f * m + r]. */

/* Z <- Z U for U (d x d, row-major) upper triangular: column f of the result uses columns
 * g <= f of Z, so the columns are rewritten from the last to the first. */
static void kmix_gmm_times_upper_small(const double *restrict U, double *restrict ZT,
                                       ptrdiff_t m, ptrdiff_t d)
{
    for (ptrdiff_t f = d - 1; f >= 0; --f) {
        double *restrict out = ZT + f * m;
        const double uff = U[f * d + f];
        for (ptrdiff_t r = 0; r < m; ++r) out[r] *= uff;
        for (ptrdiff_t g = f - 1; g >= 0; --g) {
            const double u = U[g * d + f];
            const double *restrict z = ZT + g * m;
            for (ptrdiff_t r = 0; r < m; ++r) out[r] += z[r] * u;
        }
    }
}

static double kmix_gmm_dot(const double *restrict a, const double *restrict b, ptrdiff_t m)
{
    double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;
    ptrdiff_t r = 0;
    for (; r + 4 <= m; r += 4) {
        s0 += a[r] * b[r]; s1 += a[r + 1] * b[r + 1];
        s2 += a[r + 2] * b[r + 2]; s3 += a[r + 3] * b[r + 3];
    }
    for (; r < m; ++r) s0 += a[r] * b[r];
    return (s0 + s1) + (s2 + s3);
}

/* C (d x d, row-major lower triangle) += Z^T Z */
static void kmix_gmm_gram_small(const double *ZT, double *C, ptrdiff_t m, ptrdiff_t d)
{
    for (ptrdiff_t f = 0; f < d; ++f)
        for (ptrdiff_t g = 0; g <= f; ++g)
            C[f * d + g] += kmix_gmm_dot(ZT + f * m, ZT + g * m, m);
}

/* y (d) += Z^T v */
static void kmix_gmm_colsums_small(const double *ZT, const double *v, double *y, ptrdiff_t m,
                                   ptrdiff_t d)
{
    for (ptrdiff_t f = 0; f < d; ++f) y[f] += kmix_gmm_dot(ZT + f * m, v, m);
}

/* S1 (d) += Z^T v and S2 (d x d, row-major lower triangle) += Z^T diag(v) Z, as dot products
 * of v z_f (in tmp, m values) with each column: the weighted moments without square roots. */
static void kmix_gmm_weighted_moments_small(const double *ZT, const double *v, double *S1,
                                            double *S2, ptrdiff_t m, ptrdiff_t d, double *tmp)
{
    kmix_gmm_colsums_small(ZT, v, S1, m, d);
    for (ptrdiff_t f = 0; f < d; ++f) {
        const double *restrict z = ZT + f * m;
        for (ptrdiff_t r = 0; r < m; ++r) tmp[r] = v[r] * z[r];
        for (ptrdiff_t g = 0; g <= f; ++g) S2[f * d + g] += kmix_gmm_dot(tmp, ZT + g * m, m);
    }
}

#endif
