/* fma_peak.c - the FMA peak of one core (and of N threads), AVX2+FMA (default) or AVX-512F.
 *
 * Each thread runs CHAINS independent chains of vfmadd231ps on registers (no memory traffic), long
 * enough to hide the FMA latency (4-5 cycles x 2 ports needs >= 8-10 chains), and reports
 * GFLOP/s = 2 * lanes * FMAs / second.  The best of REPEATS trials is printed, so a trial a
 * neighbour's job interrupted does not count.  Used by docs/performance.md; the benchmark
 * harness may reuse it (its output's last line is machine-readable).
 *
 *   gcc -O2 -mavx2 -mfma -fopenmp bench/fma_peak.c -o /tmp/fma_peak && /tmp/fma_peak [threads] [chains]
 *   gcc -O2 -mavx512f -fopenmp -DFMA_PEAK_AVX512 bench/fma_peak.c -o /tmp/fma_peak512
 */
#include <immintrin.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#ifdef _OPENMP
#include <omp.h>
#endif

#ifdef FMA_PEAK_AVX512
typedef __m512 vec;
#define LANES 16
#define SET1 _mm512_set1_ps
#define FMA _mm512_fmadd_ps
#define ADD _mm512_add_ps
#define REDUCE(v) _mm512_reduce_add_ps(v)
#define ISA "avx512"
#else
typedef __m256 vec;
#define LANES 8
#define SET1 _mm256_set1_ps
#define FMA _mm256_fmadd_ps
#define ADD _mm256_add_ps
static float REDUCE(__m256 v) { float t[8]; _mm256_storeu_ps(t, v); return t[0] + t[1] + t[2] + t[3] + t[4] + t[5] + t[6] + t[7]; }
#define ISA "avx2"
#endif

#define MAXCH 12
/* With one thread, the thread's CPU time (CLOCK_THREAD_CPUTIME_ID): a time slice lost to a neighbour's job on a
 * shared machine does not count.  With more, wall time. */
static int use_cputime = 0;
static double now(void) {
    struct timespec t;
    clock_gettime(use_cputime ? CLOCK_THREAD_CPUTIME_ID : CLOCK_MONOTONIC, &t);
    return t.tv_sec + 1e-9 * t.tv_nsec;
}

/* 'iters' iterations of 'chains' independent FMAs (chains is a template-like constant via switch). */
#define BODY(NC)                                                                                  \
    {                                                                                             \
        vec c[NC];                                                                                \
        for (int i = 0; i < NC; ++i) c[i] = SET1(seed + (float)i);                                \
        for (long it = 0; it < iters; ++it) {                                                     \
            _Pragma("GCC unroll 12") for (int i = 0; i < NC; ++i) c[i] = FMA(c[i], a, b);         \
                                                                                                  \
        }                                                                                         \
        vec s = c[0];                                                                             \
        for (int i = 1; i < NC; ++i) s = ADD(s, c[i]);                                            \
        return REDUCE(s);                                                                         \
    }

static float kernel(int chains, long iters, float seed) {
    const vec a = SET1(0.999999f), b = SET1(1e-7f);
    switch (chains) {
    case 4: BODY(4)
    case 6: BODY(6)
    case 8: BODY(8)
    case 10: BODY(10)
    default: BODY(12)
    }
}

int main(int argc, char **argv) {
    int threads = argc > 1 ? atoi(argv[1]) : 1, chains = argc > 2 ? atoi(argv[2]) : 10;
    const long iters = argc > 3 ? atol(argv[3]) : 10000000L;
    const int repeats = argc > 4 ? atoi(argv[4]) : 30;
    double best = 1e30;
    float sink = 0;
    use_cputime = threads == 1;
    if (chains != 4 && chains != 6 && chains != 8 && chains != 10) chains = 12;
    for (int r = 0; r < repeats; ++r) {
        double t0 = now();
#ifdef _OPENMP
#pragma omp parallel num_threads(threads) reduction(+ : sink)
#endif
        sink += kernel(chains, iters, (float)r);
        double t = now() - t0;
        if (t < best) best = t;
    }
    double flop = 2.0 * LANES * chains * (double)iters * threads;
    double gf = flop / best / 1e9;
    printf("%s FMA peak: %d thread(s), %d chains: %.1f GFLOP/s (%.1f per thread; best of %d, %.3f s %s) [%g]\n", ISA,
           threads, chains, gf, gf / threads, repeats, best, use_cputime ? "thread CPU time" : "wall", (double)sink);
    printf("fma_peak isa=%s threads=%d chains=%d gflops=%.2f per_thread=%.2f\n", ISA, threads, chains, gf,
           gf / threads);
    return 0;
}
