// parallel_check.cc - exercises runtime/include/lpfc_parallel.hpp (built by test_parallel.py, also
// with -fsanitize=thread and for arm64 under qemu). Prints "ok <jobs>" or the first failure; exit 0 = ok.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <thread>
#include <vector>

#include "lpfc_parallel.hpp"

static int failures = 0;

static void fail(const char *what, long a, long b) {
    if (failures++ < 10) std::printf("FAIL %s (%ld, %ld)\n", what, a, b);
}

// Every index exactly once; every worker number below `threads`; no two threads with one number at once.
static void one_job(int threads, long n, long chunk) {
    std::vector<std::atomic<int>> hits(n > 0 ? (size_t)n : 1);
    for (auto &h : hits) h.store(0);
    std::vector<std::atomic<int>> inside((size_t)threads + 1);
    for (auto &x : inside) x.store(0);
    lpfc_parallel::parallel_for(threads, n, chunk, [&](long i, int worker) {
        if (worker < 0 || worker >= threads) {
            fail("worker out of range", worker, threads);
            return;
        }
        if (inside[(size_t)worker].fetch_add(1) != 0) fail("worker number used twice at once", worker, i);
        hits[(size_t)i].fetch_add(1);
        inside[(size_t)worker].fetch_sub(1);
    });
    for (long i = 0; i < n; ++i)
        if (hits[(size_t)i].load() != 1) fail("index not run exactly once", i, hits[(size_t)i].load());
}

int main(int argc, char **argv) {
    const int rounds = argc > 1 ? std::atoi(argv[1]) : 2000;
    long jobs = 0;
    // Many small jobs back to back with changing thread counts (workers joining and left out),
    // chunk sizes and lengths (0, 1, fewer than the threads, more chunks than 16 bits hold).
    const int thread_counts[] = {1, 2, 3, 4, 2, 8, 1, 3};
    const long lengths[] = {0, 1, 2, 3, 7, 64, 1000};
    for (int r = 0; r < rounds; ++r) {
        const int t = thread_counts[r % 8];
        one_job(t, lengths[r % 7], 1 + r % 3);
        ++jobs;
    }
    one_job(4, 200000, 1);   // 200000 chunks asked for: the pool widens them to fit its claim word
    ++jobs;
    // Two threads submitting at once (two sessions): one gets the pool, the other runs on its own.
    std::thread other([&] {
        for (int r = 0; r < rounds / 4; ++r) one_job(3, 97, 2);
    });
    for (int r = 0; r < rounds / 4; ++r) one_job(2, 131, 1);
    other.join();
    jobs += 2 * (rounds / 4);
    // A job started from inside a job runs on the calling thread (the pool is busy).
    std::atomic<long> nested{0};
    lpfc_parallel::parallel_for(2, 8, 1, [&](long, int) {
        lpfc_parallel::parallel_for(2, 5, 1, [&](long, int) { nested.fetch_add(1); });
    });
    if (nested.load() != 40) fail("nested jobs", nested.load(), 40);
    ++jobs;
    // After an idle pause the workers sleep; the next job must still wake them and finish.
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
    one_job(4, 1000, 10);
    ++jobs;
    if (failures) return 1;
    std::printf("ok %ld\n", jobs);
    return 0;
}
