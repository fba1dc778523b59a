/* The exact assignment rule: which of k centres is closest to a row, by exact arithmetic.
 *
 * kmix's fast paths compare distances computed in floating point (the expansion
 * ||c||^2 - 2 <x, c> by gemm or fused loops, or direct differences), whose rounding depends on
 * the CPU, the BLAS kernel and the summation order. Each fast path knows a bound on its own
 * rounding error; where the best and second-best computed distances of a row are within that
 * bound of each other, the row is re-decided here, so that every path, on every machine,
 * returns the label exact arithmetic gives: the closest centre, and on an exact tie the
 * lowest index.
 *
 * kmix_exact_sign_*: the sign of ||x - a||^2 - ||x - b||^2, exactly. Every coordinate
 *   difference is split error-free (TwoSum: x_f - a_f = s + e exactly), its square written as
 *   the exact sum s^2 + 2se + e^2 of three products, each split error-free (TwoProduct by fma:
 *   p = fl(uv), q = fma(u, v, -p), p + q = uv exactly). The 12 d resulting doubles are added
 *   into a non-overlapping floating-point expansion (Shewchuk's grow-expansion, the algorithm
 *   of Python's math.fsum), which represents their sum exactly; its sign is the sign of its
 *   largest component. This is exact whenever nothing overflows and no product's low part
 *   falls below the smallest normal double (coordinate differences of at least ~2^-430 in
 *   magnitude, or exactly zero); kmix's input validation rejects data whose squared norms
 *   overflow or underflow. If an intermediate is not finite the sign of the float64 direct
 *   difference is returned (it can only arise from such data).
 *
 * kmix_exact_closest_*: the exact rule over all k centres for one row. Direct float64
 *   squared distances s_j = sum_f (x_f - c_fj)^2 carry a relative error of at most
 *   gamma = (d + 2) u / (1 - (d + 2) u), u = 2^-53 (nonnegative terms, any summation order);
 *   two candidates whose computed values differ by more than 4 gamma max(s_i, s_j) (plus an
 *   absolute d * 2^-1060 for gradual underflow) are ordered as computed, the others by
 *   kmix_exact_sign_*. Cost O(k d) plus O(d) per near-tie: it is called only for the rows a
 *   fast path could not decide.
 */
#ifndef KMIX_EXACT_H
#define KMIX_EXACT_H

#include <math.h>
#include <stddef.h>

#include "_fused.h"   /* kmix_sqdist_d/f: the direct distances over eight lanes */

#define KMIX_EXP_MAX 80   /* non-overlapping doubles span at most ~2100 / 53 + 1 < 41 */

typedef struct {
    double p[KMIX_EXP_MAX];
    int n;
    int bad;
} kmix_expansion;

/* Add x to the expansion exactly (Shewchuk's grow-expansion with zero elimination). */
static inline void kmix_exp_add(kmix_expansion *e, double x)
{
    int i = 0;
    for (int j = 0; j < e->n; ++j) {
        double y = e->p[j];
        if (fabs(x) < fabs(y)) { const double t = x; x = y; y = t; }
        const double hi = x + y;
        const double lo = y - (hi - x);
        if (lo != 0.0) e->p[i++] = lo;
        x = hi;
    }
    if (!isfinite(x) || i >= KMIX_EXP_MAX) { e->bad = 1; e->n = i; return; }
    e->p[i++] = x;
    e->n = i;
}

/* Add sign * (t)^2 exactly, t = u - v given as doubles. */
static inline void kmix_exp_add_sq_diff(kmix_expansion *e, double u, double v, double sign)
{
    const double s = u - v;
    const double bv = s - u;                      /* TwoSum(u, -v) */
    const double e1 = (u - (s - bv)) + (-v - bv);
    double p = s * s;
    kmix_exp_add(e, sign * p);
    kmix_exp_add(e, sign * fma(s, s, -p));
    if (e1 != 0.0) {
        const double s2 = 2.0 * s;
        p = s2 * e1;
        kmix_exp_add(e, sign * p);
        kmix_exp_add(e, sign * fma(s2, e1, -p));
        p = e1 * e1;
        kmix_exp_add(e, sign * p);
        kmix_exp_add(e, sign * fma(e1, e1, -p));
    }
}

static inline int kmix_exp_sign(const kmix_expansion *e)
{
    if (e->n == 0) return 0;
    const double top = e->p[e->n - 1];
    return (top > 0) - (top < 0);
}

#define KMIX_EXACT_FUNCS(T, SFX)                                                        \
static inline double kmix_direct_sqdist_##SFX(const T *x, const T *c, ptrdiff_t d)      \
{                                                                                       \
    /* eight independent lanes from 16 features (AVX2 where the CPU has it): a serial     \
     * sum of d terms waits on each addition (d = 784: ~3000 cycles per centre) */        \
    if (d >= 16) return kmix_sqdist_##SFX(x, c, d);                                     \
    double s = 0.0;                                                                     \
    for (ptrdiff_t f = 0; f < d; ++f) {                                                 \
        const double t = (double)x[f] - (double)c[f];                                   \
        s += t * t;                                                                     \
    }                                                                                   \
    return s;                                                                           \
}                                                                                       \
                                                                                        \
/* sign(||x - a||^2 - ||x - b||^2), exactly (see the file's comment). */                 \
static int kmix_exact_sign_##SFX(const T *x, const T *a, const T *b, ptrdiff_t d)       \
{                                                                                       \
    kmix_expansion e;                                                                   \
    e.n = 0;                                                                            \
    e.bad = 0;                                                                          \
    for (ptrdiff_t f = 0; f < d && !e.bad; ++f) {                                       \
        kmix_exp_add_sq_diff(&e, (double)x[f], (double)a[f], 1.0);                      \
        kmix_exp_add_sq_diff(&e, (double)x[f], (double)b[f], -1.0);                     \
    }                                                                                   \
    if (e.bad) {                                                                        \
        const double da = kmix_direct_sqdist_##SFX(x, a, d);                            \
        const double db = kmix_direct_sqdist_##SFX(x, b, d);                            \
        return (da > db) - (da < db);                                                   \
    }                                                                                   \
    return kmix_exp_sign(&e);                                                           \
}                                                                                       \
                                                                                        \
/* The exact rule over the centres C (k x d, C-contiguous) for row x: the closest centre, \
 * the lowest index on an exact tie. *dist gets its float64 squared distance. With Dr     \
 * (the row's k computed partial distances), only the centres j with Dr[j] <= limit are   \
 * visited, in index order: the same answer when every other centre is truly farther     \
 * than one of them (the caller's rounding bound says so); all k if none is (NaN values). \
 * Dr NULL: all k. */                                                                    \
static ptrdiff_t kmix_exact_closest_among_##SFX(const T *x, const T *C, ptrdiff_t k,     \
                                                ptrdiff_t d, const T *Dr, double limit, \
                                                double *dist)                           \
{                                                                                       \
    const double g = (double)(d + 2) * 0x1p-53 / (1.0 - (double)(d + 2) * 0x1p-53);     \
    const double tiny = (double)(d + 1) * 0x1p-1060;                                     \
    ptrdiff_t best = -1;                                                                \
    double sb = 0.0;                                                                    \
    for (ptrdiff_t j = 0; j < k; ++j) {                                                 \
        if (Dr != NULL && !((double)Dr[j] <= limit)) continue;                          \
        const double sj = kmix_direct_sqdist_##SFX(x, C + j * d, d);                    \
        if (best < 0) { best = j; sb = sj; continue; }                                  \
        const double tol = 4.0 * g * (sj > sb ? sj : sb) + tiny;                        \
        if (sj < sb - tol) { best = j; sb = sj; }                                       \
        else if (sj <= sb + tol                                                          \
                 && kmix_exact_sign_##SFX(x, C + j * d, C + best * d, d) < 0) {         \
            best = j; sb = sj;                                                          \
        }                                                                               \
    }                                                                                   \
    if (best < 0) return kmix_exact_closest_among_##SFX(x, C, k, d, NULL, 0.0, dist);  \
    *dist = sb;                                                                         \
    return best;                                                                        \
}                                                                                       \
                                                                                        \
static inline ptrdiff_t kmix_exact_closest_##SFX(const T *x, const T *C, ptrdiff_t k,   \
                                                 ptrdiff_t d, double *dist)             \
{                                                                                       \
    return kmix_exact_closest_among_##SFX(x, C, k, d, NULL, 0.0, dist);                 \
}

KMIX_EXACT_FUNCS(double, d)
KMIX_EXACT_FUNCS(float, f)

/* Relative rounding bound gamma_n = n u / (1 - n u) of a sum of n products in a dtype whose
 * unit roundoff is u (2^-53 for float64, 2^-24 for float32), rounded up generously. */
static inline double kmix_gamma(ptrdiff_t n, int is_float32)
{
    const double u = is_float32 ? 0x1p-24 : 0x1p-53;
    const double nu = (double)n * u;
    return 1.0625 * nu / (1.0 - nu);
}

#endif
