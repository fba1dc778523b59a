/* k-means++'s candidate potentials over one chunk of rows (_seeding._block_potentials).
 *
 * For the m rows i = idx[q] and the nt candidates t, from the fast partial distances
 * D[q * nt + t] (float or double: the data's dtype, or float32 when float64 rows are screened
 * on a float32 copy):
 *
 *   dist = xnorm_i + D[q * nt + t], negative values clamped to 0
 *   acc[t] += w_i * min(dist, closest_i)
 *   ecc[t] += w_i * (e + g * (dist + e))  when  dist < closest_i * (1 + 2 g) + xt + ct[t]
 *             (e = ct[t] + xt, xt = (0.5 scale + g) xnorm_i; else an exact 0.0 is added)
 *   bit t of mask[i] (t < 32): whether dist could be below closest_i, the update's test
 *             (dist - scale * (cu[t] + 0.5 xnorm_i) - g xnorm_i - abs0) * (1 - g) < closest_i
 *             (cu[t] = 1.5 ||cand_t||^2 in float64, see _seeding._block_update)
 *
 * w NULL: every weight is 1 (w_i * v is v: the same bits). acc and ecc are nt running sums
 * carried from chunk to chunk, each added to row by row in order. The AVX2 version holds the
 * candidates in vector lanes (four doubles a vector, up to 16 candidates) and performs, lane
 * by lane, the same operations in the same order as the portable one (no fused
 * multiply-add): both give the same bits. closest_i may be infinite
 * (no centre yet): the products and the selects above stay finite where the scalar loop's do.
 */
#ifndef KMIX_KPP_SUMS_H
#define KMIX_KPP_SUMS_H

#include <stddef.h>

#include "_fused.h"

#define KMIX_KPP_SUMS_BASE(TD)                                                     \
    for (ptrdiff_t q = 0; q < m; ++q) {                                            \
        const ptrdiff_t i = idx[q];                                                \
        const double xi = xnorm[i], cli = closest[i], wi = w ? w[i] : 1.0;         \
        const double xt = (0.5 * scale + g) * xi;                                  \
        const double lim = cli * (1.0 + 2.0 * g) + xt;                             \
        const double h = 0.5 * xi, gx = g * xi;                                    \
        const TD *Dq = D + q * nt;                                                 \
        unsigned int bits = 0;                                                     \
        for (ptrdiff_t t = 0; t < nt; ++t) {                                       \
            double dist = xi + (double)Dq[t];                                      \
            dist = dist > 0 ? dist : 0.0;                                          \
            const double f = (dist - scale * (cu[t] + h) - gx - abs0) * (1.0 - g);   \
            if (t < 32) bits |= (unsigned int)(f < cli) << t;                      \
            const double e = ct[t] + xt;                                           \
            const double v = wi * (e + g * (dist + e));                            \
            ecc[t] += dist < lim + ct[t] ? v : 0.0;                                \
            acc[t] += wi * (dist < cli ? dist : cli);                              \
        }                                                                          \
        mask[i] = bits;                                                            \
    }

static void kmix_kpp_sums_d_base(const ptrdiff_t *idx, ptrdiff_t m, const double *D,
                                 ptrdiff_t nt, const double *xnorm, const double *closest,
                                 const double *w, const double *ct, double scale, double g,
                                 const double *cu, double abs0, unsigned int *mask, double *acc, double *ecc)
{ KMIX_KPP_SUMS_BASE(double) }

static void kmix_kpp_sums_f_base(const ptrdiff_t *idx, ptrdiff_t m, const float *D,
                                 ptrdiff_t nt, const double *xnorm, const double *closest,
                                 const double *w, const double *ct, double scale, double g,
                                 const double *cu, double abs0, unsigned int *mask, double *acc, double *ecc)
{ KMIX_KPP_SUMS_BASE(float) }

#if KMIX_HAVE_DISPATCH
#include <immintrin.h>

/* Four lanes of row q's partial distances, lanes t >= nt read as 0 (masked loads: the row's
 * end is not read past). */
__attribute__((target("avx2,fma"), always_inline))
static inline __m256d kmix_kpp_load4_d(const double *p, __m256i mask64, __m128i mask32)
{ (void)mask32; return _mm256_maskload_pd(p, mask64); }

__attribute__((target("avx2,fma"), always_inline))
static inline __m256d kmix_kpp_load4_f(const float *p, __m256i mask64, __m128i mask32)
{ (void)mask64; return _mm256_cvtps_pd(_mm_maskload_ps(p, mask32)); }

/* NV vectors of four candidates (nt <= 4 NV). */
#define KMIX_KPP_SUMS_AVX2(SFX, TD)                                                \
    __attribute__((target("avx2,fma"), always_inline))                             \
    static inline void kmix_kpp_sums_##SFX##_nv(                                   \
        const ptrdiff_t *idx, ptrdiff_t m, const TD *D, ptrdiff_t nt,              \
        const double *xnorm, const double *closest, const double *w,               \
        const double *ct, double scale, double g, const double *cu, double abs0,   \
        unsigned int *mask, double *acc, double *ecc, const int NV)                \
    {                                                                              \
        __m256i lanes[4];                                                          \
        __m128i lanes32[4];                                                        \
        __m256d vct[4], vcu[4], vacc[4], vecc[4];                                  \
        double ctp[16] = {0}, cup[16] = {0}, accp[16] = {0}, eccp[16] = {0};       \
        long long mk[16];                                                          \
        int mk32[16];                                                              \
        for (ptrdiff_t t = 0; t < 16; ++t) {                                       \
            mk[t] = t < nt ? -1 : 0;                                               \
            mk32[t] = t < nt ? -1 : 0;                                             \
            if (t < nt) {                                                          \
                ctp[t] = ct[t]; cup[t] = cu[t]; accp[t] = acc[t]; eccp[t] = ecc[t];    \
            }                                                                      \
        }                                                                          \
        for (int v = 0; v < NV; ++v) {                                             \
            lanes[v] = _mm256_loadu_si256((const __m256i *)(mk + 4 * v));          \
            lanes32[v] = _mm_loadu_si128((const __m128i *)(mk32 + 4 * v));         \
            vct[v] = _mm256_loadu_pd(ctp + 4 * v);                                 \
            vcu[v] = _mm256_loadu_pd(cup + 4 * v);                                 \
            vacc[v] = _mm256_loadu_pd(accp + 4 * v);                               \
            vecc[v] = _mm256_loadu_pd(eccp + 4 * v);                               \
        }                                                                          \
        const __m256d zero = _mm256_setzero_pd();                                  \
        const __m256d vg = _mm256_set1_pd(g), vscale = _mm256_set1_pd(scale);      \
        const __m256d vabs0 = _mm256_set1_pd(abs0), v1g = _mm256_set1_pd(1.0 - g); \
        const unsigned int keep = nt >= 32 ? ~0u : (1u << nt) - 1u;                \
        const double xs = 0.5 * scale + g, l1 = 1.0 + 2.0 * g;                     \
        for (ptrdiff_t q = 0; q < m; ++q) {                                        \
            const ptrdiff_t i = idx[q];                                            \
            const double xi = xnorm[i], cli = closest[i];                          \
            const double xt = xs * xi;                                             \
            const __m256d vxi = _mm256_set1_pd(xi), vcl = _mm256_set1_pd(cli);     \
            const __m256d vw = _mm256_set1_pd(w ? w[i] : 1.0);                     \
            const __m256d vxt = _mm256_set1_pd(xt);                                \
            const __m256d vlim = _mm256_set1_pd(cli * l1 + xt);                    \
            const __m256d vh = _mm256_set1_pd(0.5 * xi), vgx = _mm256_set1_pd(g * xi); \
            unsigned int bits = 0;                                                 \
            for (int v = 0; v < NV; ++v) {                                         \
                __m256d dist = _mm256_add_pd(vxi,                                  \
                    kmix_kpp_load4_##SFX(D + q * nt + 4 * v, lanes[v], lanes32[v])); \
                dist = _mm256_and_pd(dist, _mm256_cmp_pd(dist, zero, _CMP_GT_OQ)); \
                const __m256d f = _mm256_mul_pd(_mm256_sub_pd(_mm256_sub_pd(       \
                    _mm256_sub_pd(dist, _mm256_mul_pd(vscale, _mm256_add_pd(vcu[v], vh))), \
                    vgx), vabs0), v1g);                                            \
                bits |= (unsigned int)_mm256_movemask_pd(                          \
                    _mm256_cmp_pd(f, vcl, _CMP_LT_OQ)) << (4 * v);                 \
                const __m256d e = _mm256_add_pd(vct[v], vxt);                      \
                const __m256d val = _mm256_mul_pd(vw, _mm256_add_pd(e,             \
                    _mm256_mul_pd(vg, _mm256_add_pd(dist, e))));                   \
                const __m256d in = _mm256_cmp_pd(dist, _mm256_add_pd(vlim, vct[v]), \
                                                 _CMP_LT_OQ);                      \
                vecc[v] = _mm256_add_pd(vecc[v], _mm256_and_pd(val, in));          \
                const __m256d lt = _mm256_cmp_pd(dist, vcl, _CMP_LT_OQ);           \
                vacc[v] = _mm256_add_pd(vacc[v], _mm256_mul_pd(vw,                 \
                    _mm256_blendv_pd(vcl, dist, lt)));                             \
            }                                                                      \
            mask[i] = bits & keep;                                                 \
        }                                                                          \
        for (int v = 0; v < NV; ++v) {                                             \
            _mm256_storeu_pd(accp + 4 * v, vacc[v]);                               \
            _mm256_storeu_pd(eccp + 4 * v, vecc[v]);                               \
        }                                                                          \
        for (ptrdiff_t t = 0; t < nt; ++t) { acc[t] = accp[t]; ecc[t] = eccp[t]; } \
    }                                                                              \
                                                                                   \
    __attribute__((target("avx2,fma")))                                            \
    static void kmix_kpp_sums_##SFX##_avx2(                                        \
        const ptrdiff_t *idx, ptrdiff_t m, const TD *D, ptrdiff_t nt,              \
        const double *xnorm, const double *closest, const double *w,               \
        const double *ct, double scale, double g, const double *cu, double abs0,   \
        unsigned int *mask, double *acc, double *ecc)                              \
    {                                                                              \
        switch ((nt + 3) / 4) {                                                    \
        case 1: kmix_kpp_sums_##SFX##_nv(idx, m, D, nt, xnorm, closest, w, ct, scale, \
                    g, cu, abs0, mask, acc, ecc, 1); return;                    \
        case 2: kmix_kpp_sums_##SFX##_nv(idx, m, D, nt, xnorm, closest, w, ct, scale, \
                    g, cu, abs0, mask, acc, ecc, 2); return;                    \
        case 3: kmix_kpp_sums_##SFX##_nv(idx, m, D, nt, xnorm, closest, w, ct, scale, \
                    g, cu, abs0, mask, acc, ecc, 3); return;                    \
        case 4: kmix_kpp_sums_##SFX##_nv(idx, m, D, nt, xnorm, closest, w, ct, scale, \
                    g, cu, abs0, mask, acc, ecc, 4); return;                    \
        default: kmix_kpp_sums_##SFX##_base(idx, m, D, nt, xnorm, closest, w, ct,  \
                    scale, g, cu, abs0, mask, acc, ecc);                           \
        }                                                                          \
    }

KMIX_KPP_SUMS_AVX2(d, double)
KMIX_KPP_SUMS_AVX2(f, float)
#endif

/* The AVX2 version where the CPU has it (and KMIX_DISABLE_SIMD is unset), else the portable
 * one. */
#define KMIX_KPP_SUMS_ENTRY(SFX, TD)                                               \
    static inline void kmix_kpp_sums_##SFX(                                        \
        const ptrdiff_t *idx, ptrdiff_t m, const TD *D, ptrdiff_t nt,              \
        const double *xnorm, const double *closest, const double *w,               \
        const double *ct, double scale, double g, const double *cu, double abs0,   \
        unsigned int *mask, double *acc, double *ecc)                              \
    {                                                                              \
        KMIX_DISPATCH(kmix_kpp_sums_##SFX, (idx, m, D, nt, xnorm, closest, w, ct,  \
                      scale, g, cu, abs0, mask, acc, ecc))                         \
    }

KMIX_KPP_SUMS_ENTRY(d, double)
KMIX_KPP_SUMS_ENTRY(f, float)

#endif
