/* Fused partial distances for narrow data: D[r, j] = cnorm[j] - 2 <x_r, c_j>.
 *
 * Each dot product is a chain of fused multiply-adds over the features in order, from zero,
 * then scaled by -2 (exact) and added to the squared norm: the same roundings as an FMA gemm
 * microkernel with beta = 1 on a preloaded D, so labels agree with BLAS-based Lloyd
 * implementations. The chains run across centres (j), which the compiler vectorises.
 *
 * Compiled twice: for AVX2+FMA (chosen at run time when the CPU has it) and for the baseline
 * (no FMA instruction: multiply then add).
 */
#ifndef KMIX_FUSED_H
#define KMIX_FUSED_H

#include <stddef.h>
#include <stdint.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#define KMIX_SMALL_KT 8
#define KMIX_SMALL_KT_MAX_D 64

/* Few centres (kt <= 8) of narrow data: the tile is copied into 8 zero-padded lanes so the
 * loop over centres has a fixed length the compiler unrolls and vectorises (one or two AVX
 * registers per row); each lane's chain of multiply-adds is the general body's. */
#define KMIX_FUSED_BODY(T, MADD)                                                   \
    if (kt <= KMIX_SMALL_KT && d <= KMIX_SMALL_KT_MAX_D) {                         \
        T ct8[KMIX_SMALL_KT_MAX_D * KMIX_SMALL_KT];                                \
        for (ptrdiff_t f = 0; f < d; ++f)                                          \
            for (ptrdiff_t j = 0; j < KMIX_SMALL_KT; ++j)                          \
                ct8[f * KMIX_SMALL_KT + j] = j < kt ? CT[f * ldct + j] : (T)0;     \
        for (ptrdiff_t r = 0; r < m; ++r) {                                        \
            const T *restrict x = X + r * d;                                       \
            T acc[KMIX_SMALL_KT];                                                  \
            for (ptrdiff_t j = 0; j < KMIX_SMALL_KT; ++j) acc[j] = 0;              \
            for (ptrdiff_t f = 0; f < d; ++f) {                                    \
                const T xf = x[f];                                                 \
                for (ptrdiff_t j = 0; j < KMIX_SMALL_KT; ++j)                      \
                    acc[j] = MADD(xf, ct8[f * KMIX_SMALL_KT + j], acc[j]);         \
            }                                                                      \
            T *restrict Dr = D + r * kt;                                           \
            for (ptrdiff_t j = 0; j < kt; ++j) Dr[j] = cnorm[j] + (T)(-2) * acc[j];\
        }                                                                          \
        return;                                                                    \
    }                                                                              \
    for (ptrdiff_t r = 0; r < m; ++r) {                                            \
        const T *restrict x = X + r * d;                                           \
        T *restrict Dr = D + r * kt;                                               \
        for (ptrdiff_t j = 0; j < kt; ++j) Dr[j] = 0;                              \
        for (ptrdiff_t f = 0; f < d; ++f) {                                        \
            const T xf = x[f];                                                     \
            const T *restrict ct = CT + f * ldct;                                  \
            for (ptrdiff_t j = 0; j < kt; ++j) Dr[j] = MADD(xf, ct[j], Dr[j]);     \
        }                                                                          \
        for (ptrdiff_t j = 0; j < kt; ++j) Dr[j] = cnorm[j] + (T)(-2) * Dr[j];     \
    }

#define KMIX_MADD_PLAIN(a, b, c) ((a) * (b) + (c))

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KMIX_HAVE_DISPATCH 1
#define KMIX_MADD_FMA_D(a, b, c) __builtin_fma((a), (b), (c))
#define KMIX_MADD_FMA_F(a, b, c) __builtin_fmaf((a), (b), (c))

__attribute__((target("avx2,fma")))
static void kmix_fused_d_fma(const double *X, ptrdiff_t m, ptrdiff_t d, const double *CT,
                             ptrdiff_t ldct, const double *cnorm, ptrdiff_t kt, double *D)
{ KMIX_FUSED_BODY(double, KMIX_MADD_FMA_D) }

__attribute__((target("avx2,fma")))
static void kmix_fused_f_fma(const float *X, ptrdiff_t m, ptrdiff_t d, const float *CT,
                             ptrdiff_t ldct, const float *cnorm, ptrdiff_t kt, float *D)
{ KMIX_FUSED_BODY(float, KMIX_MADD_FMA_F) }
#else
#define KMIX_HAVE_DISPATCH 0
#endif

static void kmix_fused_d_base(const double *X, ptrdiff_t m, ptrdiff_t d, const double *CT,
                              ptrdiff_t ldct, const double *cnorm, ptrdiff_t kt, double *D)
{ KMIX_FUSED_BODY(double, KMIX_MADD_PLAIN) }

static void kmix_fused_f_base(const float *X, ptrdiff_t m, ptrdiff_t d, const float *CT,
                              ptrdiff_t ldct, const float *cnorm, ptrdiff_t kt, float *D)
{ KMIX_FUSED_BODY(float, KMIX_MADD_PLAIN) }

static int kmix_cpu_has_fma(void)
{
#if KMIX_HAVE_DISPATCH
    /* KMIX_DISABLE_SIMD (any value) forces the baseline kernels, e.g. to test them. (POPCNT:
     * every CPU with AVX2 has it; the AVX2 kernels that count bits use the instruction.) */
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = getenv("KMIX_DISABLE_SIMD") == NULL && __builtin_cpu_supports("avx2")
                 && __builtin_cpu_supports("fma") && __builtin_cpu_supports("popcnt");
    }
    return cached;
#else
    return 0;
#endif
}

/* Whether the CPU has AVX-512F (cached). kmix's kernels never use it, and KMIX_DISABLE_SIMD
 * does not change the answer: it only picks between thresholds measured on the two kinds of
 * CPU (what a float64 pass costs against its float32 screen; the results are the same). */
static int kmix_cpu_has_avx512f(void)
{
#if KMIX_HAVE_DISPATCH
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx512f");
    }
    return cached;
#else
    return 0;
#endif
}

/* Call FN##_avx2 ARGS when the CPU has AVX2 and FMA (and KMIX_DISABLE_SIMD is unset),
 * FN##_base ARGS otherwise: the body of a kernel's dispatching function. */
#if KMIX_HAVE_DISPATCH
#define KMIX_DISPATCH(FN, ARGS)                                                    \
    if (kmix_cpu_has_fma()) { FN##_avx2 ARGS; return; }                            \
    FN##_base ARGS;
/* The same for a kernel that returns its result. */
#define KMIX_DISPATCH_RETURN(FN, ARGS)                                             \
    if (kmix_cpu_has_fma()) return FN##_avx2 ARGS;                                 \
    return FN##_base ARGS;
#else
#define KMIX_DISPATCH(FN, ARGS) FN##_base ARGS;
#define KMIX_DISPATCH_RETURN(FN, ARGS) return FN##_base ARGS;
#endif

static inline void kmix_fused_d(const double *X, ptrdiff_t m, ptrdiff_t d, const double *CT,
                                ptrdiff_t ldct, const double *cnorm, ptrdiff_t kt, double *D)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_fused_d_fma(X, m, d, CT, ldct, cnorm, kt, D); return; }
#endif
    kmix_fused_d_base(X, m, d, CT, ldct, cnorm, kt, D);
}

static inline void kmix_fused_f(const float *X, ptrdiff_t m, ptrdiff_t d, const float *CT,
                                ptrdiff_t ldct, const float *cnorm, ptrdiff_t kt, float *D)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) { kmix_fused_f_fma(X, m, d, CT, ldct, cnorm, kt, D); return; }
#endif
    kmix_fused_f_base(X, m, d, CT, ldct, cnorm, kt, D);
}

/* Index of the first minimum of v[0:n] (n >= 1); the minimum goes to *best.
 * Ties go to the lowest index, as a scalar scan with strict < would. The AVX2 version keeps
 * the first minimum of each lane, then resolves ties between lanes by index. */
#define KMIX_ARGMIN_SCALAR(T)                                                      \
    ptrdiff_t arg = 0;                                                             \
    T m = v[0];                                                                    \
    for (ptrdiff_t j = 1; j < n; ++j) {                                            \
        const int lt = v[j] < m;                                                   \
        m = lt ? v[j] : m;                                                         \
        arg = lt ? j : arg;                                                        \
    }                                                                              \
    *best = m;                                                                     \
    return arg;

static ptrdiff_t kmix_argmin_d_base(const double *v, ptrdiff_t n, double *best)
{ KMIX_ARGMIN_SCALAR(double) }

static ptrdiff_t kmix_argmin_f_base(const float *v, ptrdiff_t n, float *best)
{ KMIX_ARGMIN_SCALAR(float) }

#if KMIX_HAVE_DISPATCH
#include <immintrin.h>

/* The AVX2 argmin for one element type: W lanes of type T (vector VT, intrinsics suffix
 * SFX), scalar below MIN_N elements. Each lane keeps its first minimum (strict <) with its
 * index (held as T: exact for the tile sizes used); ties between lanes go to the lower index. */
#define KMIX_ARGMIN_AVX2(T, VT, W, SFX, MIN_N)                                      \
    if (n < MIN_N) { KMIX_ARGMIN_SCALAR(T) }                                       \
    T lane[W];                                                                     \
    for (int l = 0; l < W; ++l) lane[l] = (T)l;                                    \
    VT vmin = _mm256_loadu_##SFX(v);                                               \
    VT vidx = _mm256_loadu_##SFX(lane);                                            \
    VT idx = vidx;                                                                 \
    const VT step = _mm256_set1_##SFX((T)W);                                       \
    ptrdiff_t j = W;                                                               \
    for (; j + W <= n; j += W) {                                                   \
        idx = _mm256_add_##SFX(idx, step);                                         \
        const VT x = _mm256_loadu_##SFX(v + j);                                    \
        const VT lt = _mm256_cmp_##SFX(x, vmin, _CMP_LT_OQ);                       \
        vmin = _mm256_blendv_##SFX(vmin, x, lt);                                   \
        vidx = _mm256_blendv_##SFX(vidx, idx, lt);                                 \
    }                                                                              \
    T mins[W], idxs[W];                                                            \
    _mm256_storeu_##SFX(mins, vmin);                                               \
    _mm256_storeu_##SFX(idxs, vidx);                                               \
    T m = mins[0], a = idxs[0];                                                    \
    for (int l = 1; l < W; ++l)                                                    \
        if (mins[l] < m || (mins[l] == m && idxs[l] < a)) { m = mins[l]; a = idxs[l]; } \
    ptrdiff_t arg = (ptrdiff_t)a;                                                  \
    for (; j < n; ++j)                                                             \
        if (v[j] < m) { m = v[j]; arg = j; }                                       \
    *best = m;                                                                     \
    return arg;

__attribute__((target("avx2,fma")))
static ptrdiff_t kmix_argmin_d_avx2(const double *v, ptrdiff_t n, double *best)
{ KMIX_ARGMIN_AVX2(double, __m256d, 4, pd, 16) }

__attribute__((target("avx2,fma")))
static ptrdiff_t kmix_argmin_f_avx2(const float *v, ptrdiff_t n, float *best)
{ KMIX_ARGMIN_AVX2(float, __m256, 8, ps, 32) }
#endif

static inline ptrdiff_t kmix_argmin_d(const double *v, ptrdiff_t n, double *best)
{
    if (n < 16) { KMIX_ARGMIN_SCALAR(double) }  /* as both versions do, without a call */
    KMIX_DISPATCH_RETURN(kmix_argmin_d, (v, n, best))
}

static inline ptrdiff_t kmix_argmin_f(const float *v, ptrdiff_t n, float *best)
{
    if (n < 16) { KMIX_ARGMIN_SCALAR(float) }
    KMIX_DISPATCH_RETURN(kmix_argmin_f, (v, n, best))
}

/* Index of the first minimum of v[0:n] (n >= 1), the minimum to *best and the second
 * smallest value (counting a tied minimum twice; +inf when n == 1) to *second: what the
 * exact assignment rule needs to see whether a row's decision is within rounding. NaNs never
 * make an index out of range. */
/* One step of the scalar best-two scan: value X at index J into the minimum M (first
 * position ARG) and the second M2. */
#define KMIX_ARGMIN2_STEP(T, X, J, M, M2, ARG)                                     \
    const T x_ = (X);                                                              \
    const int lt_ = x_ < M;                                                        \
    const T hi_ = lt_ ? M : x_;                                                    \
    M2 = hi_ < M2 ? hi_ : M2;                                                      \
    ARG = lt_ ? (J) : ARG;                                                         \
    M = lt_ ? x_ : M;

#define KMIX_ARGMIN2_SCALAR(T)                                                     \
    /* Branch-free (selects: max/min and conditional moves; a branch on the data      \
     * mispredicts often): the second is min(second, max(min, x)), which is the old   \
     * minimum when x replaces it and x otherwise. */                                  \
    ptrdiff_t arg = 0;                                                             \
    T m = v[0], m2 = (T)INFINITY;                                                  \
    for (ptrdiff_t j = 1; j < n; ++j) { KMIX_ARGMIN2_STEP(T, v[j], j, m, m2, arg) } \
    *best = m;                                                                     \
    *second = m2;                                                                  \
    return arg;

static ptrdiff_t kmix_argmin2_d_base(const double *v, ptrdiff_t n, double *best, double *second)
{ KMIX_ARGMIN2_SCALAR(double) }

static ptrdiff_t kmix_argmin2_f_base(const float *v, ptrdiff_t n, float *best, float *second)
{ KMIX_ARGMIN2_SCALAR(float) }

#if KMIX_HAVE_DISPATCH
/* Merge the lanes' (minimum, second smallest) pairs into every lane: (m, s) and (m', s')
 * give (min(m, m'), min(max(m, m'), s, s')), by swapping halves, pairs, then neighbours. */
#define KMIX_MERGE_BEST2_STEP(SFX, M, S, MO, SO)                                    \
    *S = _mm256_min_##SFX(_mm256_min_##SFX(*S, SO), _mm256_max_##SFX(*M, MO));     \
    *M = _mm256_min_##SFX(*M, MO);

__attribute__((target("avx2,fma")))
static inline void kmix_merge_best2_ps(__m256 *m, __m256 *s)
{
    __m256 mo = _mm256_permute2f128_ps(*m, *m, 1), so = _mm256_permute2f128_ps(*s, *s, 1);
    KMIX_MERGE_BEST2_STEP(ps, m, s, mo, so)
    mo = _mm256_permute_ps(*m, 0x4E); so = _mm256_permute_ps(*s, 0x4E);
    KMIX_MERGE_BEST2_STEP(ps, m, s, mo, so)
    mo = _mm256_permute_ps(*m, 0xB1); so = _mm256_permute_ps(*s, 0xB1);
    KMIX_MERGE_BEST2_STEP(ps, m, s, mo, so)
}

__attribute__((target("avx2,fma")))
static inline void kmix_merge_best2_pd(__m256d *m, __m256d *s)
{
    __m256d mo = _mm256_permute2f128_pd(*m, *m, 1), so = _mm256_permute2f128_pd(*s, *s, 1);
    KMIX_MERGE_BEST2_STEP(pd, m, s, mo, so)
    mo = _mm256_permute_pd(*m, 0x5); so = _mm256_permute_pd(*s, 0x5);
    KMIX_MERGE_BEST2_STEP(pd, m, s, mo, so)
}

/* The AVX2 body, in two scans. The first keeps values only, in two independent accumulators
 * of W lanes: per lane the minimum and the second smallest (min2 = min(min2, max(min, x))
 * keeps it whichever of the two x replaces; a tied minimum counts twice); the lanes are
 * merged pairwise ((m, s), (m', s') -> (min(m, m'), min(max(m, m'), s, s'))) and the last
 * values are scanned in order. The second scan finds the first position of the minimum
 * (the scalar scan's strict < keeps the first), whose value is returned. Exact comparisons
 * only: without NaN, the scalar scan's result (2x its speed on rows of 256 float32 values:
 * no index blends, and no chain through them). With NaN values, a position in range (the
 * scalar scan's when the minimum found is nowhere). MIN_N >= 2 W; CVT: the intrinsic
 * suffix that extracts lane 0. */
#define KMIX_ARGMIN2_AVX2(T, VT, W, SFX, MIN_N, CVT)                                \
    if (n < MIN_N) { KMIX_ARGMIN2_SCALAR(T) }                                      \
    VT vm0 = _mm256_loadu_##SFX(v), vm1 = _mm256_loadu_##SFX(v + W);               \
    VT vs0 = _mm256_set1_##SFX((T)INFINITY), vs1 = vs0;                            \
    ptrdiff_t j = 2 * W;                                                           \
    for (; j + 2 * W <= n; j += 2 * W) {                                           \
        const VT x0 = _mm256_loadu_##SFX(v + j), x1 = _mm256_loadu_##SFX(v + j + W); \
        vs0 = _mm256_min_##SFX(vs0, _mm256_max_##SFX(vm0, x0));                    \
        vs1 = _mm256_min_##SFX(vs1, _mm256_max_##SFX(vm1, x1));                    \
        vm0 = _mm256_min_##SFX(vm0, x0);                                           \
        vm1 = _mm256_min_##SFX(vm1, x1);                                           \
    }                                                                              \
    if (j + W <= n) {                                                              \
        const VT x0 = _mm256_loadu_##SFX(v + j);                                   \
        vs0 = _mm256_min_##SFX(vs0, _mm256_max_##SFX(vm0, x0));                    \
        vm0 = _mm256_min_##SFX(vm0, x0);                                           \
        j += W;                                                                    \
    }                                                                              \
    vs0 = _mm256_min_##SFX(_mm256_max_##SFX(vm0, vm1), _mm256_min_##SFX(vs0, vs1)); \
    vm0 = _mm256_min_##SFX(vm0, vm1);                                              \
    kmix_merge_best2_##SFX(&vm0, &vs0);                                            \
    T m = _mm256_cvt##CVT(vm0), m2 = _mm256_cvt##CVT(vs0);                         \
    for (; j < n; ++j) {                                                           \
        const T x = v[j];                                                          \
        const T hi = x < m ? m : x;                                                \
        m2 = hi < m2 ? hi : m2;                                                    \
        m = x < m ? x : m;                                                         \
    }                                                                              \
    const VT target = _mm256_set1_##SFX(m);                                        \
    ptrdiff_t arg = -1;                                                            \
    for (j = 0; j + W <= n; j += W) {                                              \
        const int hit = _mm256_movemask_##SFX(                                     \
            _mm256_cmp_##SFX(_mm256_loadu_##SFX(v + j), target, _CMP_EQ_OQ));      \
        if (hit) { arg = j + __builtin_ctz((unsigned)hit); break; }                \
    }                                                                              \
    for (; arg < 0 && j < n; ++j)                                                  \
        if (v[j] == m) arg = j;                                                    \
    if (arg < 0) { KMIX_ARGMIN2_SCALAR(T) }                                        \
    *best = v[arg];                                                                \
    *second = m2;                                                                  \
    return arg;

__attribute__((target("avx2,fma")))
static ptrdiff_t kmix_argmin2_d_avx2(const double *v, ptrdiff_t n, double *best, double *second)
{ KMIX_ARGMIN2_AVX2(double, __m256d, 4, pd, 16, sd_f64) }

__attribute__((target("avx2,fma")))
static ptrdiff_t kmix_argmin2_f_avx2(const float *v, ptrdiff_t n, float *best, float *second)
{ KMIX_ARGMIN2_AVX2(float, __m256, 8, ps, 32, ss_f32) }
#endif

static inline ptrdiff_t kmix_argmin2_d(const double *v, ptrdiff_t n, double *best, double *second)
{
    if (n < 16) { KMIX_ARGMIN2_SCALAR(double) }
    KMIX_DISPATCH_RETURN(kmix_argmin2_d, (v, n, best, second))
}

static inline ptrdiff_t kmix_argmin2_f(const float *v, ptrdiff_t n, float *best, float *second)
{
    if (n < 16) { KMIX_ARGMIN2_SCALAR(float) }
    KMIX_DISPATCH_RETURN(kmix_argmin2_f, (v, n, best, second))
}

/* Squared distance between two rows of d >= 16 features, accumulated in float64 over eight
 * independent lanes (float32 rows widened to float64 first): lane l sums the features
 * f = l (mod 8) in order, with a multiply then an add (no FMA), the lanes are added as
 * ((0+4) + (1+5)) + ((2+6) + (3+7)), then the tail in order. The AVX2 version and the portable
 * one perform exactly these operations, so the result has the same bits on every CPU. */
#define KMIX_SQDIST8_BASE(T)                                                       \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
    ptrdiff_t f = 0;                                                               \
    for (; f + 8 <= d; f += 8)                                                     \
        for (int l = 0; l < 8; ++l) {                                              \
            const double t = (double)x[f + l] - (double)c[f + l];                  \
            a[l] = a[l] + t * t;                                                   \
        }                                                                          \
    double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));  \
    for (; f < d; ++f) { const double t = (double)x[f] - (double)c[f]; s += t * t; } \
    return s;

static double kmix_sqdist_d_base(const double *x, const double *c, ptrdiff_t d)
{ KMIX_SQDIST8_BASE(double) }

static double kmix_sqdist_f_base(const float *x, const float *c, ptrdiff_t d)
{ KMIX_SQDIST8_BASE(float) }

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static double kmix_sqdist_d_avx2(const double *x, const double *c, ptrdiff_t d)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        const __m256d t0 = _mm256_sub_pd(_mm256_loadu_pd(x + f), _mm256_loadu_pd(c + f));
        const __m256d t1 = _mm256_sub_pd(_mm256_loadu_pd(x + f + 4), _mm256_loadu_pd(c + f + 4));
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(t0, t0));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(t1, t1));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; f < d; ++f) { const double t = x[f] - c[f]; s += t * t; }
    return s;
}

__attribute__((target("avx2,fma")))
static double kmix_sqdist_f_avx2(const float *x, const float *c, ptrdiff_t d)
{
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        const __m256d t0 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f)),
                                         _mm256_cvtps_pd(_mm_loadu_ps(c + f)));
        const __m256d t1 = _mm256_sub_pd(_mm256_cvtps_pd(_mm_loadu_ps(x + f + 4)),
                                         _mm256_cvtps_pd(_mm_loadu_ps(c + f + 4)));
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(t0, t0));
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(t1, t1));
    }
    double lanes[4];
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);
    for (; f < d; ++f) { const double t = (double)x[f] - (double)c[f]; s += t * t; }
    return s;
}
#endif

/* ||x - c||^2 for d >= 16 features (the same bits with or without AVX2, see above). */
static inline double kmix_sqdist_d(const double *x, const double *c, ptrdiff_t d)
{
    KMIX_DISPATCH_RETURN(kmix_sqdist_d, (x, c, d))
}

static inline double kmix_sqdist_f(const float *x, const float *c, ptrdiff_t d)
{
    KMIX_DISPATCH_RETURN(kmix_sqdist_f, (x, c, d))
}

/* ||x - c||^2 of float32 rows in float32 arithmetic, for bounds and screens only (its bits
 * differ between the AVX2 and the portable version): the differences rounded to float32 and
 * their squares summed in any order, FMA or not. Relative error at most gamma_{d+2} (float32
 * unit roundoff; nonnegative terms), plus (d + 64) 2^-149 absolute where values reach the
 * subnormal range; no overflow while the rows' and centres' squared norms are at most 1e30
 * (see _bounds.elkan_pass_dense). The AVX2 version keeps four 8-lane FMA chains (the float64
 * kmix_sqdist waits on its adds: about 3x slower on 784 features). */
static double kmix_sqdist32_f_base(const float *x, const float *c, ptrdiff_t d)
{
    float s = 0.0f;
    for (ptrdiff_t f = 0; f < d; ++f) { const float t = x[f] - c[f]; s += t * t; }
    return (double)s;
}

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static double kmix_sqdist32_f_avx2(const float *x, const float *c, ptrdiff_t d)
{
    __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
    __m256 a2 = _mm256_setzero_ps(), a3 = _mm256_setzero_ps();
    ptrdiff_t f = 0;
    for (; f + 32 <= d; f += 32) {
        const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(x + f), _mm256_loadu_ps(c + f));
        const __m256 t1 = _mm256_sub_ps(_mm256_loadu_ps(x + f + 8), _mm256_loadu_ps(c + f + 8));
        const __m256 t2 = _mm256_sub_ps(_mm256_loadu_ps(x + f + 16),
                                        _mm256_loadu_ps(c + f + 16));
        const __m256 t3 = _mm256_sub_ps(_mm256_loadu_ps(x + f + 24),
                                        _mm256_loadu_ps(c + f + 24));
        a0 = _mm256_fmadd_ps(t0, t0, a0);
        a1 = _mm256_fmadd_ps(t1, t1, a1);
        a2 = _mm256_fmadd_ps(t2, t2, a2);
        a3 = _mm256_fmadd_ps(t3, t3, a3);
    }
    for (; f + 8 <= d; f += 8) {
        const __m256 t0 = _mm256_sub_ps(_mm256_loadu_ps(x + f), _mm256_loadu_ps(c + f));
        a0 = _mm256_fmadd_ps(t0, t0, a0);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)));
    float s = ((lanes[0] + lanes[4]) + (lanes[1] + lanes[5]))
              + ((lanes[2] + lanes[6]) + (lanes[3] + lanes[7]));
    for (; f < d; ++f) { const float t = x[f] - c[f]; s += t * t; }
    return (double)s;
}
#endif

static inline double kmix_sqdist32_f(const float *x, const float *c, ptrdiff_t d)
{
    KMIX_DISPATCH_RETURN(kmix_sqdist32_f, (x, c, d))
}

/* ||x||^2 for d >= 16 features in float64, over eight lanes as kmix_sqdist (the same bits
 * with or without AVX2); for the rounding bounds of the distance passes, on rows whose norms
 * were not kept. */
#define KMIX_SQNORM8_BASE(T)                                                       \
    double a[8] = {0, 0, 0, 0, 0, 0, 0, 0};                                        \
    ptrdiff_t f = 0;                                                               \
    for (; f + 8 <= d; f += 8)                                                     \
        for (int l = 0; l < 8; ++l) {                                              \
            const double t = (double)x[f + l];                                     \
            a[l] = a[l] + t * t;                                                   \
        }                                                                          \
    double s = ((a[0] + a[4]) + (a[1] + a[5])) + ((a[2] + a[6]) + (a[3] + a[7]));  \
    for (; f < d; ++f) { const double t = (double)x[f]; s += t * t; }              \
    return s;

static double kmix_sqnorm_d_base(const double *x, ptrdiff_t d) { KMIX_SQNORM8_BASE(double) }
static double kmix_sqnorm_f_base(const float *x, ptrdiff_t d) { KMIX_SQNORM8_BASE(float) }

#if KMIX_HAVE_DISPATCH
#define KMIX_SQNORM8_AVX2(LOAD4, T)                                                \
    __m256d a0 = _mm256_setzero_pd(), a1 = _mm256_setzero_pd();                    \
    ptrdiff_t f = 0;                                                               \
    for (; f + 8 <= d; f += 8) {                                                   \
        const __m256d t0 = LOAD4(x + f), t1 = LOAD4(x + f + 4);                    \
        a0 = _mm256_add_pd(a0, _mm256_mul_pd(t0, t0));                             \
        a1 = _mm256_add_pd(a1, _mm256_mul_pd(t1, t1));                             \
    }                                                                              \
    double lanes[4];                                                               \
    _mm256_storeu_pd(lanes, _mm256_add_pd(a0, a1));                                \
    double s = (lanes[0] + lanes[1]) + (lanes[2] + lanes[3]);                      \
    for (; f < d; ++f) { const double t = (double)x[f]; s += t * t; }              \
    return s;

#define KMIX_LOAD4_D(p) _mm256_loadu_pd(p)
#define KMIX_LOAD4_F(p) _mm256_cvtps_pd(_mm_loadu_ps(p))

__attribute__((target("avx2,fma")))
static double kmix_sqnorm_d_avx2(const double *x, ptrdiff_t d)
{ KMIX_SQNORM8_AVX2(KMIX_LOAD4_D, double) }

__attribute__((target("avx2,fma")))
static double kmix_sqnorm_f_avx2(const float *x, ptrdiff_t d)
{ KMIX_SQNORM8_AVX2(KMIX_LOAD4_F, float) }
#endif

static inline double kmix_sqnorm_d(const double *x, ptrdiff_t d)
{
    KMIX_DISPATCH_RETURN(kmix_sqnorm_d, (x, d))
}

static inline double kmix_sqnorm_f(const float *x, ptrdiff_t d)
{
    KMIX_DISPATCH_RETURN(kmix_sqnorm_f, (x, d))
}

/* row[f] = w x[f] (set) or row[f] += w x[f], f < d, in float64: each product and each sum
 * rounded once, never fused, so the same bits with or without AVX2 (a cluster's block sums,
 * for rows of 16 features or more; a digits pass spent 8% of its time here as SSE2). */
#define KMIX_ADD_SCALED_BASE(T)                                                    \
    if (set) for (ptrdiff_t f = 0; f < d; ++f) row[f] = w * (double)x[f];          \
    else for (ptrdiff_t f = 0; f < d; ++f) row[f] += w * (double)x[f];

static void kmix_add_scaled_d_base(double *row, const double *x, double w, ptrdiff_t d,
                                   int set)
{ KMIX_ADD_SCALED_BASE(double) }

static void kmix_add_scaled_f_base(double *row, const float *x, double w, ptrdiff_t d, int set)
{ KMIX_ADD_SCALED_BASE(float) }

#if KMIX_HAVE_DISPATCH
#define KMIX_ADD_SCALED_AVX2(LOAD4, T)                                             \
    const __m256d wv = _mm256_set1_pd(w);                                          \
    ptrdiff_t f = 0;                                                               \
    if (set)                                                                       \
        for (; f + 4 <= d; f += 4) _mm256_storeu_pd(row + f, _mm256_mul_pd(wv, LOAD4(x + f))); \
    else                                                                           \
        for (; f + 4 <= d; f += 4)                                                 \
            _mm256_storeu_pd(row + f, _mm256_add_pd(_mm256_loadu_pd(row + f),     \
                                                    _mm256_mul_pd(wv, LOAD4(x + f)))); \
    for (; f < d; ++f) row[f] = set ? w * (double)x[f] : row[f] + w * (double)x[f];

__attribute__((target("avx2,fma")))
static void kmix_add_scaled_d_avx2(double *row, const double *x, double w, ptrdiff_t d,
                                   int set)
{ KMIX_ADD_SCALED_AVX2(KMIX_LOAD4_D, double) }

__attribute__((target("avx2,fma")))
static void kmix_add_scaled_f_avx2(double *row, const float *x, double w, ptrdiff_t d, int set)
{ KMIX_ADD_SCALED_AVX2(KMIX_LOAD4_F, float) }
#endif

static inline void kmix_add_scaled_d(double *row, const double *x, double w, ptrdiff_t d,
                                     int set)
{ KMIX_DISPATCH(kmix_add_scaled_d, (row, x, w, d, set)) }

static inline void kmix_add_scaled_f(double *row, const float *x, double w, ptrdiff_t d,
                                     int set)
{ KMIX_DISPATCH(kmix_add_scaled_f, (row, x, w, d, set)) }

/* A chunk's m rows X added to their clusters' block sums (Lloyd's update): row i (weight
 * w[i]) to cluster a = lab[i] < k, bsum[a] (d values) += w[i] x[i] and bw[a] += w[i], a
 * cluster's first row in the block writing them instead when touched says it has none yet
 * (touched NULL: always added). Each sum gets the same operations in the same order as
 * adding the rows one by one (kmix_add_scaled), so the same bits; the AVX2 version takes
 * each cluster's rows together (a counting sort of the chunk's labels, each cluster's rows
 * in row order; from KMIX_SUMS_RUNS_MIN_ROWS rows a cluster on average), its sums in
 * registers: 9-11 -> 6 ns a row at d = 64, k = 50. */
#define KMIX_SUMS_RUNS_MIN_ROWS 2
#define KMIX_SUMS_RUNS_MAX_ROWS 256

#define KMIX_BLOCK_SUMS_ARGS(T)                                                    \
    const T *X, ptrdiff_t m, ptrdiff_t d, const ptrdiff_t *lab, const double *w,   \
    double *bsum, double *bw, unsigned char *touched, ptrdiff_t k

#define KMIX_BLOCK_SUMS_ROWS(ADD)                                                  \
    for (ptrdiff_t i = 0; i < m; ++i) {                                            \
        const ptrdiff_t a = lab[i];                                                \
        const int set = touched != NULL && !touched[a];                            \
        if (set) touched[a] = 1;                                                   \
        bw[a] = set ? w[i] : bw[a] + w[i];                                         \
        ADD(bsum + a * d, X + i * d, w[i], d, set);                                \
    }

static void kmix_block_sums_d_base(KMIX_BLOCK_SUMS_ARGS(double))
{ KMIX_BLOCK_SUMS_ROWS(kmix_add_scaled_d_base) }

static void kmix_block_sums_f_base(KMIX_BLOCK_SUMS_ARGS(float))
{ KMIX_BLOCK_SUMS_ROWS(kmix_add_scaled_f_base) }

#if KMIX_HAVE_DISPATCH
/* Features f0 .. f0 + 4 NV of one cluster's rows ord[q:e] into row (set: the first row's
 * product starts the sum). */
#define KMIX_RUN_SLICE(LOAD4, NV)                                                  \
    {                                                                              \
        __m256d acc[NV];                                                           \
        const ptrdiff_t i0 = ord[q];                                               \
        const __m256d w0 = _mm256_set1_pd(w[i0]);                                  \
        for (int v = 0; v < NV; ++v) {                                             \
            const __m256d p = _mm256_mul_pd(w0, LOAD4(X + i0 * d + f0 + 4 * v));   \
            acc[v] = set ? p : _mm256_add_pd(_mm256_loadu_pd(row + f0 + 4 * v), p); \
        }                                                                          \
        for (ptrdiff_t r = q + 1; r < e; ++r) {                                    \
            const ptrdiff_t i = ord[r];                                            \
            const __m256d wv = _mm256_set1_pd(w[i]);                               \
            for (int v = 0; v < NV; ++v)                                           \
                acc[v] = _mm256_add_pd(acc[v], _mm256_mul_pd(wv, LOAD4(X + i * d + f0 + 4 * v))); \
        }                                                                          \
        for (int v = 0; v < NV; ++v) _mm256_storeu_pd(row + f0 + 4 * v, acc[v]);   \
    }

#define KMIX_BLOCK_SUMS_AVX2(T, LOAD4, SFX)                                        \
    if (k > m / KMIX_SUMS_RUNS_MIN_ROWS || m > KMIX_SUMS_RUNS_MAX_ROWS) {          \
        KMIX_BLOCK_SUMS_ROWS(kmix_add_scaled_##SFX##_avx2)                         \
        return;                                                                    \
    }                                                                              \
    ptrdiff_t cnt[KMIX_SUMS_RUNS_MAX_ROWS / KMIX_SUMS_RUNS_MIN_ROWS + 1];          \
    ptrdiff_t ord[KMIX_SUMS_RUNS_MAX_ROWS];                                        \
    for (ptrdiff_t j = 0; j <= k; ++j) cnt[j] = 0;                                 \
    for (ptrdiff_t i = 0; i < m; ++i) cnt[lab[i] + 1] += 1;                        \
    for (ptrdiff_t j = 0; j < k; ++j) cnt[j + 1] += cnt[j];                        \
    for (ptrdiff_t i = 0; i < m; ++i) ord[cnt[lab[i]]++] = i;                      \
    for (ptrdiff_t q = 0, e; q < m; q = e) {                                       \
        const ptrdiff_t a = lab[ord[q]];                                           \
        for (e = q + 1; e < m && lab[ord[e]] == a; ++e) {}                         \
        const int set = touched != NULL && !touched[a];                            \
        if (set) touched[a] = 1;                                                   \
        double *row = bsum + a * d;                                                \
        ptrdiff_t f0 = 0;                                                          \
        for (; f0 + 32 <= d; f0 += 32) KMIX_RUN_SLICE(LOAD4, 8)                    \
        for (; f0 + 4 <= d; f0 += 4) KMIX_RUN_SLICE(LOAD4, 1)                      \
        for (; f0 < d; ++f0) {                                                     \
            double acc = set ? w[ord[q]] * (double)X[ord[q] * d + f0]              \
                             : row[f0] + w[ord[q]] * (double)X[ord[q] * d + f0];   \
            for (ptrdiff_t r = q + 1; r < e; ++r)                                  \
                acc = acc + w[ord[r]] * (double)X[ord[r] * d + f0];                \
            row[f0] = acc;                                                         \
        }                                                                          \
        double ws = set ? w[ord[q]] : bw[a] + w[ord[q]];                           \
        for (ptrdiff_t r = q + 1; r < e; ++r) ws = ws + w[ord[r]];                 \
        bw[a] = ws;                                                                \
    }

__attribute__((target("avx2,fma")))
static void kmix_block_sums_d_avx2(KMIX_BLOCK_SUMS_ARGS(double))
{ KMIX_BLOCK_SUMS_AVX2(double, KMIX_LOAD4_D, d) }

__attribute__((target("avx2,fma")))
static void kmix_block_sums_f_avx2(KMIX_BLOCK_SUMS_ARGS(float))
{ KMIX_BLOCK_SUMS_AVX2(float, KMIX_LOAD4_F, f) }
#endif

static inline void kmix_block_sums_d(KMIX_BLOCK_SUMS_ARGS(double))
{ KMIX_DISPATCH(kmix_block_sums_d, (X, m, d, lab, w, bsum, bw, touched, k)) }

static inline void kmix_block_sums_f(KMIX_BLOCK_SUMS_ARGS(float))
{ KMIX_DISPATCH(kmix_block_sums_f, (X, m, d, lab, w, bsum, bw, touched, k)) }

/* Prefetch the cache lines of `bytes` bytes from p (a row about to be gathered). */
static inline void kmix_prefetch_bytes(const void *p, ptrdiff_t bytes)
{
#if defined(__GNUC__)
    const char *c = (const char *)p;
    for (ptrdiff_t off = 0; off < bytes; off += 64) __builtin_prefetch(c + off, 0, 3);
#else
    (void)p; (void)bytes;
#endif
}


/* Partial distances of a few centres (k-means++'s candidates) to m rows of X picked by index,
 * read in place:
 * D[q * nt + t] = cnorm[t] - 2 <X[idx[q]], C[t]> (C: nt x d, C order), the dot
 * products in the data's dtype. For k-means++'s candidates, where gemm would copy the rows
 * twice (gathered, then packed) to multiply them by a handful of columns. The AVX2 version
 * runs along the features with one accumulator per centre (nt independent chains, each row
 * read once), or for 5-16 centres and up to KMIX_FEW_PANEL_MAX_D features broadcasts
 * several rows' features against one feature-major panel of the centres (13-18% faster
 * k-means++ at k=1000 on 100k x 32); the portable one sums each dot product in order. Their results differ in the
 * rounding, within expansion_error_scale's bound (any summation order, FMA or not). Float
 * rows against up to 8 centres (k-means++'s candidates up to k = 403, and the float32
 * screen of float64 rows) run the features-along kernel of kmix_few_lanes_f instead, which
 * reduces the centres' accumulators together. */
#define KMIX_FEW_MAX 8
/* Rows ahead whose lines are prefetched (they are picked by index: the hardware cannot
 * guess them). */
#define KMIX_FEW_PREFETCH 8

#define KMIX_FEW_BASE(T)                                                           \
    for (ptrdiff_t q = 0; q < m; ++q) {                                            \
        const T *x = X + idx[q] * d;                                               \
        for (ptrdiff_t t = 0; t < nt; ++t) {                                       \
            T s = 0;                                                               \
            for (ptrdiff_t f = 0; f < d; ++f) s += x[f] * C[t * d + f];            \
            D[q * nt + t] = cnorm[t] + (T)(-2) * s;                                \
        }                                                                          \
    }

static void kmix_few_dots_d_base(const double *X, const ptrdiff_t *idx, ptrdiff_t m,
                                 ptrdiff_t d, const double *C, ptrdiff_t nt,
                                 const double *cnorm, double *D)
{ KMIX_FEW_BASE(double) }

static void kmix_few_dots_f_base(const float *X, const ptrdiff_t *idx, ptrdiff_t m,
                                 ptrdiff_t d, const float *C, ptrdiff_t nt,
                                 const float *cnorm, float *D)
{ KMIX_FEW_BASE(float) }

#if KMIX_HAVE_DISPATCH
/* One row against NT centres (NT a constant where it is inlined, so that the accumulators
 * stay in registers). */
#define KMIX_FEW_ROW_AVX2(T, VT, W, SFX, HSUM)                                      \
    VT acc[KMIX_FEW_MAX];                                                          \
    for (int t = 0; t < NT; ++t) acc[t] = _mm256_setzero_##SFX();                  \
    ptrdiff_t f = 0;                                                               \
    for (; f + W <= d; f += W) {                                                   \
        const VT xv = _mm256_loadu_##SFX(x + f);                                   \
        for (int t = 0; t < NT; ++t)                                               \
            acc[t] = _mm256_fmadd_##SFX(xv, _mm256_loadu_##SFX(C + t * d + f), acc[t]); \
    }                                                                              \
    for (int t = 0; t < NT; ++t) {                                                 \
        T s = HSUM(acc[t]);                                                        \
        for (ptrdiff_t g = f; g < d; ++g) s += x[g] * C[t * d + g];                \
        out[t] = cnorm[t] + (T)(-2) * s;                                           \
    }

__attribute__((target("avx2,fma"), always_inline))
static inline double kmix_hsum_pd(__m256d v)
{
    __m128d lo = _mm_add_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    return _mm_cvtsd_f64(_mm_add_sd(lo, _mm_unpackhi_pd(lo, lo)));
}

__attribute__((target("avx2,fma"), always_inline))
static inline float kmix_hsum_ps(__m256 v)
{
    __m128 lo = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    return _mm_cvtss_f32(_mm_add_ss(lo, _mm_shuffle_ps(lo, lo, 1)));
}

__attribute__((target("avx2,fma"), always_inline))
static inline void kmix_few_row_d(const double *x, ptrdiff_t d, const double *C, const int NT,
                                  const double *cnorm, double *out)
{ KMIX_FEW_ROW_AVX2(double, __m256d, 4, pd, kmix_hsum_pd) }

__attribute__((target("avx2,fma"), always_inline))
static inline void kmix_few_row_f(const float *x, ptrdiff_t d, const float *C, const int NT,
                                  const float *cnorm, float *out)
{ KMIX_FEW_ROW_AVX2(float, __m256, 8, ps, kmix_hsum_ps) }

/* Row q against centres t0 .. t0 + N of the nt (their values go to columns t0 .. t0 + N of
 * D's row of nt). */
#define KMIX_FEW_CASE(SFX, N)                                                      \
    case N:                                                                        \
        kmix_few_row_##SFX(x, d, C + t0 * d, N, cnorm + t0, D + q * nt + t0);      \
        break;

/* Row by row (rows idx[0 .. m]), the rows a few ahead prefetched; each row against groups
 * of KMIX_FEW_MAX centres, then the rest (the row stays in L1 from one group to the next). */
#define KMIX_FEW_SWITCH(SFX)                                                       \
    for (ptrdiff_t q = 0; q < m; ++q) {                                            \
        if (q + KMIX_FEW_PREFETCH < m)                                             \
            kmix_prefetch_bytes(X + idx[q + KMIX_FEW_PREFETCH] * d,                \
                                d * (ptrdiff_t)sizeof(*X));                        \
        const __typeof__(*X) *x = X + idx[q] * d;                                  \
        for (ptrdiff_t t0 = 0; t0 < nt; t0 += KMIX_FEW_MAX) {                      \
            switch (nt - t0 < KMIX_FEW_MAX ? nt - t0 : KMIX_FEW_MAX) {             \
                KMIX_FEW_CASE(SFX, 1) KMIX_FEW_CASE(SFX, 2) KMIX_FEW_CASE(SFX, 3)  \
                KMIX_FEW_CASE(SFX, 4) KMIX_FEW_CASE(SFX, 5) KMIX_FEW_CASE(SFX, 6)  \
                KMIX_FEW_CASE(SFX, 7) KMIX_FEW_CASE(SFX, 8)                        \
                default: break;                                                    \
            }                                                                      \
        }                                                                          \
    }

/* Wide rows of modest width (d <= KMIX_FEW_PANEL_MAX_D) against 5-16 centres: the centres
 * are laid out once per call as one feature-major panel of NV vectors (lanes past nt are
 * zeros), and R rows at a time broadcast their features against it, R x NV accumulators
 * (no horizontal sums; the panel is loaded once per feature for R rows). Each value is the
 * dot product summed in feature order by FMAs from zero, then cnorm + (-2) s: as the
 * portable kernel sums it (there without FMA). */
#define KMIX_FEW_PANEL_MAX_D 128

#define KMIX_PANEL_ROWS_BODY(T, VT, W, SFX)                                        \
    VT acc[8][4];                                                                  \
    const T *x[8];                                                                 \
    for (int r = 0; r < R; ++r) {                                                  \
        x[r] = X + idx[q + r] * d;                                                 \
        for (int v = 0; v < NV; ++v) acc[r][v] = _mm256_setzero_##SFX();           \
    }                                                                              \
    for (ptrdiff_t f = 0; f < d; ++f) {                                            \
        VT p[4];                                                                   \
        for (int v = 0; v < NV; ++v) p[v] = _mm256_loadu_##SFX(P + (f * NV + v) * W); \
        for (int r = 0; r < R; ++r) {                                              \
            const VT b = _mm256_set1_##SFX(x[r][f]);                               \
            for (int v = 0; v < NV; ++v)                                           \
                acc[r][v] = _mm256_fmadd_##SFX(b, p[v], acc[r][v]);                \
        }                                                                          \
    }                                                                              \
    const VT m2 = _mm256_set1_##SFX((T)-2);                                        \
    for (int r = 0; r < R; ++r) {                                                  \
        T tmp[4 * W];                                                              \
        for (int v = 0; v < NV; ++v)                                               \
            _mm256_storeu_##SFX(tmp + v * W, _mm256_fmadd_##SFX(m2, acc[r][v],      \
                                _mm256_loadu_##SFX(cn + v * W)));                  \
        memcpy(D + (q + r) * nt, tmp, (size_t)nt * sizeof(T));                     \
    }

__attribute__((target("avx2,fma"), always_inline))
static inline void kmix_panel_rows_f(const float *X, const ptrdiff_t *idx, ptrdiff_t q,
                                     ptrdiff_t d, const float *P, const float *cn,
                                     ptrdiff_t nt, float *D, const int R, const int NV)
{ KMIX_PANEL_ROWS_BODY(float, __m256, 8, ps) }

__attribute__((target("avx2,fma"), always_inline))
static inline void kmix_panel_rows_d(const double *X, const ptrdiff_t *idx, ptrdiff_t q,
                                     ptrdiff_t d, const double *P, const double *cn,
                                     ptrdiff_t nt, double *D, const int R, const int NV)
{ KMIX_PANEL_ROWS_BODY(double, __m256d, 4, pd) }

/* Rows R at a time against a panel of NV vectors (R x NV <= 8 accumulators: enough
 * independent FMA chains), the next block's rows prefetched; the last m % R rows one at a
 * time. */
#define KMIX_FEW_PANEL_CASE(SFX, NVC, RC)                                          \
    case NVC: {                                                                    \
        ptrdiff_t q = 0;                                                           \
        for (; q + RC <= m; q += RC) {                                             \
            for (int r = 0; r < RC && q + RC + r < m; ++r)                         \
                kmix_prefetch_bytes(X + idx[q + RC + r] * d, d * (ptrdiff_t)sizeof(*X)); \
            kmix_panel_rows_##SFX(X, idx, q, d, P, cn, nt, D, RC, NVC);            \
        }                                                                          \
        for (; q < m; ++q) kmix_panel_rows_##SFX(X, idx, q, d, P, cn, nt, D, 1, NVC); \
        return;                                                                    \
    }

/* The panel of the nt centres C (nt x d, 5 <= nt <= 16) and their norms, zero-padded. */
#define KMIX_FEW_PANEL_PREP(T, W)                                                  \
    const int NV = (int)((nt + W - 1) / W);                                        \
    T P[KMIX_FEW_PANEL_MAX_D * 16];                                                \
    T cn[16];                                                                      \
    for (ptrdiff_t f = 0; f < d; ++f)                                              \
        for (ptrdiff_t t = 0; t < NV * W; ++t)                                     \
            P[f * NV * W + t] = t < nt ? C[t * d + f] : (T)0;                      \
    for (ptrdiff_t t = 0; t < NV * W; ++t) cn[t] = t < nt ? cnorm[t] : (T)0;

__attribute__((target("avx2,fma")))
static void kmix_few_panel_f(const float *X, const ptrdiff_t *idx, ptrdiff_t m, ptrdiff_t d,
                             const float *C, ptrdiff_t nt, const float *cnorm, float *D)
{
    KMIX_FEW_PANEL_PREP(float, 8)
    switch (NV) { KMIX_FEW_PANEL_CASE(f, 1, 8) KMIX_FEW_PANEL_CASE(f, 2, 4) default: break; }
}

__attribute__((target("avx2,fma")))
static void kmix_few_panel_d(const double *X, const ptrdiff_t *idx, ptrdiff_t m, ptrdiff_t d,
                             const double *C, ptrdiff_t nt, const double *cnorm, double *D)
{
    KMIX_FEW_PANEL_PREP(double, 4)
    switch (NV) {
        KMIX_FEW_PANEL_CASE(d, 2, 4) KMIX_FEW_PANEL_CASE(d, 3, 2) KMIX_FEW_PANEL_CASE(d, 4, 2)
        default: break;
    }
}

/* Float rows against at most 8 centres, along the features, several rows at a time: each
 * row's 8-feature vectors (the last one masked) are multiplied into one accumulator per
 * centre (every lane useful, no broadcast: the panel kernel broadcasts single features, one
 * load a feature a row for 6 useful lanes of 8), and the row's nt accumulators are reduced
 * together by a tree of horizontal adds into one vector, lane t the dot product with centre
 * t (the one-by-one kernel above sums each accumulator alone). The centres are copied once
 * per call into rows of a multiple of 8 features, zero-padded (KMIX_FEW_LANES_MAX_D
 * features at most). k-means++ with k=100 on blobs, Zen 4, median of 3-5 processes, panel
 * or one-by-one kernel -> this one: 500k x 50 float64 (screened in float32) 0.82 -> 0.68 s,
 * float32 0.76 -> 0.67 s, 300k x 64 0.62 -> 0.54 s, 200k x 128 0.79 -> 0.56 s, 400k x 32
 * the same (0.50 s); normal 100k x 32, k=1000 (8 candidates) the same. */
#define KMIX_FEW_LANES_MAX_D 256
/* Fewer rows than this (Yinyang's single row against its centre) take the kernels above:
 * the centres' copy would cost as much as the rows. */
#define KMIX_FEW_LANES_MIN_ROWS 8

/* Lane t of the result: the sum of the lanes of a[t], t < NT (lanes past NT: zero). */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256 kmix_sum_lanes8_ps(const __m256 *a, const int NT)
{
    const __m256 z = _mm256_setzero_ps();
    const __m256 h01 = _mm256_hadd_ps(a[0], NT > 1 ? a[1] : z);
    const __m256 h23 = _mm256_hadd_ps(NT > 2 ? a[2] : z, NT > 3 ? a[3] : z);
    const __m256 h45 = _mm256_hadd_ps(NT > 4 ? a[4] : z, NT > 5 ? a[5] : z);
    const __m256 h67 = _mm256_hadd_ps(NT > 6 ? a[6] : z, NT > 7 ? a[7] : z);
    /* per 128-bit half: [a0, a1, a2, a3] and [a4, a5, a6, a7], each summed over the half */
    const __m256 q0 = _mm256_hadd_ps(h01, h23), q1 = _mm256_hadd_ps(h45, h67);
    return _mm256_add_ps(_mm256_permute2f128_ps(q0, q1, 0x20),
                         _mm256_permute2f128_ps(q0, q1, 0x31));
}

/* Rows q .. q + R (by index) against the NT padded centres Cp (row stride dp). */
__attribute__((target("avx2,fma"), always_inline))
static inline void kmix_few_lanes_rows_f(const float *X, const ptrdiff_t *idx, ptrdiff_t q,
                                         ptrdiff_t d, const float *Cp, ptrdiff_t dp,
                                         __m256 cn, __m256i tail, __m256i outmask,
                                         ptrdiff_t nt, float *D, const int R, const int NT)
{
    __m256 acc[2][8];
    const float *x[2];
    for (int r = 0; r < R; ++r) {
        x[r] = X + idx[q + r] * d;
        for (int t = 0; t < NT; ++t) acc[r][t] = _mm256_setzero_ps();
    }
    ptrdiff_t f = 0;
    for (; f + 8 <= d; f += 8) {
        __m256 xv[2];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_loadu_ps(x[r] + f);
        for (int t = 0; t < NT; ++t) {
            const __m256 c = _mm256_loadu_ps(Cp + t * dp + f);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(xv[r], c, acc[r][t]);
        }
    }
    if (f < d) {
        __m256 xv[2];
        for (int r = 0; r < R; ++r) xv[r] = _mm256_maskload_ps(x[r] + f, tail);
        for (int t = 0; t < NT; ++t) {
            const __m256 c = _mm256_loadu_ps(Cp + t * dp + f);
            for (int r = 0; r < R; ++r) acc[r][t] = _mm256_fmadd_ps(xv[r], c, acc[r][t]);
        }
    }
    const __m256 m2 = _mm256_set1_ps(-2.0f);
    for (int r = 0; r < R; ++r)
        _mm256_maskstore_ps(D + (q + r) * nt, outmask,
                            _mm256_fmadd_ps(m2, kmix_sum_lanes8_ps(acc[r], NT), cn));
}

/* Two rows at a time up to 6 centres (12 accumulators), one past that; the rows a few
 * ahead prefetched. */
#define KMIX_FEW_LANES_CASE(N)                                                     \
    case N: {                                                                      \
        const int RR = N <= 6 ? 2 : 1;                                             \
        ptrdiff_t q = 0;                                                           \
        for (; q + RR <= m; q += RR) {                                             \
            for (int r = 0; r < RR && q + KMIX_FEW_PREFETCH + r < m; ++r)          \
                kmix_prefetch_bytes(X + idx[q + KMIX_FEW_PREFETCH + r] * d,        \
                                    d * (ptrdiff_t)sizeof(*X));                    \
            kmix_few_lanes_rows_f(X, idx, q, d, Cp, dp, cn, tail, outmask, nt, D, RR, N); \
        }                                                                          \
        for (; q < m; ++q)                                                         \
            kmix_few_lanes_rows_f(X, idx, q, d, Cp, dp, cn, tail, outmask, nt, D, 1, N); \
        return;                                                                    \
    }

__attribute__((target("avx2,fma")))
static void kmix_few_lanes_f(const float *X, const ptrdiff_t *idx, ptrdiff_t m, ptrdiff_t d,
                             const float *C, ptrdiff_t nt, const float *cnorm, float *D)
{
    const ptrdiff_t dp = (d + 7) / 8 * 8;
    float Cp[8 * KMIX_FEW_LANES_MAX_D];
    float cnp[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    int tl[8], ol[8];
    for (ptrdiff_t t = 0; t < nt; ++t) {
        for (ptrdiff_t f = 0; f < dp; ++f) Cp[t * dp + f] = f < d ? C[t * d + f] : 0.0f;
        cnp[t] = cnorm[t];
    }
    for (int l = 0; l < 8; ++l) {
        tl[l] = l < d % 8 ? -1 : 0;
        ol[l] = l < nt ? -1 : 0;
    }
    const __m256 cn = _mm256_loadu_ps(cnp);
    const __m256i tail = _mm256_loadu_si256((const __m256i *)tl);
    const __m256i outmask = _mm256_loadu_si256((const __m256i *)ol);
    switch (nt) {
        KMIX_FEW_LANES_CASE(1) KMIX_FEW_LANES_CASE(2) KMIX_FEW_LANES_CASE(3)
        KMIX_FEW_LANES_CASE(4) KMIX_FEW_LANES_CASE(5) KMIX_FEW_LANES_CASE(6)
        KMIX_FEW_LANES_CASE(7) KMIX_FEW_LANES_CASE(8)
        default: break;
    }
}

/* Whether the panel kernel takes a call (else the features-along kernel, better for few
 * centres or very wide rows). */
#define KMIX_FEW_USE_PANEL (nt >= 5 && nt <= 16 && d <= KMIX_FEW_PANEL_MAX_D)

__attribute__((target("avx2,fma")))
static void kmix_few_dots_d_avx2(const double *X, const ptrdiff_t *idx, ptrdiff_t m,
                                 ptrdiff_t d, const double *C, ptrdiff_t nt,
                                 const double *cnorm, double *D)
{
    if (KMIX_FEW_USE_PANEL) { kmix_few_panel_d(X, idx, m, d, C, nt, cnorm, D); return; }
    KMIX_FEW_SWITCH(d)
}

__attribute__((target("avx2,fma")))
static void kmix_few_dots_f_avx2(const float *X, const ptrdiff_t *idx, ptrdiff_t m,
                                 ptrdiff_t d, const float *C, ptrdiff_t nt,
                                 const float *cnorm, float *D)
{
    if (nt <= 8 && d <= KMIX_FEW_LANES_MAX_D && m >= KMIX_FEW_LANES_MIN_ROWS) {
        kmix_few_lanes_f(X, idx, m, d, C, nt, cnorm, D);
        return;
    }
    if (KMIX_FEW_USE_PANEL) { kmix_few_panel_f(X, idx, m, d, C, nt, cnorm, D); return; }
    KMIX_FEW_SWITCH(f)
}
#endif

/* The AVX2 version where the CPU has it, else the portable one. */
#if KMIX_HAVE_DISPATCH
#define KMIX_FEW_DISPATCH(SFX)                                                     \
    if (kmix_cpu_has_fma()) {                                                      \
        kmix_few_dots_##SFX##_avx2(X, idx, m, d, C, nt, cnorm, D);                 \
        return;                                                                    \
    }                                                                              \
    kmix_few_dots_##SFX##_base(X, idx, m, d, C, nt, cnorm, D);
#else
#define KMIX_FEW_DISPATCH(SFX) kmix_few_dots_##SFX##_base(X, idx, m, d, C, nt, cnorm, D);
#endif

static inline void kmix_few_dots_d(const double *X, const ptrdiff_t *idx, ptrdiff_t m,
                                   ptrdiff_t d, const double *C, ptrdiff_t nt,
                                   const double *cnorm, double *D)
{ KMIX_FEW_DISPATCH(d) }

static inline void kmix_few_dots_f(const float *X, const ptrdiff_t *idx, ptrdiff_t m,
                                   ptrdiff_t d, const float *C, ptrdiff_t nt,
                                   const float *cnorm, float *D)
{ KMIX_FEW_DISPATCH(f) }

/* Yinyang's groups of centres on wide data are stored as panels of KMIX_PANEL centres, each
 * panel feature-major (P[(p * d + f) * KMIX_PANEL + l]: feature f of the panel's centre l). */
#define KMIX_PANEL 8

/* What kmix_groups_best finds besides each group's smallest value: the winning group's
 * position t in glist (the first whose smallest value is the least; -1 when none is below
 * +inf), the lane of its first minimum, its second smallest value (a tied minimum counting
 * twice; +inf for a group of one), and the least of the other groups' smallest values. */
typedef struct {
    ptrdiff_t t;
    int lane;
    double second;
    double others;
} kmix_group_winner;

/* Yinyang's group filter on wide data, groups of at most KMIX_PANEL centres, one panel each
 * (group g's panel at P + g * d * KMIX_PANEL, its squared norms at pnorm + g * KMIX_PANEL,
 * the padding lanes' +inf): row x against the groups glist[:ng], each reduced to its smallest
 * value m1[t] of pnorm - 2 <x, c>; only the winning group is reduced further (*w). The
 * values are finite (finite rows and centres within MIXED_MAX_NORM-like ranges), so the
 * smallest does not depend on the order of the comparisons. The AVX2 versions keep the
 * values in registers: float groups two at a time (four accumulators each, features f mod 4:
 * eight FMA chains, the next two groups' panels prefetched), a double group's two halves
 * with features f mod 2; the winner's values are kept by blends, without branches. The
 * portable one sums each dot product in order. Either rounding is within
 * expansion_error_scale's bound (any summation order, FMA or not). */
#define KMIX_GROUPS_BEST_ARGS(T)                                                   \
    const T *x, ptrdiff_t d, const T *P, const ptrdiff_t *glist, ptrdiff_t ng,     \
    const T *pnorm, T *m1, kmix_group_winner *w

/* The portable kernels' values of one group (panel Pg, squared norms norms) for row x:
 * v[l] = norms[l] + (-2) <x, c_l>, each dot product summed in order; returns the smallest. */
#define KMIX_GROUP_VALUES_BASE(T)                                                  \
    static inline T kmix_group_values_base_##T(const T *x, ptrdiff_t d, const T *Pg, \
                                                const T *norms, T *v)              \
    {                                                                              \
        for (int l = 0; l < KMIX_PANEL; ++l) {                                     \
            T s = 0;                                                               \
            for (ptrdiff_t f = 0; f < d; ++f) s += x[f] * Pg[f * KMIX_PANEL + l];  \
            v[l] = norms[l] + (T)(-2) * s;                                         \
        }                                                                          \
        T mn = v[0];                                                               \
        for (int l = 1; l < KMIX_PANEL; ++l) mn = v[l] < mn ? v[l] : mn;           \
        return mn;                                                                 \
    }
KMIX_GROUP_VALUES_BASE(double)
KMIX_GROUP_VALUES_BASE(float)

#define KMIX_GROUPS_BEST_BASE(T)                                                   \
    T bm = (T)INFINITY, oth = (T)INFINITY, bsec = (T)INFINITY;                     \
    ptrdiff_t bt = -1;                                                             \
    int bl = 0;                                                                    \
    for (ptrdiff_t t = 0; t < ng; ++t) {                                           \
        T v[KMIX_PANEL];                                                           \
        const T mn = kmix_group_values_base_##T(x, d, P + glist[t] * d * KMIX_PANEL, \
                                                pnorm + glist[t] * KMIX_PANEL, v); \
        m1[t] = mn;                                                                \
        if (mn < bm) {                                                             \
            oth = bm;                                                              \
            bm = mn;                                                               \
            bt = t;                                                                \
            bl = 0;                                                                \
            while (v[bl] != mn) ++bl;                                              \
            bsec = (T)INFINITY;                                                    \
            for (int l = 0; l < KMIX_PANEL; ++l)                                   \
                if (l != bl && v[l] < bsec) bsec = v[l];                           \
        } else {                                                                   \
            oth = mn < oth ? mn : oth;                                             \
        }                                                                          \
    }                                                                              \
    w->t = bt;                                                                     \
    w->lane = bl;                                                                  \
    w->second = bsec;                                                              \
    w->others = oth;

static void kmix_groups_best_d_base(KMIX_GROUPS_BEST_ARGS(double))
{ KMIX_GROUPS_BEST_BASE(double) }

static void kmix_groups_best_f_base(KMIX_GROUPS_BEST_ARGS(float))
{ KMIX_GROUPS_BEST_BASE(float) }

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static inline float kmix_hmin8_ps(__m256 v)
{
    __m128 m = _mm_min_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_min_ps(m, _mm_movehl_ps(m, m));
    m = _mm_min_ss(m, _mm_shuffle_ps(m, m, 1));
    return _mm_cvtss_f32(m);
}

__attribute__((target("avx2,fma")))
static inline double kmix_hmin4_pd(__m256d v)
{
    __m128d m = _mm_min_pd(_mm256_castpd256_pd128(v), _mm256_extractf128_pd(v, 1));
    m = _mm_min_sd(m, _mm_unpackhi_pd(m, m));
    return _mm_cvtsd_f64(m);
}

/* The winning group's 8 values (float lanes): its first minimum's lane and second value. */
__attribute__((target("avx2,fma")))
static inline void kmix_best2_lanes8_ps(__m256 v, float b1, double *m2, int *l1)
{
    const int mask = _mm256_movemask_ps(_mm256_cmp_ps(v, _mm256_set1_ps(b1), _CMP_EQ_OQ));
    const int l = mask ? __builtin_ctz(mask) : 0;
    const __m256i li = _mm256_set1_epi32(l), lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    const __m256 self = _mm256_castsi256_ps(_mm256_cmpeq_epi32(li, lanes));
    *m2 = kmix_hmin8_ps(_mm256_blendv_ps(v, _mm256_set1_ps(INFINITY), self));
    *l1 = l;
}

/* The same for a double group's two halves (lanes 0-3 in lo, 4-7 in hi). */
__attribute__((target("avx2,fma")))
static inline void kmix_best2_lanes8_pd(__m256d lo, __m256d hi, double b1, double *m2,
                                        int *l1)
{
    const __m256d bb = _mm256_set1_pd(b1), inf = _mm256_set1_pd(INFINITY);
    const int mask = _mm256_movemask_pd(_mm256_cmp_pd(lo, bb, _CMP_EQ_OQ))
                     | (_mm256_movemask_pd(_mm256_cmp_pd(hi, bb, _CMP_EQ_OQ)) << 4);
    const int l = mask ? __builtin_ctz(mask) : 0;
    const __m256d ld = _mm256_set1_pd((double)l);
    const __m256d slo = _mm256_cmp_pd(_mm256_setr_pd(0, 1, 2, 3), ld, _CMP_EQ_OQ);
    const __m256d shi = _mm256_cmp_pd(_mm256_setr_pd(4, 5, 6, 7), ld, _CMP_EQ_OQ);
    *m2 = kmix_hmin4_pd(_mm256_min_pd(_mm256_blendv_pd(lo, inf, slo),
                                      _mm256_blendv_pd(hi, inf, shi)));
    *l1 = l;
}

/* pnorm - 2 <x, c> for the panels Pa and Pb (squared norms na, nb), four accumulators each
 * (features f mod 4) so that eight FMA chains overlap, while the panels Qa and Qb (the next
 * two groups') are prefetched; with Pb NULL, Pa's alone (vb unset). */
__attribute__((target("avx2,fma")))
static inline void kmix_two_panels_ps(const float *x, ptrdiff_t d, const float *Pa,
                                      const float *Pb, const float *na, const float *nb,
                                      const float *Qa, const float *Qb,
                                      __m256 *va, __m256 *vb)
{
    const __m256 mtwo = _mm256_set1_ps(-2.0f);
    __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
    __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
    ptrdiff_t f = 0;
    if (!Pb) {
        for (; f + 4 <= d; f += 4) {
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(x[f]), _mm256_loadu_ps(Pa + f * 8), a0);
            a1 = _mm256_fmadd_ps(_mm256_set1_ps(x[f + 1]), _mm256_loadu_ps(Pa + f * 8 + 8), a1);
            a2 = _mm256_fmadd_ps(_mm256_set1_ps(x[f + 2]), _mm256_loadu_ps(Pa + f * 8 + 16), a2);
            a3 = _mm256_fmadd_ps(_mm256_set1_ps(x[f + 3]), _mm256_loadu_ps(Pa + f * 8 + 24), a3);
        }
        for (; f < d; ++f)
            a0 = _mm256_fmadd_ps(_mm256_set1_ps(x[f]), _mm256_loadu_ps(Pa + f * 8), a0);
    } else {
        for (; f + 4 <= d; f += 4) {
            const __m256 x0 = _mm256_set1_ps(x[f]), x1 = _mm256_set1_ps(x[f + 1]);
            const __m256 x2 = _mm256_set1_ps(x[f + 2]), x3 = _mm256_set1_ps(x[f + 3]);
            _mm_prefetch((const char *)(Qa + f * 8), _MM_HINT_T0);
            _mm_prefetch((const char *)(Qa + f * 8 + 16), _MM_HINT_T0);
            _mm_prefetch((const char *)(Qb + f * 8), _MM_HINT_T0);
            _mm_prefetch((const char *)(Qb + f * 8 + 16), _MM_HINT_T0);
            a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(Pa + f * 8), a0);
            b0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(Pb + f * 8), b0);
            a1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(Pa + f * 8 + 8), a1);
            b1 = _mm256_fmadd_ps(x1, _mm256_loadu_ps(Pb + f * 8 + 8), b1);
            a2 = _mm256_fmadd_ps(x2, _mm256_loadu_ps(Pa + f * 8 + 16), a2);
            b2 = _mm256_fmadd_ps(x2, _mm256_loadu_ps(Pb + f * 8 + 16), b2);
            a3 = _mm256_fmadd_ps(x3, _mm256_loadu_ps(Pa + f * 8 + 24), a3);
            b3 = _mm256_fmadd_ps(x3, _mm256_loadu_ps(Pb + f * 8 + 24), b3);
        }
        for (; f < d; ++f) {
            const __m256 x0 = _mm256_set1_ps(x[f]);
            a0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(Pa + f * 8), a0);
            b0 = _mm256_fmadd_ps(x0, _mm256_loadu_ps(Pb + f * 8), b0);
        }
        *vb = _mm256_fmadd_ps(mtwo, _mm256_add_ps(_mm256_add_ps(b0, b1), _mm256_add_ps(b2, b3)),
                              _mm256_loadu_ps(nb));
    }
    *va = _mm256_fmadd_ps(mtwo, _mm256_add_ps(_mm256_add_ps(a0, a1), _mm256_add_ps(a2, a3)),
                          _mm256_loadu_ps(na));
}

/* The running winner of kmix_groups_best (float lanes): a group's values v, its smallest mb
 * in every lane, its position t. The first strictly smaller minimum wins; the winner it
 * displaces joins the others. */
typedef struct {
    __m256 v, m, t, others;
} kmix_winner_ps;

__attribute__((target("avx2,fma")))
static inline void kmix_track_ps(kmix_winner_ps *w, __m256 v, __m256 mb, float t)
{
    const __m256 lt = _mm256_cmp_ps(mb, w->m, _CMP_LT_OQ);
    w->others = _mm256_blendv_ps(_mm256_min_ps(mb, w->others), w->m, lt);
    w->m = _mm256_blendv_ps(w->m, mb, lt);
    w->v = _mm256_blendv_ps(w->v, v, lt);
    w->t = _mm256_blendv_ps(w->t, _mm256_set1_ps(t), lt);
}

__attribute__((target("avx2,fma")))
static void kmix_groups_best_f_avx2(KMIX_GROUPS_BEST_ARGS(float))
{
    const __m256 inf = _mm256_set1_ps(INFINITY);
    kmix_winner_ps win = {inf, inf, _mm256_set1_ps(-1.0f), inf};
    for (ptrdiff_t t = 0; t < ng; t += 2) {
        const int two = t + 1 < ng;
        const float *Qa = P + glist[t + 2 < ng ? t + 2 : t] * d * 8;
        const float *Qb = P + glist[t + 3 < ng ? t + 3 : t] * d * 8;
        __m256 va, vb;
        kmix_two_panels_ps(x, d, P + glist[t] * d * 8, two ? P + glist[t + 1] * d * 8 : NULL,
                           pnorm + glist[t] * 8, two ? pnorm + glist[t + 1] * 8 : NULL, Qa, Qb,
                           &va, &vb);
        if (!two)
            vb = va;
        /* Each group's smallest: lanes 0-3 va's, 4-7 vb's. */
        __m256 m = _mm256_min_ps(_mm256_permute2f128_ps(va, vb, 0x20),
                                 _mm256_permute2f128_ps(va, vb, 0x31));
        m = _mm256_min_ps(m, _mm256_permute_ps(m, 0x4E));
        m = _mm256_min_ps(m, _mm256_permute_ps(m, 0xB1));
        _mm_store_ss(m1 + t, _mm256_castps256_ps128(m));
        kmix_track_ps(&win, va, _mm256_permute2f128_ps(m, m, 0x00), (float)t);
        if (two) {
            _mm_store_ss(m1 + t + 1, _mm256_extractf128_ps(m, 1));
            kmix_track_ps(&win, vb, _mm256_permute2f128_ps(m, m, 0x11), (float)(t + 1));
        }
    }
    w->t = (ptrdiff_t)_mm256_cvtss_f32(win.t);
    w->others = _mm256_cvtss_f32(win.others);
    w->second = INFINITY;
    w->lane = 0;
    if (w->t >= 0)
        kmix_best2_lanes8_ps(win.v, _mm256_cvtss_f32(win.m), &w->second, &w->lane);
}

__attribute__((target("avx2,fma")))
static void kmix_groups_best_d_avx2(KMIX_GROUPS_BEST_ARGS(double))
{
    const __m256d mtwo = _mm256_set1_pd(-2.0), inf = _mm256_set1_pd(INFINITY);
    __m256d wlo = inf, whi = inf, wm = inf, wt = _mm256_set1_pd(-1.0), oth = inf;
    for (ptrdiff_t t = 0; t < ng; ++t) {
        const double *Pg = P + glist[t] * d * 8, *ng_ = pnorm + glist[t] * 8;
        const double *Q = P + glist[t + 1 < ng ? t + 1 : t] * d * 8;
        __m256d l0 = _mm256_setzero_pd(), h0 = l0, l1v = l0, h1 = l0;
        ptrdiff_t f = 0;
        for (; f + 2 <= d; f += 2) {
            const __m256d x0 = _mm256_set1_pd(x[f]), x1 = _mm256_set1_pd(x[f + 1]);
            _mm_prefetch((const char *)(Q + f * 8), _MM_HINT_T0);
            _mm_prefetch((const char *)(Q + f * 8 + 8), _MM_HINT_T0);
            l0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(Pg + f * 8), l0);
            h0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(Pg + f * 8 + 4), h0);
            l1v = _mm256_fmadd_pd(x1, _mm256_loadu_pd(Pg + f * 8 + 8), l1v);
            h1 = _mm256_fmadd_pd(x1, _mm256_loadu_pd(Pg + f * 8 + 12), h1);
        }
        for (; f < d; ++f) {
            const __m256d x0 = _mm256_set1_pd(x[f]);
            l0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(Pg + f * 8), l0);
            h0 = _mm256_fmadd_pd(x0, _mm256_loadu_pd(Pg + f * 8 + 4), h0);
        }
        const __m256d lo = _mm256_fmadd_pd(mtwo, _mm256_add_pd(l0, l1v), _mm256_loadu_pd(ng_));
        const __m256d hi = _mm256_fmadd_pd(mtwo, _mm256_add_pd(h0, h1), _mm256_loadu_pd(ng_ + 4));
        /* The group's smallest, in every lane. */
        __m256d m = _mm256_min_pd(lo, hi);
        m = _mm256_min_pd(m, _mm256_permute2f128_pd(m, m, 0x01));
        m = _mm256_min_pd(m, _mm256_permute_pd(m, 0x5));
        m1[t] = _mm256_cvtsd_f64(m);
        const __m256d lt = _mm256_cmp_pd(m, wm, _CMP_LT_OQ);
        oth = _mm256_blendv_pd(_mm256_min_pd(m, oth), wm, lt);
        wm = _mm256_blendv_pd(wm, m, lt);
        wlo = _mm256_blendv_pd(wlo, lo, lt);
        whi = _mm256_blendv_pd(whi, hi, lt);
        wt = _mm256_blendv_pd(wt, _mm256_set1_pd((double)t), lt);
    }
    w->t = (ptrdiff_t)_mm256_cvtsd_f64(wt);
    w->others = _mm256_cvtsd_f64(oth);
    w->second = INFINITY;
    w->lane = 0;
    if (w->t >= 0)
        kmix_best2_lanes8_pd(wlo, whi, _mm256_cvtsd_f64(wm), &w->second, &w->lane);
}
#endif

static inline void kmix_groups_best_d(KMIX_GROUPS_BEST_ARGS(double))
{ KMIX_DISPATCH(kmix_groups_best_d, (x, d, P, glist, ng, pnorm, m1, w)) }

static inline void kmix_groups_best_f(KMIX_GROUPS_BEST_ARGS(float))
{ KMIX_DISPATCH(kmix_groups_best_f, (x, d, P, glist, ng, pnorm, m1, w)) }


/* Yinyang's group bounds, stored so that moving them with the centres writes nothing: a
 * row's bound on group g is kept as a float32 lb + D_g (the bound when it was last refreshed
 * plus the group's drift D_g then: the sum of the group's largest shift over the passes,
 * rounded up), rounded down (kmix_group_bound_store). With du[g] the drift now rounded up to
 * float32, (stored - du[g]) * (1 - 2^-22) in float32 arithmetic is a bound now: the float
 * difference is within 2^-24 of the true one, the product's factor takes that and its own
 * rounding off a positive value (a subnormal difference is exact, a product with a factor
 * below 1 rounds to at most it), and a value <= 0 is a bound of any distance. The same
 * float operations in every kernel, so the vector and portable ones agree bit for bit. */
#define KMIX_BOUND_SHRINK 0.99999976f   /* 1 - 2^-22 */

static inline float kmix_group_bound(float stored, float du)
{
    return (stored - du) * KMIX_BOUND_SHRINK;
}

/* s >= 0 rounded to the float32 below (by = -1) or above (by = 1) it: rounded to nearest,
 * then moved by one unit (the bits of a float >= 0 count its units) if on the wrong side;
 * without a branch, which would mispredict half the time. */
static inline float kmix_float_toward(double s, int by)
{
    float f = (float)s;
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits += (uint32_t)by * (uint32_t)(by < 0 ? (double)f > s : (double)f < s);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* A stored bound also carries the pass that stored it, modulo KMIX_BOUND_SLOTS (32), in its
 * low five bits (its tag): the bits of the stored value s >= 0 are decremented by 32 and
 * their low five replaced by the tag (a float >= 0 whose bits are under 32, a subnormal
 * below 2^-144, becomes -0.0 with the tag: a tiny negative value, a bound of any distance).
 * So the value stays below s, by at most 63 float32 units (a relative 2^-17), and every
 * reader of the value alone (kmix_group_bound) is right without looking at the tag. The tag
 * tells which entry of the pass's table bounds the centres' net moves since the bound was
 * stored (kmix_group_bound_net). */
#define KMIX_BOUND_SLOTS 32

static inline float kmix_bound_tag(float s, unsigned slot)
{
    const uint32_t low = KMIX_BOUND_SLOTS - 1;
    uint32_t bits;
    memcpy(&bits, &s, sizeof bits);
    bits = bits > low ? ((bits - KMIX_BOUND_SLOTS) & ~low) | slot : 0x80000000u | slot;
    memcpy(&s, &bits, sizeof s);
    return s;
}

/* A group bound v >= 0 (float64) stored with the group's drift D (float64, >= 0) now, in
 * pass `slot` (modulo KMIX_BOUND_SLOTS). */
static inline float kmix_group_bound_store(double v, double D, unsigned slot)
{
    /* (v + D) shrunk below v + D despite the sum's rounding, then rounded down */
    return kmix_bound_tag(kmix_float_toward((v + D) * (1.0 - 4.5e-16), -1), slot);
}

/* The bound now from the net moves of the group's centres since the pass that stored it:
 * dn[t] (group g's row of the pass's table, KMIX_BOUND_SLOTS entries) bounds the drift then
 * plus the group's largest net move since, for the last pass whose tag is t, rounded up to
 * float32 (_bounds.pyx, _net_drifts). (stored - drift then) bounds the distances then, and a
 * centre is now at most its net move nearer: the same float operations as kmix_group_bound
 * make it a bound now. Never looser than the moves summed over the passes (the net move
 * since a pass is at most the sum of the moves since: the same bound or better), but
 * readers test both (kmix_group_bound_best), whose rounding may differ. */
static inline float kmix_group_bound_net(float stored, const float *dn)
{
    uint32_t bits;
    memcpy(&bits, &stored, sizeof bits);
    return kmix_group_bound(stored, dn[bits & (KMIX_BOUND_SLOTS - 1)]);
}

/* The better of group g's two bounds now: moved by its drift (du) or its net moves (dn:
 * the table's rows, KMIX_BOUND_SLOTS per group). */
static inline float kmix_group_bound_best(float stored, float du, const float *dn,
                                          ptrdiff_t g)
{
    const float a = kmix_group_bound(stored, du);
    if (dn == NULL)
        return a;
    const float b = kmix_group_bound_net(stored, dn + g * KMIX_BOUND_SLOTS);
    return a > b ? a : b;
}

/* v >= 0 rounded up to float32 (a drift, an upper bound). */
static inline float kmix_float_up(double v)
{
    return kmix_float_toward(v, 1);
}

/* The smallest of a row's ng group bounds now (stored lb, drifts du): min over the groups of
 * the float differences, shrunk once (the rounding is monotonic: the same as each shrunk). */
static float kmix_group_floor_base(const float *lb, const float *du, ptrdiff_t ng)
{
    float m = INFINITY;
    for (ptrdiff_t g = 0; g < ng; ++g) {
        const float v = lb[g] - du[g];
        m = v < m ? v : m;
    }
    return m * KMIX_BOUND_SHRINK;
}

/* Of the groups g + l of the set bits l of mask, those whose net bound is at most u. */
static inline unsigned kmix_net_keep(const float *lb, const float *dn, ptrdiff_t g,
                                     unsigned mask, float u)
{
    unsigned keep = 0;
    for (unsigned m = mask; m; m &= m - 1) {
        const int l = __builtin_ctz(m);
        keep |= (unsigned)(kmix_group_bound_net(lb[g + l], dn + (g + l) * KMIX_BOUND_SLOTS)
                           <= u) << l;
    }
    return keep;
}

/* A row's failing groups, by blocks of eight (the last one shorter): those whose drift bound
 * now is at most u (float32, rounded up from the float64 bound) and, with a table of net
 * moves (dn not NULL), whose net bound is at most u too (kmix_group_bound_best; a pass
 * without the table lists the groups its drift bounds fail, a superset); and group ga (if
 * >= 0) in any case. As the bits of a mask for the cnt <= 8 groups from g; the vector
 * kernels compute the same. */
static inline unsigned kmix_failing_mask_base(const float *lb, const float *du, const float *dn,
                                              ptrdiff_t g, ptrdiff_t cnt, float u, ptrdiff_t ga)
{
    unsigned mask = 0;
    for (ptrdiff_t l = 0; l < cnt; ++l)
        mask |= (unsigned)(kmix_group_bound(lb[g + l], du[g + l]) <= u) << l;
    if (mask && dn != NULL)
        mask = kmix_net_keep(lb, dn, g, mask, u);
    if (ga >= g && ga < g + cnt)
        mask |= 1u << (ga - g);
    return mask;
}

/* The failing groups in order to glist, from group g on (a multiple of 8), the first n
 * listed already; returns how many. */
static inline ptrdiff_t kmix_groups_failing_from(const float *lb, const float *du,
                                                 const float *dn, ptrdiff_t g, ptrdiff_t ng,
                                                 float u, ptrdiff_t ga, ptrdiff_t *glist,
                                                 ptrdiff_t n)
{
    for (; g < ng; g += 8) {
        const ptrdiff_t cnt = ng - g < 8 ? ng - g : 8;
        const unsigned mask = kmix_failing_mask_base(lb, du, dn, g, cnt, u, ga);
        for (ptrdiff_t l = 0; l < cnt; ++l) {
            glist[n] = g + l;
            n += mask >> l & 1u;
        }
    }
    return n;
}

static ptrdiff_t kmix_groups_failing_base(const float *lb, const float *du, const float *dn,
                                          ptrdiff_t ng, float u, ptrdiff_t ga, ptrdiff_t *glist)
{
    return kmix_groups_failing_from(lb, du, dn, 0, ng, u, ga, glist, 0);
}

#if KMIX_HAVE_DISPATCH
/* kmix_mask_lanes[m]: the set bits of the byte m, lowest first (then zeros). */
static unsigned char kmix_mask_lanes[256][8];

__attribute__((constructor))
static void kmix_fill_mask_lanes(void)
{
    for (int m = 0; m < 256; ++m)
        for (int b = 0, n = 0; b < 8; ++b)
            if (m >> b & 1)
                kmix_mask_lanes[m][n++] = (unsigned char)b;
}

/* kmix_failing_mask_base for the eight groups at lb (drifts dv, net-move tables from dn or
 * NULL), ga relative to them: the net bounds of the eight by one gather (measured faster
 * than reading the failing ones one at a time, or filtering the lists afterwards), masked
 * to the lanes whose drift bound fails, and run whether or not one does: a branch on it
 * mispredicted often (normal 100k x 32, k = 1000, Zen 4, 2026-12-05, min of 3 fits
 * alternating: Yinyang's pass 3 25-28 -> 23-25 ms, the 20 passes 497-534 -> 492-521). */
__attribute__((target("avx2,fma")))
static inline unsigned kmix_failing_mask8(const float *lb, __m256 dv, const float *dn, __m256 u,
                                          ptrdiff_t ga)
{
    const __m256 shrink = _mm256_set1_ps(KMIX_BOUND_SHRINK);
    const __m256 s = _mm256_loadu_ps(lb);
    const __m256 fails = _mm256_cmp_ps(_mm256_mul_ps(_mm256_sub_ps(s, dv), shrink), u,
                                       _CMP_LE_OQ);
    unsigned mask = (unsigned)_mm256_movemask_ps(fails);
    if (dn != NULL) {
        const __m256i at = _mm256_add_epi32(
            _mm256_and_si256(_mm256_castps_si256(s), _mm256_set1_epi32(KMIX_BOUND_SLOTS - 1)),
            _mm256_mullo_epi32(_mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7),
                               _mm256_set1_epi32(KMIX_BOUND_SLOTS)));
        /* (the failing lanes' entries only: the others' bits are cleared anyway) */
        const __m256 nb = _mm256_mul_ps(
            _mm256_sub_ps(s, _mm256_mask_i32gather_ps(_mm256_setzero_ps(), dn, at, fails, 4)),
            shrink);
        mask &= (unsigned)_mm256_movemask_ps(_mm256_cmp_ps(nb, u, _CMP_LE_OQ));
    }
    if (ga >= 0 && ga < 8)
        mask |= 1u << ga;
    return mask;
}

/* glist[n:] gets the groups g + b of the set bits b of mask, in order, without a branch per
 * bit (all eight slots are stored); returns the new count. */
__attribute__((target("avx2,fma,popcnt")))
static inline ptrdiff_t kmix_append_groups(ptrdiff_t *glist, ptrdiff_t n, ptrdiff_t g,
                                           unsigned mask)
{
    const __m128i lanes = _mm_loadl_epi64((const __m128i *)kmix_mask_lanes[mask]);
    const __m256i base = _mm256_set1_epi64x(g);
    _mm256_storeu_si256((__m256i *)(glist + n),
                        _mm256_add_epi64(_mm256_cvtepu8_epi64(lanes), base));
    _mm256_storeu_si256((__m256i *)(glist + n + 4),
                        _mm256_add_epi64(_mm256_cvtepu8_epi64(_mm_srli_si128(lanes, 4)), base));
    return n + __builtin_popcount(mask);
}

__attribute__((target("avx2,fma")))
static float kmix_group_floor_avx2(const float *lb, const float *du, ptrdiff_t ng)
{
    __m256 m = _mm256_set1_ps(INFINITY);
    ptrdiff_t g = 0;
    for (; g + 8 <= ng; g += 8)
        m = _mm256_min_ps(_mm256_sub_ps(_mm256_loadu_ps(lb + g), _mm256_loadu_ps(du + g)), m);
    float s = kmix_hmin8_ps(m);
    for (; g < ng; ++g) {
        const float v = lb[g] - du[g];
        s = v < s ? v : s;
    }
    return s * KMIX_BOUND_SHRINK;
}

__attribute__((target("avx2,fma,popcnt")))
static ptrdiff_t kmix_groups_failing_avx2(const float *lb, const float *du, const float *dn,
                                          ptrdiff_t ng, float u, ptrdiff_t ga, ptrdiff_t *glist)
{
    const __m256 uu = _mm256_set1_ps(u);
    ptrdiff_t n = 0, g = 0;
    for (; g + 8 <= ng; g += 8)
        n = kmix_append_groups(glist, n, g,
                               kmix_failing_mask8(lb + g, _mm256_loadu_ps(du + g),
                                                  dn ? dn + g * KMIX_BOUND_SLOTS : NULL, uu,
                                                  ga - g));
    return kmix_groups_failing_from(lb, du, dn, g, ng, u, ga, glist, n);
}
#endif

static inline float kmix_group_floor(const float *lb, const float *du, ptrdiff_t ng)
{ KMIX_DISPATCH_RETURN(kmix_group_floor, (lb, du, ng)) }

static inline ptrdiff_t kmix_groups_failing(const float *lb, const float *du, const float *dn,
                                            ptrdiff_t ng, float u, ptrdiff_t ga,
                                            ptrdiff_t *glist)
{ KMIX_DISPATCH_RETURN(kmix_groups_failing, (lb, du, dn, ng, u, ga, glist)) }

/* Four rows' group filter over one list of groups (the union of their failing groups, by
 * kmix_groups_failing_bits4 and kmix_bits_union4): each panel is loaded once for the four rows
 * (a feature's panel values against four broadcast row values), which halves the loads per
 * multiply-add of kmix_groups_best, the kernel's limit. kmix_groups_min4_f writes each row's
 * smallest value per group, m1[r * ldm + t] (rows xs[0..3], groups glist[:ng]);
 * kmix_group_winner4_f then finds each row's winner from them (the first least m1, the least of
 * the others) and recomputes the winning group's values, by the same operations in the same
 * order (so the same values), for its lane and second value. The portable versions sum each dot
 * product in order, the AVX2 ones with one FMA chain per (row, group) in feature order. */

/* Four rows' failing groups (those of kmix_groups_failing, by the same blocks of eight) as
 * bitmaps: bit b of bits[r * nw + w] is row r's group 64 w + b (nw = kmix_bit_words(ng)
 * words a row); the caller counts them, takes their union (kmix_bits_union4) and lists
 * what it examines (kmix_bits_list): rows that examine groups together want the union
 * only, rows alone their own lists only. */
static inline ptrdiff_t kmix_bit_words(ptrdiff_t ng)
{
    return (ng + 63) / 64;
}

/* ... blocks from group g on (a multiple of 8), the bitmaps cleared before. */
static inline void kmix_groups_failing_bits4_from(const float *const *lb, const float *du,
                                                  const float *dn, ptrdiff_t g, ptrdiff_t ng,
                                                  const float *u, const ptrdiff_t *ga,
                                                  uint64_t *bits)
{
    const ptrdiff_t nw = kmix_bit_words(ng);
    for (; g < ng; g += 8) {
        const ptrdiff_t cnt = ng - g < 8 ? ng - g : 8;
        for (int r = 0; r < 4; ++r)
            bits[r * nw + g / 64] |= (uint64_t)kmix_failing_mask_base(lb[r], du, dn, g, cnt,
                                                                      u[r], ga[r]) << (g % 64);
    }
}

static inline void kmix_bits_clear4(uint64_t *bits, ptrdiff_t ng)
{
    memset(bits, 0, sizeof(uint64_t) * 4 * kmix_bit_words(ng));
}

static void kmix_groups_failing_bits4_base(const float *const *lb, const float *du,
                                           const float *dn, ptrdiff_t ng, const float *u,
                                           const ptrdiff_t *ga, uint64_t *bits)
{
    kmix_bits_clear4(bits, ng);
    kmix_groups_failing_bits4_from(lb, du, dn, 0, ng, u, ga, bits);
}

/* The four bitmaps' union into un (nw words); returns how many groups it holds, and each
 * row's count in counts[4]. (Compiled again with the POPCNT instruction, which the AVX2 path
 * requires: the baseline's __builtin_popcountll is a library call.) */
#define KMIX_BITS_UNION4_BODY                                                          \
    ptrdiff_t n = 0;                                                                   \
    for (int r = 0; r < 4; ++r)                                                        \
        counts[r] = 0;                                                                 \
    for (ptrdiff_t w = 0; w < nw; ++w) {                                               \
        un[w] = bits[w] | bits[nw + w] | bits[2 * nw + w] | bits[3 * nw + w];          \
        n += __builtin_popcountll(un[w]);                                              \
        for (int r = 0; r < 4; ++r)                                                    \
            counts[r] += __builtin_popcountll(bits[r * nw + w]);                       \
    }                                                                                  \
    return n;

static ptrdiff_t kmix_bits_union4_base(const uint64_t *bits, ptrdiff_t nw, uint64_t *un,
                                       ptrdiff_t *counts)
{
    KMIX_BITS_UNION4_BODY
}

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma,popcnt")))
static ptrdiff_t kmix_bits_union4_avx2(const uint64_t *bits, ptrdiff_t nw, uint64_t *un,
                                       ptrdiff_t *counts)
{
    KMIX_BITS_UNION4_BODY
}
#endif

static inline ptrdiff_t kmix_bits_union4(const uint64_t *bits, ptrdiff_t nw, uint64_t *un,
                                         ptrdiff_t *counts)
{ KMIX_DISPATCH_RETURN(kmix_bits_union4, (bits, nw, un, counts)) }

/* The groups of the set bits of word w of a bitmap appended to glist[n:]; the new count. */
static inline ptrdiff_t kmix_bits_word_list(uint64_t m, ptrdiff_t w, ptrdiff_t *glist,
                                            ptrdiff_t n)
{
    for (; m; m &= m - 1)
        glist[n++] = 64 * w + __builtin_ctzll(m);
    return n;
}

/* The groups of the set bits of a bitmap of ng groups (kmix_bit_words(ng) words), in order,
 * to glist (room for ng); returns how many. (From word w on, the first n listed already.) */
static inline ptrdiff_t kmix_bits_list_from(const uint64_t *bits, ptrdiff_t w, ptrdiff_t ng,
                                            ptrdiff_t *glist, ptrdiff_t n)
{
    for (; w < kmix_bit_words(ng); ++w)
        n = kmix_bits_word_list(bits[w], w, glist, n);
    return n;
}

static ptrdiff_t kmix_bits_list_base(const uint64_t *bits, ptrdiff_t ng, ptrdiff_t *glist)
{
    return kmix_bits_list_from(bits, 0, ng, glist, 0);
}

#if KMIX_HAVE_DISPATCH
/* kmix_bits_list_base; a whole word within the ng groups holding more than 8 of them by a
 * byte at a time (kmix_append_groups, no branch per bit: the first passes' dense lists;
 * its stores of eight entries stay within the room for ng). */
__attribute__((target("avx2,fma,popcnt")))
static ptrdiff_t kmix_bits_list_avx2(const uint64_t *bits, ptrdiff_t ng, ptrdiff_t *glist)
{
    ptrdiff_t n = 0, w = 0;
    for (; 64 * (w + 1) <= ng; ++w) {
        uint64_t m = bits[w];
        if (__builtin_popcountll(m) > 8) {
            for (int b = 0; b < 8; ++b, m >>= 8)
                n = kmix_append_groups(glist, n, 64 * w + 8 * b, (unsigned)(m & 0xFF));
        } else {
            n = kmix_bits_word_list(m, w, glist, n);
        }
    }
    return kmix_bits_list_from(bits, w, ng, glist, n);
}
#endif
static inline ptrdiff_t kmix_bits_list(const uint64_t *bits, ptrdiff_t ng, ptrdiff_t *glist)
{ KMIX_DISPATCH_RETURN(kmix_bits_list, (bits, ng, glist)) }

static void kmix_groups_min4_f_base(const float *const *xs, ptrdiff_t d, const float *P,
                                    const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                    float *m1, ptrdiff_t ldm)
{
    float v[KMIX_PANEL];
    for (int r = 0; r < 4; ++r)
        for (ptrdiff_t t = 0; t < ng; ++t)
            m1[r * ldm + t] = kmix_group_values_base_float(
                xs[r], d, P + glist[t] * d * KMIX_PANEL, pnorm + glist[t] * KMIX_PANEL, v);
}

/* The first least of m1[:ng] (position *t, -1 if none is below +inf) and the least of the
 * others (*others). */
static inline float kmix_first_min_f(const float *m1, ptrdiff_t ng, ptrdiff_t *t,
                                     double *others)
{
    float b = INFINITY, o = INFINITY;
    ptrdiff_t bt = -1;
    for (ptrdiff_t s = 0; s < ng; ++s) {
        const float v = m1[s];
        const int lt = v < b;
        o = lt ? b : (v < o ? v : o);
        bt = lt ? s : bt;
        b = lt ? v : b;
    }
    *t = bt;
    *others = o;
    return b;
}

static void kmix_group_winner_of_row(const float *x, ptrdiff_t d, const float *P,
                                     const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                     const float *m1, kmix_group_winner *w)
{
    float v[KMIX_PANEL];
    const float b = kmix_first_min_f(m1, ng, &w->t, &w->others);
    w->lane = 0;
    w->second = INFINITY;
    if (w->t < 0)
        return;
    kmix_group_values_base_float(x, d, P + glist[w->t] * d * KMIX_PANEL,
                                 pnorm + glist[w->t] * KMIX_PANEL, v);
    while (w->lane < KMIX_PANEL - 1 && v[w->lane] != b) ++w->lane;
    for (int l = 0; l < KMIX_PANEL; ++l)
        if (l != w->lane && v[l] < w->second) w->second = v[l];
}

/* Each of the four rows' winner (m1 with stride ldm; w[4]), one row at a time. */
static void kmix_group_winner4_f_base(const float *const *xs, ptrdiff_t d, const float *P,
                                      const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                      const float *m1, ptrdiff_t ldm, kmix_group_winner *w)
{
    for (int r = 0; r < 4; ++r)
        kmix_group_winner_of_row(xs[r], d, P, glist, ng, pnorm, m1 + r * ldm, &w[r]);
}

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static void kmix_groups_failing_bits4_avx2(const float *const *lb, const float *du,
                                           const float *dn, ptrdiff_t ng, const float *u,
                                           const ptrdiff_t *ga, uint64_t *bits)
{
    const ptrdiff_t nw = kmix_bit_words(ng);
    ptrdiff_t g = 0;
    kmix_bits_clear4(bits, ng);
    for (; g + 8 <= ng; g += 8) {
        const __m256 dv = _mm256_loadu_ps(du + g);
        for (int r = 0; r < 4; ++r)
            bits[r * nw + g / 64] |= (uint64_t)kmix_failing_mask8(
                lb[r] + g, dv, dn ? dn + g * KMIX_BOUND_SLOTS : NULL, _mm256_set1_ps(u[r]),
                ga[r] - g) << (g % 64);
    }
    kmix_groups_failing_bits4_from(lb, du, dn, g, ng, u, ga, bits);
}

/* The minima of eight vectors, lane i of the result being v_i's. */
__attribute__((target("avx2,fma")))
static inline __m256 kmix_mins8_ps(__m256 v0, __m256 v1, __m256 v2, __m256 v3, __m256 v4,
                                   __m256 v5, __m256 v6, __m256 v7)
{
    /* per 128-bit half: pairwise minima of v0 v1 (t0), v2 v3 (t1), ... */
    const __m256 t0 = _mm256_min_ps(_mm256_shuffle_ps(v0, v1, 0x88), _mm256_shuffle_ps(v0, v1, 0xDD));
    const __m256 t1 = _mm256_min_ps(_mm256_shuffle_ps(v2, v3, 0x88), _mm256_shuffle_ps(v2, v3, 0xDD));
    const __m256 t2 = _mm256_min_ps(_mm256_shuffle_ps(v4, v5, 0x88), _mm256_shuffle_ps(v4, v5, 0xDD));
    const __m256 t3 = _mm256_min_ps(_mm256_shuffle_ps(v6, v7, 0x88), _mm256_shuffle_ps(v6, v7, 0xDD));
    /* per half: the minima of v0 v1 v2 v3 (u0), v4 .. v7 (u1) */
    const __m256 u0 = _mm256_min_ps(_mm256_shuffle_ps(t0, t1, 0x88), _mm256_shuffle_ps(t0, t1, 0xDD));
    const __m256 u1 = _mm256_min_ps(_mm256_shuffle_ps(t2, t3, 0x88), _mm256_shuffle_ps(t2, t3, 0xDD));
    return _mm256_min_ps(_mm256_permute2f128_ps(u0, u1, 0x20), _mm256_permute2f128_ps(u0, u1, 0x31));
}

__attribute__((target("avx2,fma")))
static void kmix_groups_min4_f_avx2(const float *const *xs, ptrdiff_t d, const float *P,
                                    const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                    float *m1, ptrdiff_t ldm)
{
    const __m256 mtwo = _mm256_set1_ps(-2.0f);
    const float *x0 = xs[0], *x1 = xs[1], *x2 = xs[2], *x3 = xs[3];
    for (ptrdiff_t t = 0; t < ng; t += 2) {
        const int two = t + 1 < ng;
        const float *A = P + glist[t] * d * 8, *B = P + glist[two ? t + 1 : t] * d * 8;
        __m256 a0 = _mm256_setzero_ps(), a1 = a0, a2 = a0, a3 = a0;
        __m256 b0 = a0, b1 = a0, b2 = a0, b3 = a0;
        for (ptrdiff_t f = 0; f < d; ++f) {
            const __m256 pa = _mm256_loadu_ps(A + f * 8), pb = _mm256_loadu_ps(B + f * 8);
            __m256 xv = _mm256_set1_ps(x0[f]);
            a0 = _mm256_fmadd_ps(xv, pa, a0);
            b0 = _mm256_fmadd_ps(xv, pb, b0);
            xv = _mm256_set1_ps(x1[f]);
            a1 = _mm256_fmadd_ps(xv, pa, a1);
            b1 = _mm256_fmadd_ps(xv, pb, b1);
            xv = _mm256_set1_ps(x2[f]);
            a2 = _mm256_fmadd_ps(xv, pa, a2);
            b2 = _mm256_fmadd_ps(xv, pb, b2);
            xv = _mm256_set1_ps(x3[f]);
            a3 = _mm256_fmadd_ps(xv, pa, a3);
            b3 = _mm256_fmadd_ps(xv, pb, b3);
        }
        const __m256 na = _mm256_loadu_ps(pnorm + glist[t] * 8);
        const __m256 nb = _mm256_loadu_ps(pnorm + glist[two ? t + 1 : t] * 8);
        const __m256 m = kmix_mins8_ps(
            _mm256_fmadd_ps(mtwo, a0, na), _mm256_fmadd_ps(mtwo, b0, nb),
            _mm256_fmadd_ps(mtwo, a1, na), _mm256_fmadd_ps(mtwo, b1, nb),
            _mm256_fmadd_ps(mtwo, a2, na), _mm256_fmadd_ps(mtwo, b2, nb),
            _mm256_fmadd_ps(mtwo, a3, na), _mm256_fmadd_ps(mtwo, b3, nb));
        /* lanes: row 0 group t, t + 1, row 1 group t, t + 1, ... */
        const __m128 lo = _mm256_castps256_ps128(m), hi = _mm256_extractf128_ps(m, 1);
        m1[t] = _mm_cvtss_f32(lo);
        m1[ldm + t] = _mm_cvtss_f32(_mm_movehl_ps(lo, lo));
        m1[2 * ldm + t] = _mm_cvtss_f32(hi);
        m1[3 * ldm + t] = _mm_cvtss_f32(_mm_movehl_ps(hi, hi));
        if (two) {
            m1[t + 1] = _mm_cvtss_f32(_mm_shuffle_ps(lo, lo, 1));
            m1[ldm + t + 1] = _mm_cvtss_f32(_mm_shuffle_ps(lo, lo, 3));
            m1[2 * ldm + t + 1] = _mm_cvtss_f32(_mm_shuffle_ps(hi, hi, 1));
            m1[3 * ldm + t + 1] = _mm_cvtss_f32(_mm_shuffle_ps(hi, hi, 3));
        }
    }
}

/* kmix_first_min_f by vectors: the least, its first place, then the least of the others (the
 * first place's lane set to +inf); the same values (a float compare and min select the same
 * in any order; NaNs are never the least in either). */
__attribute__((target("avx2,fma")))
static float kmix_first_min_f_avx2(const float *m1, ptrdiff_t ng, ptrdiff_t *t, double *others)
{
    if (ng < 16)
        return kmix_first_min_f(m1, ng, t, others);
    const __m256 inf = _mm256_set1_ps(INFINITY);
    __m256 mv = inf;
    ptrdiff_t s = 0;
    for (; s + 8 <= ng; s += 8)
        mv = _mm256_min_ps(_mm256_loadu_ps(m1 + s), mv);   /* (a NaN keeps mv) */
    float b = kmix_hmin8_ps(mv);
    for (ptrdiff_t q = s; q < ng; ++q)
        b = m1[q] < b ? m1[q] : b;
    if (!(b < INFINITY)) {
        *t = -1;
        *others = INFINITY;
        return INFINITY;
    }
    ptrdiff_t bt = -1;
    const __m256 bv = _mm256_set1_ps(b);
    for (s = 0; s + 8 <= ng && bt < 0; s += 8) {
        const unsigned m = (unsigned)_mm256_movemask_ps(
            _mm256_cmp_ps(_mm256_loadu_ps(m1 + s), bv, _CMP_EQ_OQ));
        if (m)
            bt = s + __builtin_ctz(m);
    }
    for (; bt < 0; ++s)
        if (m1[s] == b)
            bt = s;
    const __m256i at = _mm256_set1_epi32((int)bt);
    __m256i lane = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
    __m256 ov = inf;
    for (s = 0; s + 8 <= ng; s += 8, lane = _mm256_add_epi32(lane, _mm256_set1_epi32(8))) {
        const __m256 skip = _mm256_castsi256_ps(_mm256_cmpeq_epi32(lane, at));
        ov = _mm256_min_ps(_mm256_blendv_ps(_mm256_loadu_ps(m1 + s), inf, skip), ov);
    }
    float o = kmix_hmin8_ps(ov);
    for (; s < ng; ++s)
        o = s != bt && m1[s] < o ? m1[s] : o;
    *t = bt;
    *others = o;
    return m1[bt];   /* (b, or a zero of the other sign) */
}

/* The four rows' winners at once: their winning groups' values by four interleaved FMA chains
 * (one chain each, in feature order, as kmix_groups_min4_f: the same values), whose
 * latencies overlap where one row's chain alone would wait on each multiply-add. */
__attribute__((target("avx2,fma")))
static void kmix_group_winner4_f_avx2(const float *const *xs, ptrdiff_t d, const float *P,
                                      const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                      const float *m1, ptrdiff_t ldm, kmix_group_winner *w)
{
    float b[4];
    const float *Pg[4];
    __m256 acc[4];
    for (int r = 0; r < 4; ++r) {
        b[r] = kmix_first_min_f_avx2(m1 + r * ldm, ng, &w[r].t, &w[r].others);
        w[r].lane = 0;
        w[r].second = INFINITY;
        Pg[r] = P + glist[w[r].t >= 0 ? w[r].t : 0] * d * 8;
        acc[r] = _mm256_setzero_ps();
    }
    for (ptrdiff_t f = 0; f < d; ++f)
        for (int r = 0; r < 4; ++r)
            acc[r] = _mm256_fmadd_ps(_mm256_set1_ps(xs[r][f]), _mm256_loadu_ps(Pg[r] + f * 8),
                                     acc[r]);
    for (int r = 0; r < 4; ++r)
        if (w[r].t >= 0)
            kmix_best2_lanes8_ps(
                _mm256_fmadd_ps(_mm256_set1_ps(-2.0f), acc[r],
                                _mm256_loadu_ps(pnorm + glist[w[r].t] * 8)),
                b[r], &w[r].second, &w[r].lane);
}
#endif

static inline void kmix_group_winner4_f(const float *const *xs, ptrdiff_t d, const float *P,
                                        const ptrdiff_t *glist, ptrdiff_t ng,
                                        const float *pnorm, const float *m1, ptrdiff_t ldm,
                                        kmix_group_winner *w)
{ KMIX_DISPATCH(kmix_group_winner4_f, (xs, d, P, glist, ng, pnorm, m1, ldm, w)) }

static inline void kmix_groups_failing_bits4(const float *const *lb, const float *du,
                                             const float *dn, ptrdiff_t ng, const float *u,
                                             const ptrdiff_t *ga, uint64_t *bits)
{ KMIX_DISPATCH(kmix_groups_failing_bits4, (lb, du, dn, ng, u, ga, bits)) }

static inline void kmix_groups_min4_f(const float *const *xs, ptrdiff_t d, const float *P,
                                      const ptrdiff_t *glist, ptrdiff_t ng, const float *pnorm,
                                      float *m1, ptrdiff_t ldm)
{ KMIX_DISPATCH(kmix_groups_min4_f, (xs, d, P, glist, ng, pnorm, m1, ldm)) }


/* Yinyang's bound refresh after a row's group filter: group glist[t]'s bound becomes a
 * lower bound of sqrt(xn + v - err) * (1 - gamma) (v = m1[t], or `second` for t == tw, the
 * winner's group when its smallest value is the row's winner; gamma: dist_down's relative
 * margin), stored with the group's drift rounded down to float32 (dd[glist[t]]) into lb.
 * In float32 arithmetic, eight groups a vector: with xn - err rounded down to float32 (b,
 * a unit further) and `second` too, a = b + v is within 2^-24 |a| of the sum, so a (1 -
 * 2^-22) rounded is below it where a > 0 (the bound is 0 where a <= 2^-100, which keeps
 * every value after it normal); its square root times (1 - gamma)(1 - 2^-22) rounded (c)
 * is below sqrt(a) (1 - gamma) despite two roundings of 2^-24; the sum with the drift
 * times (1 - 2^-22) is below the exact sum despite two more; then the tag (kmix_bound_tag)
 * lowers it further. So the bound stored is below kmix_group_bound_store's of the float64
 * value by a few float32 units at most where the sum keeps its precision (float32 sums of
 * terms far larger than the distance lose up to 2^-21 of those terms), and the same float
 * operations run in the portable and vector versions, bit for bit. Single thread, Zen 4
 * (2026-12-05), 125 groups, ns a bound: every group, 1.66 in float64 with gathers, 1.11
 * contiguous, 0.36 in float32; 8 listed groups 4.8 -> 1.6, 30 2.3 -> 1.2. The rows' bounds
 * are valid either way; the labels do not depend on them. */
#define KMIX_REFRESH_TINY 0x1p-100f

typedef struct {
    float b, second, c;
    unsigned slot;
} kmix_refresh_args;

/* The next float32 below f (finite, or +inf: the largest float), by its bits. */
static inline float kmix_float_below(float f)
{
    uint32_t bits;
    memcpy(&bits, &f, sizeof bits);
    bits = f > 0 ? bits - 1 : (f < 0 ? bits + 1 : 0x80000001u);
    memcpy(&f, &bits, sizeof f);
    return f;
}

/* x rounded down to float32 (of either sign; a drift, a refresh's terms). */
static inline float kmix_float_down(double x)
{
    const float f = (float)x;
    return (double)f > x ? kmix_float_below(f) : f;
}

static inline kmix_refresh_args kmix_refresh_prep(double second, double xn, double err,
                                                  double gamma, unsigned slot)
{
    kmix_refresh_args r;
    /* (one unit lower still: the float64 difference may exceed the exact one) */
    r.b = kmix_float_below(kmix_float_down(xn - err));
    r.second = second < INFINITY ? kmix_float_down(second) : INFINITY;
    r.c = kmix_float_down((1.0 - gamma) * (1.0 - 0x1p-22));
    r.slot = slot;
    return r;
}

static inline float kmix_refresh_one(float v, float dd, const kmix_refresh_args *ra)
{
    const float a = (ra->b + v) * KMIX_BOUND_SHRINK;
    const float r = a > KMIX_REFRESH_TINY ? sqrtf(a) * ra->c : 0.0f;
    return kmix_bound_tag((r + dd) * KMIX_BOUND_SHRINK, ra->slot);
}

static void kmix_refresh_bounds_base(const float *m1, ptrdiff_t ne, const ptrdiff_t *glist,
                                     ptrdiff_t tw, double second, double xn, double err,
                                     double gamma, const float *dd, unsigned slot, float *lb)
{
    const kmix_refresh_args ra = kmix_refresh_prep(second, xn, err, gamma, slot);
    for (ptrdiff_t t = 0; t < ne; ++t)
        lb[glist[t]] = kmix_refresh_one(t == tw ? ra.second : m1[t], dd[glist[t]], &ra);
}

static void kmix_refresh_all_base(const float *m1, ptrdiff_t ng, ptrdiff_t tw, double second,
                                  double xn, double err, double gamma, const float *dd,
                                  unsigned slot, float *lb)
{
    const kmix_refresh_args ra = kmix_refresh_prep(second, xn, err, gamma, slot);
    for (ptrdiff_t g = 0; g < ng; ++g)
        lb[g] = kmix_refresh_one(g == tw ? ra.second : m1[g], dd[g], &ra);
}

#if KMIX_HAVE_DISPATCH
/* Eight groups' values v (the winner's already replaced) and drifts dd: their bounds' bits,
 * by kmix_refresh_one's operations. */
__attribute__((target("avx2,fma")))
static inline __m256i kmix_refresh8(__m256 v, __m256 dd, const kmix_refresh_args *ra)
{
    const __m256 shrink = _mm256_set1_ps(KMIX_BOUND_SHRINK);
    const __m256 a = _mm256_mul_ps(_mm256_add_ps(_mm256_set1_ps(ra->b), v), shrink);
    __m256 r = _mm256_mul_ps(_mm256_sqrt_ps(a), _mm256_set1_ps(ra->c));
    r = _mm256_and_ps(r, _mm256_cmp_ps(a, _mm256_set1_ps(KMIX_REFRESH_TINY), _CMP_GT_OQ));
    const __m256i bits = _mm256_castps_si256(_mm256_mul_ps(_mm256_add_ps(r, dd), shrink));
    const __m256i low = _mm256_set1_epi32(KMIX_BOUND_SLOTS - 1);
    const __m256i tag = _mm256_set1_epi32((int)ra->slot);
    /* kmix_bound_tag (the bits of a float >= 0 compare as signed integers) */
    return _mm256_blendv_epi8(
        _mm256_set1_epi32((int)(0x80000000u | ra->slot)),
        _mm256_or_si256(_mm256_and_si256(_mm256_sub_epi32(bits, _mm256_set1_epi32(
                                             KMIX_BOUND_SLOTS)), _mm256_set1_epi32(
                                             -KMIX_BOUND_SLOTS)), tag),
        _mm256_cmpgt_epi32(bits, low));
}

/* v with lane tw - t (if within the eight) replaced by `second`. */
__attribute__((target("avx2,fma")))
static inline __m256 kmix_refresh_winner(__m256 v, ptrdiff_t tw, ptrdiff_t t, float second)
{
    const __m256i lane = _mm256_set1_epi32((int)(tw - t < 0 || tw - t >= 8 ? -1 : tw - t));
    const __m256 is = _mm256_castsi256_ps(_mm256_cmpeq_epi32(
        lane, _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7)));
    return _mm256_blendv_ps(v, _mm256_set1_ps(second), is);
}

__attribute__((target("avx2,fma")))
static void kmix_refresh_bounds_avx2(const float *m1, ptrdiff_t ne, const ptrdiff_t *glist,
                                     ptrdiff_t tw, double second, double xn, double err,
                                     double gamma, const float *dd, unsigned slot, float *lb)
{
    const kmix_refresh_args ra = kmix_refresh_prep(second, xn, err, gamma, slot);
    ptrdiff_t t = 0;
    for (; t + 8 <= ne; t += 8) {
        const __m256i g0 = _mm256_loadu_si256((const __m256i *)(glist + t));
        const __m256i g1 = _mm256_loadu_si256((const __m256i *)(glist + t + 4));
        const __m256 ddv = _mm256_set_m128(_mm256_i64gather_ps(dd, g1, 4),
                                           _mm256_i64gather_ps(dd, g0, 4));
        const __m256 v = kmix_refresh_winner(_mm256_loadu_ps(m1 + t), tw, t, ra.second);
        uint32_t out[8];
        _mm256_storeu_si256((__m256i *)out, kmix_refresh8(v, ddv, &ra));
        for (int l = 0; l < 8; ++l) memcpy(lb + glist[t + l], out + l, sizeof(float));
    }
    if (t < ne) {
        /* the last ne - t groups as one vector, by masked loads */
        const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
        const __m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ne - t)), lanes);
        const __m256i lo = _mm256_cvtepi32_epi64(_mm256_castsi256_si128(in));
        const __m256i hi = _mm256_cvtepi32_epi64(_mm256_extracti128_si256(in, 1));
        const __m256i g0 = _mm256_maskload_epi64((const long long *)(glist + t), lo);
        const __m256i g1 = _mm256_maskload_epi64((const long long *)(glist + t + 4), hi);
        const __m128 zero = _mm_setzero_ps();
        const __m256 ddv = _mm256_set_m128(
            _mm256_mask_i64gather_ps(zero, dd, g1, _mm_castsi128_ps(
                _mm256_extracti128_si256(in, 1)), 4),
            _mm256_mask_i64gather_ps(zero, dd, g0, _mm_castsi128_ps(
                _mm256_castsi256_si128(in)), 4));
        const __m256 v = kmix_refresh_winner(_mm256_maskload_ps(m1 + t, in), tw, t, ra.second);
        uint32_t out[8];
        _mm256_storeu_si256((__m256i *)out, kmix_refresh8(v, ddv, &ra));
        for (ptrdiff_t l = 0; l < ne - t; ++l) memcpy(lb + glist[t + l], out + l, sizeof(float));
    }
}

__attribute__((target("avx2,fma")))
static void kmix_refresh_all_avx2(const float *m1, ptrdiff_t ng, ptrdiff_t tw, double second,
                                  double xn, double err, double gamma, const float *dd,
                                  unsigned slot, float *lb)
{
    const kmix_refresh_args ra = kmix_refresh_prep(second, xn, err, gamma, slot);
    ptrdiff_t g = 0;
    for (; g + 8 <= ng; g += 8) {
        const __m256 v = kmix_refresh_winner(_mm256_loadu_ps(m1 + g), tw, g, ra.second);
        _mm256_storeu_si256((__m256i *)(lb + g),
                            kmix_refresh8(v, _mm256_loadu_ps(dd + g), &ra));
    }
    if (g < ng) {
        const __m256i in = _mm256_cmpgt_epi32(_mm256_set1_epi32((int)(ng - g)),
                                              _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
        const __m256 v = kmix_refresh_winner(_mm256_maskload_ps(m1 + g, in), tw, g, ra.second);
        _mm256_maskstore_epi32((int *)(lb + g), in,
                               kmix_refresh8(v, _mm256_maskload_ps(dd + g, in), &ra));
    }
}
#endif

static inline void kmix_refresh_bounds(const float *m1, ptrdiff_t ne, const ptrdiff_t *glist,
                                       ptrdiff_t tw, double second, double xn, double err,
                                       double gamma, const float *dd, unsigned slot, float *lb)
{ KMIX_DISPATCH(kmix_refresh_bounds, (m1, ne, glist, tw, second, xn, err, gamma, dd, slot, lb)) }

/* kmix_refresh_bounds over every group in order (glist the identity: m1[g] is group g's
 * value, lb[g] its bound), the same values, loaded and stored contiguously. */
static inline void kmix_refresh_all(const float *m1, ptrdiff_t ng, ptrdiff_t tw, double second,
                                    double xn, double err, double gamma, const float *dd,
                                    unsigned slot, float *lb)
{ KMIX_DISPATCH(kmix_refresh_all, (m1, ng, tw, second, xn, err, gamma, dd, slot, lb)) }



/* Partial distances of narrow data (d < 16) and each row's best two, in one pass that never
 * stores them: besti[r], bestv[r], secv[r] are what kmix_fused followed by the scalar
 * kmix_argmin2 over the row gives (the first minimum, ties to the lowest index, and the
 * second smallest, a tied minimum counting twice), with the same values: each is the chain of
 * multiply-adds over the features in order from zero, then cnorm[j] + (-2) * acc. The AVX2
 * versions put rows in the lanes (8 floats or 4 doubles): the centres are visited in order
 * for every lane at once, so each lane runs the scalar scan. */
#define KMIX_FUSED_ARGMIN2_ARGS(T)                                                 \
    const T *X, ptrdiff_t m, ptrdiff_t d, const T *CT, ptrdiff_t ldct, const T *cnorm, \
    ptrdiff_t kt, ptrdiff_t *besti, T *bestv, T *secv

#define KMIX_FUSED_ARGMIN2_BASE(T, MADD)                                           \
    for (ptrdiff_t r = 0; r < m; ++r) {                                            \
        const T *restrict x = X + r * d;                                           \
        ptrdiff_t arg = 0;                                                         \
        T mv = 0, m2 = (T)INFINITY;                                                \
        for (ptrdiff_t j = 0; j < kt; ++j) {                                       \
            T acc = 0;                                                             \
            for (ptrdiff_t f = 0; f < d; ++f) acc = MADD(x[f], CT[f * ldct + j], acc); \
            const T v = cnorm[j] + (T)(-2) * acc;                                  \
            if (j == 0) { mv = v; continue; }                                      \
            KMIX_ARGMIN2_STEP(T, v, j, mv, m2, arg)                                \
        }                                                                          \
        besti[r] = arg;                                                            \
        bestv[r] = mv;                                                             \
        secv[r] = m2;                                                              \
    }

static void kmix_fused_argmin2_d_base(KMIX_FUSED_ARGMIN2_ARGS(double))
{ KMIX_FUSED_ARGMIN2_BASE(double, KMIX_MADD_PLAIN) }

static void kmix_fused_argmin2_f_base(KMIX_FUSED_ARGMIN2_ARGS(float))
{ KMIX_FUSED_ARGMIN2_BASE(float, KMIX_MADD_PLAIN) }

#if KMIX_HAVE_DISPATCH
/* W rows per vector VT of T (intrinsics suffix SFX); the rows' features are transposed into
 * xt (d x NR W, zero rows past m) first. NR vectors of rows per centre share its broadcasts
 * (2: on Zen 3, 3 and 4 vectors were no faster, the registers run out). */
#define KMIX_ARGMIN2_NR 2
#define KMIX_FUSED_ARGMIN2_AVX2(T, VT, W, SFX, BASE)                                \
    enum { NR = KMIX_ARGMIN2_NR };                                                 \
    if (d > 16 || kt > (1 << 24)) { /* (indices held as T: exact below 2^24) */    \
        BASE(X, m, d, CT, ldct, cnorm, kt, besti, bestv, secv);                    \
        return;                                                                    \
    }                                                                              \
    T xt[NR * 16 * W];                                                             \
    T out[3 * NR * W];                                                             \
    const VT two = _mm256_set1_##SFX((T)(-2));                                     \
    for (ptrdiff_t r0 = 0; r0 < m; r0 += NR * W) {                                 \
        const ptrdiff_t nr = m - r0 < NR * W ? m - r0 : NR * W;                    \
        for (ptrdiff_t f = 0; f < d; ++f)                                          \
            for (ptrdiff_t r = 0; r < NR * W; ++r)                                 \
                xt[f * NR * W + r] = r < nr ? X[(r0 + r) * d + f] : (T)0;          \
        VT mv[NR], sv[NR], iv[NR];                                                 \
        for (int v = 0; v < NR; ++v) {                                             \
            mv[v] = _mm256_setzero_##SFX();                                        \
            sv[v] = _mm256_set1_##SFX((T)INFINITY);                                \
            iv[v] = _mm256_setzero_##SFX();                                        \
        }                                                                          \
        for (ptrdiff_t j = 0; j < kt; ++j) {                                       \
            VT acc[NR];                                                            \
            for (int v = 0; v < NR; ++v) acc[v] = _mm256_setzero_##SFX();          \
            for (ptrdiff_t f = 0; f < d; ++f) {                                    \
                const VT c = _mm256_set1_##SFX(CT[f * ldct + j]);                  \
                for (int v = 0; v < NR; ++v)                                       \
                    acc[v] = _mm256_fmadd_##SFX(                                   \
                        _mm256_loadu_##SFX(xt + (f * NR + v) * W), c, acc[v]);     \
            }                                                                      \
            const VT cn = _mm256_set1_##SFX(cnorm[j]);                             \
            const VT jv = _mm256_set1_##SFX((T)j);                                 \
            for (int v = 0; v < NR; ++v) {                                         \
                const VT x = _mm256_add_##SFX(cn, _mm256_mul_##SFX(two, acc[v]));  \
                if (j == 0) { mv[v] = x; continue; }                               \
                /* The scalar step's selects: hi = x < m ? m : x is max(m, x), then  \
                 * s = hi < s ? hi : s is min(hi, s) (max and min return their       \
                 * second operand unless the first is strictly larger, resp. smaller: \
                 * the same bits, ties and signed zeros included; no NaN here). */   \
                const VT lt = _mm256_cmp_##SFX(x, mv[v], _CMP_LT_OQ);              \
                sv[v] = _mm256_min_##SFX(_mm256_max_##SFX(mv[v], x), sv[v]);       \
                iv[v] = _mm256_blendv_##SFX(iv[v], jv, lt);                        \
                mv[v] = _mm256_blendv_##SFX(mv[v], x, lt);                         \
            }                                                                      \
        }                                                                          \
        for (int v = 0; v < NR; ++v) {                                             \
            _mm256_storeu_##SFX(out + v * W, mv[v]);                               \
            _mm256_storeu_##SFX(out + (NR + v) * W, sv[v]);                        \
            _mm256_storeu_##SFX(out + (2 * NR + v) * W, iv[v]);                    \
        }                                                                          \
        for (ptrdiff_t r = 0; r < nr; ++r) {                                       \
            bestv[r0 + r] = out[r];                                                \
            secv[r0 + r] = out[NR * W + r];                                        \
            besti[r0 + r] = (ptrdiff_t)out[2 * NR * W + r];                        \
        }                                                                          \
    }

__attribute__((target("avx2,fma")))
static void kmix_fused_argmin2_d_avx2(KMIX_FUSED_ARGMIN2_ARGS(double))
{ KMIX_FUSED_ARGMIN2_AVX2(double, __m256d, 4, pd, kmix_fused_argmin2_d_base) }

__attribute__((target("avx2,fma")))
static void kmix_fused_argmin2_f_avx2(KMIX_FUSED_ARGMIN2_ARGS(float))
{ KMIX_FUSED_ARGMIN2_AVX2(float, __m256, 8, ps, kmix_fused_argmin2_f_base) }
#endif

#define KMIX_FUSED_ARGMIN2_DISPATCH(SFX)                                           \
    KMIX_DISPATCH(kmix_fused_argmin2_##SFX, (X, m, d, CT, ldct, cnorm, kt, besti, bestv, secv))

static inline void kmix_fused_argmin2_d(KMIX_FUSED_ARGMIN2_ARGS(double))
{ KMIX_FUSED_ARGMIN2_DISPATCH(d) }

static inline void kmix_fused_argmin2_f(KMIX_FUSED_ARGMIN2_ARGS(float))
{ KMIX_FUSED_ARGMIN2_DISPATCH(f) }

/* Partial distances of gemm-wide data and each row's best two, in one pass that never stores
 * them: what partial_dists (gemm) followed by kmix_argmin2 over each row gives (besti[r] the
 * first minimum, ties to the lowest index; secv[r] the second smallest, a tied minimum counting
 * twice), up to the rounding of the values, which callers bound the same way for both (any
 * summation order: expansion_error_scale). Each value is the chain of fused multiply-adds over
 * the features in order from zero, then cnorm[j] + (-2) * acc: the values of kmix_fused (the
 * stored-values kernel of narrow data), bit for bit.
 *
 * The rows sit in the lanes (W per vector), transposed by blocks of NR W rows (zero rows past
 * m); the centres are packed once per pass (kmix_wide_pack) by tiles of NC. A register tile of
 * NR vectors of rows by NC centres shares each centre's broadcast between the row vectors and
 * each row vector's load between the centres (2 x 6: twelve accumulators, three more
 * registers for the loads and the broadcast), so the multiply-adds, not the loads, bound the
 * loop; each lane then folds its NC values into its row's best two in centre order, by the
 * scalar scan's selects (kmix_fused_argmin2). The centres are visited in blocks that stay in
 * L2 (KMIX_WIDE_L2_BYTES), each against all the rows, the rows' best two kept in between.
 *
 * Single thread, Zen 4 (2026-12-04), float32, 256 rows: 100 GFLOP/s at d = 32, k = 1000 and
 * 107 at d = 64, k = 4096, against 76 and 66 for OpenBLAS's sgemm alone (SkylakeX kernels);
 * Lloyd's 20 iterations of normal 100k x 32, k = 1000, 2 threads: 1.00 -> 0.77 s. Other
 * register tiles, same measurements: 3 row vectors x 4 centres 2-4% slower, 4 x 3 10-15%
 * slower; blocks of centres of 96 or 384 KB instead of 192 within 3%. A tile's values change
 * a lane's best two only where one is below its second best, rarer as the centres go by:
 * the tile's least tested first (2026-12-05, d = 64, k = 4096: 107 -> 110 GFLOP/s, against
 * a peak of 117 by twelve chains of FMAs; 200k x 64, k = 4096, 5 iterations, 2 threads:
 * 3.11-3.16 -> 3.09 s). Tiles of 5 or 4 centres where 6 would pad many (kmix_wide_nc):
 * d = 64, GFLOP/s of the k centres, tiles of 6 / 5 / 4 (2026-12-05): k = 50 80.5 / 84.9 /
 * 79.6, k = 8 36.1 / 38.7 / 42.8, k = 10 38.4 / 47.5 / 34.9, k = 20 59.9 / 65.9 / 66.4;
 * no padding (k = 60, 120, 1000): 5 costs 3-4% more a centre, 4 3-8% more.
 *
 * AVX2+FMA only (kmix_wide_argmin2_ok): without it gemm and the scan are faster than any
 * portable form of this loop. d <= KMIX_WIDE_MAX_D; indices held as T (kt <= 2^24). */
#define KMIX_WIDE_NR 2
#define KMIX_WIDE_MAX_D 256

#define KMIX_WIDE_ARGMIN2_ARGS(T)                                                  \
    const T *X, ptrdiff_t m, ptrdiff_t d, const T *P, ptrdiff_t kt, ptrdiff_t *besti, \
    T *bestv, T *secv

/* kmix_wide_groups (Yinyang's full search, below) */
#define KMIX_WIDE_GROUPS_ARGS(T)                                                   \
    const T *xt, ptrdiff_t m, ptrdiff_t d, const T *P, const T *pnorm, ptrdiff_t ng, \
    T *gmin, ptrdiff_t ldg, ptrdiff_t *besti, T *bestv, T *secv, T *gbuf

/* The tile width for kt centres: 6, or 5 or 4 where they pad fewer centres by
 * more than their costlier columns (fewer accumulators per broadcast and per load) take back:
 * per column 5 costs KMIX_WIDE_NC5_COST and 4 KMIX_WIDE_NC4_COST thousandths of 6's. */
#ifndef KMIX_WIDE_NC5_COST
#define KMIX_WIDE_NC5_COST 1035
#endif
#ifndef KMIX_WIDE_NC4_COST
#define KMIX_WIDE_NC4_COST 1060
#endif

static inline ptrdiff_t kmix_wide_nc(ptrdiff_t kt)
{
    const ptrdiff_t c6 = (kt + 5) / 6 * 6 * 1000, c5 = (kt + 4) / 5 * 5 * KMIX_WIDE_NC5_COST;
    const ptrdiff_t c4 = (kt + 3) / 4 * 4 * KMIX_WIDE_NC4_COST;
    if (c6 <= c5 && c6 <= c4) return 6;
    return c5 <= c4 ? 5 : 4;
}

static inline ptrdiff_t kmix_wide_padded(ptrdiff_t kt)
{
    const ptrdiff_t nc = kmix_wide_nc(kt);
    return (kt + nc - 1) / nc * nc;
}

static inline int kmix_wide_argmin2_ok(ptrdiff_t d, ptrdiff_t kt)
{
    return kmix_cpu_has_fma() && d <= KMIX_WIDE_MAX_D && kt <= (1 << 24);
}

#if KMIX_HAVE_DISPATCH
/* A tile's NC values acc[v][c] (centres J0 + c) folded into the row vectors' best two (mv,
 * sv) and first minimum (iv), in centre order, when one is below a lane's second best. */
#define KMIX_WIDE_BEST_TWO(T, VT, SFX, NC, J0)                                     \
    if (!_mm256_testz_##SFX(below, below)) {                                       \
        _Pragma("GCC unroll 8")                                                    \
        for (int c = 0; c < NC; ++c) {                                             \
            const VT jv = _mm256_set1_##SFX((T)((J0) + c));                        \
            for (int v = 0; v < KMIX_WIDE_NR; ++v) {                               \
                const VT x = acc[v][c];                                            \
                const VT lt = _mm256_cmp_##SFX(x, mv[v], _CMP_LT_OQ);              \
                sv[v] = _mm256_min_##SFX(_mm256_max_##SFX(mv[v], x), sv[v]);       \
                iv[v] = _mm256_blendv_##SFX(iv[v], jv, lt);                        \
                mv[v] = _mm256_min_##SFX(x, mv[v]);                                \
            }                                                                      \
        }                                                                          \
    }

/* The register tile's values, declared in the enclosing block as acc[v][c]: NC centres from
 * P0 (feature f's at P0 + f * STRIDE, squared norms at PN) against the row vectors in xb (d x
 * NRW), each the chain of FMAs over the features in order from zero, then PN[c] + (-2) acc
 * (Lloyd's wide tiles and Yinyang's group tiles: the same values, bit for bit). */
#define KMIX_WIDE_VALUES(T, VT, W, SFX, NC, P0, STRIDE, PN)                        \
        VT acc[KMIX_WIDE_NR][NC];                                                  \
        _Pragma("GCC unroll 8")                                                    \
        for (int c = 0; c < NC; ++c) {                                             \
            _Pragma("GCC unroll 4")                                                \
            for (int v = 0; v < KMIX_WIDE_NR; ++v) acc[v][c] = _mm256_setzero_##SFX(); \
        }                                                                          \
        {                                                                          \
            const T *pt = (P0);                                                    \
            const T *xf = xb;                                                      \
            for (ptrdiff_t f = 0; f < d; ++f, pt += (STRIDE), xf += NRW) {         \
                VT xv[KMIX_WIDE_NR];                                               \
                _Pragma("GCC unroll 4")                                            \
                for (int v = 0; v < KMIX_WIDE_NR; ++v)                             \
                    xv[v] = _mm256_loadu_##SFX(xf + v * W);                        \
                _Pragma("GCC unroll 8")                                            \
                for (int c = 0; c < NC; ++c) {                                     \
                    const VT cc = _mm256_set1_##SFX(pt[c]);                        \
                    _Pragma("GCC unroll 4")                                        \
                    for (int v = 0; v < KMIX_WIDE_NR; ++v)                         \
                        acc[v][c] = _mm256_fmadd_##SFX(xv[v], cc, acc[v][c]);      \
                }                                                                  \
            }                                                                      \
        }                                                                          \
        _Pragma("GCC unroll 8")                                                    \
        for (int c = 0; c < NC; ++c) {                                             \
            const VT cn = _mm256_set1_##SFX((PN)[c]);                              \
            _Pragma("GCC unroll 4")                                                \
            for (int v = 0; v < KMIX_WIDE_NR; ++v)                                 \
                /* cn + (-2) acc: one rounding, as the add of the exact product */ \
                acc[v][c] = _mm256_fmadd_##SFX(two, acc[v][c], cn);                \
        }

/* Centres j .. j + NC (tile P: d x NC, packed) against the row vectors in xt (d x NRW); mv,
 * sv, iv: the rows' state. */
#define KMIX_WIDE_TILE(T, VT, W, SFX, NC)                                          \
    {                                                                              \
        KMIX_WIDE_VALUES(T, VT, W, SFX, NC, P + j * d, NC, pn + j)                 \
        /* Only a value below a lane's second best changes its state: the tile's   \
         * least first, the updates in centre order only where one is. */          \
        VT below = _mm256_setzero_##SFX();                                         \
        _Pragma("GCC unroll 4")                                                    \
        for (int v = 0; v < KMIX_WIDE_NR; ++v) {                                   \
            VT t = acc[v][0];                                                      \
            _Pragma("GCC unroll 8")                                                \
            for (int c = 1; c < NC; ++c) t = _mm256_min_##SFX(t, acc[v][c]);       \
            below = _mm256_or_##SFX(below, _mm256_cmp_##SFX(t, sv[v], _CMP_LT_OQ)); \
        }                                                                          \
        KMIX_WIDE_BEST_TWO(T, VT, SFX, NC, j)                                      \
    }

/* Rows i0 .. i0 + W of X (features f0 .. f0 + W) into xb (feature f's W rows at xb + f *
 * NRW), by one vector transpose. */
__attribute__((target("avx2,fma")))
static inline void kmix_transpose8_ps(const float *X, ptrdiff_t d, float *xb, ptrdiff_t nrw)
{
    __m256 r[8], t[8], u[8];
    for (int q = 0; q < 8; ++q) r[q] = _mm256_loadu_ps(X + q * d);
    for (int q = 0; q < 8; q += 2) {
        t[q] = _mm256_unpacklo_ps(r[q], r[q + 1]);
        t[q + 1] = _mm256_unpackhi_ps(r[q], r[q + 1]);
    }
    for (int q = 0; q < 8; q += 4) {
        u[q] = _mm256_shuffle_ps(t[q], t[q + 2], 0x44);
        u[q + 1] = _mm256_shuffle_ps(t[q], t[q + 2], 0xEE);
        u[q + 2] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0x44);
        u[q + 3] = _mm256_shuffle_ps(t[q + 1], t[q + 3], 0xEE);
    }
    for (int q = 0; q < 4; ++q) {
        _mm256_storeu_ps(xb + q * nrw, _mm256_permute2f128_ps(u[q], u[q + 4], 0x20));
        _mm256_storeu_ps(xb + (q + 4) * nrw, _mm256_permute2f128_ps(u[q], u[q + 4], 0x31));
    }
}

__attribute__((target("avx2,fma")))
static inline void kmix_transpose4_pd(const double *X, ptrdiff_t d, double *xb, ptrdiff_t nrw)
{
    const __m256d r0 = _mm256_loadu_pd(X), r1 = _mm256_loadu_pd(X + d);
    const __m256d r2 = _mm256_loadu_pd(X + 2 * d), r3 = _mm256_loadu_pd(X + 3 * d);
    const __m256d t0 = _mm256_unpacklo_pd(r0, r1), t1 = _mm256_unpackhi_pd(r0, r1);
    const __m256d t2 = _mm256_unpacklo_pd(r2, r3), t3 = _mm256_unpackhi_pd(r2, r3);
    _mm256_storeu_pd(xb, _mm256_permute2f128_pd(t0, t2, 0x20));
    _mm256_storeu_pd(xb + nrw, _mm256_permute2f128_pd(t1, t3, 0x20));
    _mm256_storeu_pd(xb + 2 * nrw, _mm256_permute2f128_pd(t0, t2, 0x31));
    _mm256_storeu_pd(xb + 3 * nrw, _mm256_permute2f128_pd(t1, t3, 0x31));
}

/* The rows X[:m] as the kernel reads them: nb blocks of NRW rows, each d x NRW (feature f's
 * rows contiguous), rows past m zero. Full tiles of W rows by W features by vector
 * transposes, the rest a value at a time (all of it so before: single thread, 256 rows, d =
 * 64, k = 50, 75 -> 87 GFLOP/s, 98 without any copy; digits k = 50 from random rows, float32,
 * min of 300 fits: 1.57 -> 1.42 ms). */
#define KMIX_WIDE_ROWS(T, W, TRANSPOSE)                                            \
    enum { NRW = KMIX_WIDE_NR * W };                                               \
    for (ptrdiff_t b = 0; b < nb; ++b)                                             \
        for (ptrdiff_t r0 = 0; r0 < NRW; r0 += W) {                                \
            const ptrdiff_t i0 = b * NRW + r0;                                     \
            T *xb = xt + b * NRW * d + r0;                                         \
            ptrdiff_t f0 = 0;                                                      \
            if (i0 + W <= m)                                                       \
                for (; f0 + W <= d; f0 += W)                                       \
                    TRANSPOSE(X + i0 * d + f0, d, xb + f0 * NRW, NRW);             \
            for (ptrdiff_t r = 0; r < W; ++r)                                      \
                for (ptrdiff_t f = f0; f < d; ++f)                                 \
                    xb[f * NRW + r] = i0 + r < m ? X[(i0 + r) * d + f] : (T)0;     \
        }

__attribute__((target("avx2,fma")))
static void kmix_wide_rows_ps(const float *X, ptrdiff_t m, ptrdiff_t d, float *xt, ptrdiff_t nb)
{ KMIX_WIDE_ROWS(float, 8, kmix_transpose8_ps) }

__attribute__((target("avx2,fma")))
static void kmix_wide_rows_pd(const double *X, ptrdiff_t m, ptrdiff_t d, double *xt,
                              ptrdiff_t nb)
{ KMIX_WIDE_ROWS(double, 4, kmix_transpose4_pd) }

/* Buffers: the rows transposed by blocks of NRW (nb blocks of d x NRW) and their state (3 x nb
 * NRW). The packed centres (kmix_wide_pack) are visited in blocks of kc (within L2), each for
 * all the rows. */
#define KMIX_WIDE_ARGMIN2_AVX2(T, VT, W, SFX, NC)                                  \
    enum { NRW = KMIX_WIDE_NR * W };                                               \
    const ptrdiff_t nb = (m + NRW - 1) / NRW;                                      \
    const ptrdiff_t kp = (kt + NC - 1) / NC * NC;                                  \
    ptrdiff_t kc = (ptrdiff_t)(KMIX_WIDE_L2_BYTES / (sizeof(T) * d))               \
                   / NC * NC;                                                      \
    if (kc < NC) kc = NC;                                                          \
    T *buf = (T *)malloc(sizeof(T) * nb * NRW * ((XT != NULL ? 0 : d) + 3));       \
    if (buf == NULL) return -1;                                                    \
    T *st = buf + (XT != NULL ? 0 : nb * NRW * d);                                 \
    const T *xt = XT != NULL ? XT : buf;                                           \
    const T *pn = P + kp * d;                                                      \
    if (XT == NULL) kmix_wide_rows_##SFX(X, m, d, buf, nb);                        \
    const VT two = _mm256_set1_##SFX((T)(-2));                                     \
    for (ptrdiff_t j0 = 0; j0 < kp; j0 += kc) {                                    \
        const ptrdiff_t j1 = j0 + kc < kp ? j0 + kc : kp;                          \
        for (ptrdiff_t b = 0; b < nb; ++b) {                                       \
            const T *xb = xt + b * NRW * d;                                        \
            T *sb = st + b * 3 * NRW;                                              \
            VT mv[KMIX_WIDE_NR], sv[KMIX_WIDE_NR], iv[KMIX_WIDE_NR];               \
            for (int v = 0; v < KMIX_WIDE_NR; ++v) {                               \
                if (j0 == 0) {                                                     \
                    mv[v] = _mm256_set1_##SFX((T)INFINITY);                        \
                    sv[v] = _mm256_set1_##SFX((T)INFINITY);                        \
                    iv[v] = _mm256_setzero_##SFX();                                \
                } else {                                                           \
                    mv[v] = _mm256_loadu_##SFX(sb + v * W);                        \
                    sv[v] = _mm256_loadu_##SFX(sb + NRW + v * W);                  \
                    iv[v] = _mm256_loadu_##SFX(sb + 2 * NRW + v * W);              \
                }                                                                  \
            }                                                                      \
            for (ptrdiff_t j = j0; j < j1; j += NC)                                \
                KMIX_WIDE_TILE(T, VT, W, SFX, NC)                                  \
            for (int v = 0; v < KMIX_WIDE_NR; ++v) {                               \
                _mm256_storeu_##SFX(sb + v * W, mv[v]);                            \
                _mm256_storeu_##SFX(sb + NRW + v * W, sv[v]);                      \
                _mm256_storeu_##SFX(sb + 2 * NRW + v * W, iv[v]);                  \
            }                                                                      \
        }                                                                          \
    }                                                                              \
    for (ptrdiff_t i = 0; i < m; ++i) {                                            \
        const T *sb = st + (i / NRW) * 3 * NRW + i % NRW;                          \
        bestv[i] = sb[0];                                                          \
        secv[i] = sb[NRW];                                                         \
        besti[i] = (ptrdiff_t)sb[2 * NRW];                                         \
    }                                                                              \
    free(buf);                                                                     \
    return 0;

/* A block of packed centres takes at most this much of a core's L2 (1 MB on Zen 4, 512 KB on
 * Zen 3). */
#define KMIX_WIDE_L2_BYTES (192 * 1024)

/* XT: the rows already as kmix_wide_rows lays them out (X unread), or NULL. */
#define KMIX_WIDE_ARGMIN2_WIDTHS(T, VT, W, SFX, NAME)                              \
    __attribute__((target("avx2,fma")))                                            \
    static int NAME##_nc6(KMIX_WIDE_ARGMIN2_ARGS(T), const T *XT)                  \
    { KMIX_WIDE_ARGMIN2_AVX2(T, VT, W, SFX, 6) }                                   \
    __attribute__((target("avx2,fma")))                                            \
    static int NAME##_nc5(KMIX_WIDE_ARGMIN2_ARGS(T), const T *XT)                  \
    { KMIX_WIDE_ARGMIN2_AVX2(T, VT, W, SFX, 5) }                                   \
    __attribute__((target("avx2,fma")))                                            \
    static int NAME##_nc4(KMIX_WIDE_ARGMIN2_ARGS(T), const T *XT)                  \
    { KMIX_WIDE_ARGMIN2_AVX2(T, VT, W, SFX, 4) }                                   \
    static int NAME(KMIX_WIDE_ARGMIN2_ARGS(T), const T *XT)                        \
    {                                                                              \
        switch (kmix_wide_nc(kt)) {                                                \
        case 4: return NAME##_nc4(X, m, d, P, kt, besti, bestv, secv, XT);         \
        case 5: return NAME##_nc5(X, m, d, P, kt, besti, bestv, secv, XT);         \
        default: return NAME##_nc6(X, m, d, P, kt, besti, bestv, secv, XT);        \
        }                                                                          \
    }

KMIX_WIDE_ARGMIN2_WIDTHS(double, __m256d, 4, pd, kmix_wide_argmin2_d_avx2)
KMIX_WIDE_ARGMIN2_WIDTHS(float, __m256, 8, ps, kmix_wide_argmin2_f_avx2)

/* Yinyang's full search of gemm-wide rows in one pass over the groups' panels (KMIX_PANEL
 * centres each, feature-major, padding lanes' squared norms +inf; see kmix_groups_best):
 * each row's smallest value in every group, gmin[r * ldg + g], and its best two over all
 * the centres, as kmix_wide_argmin2 gives them (besti[r]: the panel position g * KMIX_PANEL
 * + lane of the first minimum in panel order; secv[r]: the next smallest, a tied minimum
 * counting twice), the values those of kmix_wide_argmin2 bit for bit (the chain of FMAs over
 * the features in order from zero, then pnorm + (-2) * acc). The rows as kmix_wide_rows lays
 * them out (xt), m of them; register tiles of KMIX_WIDE_NR row vectors by half a panel (four
 * centres: eight accumulators), a group's two halves folded into its minima, which go to
 * gbuf (ng x NRW values) and, once the block's groups are done, to gmin by vector
 * transposes (gmin holds ceil(m / NRW) * NRW rows). A half panel of padding only is skipped.
 * Single thread, Zen 4 (2026-12-05), float32, d = 32, 125 groups of 8, 256 rows: 93 GFLOP/s,
 * against 103 for kmix_wide_argmin2 on the same centres (80 before the loops over a tile's
 * centres were unrolled); whole panels as tiles of 2 x 8 accumulators, with AVX-512VL's 32
 * registers, ran at 78. */
#define KMIX_GROUPS_TILE(T, VT, W, SFX, OFF, NCG)                                  \
    {                                                                              \
        KMIX_WIDE_VALUES(T, VT, W, SFX, NCG, Pg + (OFF), KMIX_PANEL, ng8 + (OFF))  \
        VT below = _mm256_setzero_##SFX();                                         \
        for (int v = 0; v < KMIX_WIDE_NR; ++v) {                                   \
            VT t = acc[v][0];                                                      \
            _Pragma("GCC unroll 8")                                                \
            for (int c = 1; c < NCG; ++c) t = _mm256_min_##SFX(t, acc[v][c]);      \
            gm[v] = (OFF) == 0 ? t : _mm256_min_##SFX(gm[v], t);                   \
            below = _mm256_or_##SFX(below, _mm256_cmp_##SFX(t, sv[v], _CMP_LT_OQ)); \
        }                                                                          \
        KMIX_WIDE_BEST_TWO(T, VT, SFX, NCG, g * KMIX_PANEL + (OFF))                \
    }

#define KMIX_WIDE_GROUPS_AVX2(T, VT, W, SFX, TRANSPOSE, NCG)                       \
    enum { NRW = KMIX_WIDE_NR * W };                                               \
    const ptrdiff_t nb = (m + NRW - 1) / NRW;                                      \
    const VT two = _mm256_set1_##SFX((T)(-2));                                     \
    for (ptrdiff_t b = 0; b < nb; ++b) {                                           \
        const T *xb = xt + b * NRW * d;                                            \
        VT mv[KMIX_WIDE_NR], sv[KMIX_WIDE_NR], iv[KMIX_WIDE_NR];                   \
        for (int v = 0; v < KMIX_WIDE_NR; ++v) {                                   \
            mv[v] = _mm256_set1_##SFX((T)INFINITY);                                \
            sv[v] = _mm256_set1_##SFX((T)INFINITY);                                \
            iv[v] = _mm256_setzero_##SFX();                                        \
        }                                                                          \
        for (ptrdiff_t g = 0; g < ng; ++g) {                                       \
            const T *Pg = P + g * d * KMIX_PANEL, *ng8 = pnorm + g * KMIX_PANEL;   \
            VT gm[KMIX_WIDE_NR];                                                   \
            KMIX_GROUPS_TILE(T, VT, W, SFX, 0, NCG)                                \
            if (NCG == 4 && ng8[4] != (T)INFINITY)                                 \
                KMIX_GROUPS_TILE(T, VT, W, SFX, 4, NCG)                            \
            for (int v = 0; v < KMIX_WIDE_NR; ++v)                                 \
                _mm256_storeu_##SFX(gbuf + g * NRW + v * W, gm[v]);                \
        }                                                                          \
        /* gbuf (ng x NRW) transposed into the block's rows of gmin */             \
        T *gb = gmin + b * NRW * ldg;                                              \
        ptrdiff_t g0 = 0;                                                          \
        for (; g0 + W <= ng; g0 += W)                                              \
            for (int r0 = 0; r0 < NRW; r0 += W)                                    \
                TRANSPOSE(gbuf + g0 * NRW + r0, NRW, gb + r0 * ldg + g0, ldg);     \
        for (; g0 < ng; ++g0)                                                      \
            for (int r = 0; r < NRW; ++r) gb[r * ldg + g0] = gbuf[g0 * NRW + r];   \
        T st[3][NRW];                                                              \
        for (int v = 0; v < KMIX_WIDE_NR; ++v) {                                   \
            _mm256_storeu_##SFX(st[0] + v * W, mv[v]);                             \
            _mm256_storeu_##SFX(st[1] + v * W, sv[v]);                             \
            _mm256_storeu_##SFX(st[2] + v * W, iv[v]);                             \
        }                                                                          \
        for (int r = 0; r < NRW && b * NRW + r < m; ++r) {                         \
            bestv[b * NRW + r] = st[0][r];                                         \
            secv[b * NRW + r] = st[1][r];                                          \
            besti[b * NRW + r] = (ptrdiff_t)st[2][r];                              \
        }                                                                          \
    }

__attribute__((target("avx2,fma")))
static void kmix_wide_groups_f_avx2(KMIX_WIDE_GROUPS_ARGS(float))
{ KMIX_WIDE_GROUPS_AVX2(float, __m256, 8, ps, kmix_transpose8_ps, 4) }

__attribute__((target("avx2,fma")))
static void kmix_wide_groups_d_avx2(KMIX_WIDE_GROUPS_ARGS(double))
{ KMIX_WIDE_GROUPS_AVX2(double, __m256d, 4, pd, kmix_transpose4_pd, 4) }

#endif

/* Rows laid out once for several passes of kmix_wide_argmin2 (its XT; a pass copies them
 * again otherwise): the m rows of X as ceil(m / NRW) blocks of d x NRW values, NRW =
 * KMIX_WIDE_NR x the lanes (8 floats, 4 doubles), rows past m zero: at most m rounded up to
 * a multiple of 16, times d, values. Only where kmix_wide_argmin2_ok. */

static inline void kmix_wide_rows_f(const float *X, ptrdiff_t m, ptrdiff_t d, float *xt)
{
#if KMIX_HAVE_DISPATCH
    kmix_wide_rows_ps(X, m, d, xt, (m + KMIX_WIDE_NR * 8 - 1) / (KMIX_WIDE_NR * 8));
#endif
}

static inline void kmix_wide_rows_d(const double *X, ptrdiff_t m, ptrdiff_t d, double *xt)
{
#if KMIX_HAVE_DISPATCH
    kmix_wide_rows_pd(X, m, d, xt, (m + KMIX_WIDE_NR * 4 - 1) / (KMIX_WIDE_NR * 4));
#endif
}

/* The kt centres (transposed: CT, d x ldct, and their squared norms cnorm) packed for
 * kmix_wide_argmin2 into P (kmix_wide_packed_size values): tiles of NC centres, each d x NC
 * (feature-major), then the kp squared norms; padding centres are zero with squared norm
 * +inf, so they never change a row's best two. */
static inline ptrdiff_t kmix_wide_packed_size(ptrdiff_t d, ptrdiff_t kt)
{ return kmix_wide_padded(kt) * (d + 1); }

#define KMIX_WIDE_PACK(T)                                                          \
    const ptrdiff_t nc = kmix_wide_nc(kt), kp = kmix_wide_padded(kt);              \
    /* feature by feature: CT's rows read in order, a tile's nc values written together */ \
    for (ptrdiff_t f = 0; f < d; ++f)                                              \
        for (ptrdiff_t j0 = 0; j0 < kp; j0 += nc) {                                \
            T *pt = P + j0 * d + f * nc;                                           \
            for (ptrdiff_t c = 0; c < nc; ++c)                                     \
                pt[c] = j0 + c < kt ? CT[f * ldct + j0 + c] : (T)0;                \
        }                                                                          \
    for (ptrdiff_t j = 0; j < kp; ++j) P[kp * d + j] = j < kt ? cnorm[j] : (T)INFINITY;

static inline void kmix_wide_pack_d(const double *CT, ptrdiff_t ldct, const double *cnorm,
                                    ptrdiff_t kt, ptrdiff_t d, double *P)
{ KMIX_WIDE_PACK(double) }

static inline void kmix_wide_pack_f(const float *CT, ptrdiff_t ldct, const float *cnorm,
                                    ptrdiff_t kt, ptrdiff_t d, float *P)
{ KMIX_WIDE_PACK(float) }

/* Only where kmix_wide_argmin2_ok (the portable form would be the scalar scan, slower than
 * gemm): returns -1 when out of memory (nothing written), else 0. XT: the rows as
 * kmix_wide_rows lays them out (X then unread), or NULL (the kernel lays X out). */
static inline int kmix_wide_argmin2_d(KMIX_WIDE_ARGMIN2_ARGS(double), const double *XT)
{
#if KMIX_HAVE_DISPATCH
    return kmix_wide_argmin2_d_avx2(X, m, d, P, kt, besti, bestv, secv, XT);
#else
    return -1;
#endif
}

static inline int kmix_wide_argmin2_f(KMIX_WIDE_ARGMIN2_ARGS(float), const float *XT)
{
#if KMIX_HAVE_DISPATCH
    return kmix_wide_argmin2_f_avx2(X, m, d, P, kt, besti, bestv, secv, XT);
#else
    return -1;
#endif
}

/* Only where kmix_wide_argmin2_ok and the groups are KMIX_PANEL-wide panels: returns 0, or
 * -1 (nothing written) without AVX2+FMA. */
#if KMIX_HAVE_DISPATCH
#define KMIX_WIDE_GROUPS_RUN(SFX)                                                  \
    if (!kmix_cpu_has_fma()) return -1;                                            \
    kmix_wide_groups_##SFX##_avx2(xt, m, d, P, pnorm, ng, gmin, ldg, besti, bestv, secv, gbuf); \
    return 0;
#else
#define KMIX_WIDE_GROUPS_RUN(SFX) return -1;
#endif

static inline int kmix_wide_groups_f(KMIX_WIDE_GROUPS_ARGS(float))
{ KMIX_WIDE_GROUPS_RUN(f) }

static inline int kmix_wide_groups_d(KMIX_WIDE_GROUPS_ARGS(double))
{ KMIX_WIDE_GROUPS_RUN(d) }

#endif
