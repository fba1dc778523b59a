/* One row of the silhouette reduction: distances to a tile of columns, summed per label run.
 * Compiled for AVX2 + FMA (chosen at run time) and for the baseline. */
#ifndef KMIX_SILHOUETTE_H
#define KMIX_SILHOUETTE_H

#include <math.h>
#include <stddef.h>
#include "_fused.h"

/* g[c] <- sqrt(max(g[c] + an, 0)) (g holds ||y||^2 - 2 x.y), g[self] <- 0 when 0 <= self < m,
 * then S_row[run_label[q]] += sum of g over run q = [run_start[q], run_start[q + 1]). */
#define KMIX_SIL_ROW_BODY                                                           \
    for (ptrdiff_t c = 0; c < m; ++c) {                                             \
        const double v = g[c] + an;                                                 \
        g[c] = sqrt(v > 0.0 ? v : 0.0);                                             \
    }                                                                               \
    if (self >= 0 && self < m) g[self] = 0.0;                                       \
    for (ptrdiff_t q = 0; q < nruns; ++q) {                                         \
        const ptrdiff_t a = run_start[q], b = run_start[q + 1];                     \
        double s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0;                              \
        ptrdiff_t c = a;                                                            \
        for (; c + 4 <= b; c += 4) {                                                \
            s0 += g[c]; s1 += g[c + 1]; s2 += g[c + 2]; s3 += g[c + 3];             \
        }                                                                           \
        for (; c < b; ++c) s0 += g[c];                                              \
        S_row[run_label[q]] += (s0 + s1) + (s2 + s3);                               \
    }

#if KMIX_HAVE_DISPATCH
__attribute__((target("avx2,fma")))
static void kmix_sil_row_avx2(double *restrict g, ptrdiff_t m, double an,
                              ptrdiff_t self,
                              const ptrdiff_t *restrict run_start, const int *restrict run_label,
                              ptrdiff_t nruns, double *restrict S_row)
{ KMIX_SIL_ROW_BODY }
#endif

static void kmix_sil_row_base(double *restrict g, ptrdiff_t m, double an,
                              ptrdiff_t self,
                              const ptrdiff_t *restrict run_start, const int *restrict run_label,
                              ptrdiff_t nruns, double *restrict S_row)
{ KMIX_SIL_ROW_BODY }

static inline void kmix_sil_row(double *g, ptrdiff_t m, double an, ptrdiff_t self,
                                const ptrdiff_t *run_start, const int *run_label,
                                ptrdiff_t nruns, double *S_row)
{
#if KMIX_HAVE_DISPATCH
    if (kmix_cpu_has_fma()) {
        kmix_sil_row_avx2(g, m, an, self, run_start, run_label, nruns, S_row);
        return;
    }
#endif
    kmix_sil_row_base(g, m, an, self, run_start, run_label, nruns, S_row);
}

#endif
