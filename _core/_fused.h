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

#define KMIX_FUSED_BODY(T, MADD)                                                   \
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
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
    }
    return cached;
#else
    return 0;
#endif
}

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

#endif
