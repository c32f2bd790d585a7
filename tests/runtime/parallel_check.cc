// parallel_check.cc - exercises runtime/include/lpfc_parallel.hpp (built by test_parallel.py, also
// with -fsanitize=thread and for arm64 under qemu). Prints "ok <jobs>" or the first failure; exit 0 = ok.
#include <atomic>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <ctime>

#include <sched.h>
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

static double thread_cpu_ms() {
    timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static double wall_ms() {
    timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

// A worker stalls inside a unit (as if the OS had descheduled it): every index still runs exactly
// once, the caller runs every unit no worker claimed, and the job ends when the stalled unit does.
// Returns the caller's thread CPU time (ms) spent in the job; *held is how long the unit stalled.
static double stalled_worker_job(int threads, long n, int stall_ms, double *held) {
    for (int attempt = 0; attempt < 200; ++attempt) {
        std::vector<std::atomic<int>> hits((size_t)n);
        for (auto &h : hits) h.store(0);
        std::atomic<int> stalled{0}, stalled_worker{-1};
        std::vector<std::atomic<long>> by_worker((size_t)threads);
        for (auto &c : by_worker) c.store(0);
        const double c0 = thread_cpu_ms(), w0 = wall_ms();
        lpfc_parallel::parallel_for(threads, n, 1, [&](long i, int worker) {
            hits[(size_t)i].fetch_add(1);
            by_worker[(size_t)worker].fetch_add(1);
            if (worker != 0 && stalled.exchange(1) == 0) {
                stalled_worker.store(worker);
                std::this_thread::sleep_for(std::chrono::milliseconds(stall_ms));
            } else if (!stalled.load()) {
                // Until a worker has its unit, units take a while (asleep: no CPU time), so that a
                // worker gets in even on a busy machine where it wakes late.
                std::this_thread::sleep_for(std::chrono::microseconds(100));
            }
        });
        const double cpu = thread_cpu_ms() - c0, wall = wall_ms() - w0;
        for (long i = 0; i < n; ++i)
            if (hits[(size_t)i].load() != 1) fail("stalled job: index not run exactly once", i, hits[(size_t)i].load());
        if (!stalled.load()) continue;   // the caller took every unit before a worker woke: again
        if (wall < stall_ms) fail("job ended before its stalled unit", (long)wall, stall_ms);
        // The others ran every unit but the stalled one: nobody waited for the stalled worker to come back.
        const long by_stalled = by_worker[(size_t)stalled_worker.load()].load();
        if (by_stalled != 1) fail("units were left to a stalled worker", by_stalled, n);
        *held = wall;
        return cpu;
    }
    fail("no worker ever claimed a unit", 200, 0);
    return 0.0;
}

static double process_cpu_ms() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec * 1e3 + (double)ts.tv_nsec / 1e6;
}

static void busy_cpu_ms(double ms) {   // work for `ms` of this thread's CPU time
    const double until = thread_cpu_ms() + ms;
    while (thread_cpu_ms() < until) {
    }
}

// The whole process on one CPU: jobs of two 50-us units on 2 threads, each followed by 1 ms of work on the
// caller alone (a single-threaded kernel, or another runtime's thread). The worker waits between jobs on the
// same CPU as the thread that has work; it must hand that CPU over (yield or sleep), not spin its time slices
// away. Prints "share <ms of CPU the workers used outside units> <ms of the caller's work between jobs>".
static int shared_cpu(int rounds) {
    cpu_set_t set;
    CPU_ZERO(&set);
    CPU_SET(sched_getcpu(), &set);
    if (sched_setaffinity(0, sizeof set, &set) != 0) {   // before the pool's threads exist: they inherit it
        std::printf("skip sched_setaffinity failed\n");
        return 0;
    }
    std::atomic<long> unit_us{0};   // CPU time workers spent inside units
    const double p0 = process_cpu_ms(), c0 = thread_cpu_ms();
    for (int r = 0; r < rounds; ++r) {
        lpfc_parallel::parallel_for(2, 2, 1, [&](long, int worker) {
            const double t0 = thread_cpu_ms();
            busy_cpu_ms(0.05);
            if (worker != 0) unit_us.fetch_add((long)((thread_cpu_ms() - t0) * 1e3));
        });
        busy_cpu_ms(1.0);
    }
    const double workers = process_cpu_ms() - p0 - (thread_cpu_ms() - c0);
    std::printf("share %.3f %.3f\n", workers - (double)unit_us.load() / 1e3, rounds * 1.0);
    return failures ? 1 : 0;
}

int main(int argc, char **argv) {
    if (argc > 1 && std::strcmp(argv[1], "shared-cpu") == 0) return shared_cpu(argc > 2 ? std::atoi(argv[2]) : 300);
    if (argc > 1 && std::strcmp(argv[1], "idle-wait") == 0) {
        // How much CPU the caller burns while waiting on a stalled worker: prints "wait <cpu ms> <wall ms>".
        double held = 0.0;
        const double cpu = stalled_worker_job(2, 64, 300, &held);
        if (failures) return 1;
        std::printf("wait %.3f %.3f\n", cpu, held);
        return 0;
    }
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
    // Many tiny jobs back to back (the caller often runs all of one before a worker wakes): no job
    // may lose an index or hang, whichever thread ends up running what.
    std::atomic<long> sum{0};
    long expect = 0;
    for (int r = 0; r < rounds * 10; ++r) {
        const long n = 2 + r % 5;
        lpfc_parallel::parallel_for(2 + r % 3, n, 1, [&](long i, int) { sum.fetch_add(i + 1); });
        expect += n * (n + 1) / 2;
    }
    if (sum.load() != expect) fail("tiny jobs lost work", sum.load(), expect);
    ++jobs;
    // A worker that stalls inside a unit (descheduled) while the caller finishes the rest.
    double held = 0.0;
    stalled_worker_job(3, 48, 5, &held);
    ++jobs;
    if (failures) return 1;
    std::printf("ok %ld\n", jobs);
    return 0;
}
