// The machine's own limits, measured in the same run as a benchmark so that its results can be
// reported as fractions of them (docs/PERF.md: the limits drift ~20% between runs):
//   - fp32 FMA peak: independent FMA chains held in registers, no memory traffic, as wide as the
//     target's vectors (AVX-512 where the compiler targets it, as the engine's kernels then are);
//   - memory read bandwidth: AVX2 sums over an array far larger than the caches, on transparent
//     huge pages as the engine's weights are (runtime/native/host_memory.h): on this project's
//     2-core machines a 2 GB read ran at 27-29 GB/s over 4 KiB pages and 34-35 GB/s over huge
//     pages. Both the best repetition and the rate over all of them together (sustained).
// Each is measured with 1 and 2 threads over several repetitions (the FMA peak: the best of them).
// Prints one JSON object.
//
// Build: gcc -O3 -march=native -fopenmp roofline.c -o roofline
// Usage: roofline [array MiB (default 512)] [repetitions (default 5)] [read]
//   With "read", only the read bandwidth is measured (a quick probe to bracket a benchmark's run
//   with, since the bandwidth drifts within minutes) and the FMA peak is printed as 0.

#include <immintrin.h>
#include <omp.h>
#include <sys/mman.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

// Zen3 and recent Intel cores retire two FMAs per cycle with a latency of 4-5 cycles, so at least
// 10 independent chains are needed to keep both pipes busy; 12 accumulators plus the two operands
// fit in the 16 ymm registers without spilling (and in the 32 zmm registers with room to spare).
// A Zen 5 core ran 8-lane chains at 97 GFLOP/s and 16-lane ones at 229.
#define FMA_CHAINS 12
#define FMA_ITERATIONS 20000000L
#ifdef __AVX512F__
#define FMA_LANES 16
typedef __m512 fma_vector;
#define fma_set1 _mm512_set1_ps
#define fma_madd _mm512_fmadd_ps
#define fma_add _mm512_add_ps
#define fma_store _mm512_storeu_ps
#else
#define FMA_LANES 8
typedef __m256 fma_vector;
#define fma_set1 _mm256_set1_ps
#define fma_madd _mm256_fmadd_ps
#define fma_add _mm256_add_ps
#define fma_store _mm256_storeu_ps
#endif

static double fma_gflops(int threads, int repetitions) {
    double best = 0;
    for (int rep = 0; rep < repetitions; rep++) {
        float sink = 0;
        double start = omp_get_wtime();
        #pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            // acc = acc * m + c converges to c / (1 - m): no overflow and no denormals.
            const fma_vector m = fma_set1(0.999f);
            const fma_vector c = fma_set1(0.001f);
            fma_vector acc[FMA_CHAINS];
            for (int k = 0; k < FMA_CHAINS; k++) acc[k] = fma_set1((float)(k + omp_get_thread_num()));
            for (long i = 0; i < FMA_ITERATIONS; i++) {
                for (int k = 0; k < FMA_CHAINS; k++) acc[k] = fma_madd(acc[k], m, c);
            }
            fma_vector total = acc[0];
            for (int k = 1; k < FMA_CHAINS; k++) total = fma_add(total, acc[k]);
            float lanes[FMA_LANES];
            fma_store(lanes, total);
            for (int k = 0; k < FMA_LANES; k++) sink += lanes[k];
        }
        double seconds = omp_get_wtime() - start;
        // The sum is used so the compiler cannot drop the chains.
        if (sink == 12345.0f) fprintf(stderr, "unlikely sum\n");
        double flops = 2.0 * FMA_LANES * FMA_CHAINS * FMA_ITERATIONS * threads;
        if (flops / seconds / 1e9 > best) best = flops / seconds / 1e9;
    }
    return best;
}

// The best repetition's rate, and into *sustained the rate over all of them together (total bytes
// over total time): the rate a workload that streams this much again and again, as decode streams
// its weights every step, can expect, where the best repetition catches a lull in the neighbours'
// traffic (2 GB reads back to back on this project's VM: 54-66 GB/s each, 59.5 together).
static double read_gbs(const float *data, size_t count, int threads, int repetitions, double *sustained) {
    double best = 0, totalSeconds = 0;
    for (int rep = 0; rep < repetitions; rep++) {
        float sink = 0;
        double start = omp_get_wtime();
        #pragma omp parallel num_threads(threads) reduction(+ : sink)
        {
            // Each thread sums one contiguous slice; 4 accumulators hide the add latency, so the
            // loop is bound by the loads alone.
            size_t slice = count / threads / 32 * 32;
            const float *begin = data + slice * omp_get_thread_num();
            __m256 acc0 = _mm256_setzero_ps(), acc1 = _mm256_setzero_ps();
            __m256 acc2 = _mm256_setzero_ps(), acc3 = _mm256_setzero_ps();
            for (size_t i = 0; i < slice; i += 32) {
                acc0 = _mm256_add_ps(acc0, _mm256_load_ps(begin + i));
                acc1 = _mm256_add_ps(acc1, _mm256_load_ps(begin + i + 8));
                acc2 = _mm256_add_ps(acc2, _mm256_load_ps(begin + i + 16));
                acc3 = _mm256_add_ps(acc3, _mm256_load_ps(begin + i + 24));
            }
            __m256 total = _mm256_add_ps(_mm256_add_ps(acc0, acc1), _mm256_add_ps(acc2, acc3));
            float lanes[8];
            _mm256_storeu_ps(lanes, total);
            for (int k = 0; k < 8; k++) sink += lanes[k];
        }
        double seconds = omp_get_wtime() - start;
        if (sink == 12345.0f) fprintf(stderr, "unlikely sum\n");
        double bytes = (double)(count / threads / 32 * 32) * threads * sizeof(float);
        if (bytes / seconds / 1e9 > best) best = bytes / seconds / 1e9;
        totalSeconds += seconds;
    }
    *sustained = (double)(count / threads / 32 * 32) * threads * sizeof(float) * repetitions / totalSeconds / 1e9;
    return best;
}

int main(int argc, char **argv) {
    size_t mib = argc > 1 ? strtoul(argv[1], NULL, 10) : 512;
    int repetitions = argc > 2 ? atoi(argv[2]) : 5;
    size_t count = mib * 1024 * 1024 / sizeof(float);
    const size_t hugePage = (size_t)2 << 20;
    const size_t bytes = (count * sizeof(float) + hugePage - 1) / hugePage * hugePage;
    float *data = aligned_alloc(hugePage, bytes);
    if (data == NULL) {
        fprintf(stderr, "cannot allocate %zu MiB\n", mib);
        return 1;
    }
    madvise(data, bytes, MADV_HUGEPAGE);
    // Touch every page first (with both threads, as the reads will), so page faults are not timed.
    #pragma omp parallel for num_threads(2)
    for (size_t i = 0; i < count; i++) data[i] = (float)(i & 1023) * 1e-3f;

    int readOnly = argc > 3 && strcmp(argv[3], "read") == 0;
    double fma1 = readOnly ? 0 : fma_gflops(1, repetitions), fma2 = readOnly ? 0 : fma_gflops(2, repetitions);
    double sustained1, sustained2;
    double read1 = read_gbs(data, count, 1, repetitions, &sustained1), read2 = read_gbs(data, count, 2, repetitions, &sustained2);
    printf("{\"fmaPeakGflops\":{\"t1\":%.1f,\"t2\":%.1f},\"readBandwidthGBs\":{\"t1\":%.2f,\"t2\":%.2f},\"sustainedReadGBs\":{\"t1\":%.2f,\"t2\":%.2f}}\n",
           fma1, fma2, read1, read2, sustained1, sustained2);
    free(data);
    return 0;
}
