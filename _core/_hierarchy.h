/* Nearest-neighbour scans of the agglomerative-clustering kernels (_hierarchy.pyx).
 *
 * Layout: the vectors of the scanned "positions" are stored in tiles of KMIX_HC_TILE
 * positions, each tile holding its d coordinates feature by feature:
 *     V[((p / TILE) * d + f) * TILE + p % TILE] = coordinate f of position p,
 * so a tile is one contiguous block and the inner loops run across the positions of a
 * tile (four AVX2 registers kept over all features).
 *
 * Values: each position's sum over the features is accumulated in feature order from 0,
 * with separate multiply and add (no fused multiply-add), and finished by a fixed formula:
 * the AVX2 build (chosen at run time) and the baseline build give bitwise-identical values,
 * and splitting a range into blocks gives the same first minimum (strict <, lowest position
 * on ties). Dead positions hold NaN, which never compares less than anything.
 *
 * Pruning (exact): the partial sums only grow with the features (floating-point sums of
 * non-negative terms are monotone), so once every lane of a tile has a partial sum above
 * its threshold the tile is abandoned: none of its positions can improve the result (tested
 * after every KMIX_HC_FBLOCK features while as many remain).
 * Thresholds carry a relative margin of 1e-12, far above the few roundings (1e-15)
 * between a partial sum and a finished value.
 */
#ifndef KMIX_HIERARCHY_H
#define KMIX_HIERARCHY_H

#include <math.h>
#include <stddef.h>
#include <stdlib.h>

#define KMIX_HC_TILE 16
/* Positions per chunk (a multiple of the tile; the values stay in L1). */
#define KMIX_HC_CHUNK 256
/* Features between two pruning tests. */
#define KMIX_HC_FBLOCK 8
#define KMIX_HC_MARGIN 1e-12

static inline ptrdiff_t kmix_hc_index(ptrdiff_t d, ptrdiff_t f, ptrdiff_t p)
{
    return ((p / KMIX_HC_TILE) * d + f) * KMIX_HC_TILE + p % KMIX_HC_TILE;
}

/* Smallest of v[0..m) (NaN never wins). */
static inline double kmix_hc_min(const double *v, ptrdiff_t m)
{
    double m0 = INFINITY, m1 = INFINITY, m2 = INFINITY, m3 = INFINITY;
    ptrdiff_t j = 0;
    for (; j + 4 <= m; j += 4) {
        m0 = v[j] < m0 ? v[j] : m0;
        m1 = v[j + 1] < m1 ? v[j + 1] : m1;
        m2 = v[j + 2] < m2 ? v[j + 2] : m2;
        m3 = v[j + 3] < m3 ? v[j + 3] : m3;
    }
    for (; j < m; ++j) m0 = v[j] < m0 ? v[j] : m0;
    m0 = m1 < m0 ? m1 : m0;
    m0 = m2 < m0 ? m2 : m0;
    return m3 < m0 ? m3 : m0;
}

/* If m0, the minimum of v[0..m), is below *bestv: *bestv = m0, *besti = q0 + its first
 * index. */
static inline void kmix_hc_argmin(const double *v, double m0, ptrdiff_t q0, double *bestv,
                                  ptrdiff_t *besti)
{
    if (m0 < *bestv) {
        ptrdiff_t j = 0;
        while (v[j] != m0) ++j;
        *bestv = m0;
        *besti = q0 + j;
    }
}

/* One tile: out[j] = sum over f of OP(T[f * TILE + j] - x[f]), OP = square (manhattan == 0)
 * or absolute value; all INFINITY when, after some block of features, no lane's partial sum
 * is <= its threshold thr[j] (thr == NULL: never). Plain C, compiled for the baseline. */
static inline void kmix_hc_tile_base(const double *T, ptrdiff_t d, const double *x,
                                     int manhattan, const double *thr, double *out)
{
    double a[KMIX_HC_TILE];
    for (int j = 0; j < KMIX_HC_TILE; ++j) a[j] = 0.0;
    ptrdiff_t f = 0;
    while (f < d) {
        const ptrdiff_t fe = (d - f < KMIX_HC_FBLOCK) ? d : f + KMIX_HC_FBLOCK;
        for (; f < fe; ++f) {
            const double xf = x[f];
            const double *t = T + f * KMIX_HC_TILE;
            if (manhattan)
                for (int j = 0; j < KMIX_HC_TILE; ++j) a[j] = a[j] + fabs(t[j] - xf);
            else
                for (int j = 0; j < KMIX_HC_TILE; ++j) {
                    const double u = t[j] - xf;
                    a[j] = a[j] + u * u;
                }
        }
        if (thr != NULL && d - f >= KMIX_HC_FBLOCK) {
            int alive = 0;
            for (int j = 0; j < KMIX_HC_TILE; ++j) alive |= a[j] <= thr[j];
            if (!alive) {
                for (int j = 0; j < KMIX_HC_TILE; ++j) out[j] = INFINITY;
                return;
            }
        }
    }
    for (int j = 0; j < KMIX_HC_TILE; ++j) out[j] = a[j];
}

#if defined(__GNUC__) && (defined(__x86_64__) || defined(__i386__))
#define KMIX_HC_DISPATCH 1
#include <immintrin.h>

/* kmix_hc_tile_base with AVX2 (sub, mul, add: bitwise the baseline's values). */
__attribute__((target("avx2")))
static inline void kmix_hc_tile_avx2(const double *T, ptrdiff_t d, const double *x,
                                     int manhattan, const double *thr, double *out)
{
    const __m256d sign = _mm256_set1_pd(-0.0);
    __m256d a0 = _mm256_setzero_pd(), a1 = a0, a2 = a0, a3 = a0;
    ptrdiff_t f = 0;
    while (f < d) {
        const ptrdiff_t fe = (d - f < KMIX_HC_FBLOCK) ? d : f + KMIX_HC_FBLOCK;
        for (; f < fe; ++f) {
            const double *t = T + f * KMIX_HC_TILE;
            const __m256d xf = _mm256_broadcast_sd(x + f);
            __m256d t0 = _mm256_sub_pd(_mm256_loadu_pd(t), xf);
            __m256d t1 = _mm256_sub_pd(_mm256_loadu_pd(t + 4), xf);
            __m256d t2 = _mm256_sub_pd(_mm256_loadu_pd(t + 8), xf);
            __m256d t3 = _mm256_sub_pd(_mm256_loadu_pd(t + 12), xf);
            if (manhattan) {
                t0 = _mm256_andnot_pd(sign, t0);
                t1 = _mm256_andnot_pd(sign, t1);
                t2 = _mm256_andnot_pd(sign, t2);
                t3 = _mm256_andnot_pd(sign, t3);
            } else {
                t0 = _mm256_mul_pd(t0, t0);
                t1 = _mm256_mul_pd(t1, t1);
                t2 = _mm256_mul_pd(t2, t2);
                t3 = _mm256_mul_pd(t3, t3);
            }
            a0 = _mm256_add_pd(a0, t0);
            a1 = _mm256_add_pd(a1, t1);
            a2 = _mm256_add_pd(a2, t2);
            a3 = _mm256_add_pd(a3, t3);
        }
        if (thr != NULL && d - f >= KMIX_HC_FBLOCK) {
            const __m256d c0 = _mm256_cmp_pd(a0, _mm256_loadu_pd(thr), _CMP_LE_OQ);
            const __m256d c1 = _mm256_cmp_pd(a1, _mm256_loadu_pd(thr + 4), _CMP_LE_OQ);
            const __m256d c2 = _mm256_cmp_pd(a2, _mm256_loadu_pd(thr + 8), _CMP_LE_OQ);
            const __m256d c3 = _mm256_cmp_pd(a3, _mm256_loadu_pd(thr + 12), _CMP_LE_OQ);
            const __m256d any = _mm256_or_pd(_mm256_or_pd(c0, c1), _mm256_or_pd(c2, c3));
            if (_mm256_movemask_pd(any) == 0) {
                for (int j = 0; j < KMIX_HC_TILE; ++j) out[j] = INFINITY;
                return;
            }
        }
    }
    _mm256_storeu_pd(out, a0);
    _mm256_storeu_pd(out + 4, a1);
    _mm256_storeu_pd(out + 8, a2);
    _mm256_storeu_pd(out + 12, a3);
}
/* kmix_hc_min with AVX2 (m a multiple of 4; minpd returns its second operand when the
 * first is NaN, so NaN never wins). */
__attribute__((target("avx2")))
static inline double kmix_hc_min_avx2(const double *v, ptrdiff_t m)
{
    __m256d r0 = _mm256_set1_pd(INFINITY), r1 = r0;
    ptrdiff_t j = 0;
    for (; j + 8 <= m; j += 8) {
        r0 = _mm256_min_pd(_mm256_loadu_pd(v + j), r0);
        r1 = _mm256_min_pd(_mm256_loadu_pd(v + j + 4), r1);
    }
    for (; j + 4 <= m; j += 4) r0 = _mm256_min_pd(_mm256_loadu_pd(v + j), r0);
    double lanes[8];
    _mm256_storeu_pd(lanes, r0);
    _mm256_storeu_pd(lanes + 4, r1);
    double m0 = kmix_hc_min(lanes, 8);
    for (; j < m; ++j) m0 = v[j] < m0 ? v[j] : m0;
    return m0;
}
#else
#define KMIX_HC_DISPATCH 0
#endif

/* The ward value of position p from the cluster (x, nx), computed as the scans compute it
 * (one lane): (2 * (nx * s) / (nx + s)) * ||x - c_p||^2. */
static inline double kmix_ward_value(const double *V, ptrdiff_t d, const double *x,
                                     const double *s, double nx, ptrdiff_t p)
{
    double a = 0.0;
    for (ptrdiff_t f = 0; f < d; ++f) {
        const double u = V[kmix_hc_index(d, f, p)] - x[f];
        a = a + u * u;
    }
    return (2.0 * ((nx * s[p]) / (nx + s[p]))) * a;
}

/* Ward scan of positions [p0, p1) (multiples of the tile, or p1 the end of the array):
 * the first position whose value is the smallest and below `bound`, or -1; the value in
 * *best (`bound` when none). The position `skip` (x itself) is left out.
 *
 * Every live size is >= 1 and the weight 2 nx s / (nx + s) grows with s, so
 * w1 * ||x - c_p||^2 with w1 = 2 nx / (nx + 1) bounds each value from below (up to the
 * margin): tiles are pruned against bestv / w1, and a chunk whose smallest sum cannot
 * beat bestv skips its divisions. */
#define KMIX_WARD_SCAN_BODY(TILE, MIN)                                                        \
    ptrdiff_t besti = -1;                                                                  \
    double bestv = bound;                                                                  \
    double acc[KMIX_HC_CHUNK], thr[KMIX_HC_TILE];                                          \
    const double w1 = (2.0 * nx) / (nx + 1.0);                                             \
    for (ptrdiff_t q0 = p0; q0 < p1; q0 += KMIX_HC_CHUNK) {                                \
        const ptrdiff_t m = (p1 - q0 < KMIX_HC_CHUNK) ? p1 - q0 : KMIX_HC_CHUNK;           \
        const int has_skip = skip >= q0 && skip < q0 + m;                                  \
        const double lim = (bestv / w1) * (1.0 + KMIX_HC_MARGIN);                          \
        for (int j = 0; j < KMIX_HC_TILE; ++j) thr[j] = lim;                               \
        for (ptrdiff_t j = 0; j < m; j += KMIX_HC_TILE)                                    \
            TILE(V + (q0 + j) * d, d, x, 0, thr, acc + j);                                 \
        if (has_skip) acc[skip - q0] = INFINITY;                                           \
        if (!(MIN(acc, m) <= lim)) continue;                                               \
        const double *restrict sq = s + q0;                                                \
        for (ptrdiff_t j = 0; j < m; ++j)                                                  \
            acc[j] = (2.0 * ((nx * sq[j]) / (nx + sq[j]))) * acc[j];                       \
        kmix_hc_argmin(acc, MIN(acc, m), q0, &bestv, &besti);                              \
    }                                                                                      \
    *best = bestv;                                                                         \
    return besti;

/* Prim (single linkage) scan of positions [p0, p1): for each live position p,
 * v = dist(x, x_p) (euclidean: the square root of the sum of squared differences;
 * manhattan: the sum of absolute differences), cd[p] = min(cd[p], v); returns the first
 * position of the minimum of cd, the minimum in *best (dead positions hold NaN in cd).
 * Tiles are pruned when no position can lower its cd. */
#define KMIX_PRIM_SCAN_BODY(TILE, MIN)                                                        \
    ptrdiff_t besti = -1;                                                                  \
    double bestv = INFINITY;                                                               \
    double acc[KMIX_HC_CHUNK], thr[KMIX_HC_CHUNK];                                         \
    for (ptrdiff_t q0 = p0; q0 < p1; q0 += KMIX_HC_CHUNK) {                                \
        const ptrdiff_t m = (p1 - q0 < KMIX_HC_CHUNK) ? p1 - q0 : KMIX_HC_CHUNK;           \
        double *restrict c = cd + q0;                                                      \
        if (manhattan)                                                                     \
            for (ptrdiff_t j = 0; j < m; ++j) thr[j] = c[j] * (1.0 + KMIX_HC_MARGIN);      \
        else                                                                               \
            for (ptrdiff_t j = 0; j < m; ++j)                                              \
                thr[j] = (c[j] * c[j]) * (1.0 + KMIX_HC_MARGIN);                           \
        for (ptrdiff_t j = 0; j < m; j += KMIX_HC_TILE)                                    \
            TILE(V + (q0 + j) * d, d, x, manhattan, thr + j, acc + j);                     \
        if (!manhattan)                                                                    \
            for (ptrdiff_t j = 0; j < m; ++j) acc[j] = sqrt(acc[j]);                       \
        for (ptrdiff_t j = 0; j < m; ++j) c[j] = (acc[j] < c[j]) ? acc[j] : c[j];          \
        kmix_hc_argmin(c, MIN(c, m), q0, &bestv, &besti);                                  \
    }                                                                                      \
    *best = bestv;                                                                         \
    return besti;

#if KMIX_HC_DISPATCH
__attribute__((target("avx2")))
static ptrdiff_t kmix_ward_scan_avx2(const double *V, ptrdiff_t d, const double *x,
                                     const double *s, double nx, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t skip, double bound, double *best)
{ KMIX_WARD_SCAN_BODY(kmix_hc_tile_avx2, kmix_hc_min_avx2) }

__attribute__((target("avx2")))
static ptrdiff_t kmix_prim_scan_avx2(const double *V, ptrdiff_t d, const double *x,
                                     double *cd, ptrdiff_t p0, ptrdiff_t p1, int manhattan,
                                     double *best)
{ KMIX_PRIM_SCAN_BODY(kmix_hc_tile_avx2, kmix_hc_min_avx2) }
#endif

static ptrdiff_t kmix_ward_scan_base(const double *V, ptrdiff_t d, const double *x,
                                     const double *s, double nx, ptrdiff_t p0, ptrdiff_t p1,
                                     ptrdiff_t skip, double bound, double *best)
{ KMIX_WARD_SCAN_BODY(kmix_hc_tile_base, kmix_hc_min) }

static ptrdiff_t kmix_prim_scan_base(const double *V, ptrdiff_t d, const double *x,
                                     double *cd, ptrdiff_t p0, ptrdiff_t p1, int manhattan,
                                     double *best)
{ KMIX_PRIM_SCAN_BODY(kmix_hc_tile_base, kmix_hc_min) }

/* row[j] = max((-2 g[j] + xi) + yy[j], 0): scikit-learn's squared euclidean distances from
 * dot products, in its order of operations (it then takes the square root). */
#define KMIX_CLOSEST_ROW_BODY                                                              \
    for (ptrdiff_t j = 0; j < p; ++j) {                                                    \
        const double v = (-2.0 * g[j] + xi) + yy[j];                                       \
        row[j] = v > 0.0 ? v : 0.0;                                                        \
    }

#if KMIX_HC_DISPATCH
__attribute__((target("avx2")))
static void kmix_closest_row_avx2(const double *g, double xi, const double *yy, ptrdiff_t p,
                                  double *row)
{ KMIX_CLOSEST_ROW_BODY }
#endif

static void kmix_closest_row_base(const double *g, double xi, const double *yy, ptrdiff_t p,
                                  double *row)
{ KMIX_CLOSEST_ROW_BODY }

static int kmix_hc_has_avx2(void)
{
#if KMIX_HC_DISPATCH
    /* KMIX_DISABLE_SIMD (any value) forces the baseline kernels, e.g. to test them. */
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = getenv("KMIX_DISABLE_SIMD") == NULL && __builtin_cpu_supports("avx2");
    }
    return cached;
#else
    return 0;
#endif
}

static inline ptrdiff_t kmix_ward_scan(const double *V, ptrdiff_t d, const double *x,
                                       const double *s, double nx, ptrdiff_t p0, ptrdiff_t p1,
                                       ptrdiff_t skip, double bound, double *best)
{
#if KMIX_HC_DISPATCH
    if (kmix_hc_has_avx2()) return kmix_ward_scan_avx2(V, d, x, s, nx, p0, p1, skip, bound, best);
#endif
    return kmix_ward_scan_base(V, d, x, s, nx, p0, p1, skip, bound, best);
}

static inline ptrdiff_t kmix_prim_scan(const double *V, ptrdiff_t d, const double *x,
                                       double *cd, ptrdiff_t p0, ptrdiff_t p1, int manhattan,
                                       double *best)
{
#if KMIX_HC_DISPATCH
    if (kmix_hc_has_avx2()) return kmix_prim_scan_avx2(V, d, x, cd, p0, p1, manhattan, best);
#endif
    return kmix_prim_scan_base(V, d, x, cd, p0, p1, manhattan, best);
}

/* The first j whose distance sqrt(row[j]) is the smallest of the row, and that distance
 * (square roots only for the row's minimum and the values that may share its root). */
static inline ptrdiff_t kmix_closest_row(const double *g, double xi, const double *yy,
                                         ptrdiff_t p, double *row, double *dist)
{
    double m0;
#if KMIX_HC_DISPATCH
    if (kmix_hc_has_avx2()) {
        kmix_closest_row_avx2(g, xi, yy, p, row);
        m0 = kmix_hc_min_avx2(row, p);
    } else
#endif
    {
        kmix_closest_row_base(g, xi, yy, p, row);
        m0 = kmix_hc_min(row, p);
    }
    const double v = sqrt(m0);
    /* values whose root can round to v lie within a few ulps of m0 */
    const double hi = m0 * (1.0 + 1e-15) + 1e-300;
    ptrdiff_t j = 0;
    while (!(row[j] <= hi && sqrt(row[j]) == v)) ++j;
    *dist = v;
    return j;
}

#endif
