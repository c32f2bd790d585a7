/* lpfc_parallel.hpp - the thread pool of the generated kernels: parallel_for over a kernel's units.
 *
 * Why not OpenMP: an OpenMP parallel region ends in a barrier that waits until every thread of
 * the team has *arrived*, even when the caller already ran every unit. On a busy phone (or a
 * busy CI machine) a worker that has not been scheduled yet then costs a whole scheduler time
 * slice per kernel: MiniLM at 2 threads took 983 ms instead of 372 ms at load 15. Here the
 * caller claims units like any worker and waits only for units a worker has actually claimed;
 * a worker that wakes late finds nothing left and goes back to sleep. It also leaves the
 * library with no libgomp / libomp to ship (Android: no -static-openmp).
 *
 * Never waiting on a descheduled worker (issue #18 item 6: another runtime's spinning threads in
 * the same process, or any busy neighbour):
 *  - units are claimed one chunk at a time from a shared counter (dynamic scheduling), so a worker
 *    the OS does not run claims nothing, and one that runs slowly claims less;
 *  - the caller, once nothing is left to claim, spins only briefly (about two of its own chunks'
 *    time, 50 us to 1 ms) for the chunks still running on workers, then *sleeps* until the last
 *    of them is done (the worker that finishes it wakes it). Spinning or sched_yield()ing there kept the caller's core busy, so a
 *    worker preempted on the other core waited for its time slice; with the caller asleep its core
 *    is idle and the scheduler moves the preempted worker there;
 *  - workers spin between kernels only while there are no more threads than processors; when
 *    oversubscribed (more threads asked for than CPUs online) they sleep at once, so spinning
 *    workers never take the CPU from the thread that has the work.
 *
 * One pool per library (an inline function's static: one copy per .so, built with hidden
 * visibility), created on first use with as many workers as the largest num_threads asked for
 * minus one, joined when the library is unloaded. Workers spin briefly between kernels (the
 * next kernel usually comes within microseconds), then sleep on a condition variable.
 * Concurrent calls from two threads (two sessions run at once) are correct: the second finds
 * the pool busy and runs its units on its own thread.
 *
 * Header-only C++17 so that kernel sources compiled on their own (tests, the tuner, bench/)
 * need nothing but this include path.
 */
#ifndef LPFC_PARALLEL_HPP
#define LPFC_PARALLEL_HPP

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

#include <sched.h>
#include <unistd.h>

namespace lpfc_parallel {

inline void cpu_relax() {
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#elif defined(__aarch64__) || defined(__arm__)
    __asm__ __volatile__("yield");
#endif
}

/* One step of a wait loop (spins = how many came before): a pause, and from the 64th on a sched_yield() every
   8th. Alone on its CPU a yield returns at once (a syscall, ~1 us), so the waiter still sees its event within
   microseconds; with another thread queued on that CPU (another runtime's spinning worker, or our own worker
   preempted there) the yield hands the CPU over instead of burning the waiter's time slice on nothing. */
inline void wait_step(unsigned spins) {
    cpu_relax();
    if (spins >= 64 && (spins & 7) == 0) sched_yield();
}

class Pool {
public:
    using Fn = void (*)(const void *ctx, long index, int worker);

    Pool() = default;
    Pool(const Pool &) = delete;
    Pool &operator=(const Pool &) = delete;

    ~Pool() {
        if (!workers_.empty() && owner_ != getpid()) {
            // A fork()ed child exiting: its copies of the workers were never threads here, and
            // neither joining nor destroying them is possible. Leave them (and end).
            new std::vector<std::thread>(std::move(workers_));
            return;
        }
        {
            std::lock_guard<std::mutex> lock(mutex_);
            stop_.store(true);
        }
        wake_.notify_all();
        for (std::thread &t : workers_) t.join();
    }

    /* fn(ctx, i, w) for every i in [0, n), handed out in chunks of `chunk` indices, on up to
       `threads` threads; w (0 = the caller) is below `threads` and unique among the threads
       running at the same time, so it can index per-thread scratch. Returns when all have run. */
    void run(int threads, long n, long chunk, Fn fn, const void *ctx) {
        if (chunk < 1) chunk = 1;
        if (n <= 0) return;
        long chunks = (n + chunk - 1) / chunk;
        if (chunks > kMaxChunks) {   // the chunk count has 16 bits in the claim word
            chunk = (n + kMaxChunks - 1) / kMaxChunks;
            chunks = (n + chunk - 1) / chunk;
        }
        if (threads < 2 || chunks < 2 || busy_.exchange(true, std::memory_order_acquire)) {   // busy: another thread's job
            run_inline(n, fn, ctx);
            return;
        }
        const int helpers = spawn(threads - 1);
        if (helpers == 0) {   // no threads could be made, or this is a fork()ed child: they are not here
            busy_.store(false, std::memory_order_release);
            run_inline(n, fn, ctx);
            return;
        }
        fn_ = fn;
        ctx_ = ctx;
        n_ = n;
        chunk_ = chunk;
        // Workers spin between jobs only when every thread can have a core of its own.
        spin_ = threads <= online_cpus();
        done_.store(0, std::memory_order_relaxed);
        limit_.store(helpers, std::memory_order_relaxed);
        gen_ += 1;
        // Publishing the job (seq_cst, as is the load of sleepers_ below: with the workers'
        // increment-then-check that is Dekker's handshake, so no worker sleeps through it).
        claim_.store(pack(gen_, 0, (uint32_t)chunks), std::memory_order_seq_cst);
        if (sleepers_.load(std::memory_order_seq_cst) > 0) {
            std::lock_guard<std::mutex> lock(mutex_);
            wake_.notify_all();
        }
        const auto started = std::chrono::steady_clock::now();
        const long mine = work(gen_, 0);
        wait_done(chunks, mine, started);
        busy_.store(false, std::memory_order_release);
    }

private:
    static constexpr long kMaxChunks = 0xFFFF;
    static constexpr int kMaxWorkers = 255;
    static constexpr auto kSpin = std::chrono::microseconds(300);
    // How long the caller spins for chunks still running on workers before it sleeps: about two of
    // its own chunks' time (a worker that runs finishes its last chunk within one, and a wake-up
    // would cost more than the spin, above all on a busy machine), within these bounds: short
    // against a scheduler time slice, what a preempted worker would cost a spinning caller.
    static constexpr auto kCallerSpinMin = std::chrono::microseconds(50);
    static constexpr auto kCallerSpinMax = std::chrono::microseconds(1000);

    static int online_cpus() {
        static const int n = [] {
            const long c = sysconf(_SC_NPROCESSORS_ONLN);
            return c > 0 ? (int)c : 1;
        }();
        return n;
    }

    /* The caller, after it found nothing left to claim: waits for the chunks workers still run. */
    void wait_done(long chunks, long mine, std::chrono::steady_clock::time_point started) {
        if (done_.load(std::memory_order_acquire) >= chunks) return;
        const auto now = std::chrono::steady_clock::now();
        auto spin = mine > 0 ? 2 * (now - started) / mine : std::chrono::steady_clock::duration(kCallerSpinMin);
        if (spin < kCallerSpinMin) spin = kCallerSpinMin;
        if (spin > kCallerSpinMax) spin = kCallerSpinMax;
        const auto until = now + spin;
        for (unsigned spins = 1;; ++spins) {
            if (done_.load(std::memory_order_acquire) >= chunks) return;
            wait_step(spins);
            if ((spins & 63) == 0 && std::chrono::steady_clock::now() > until) break;
        }
        // Sleep (Dekker's handshake with finish_chunk(): caller_waiting_ then done_ here, done_
        // then caller_waiting_ there, all seq_cst, so one of the two sees the other).
        std::unique_lock<std::mutex> lock(mutex_);
        caller_waiting_.store(true, std::memory_order_seq_cst);
        while (done_.load(std::memory_order_seq_cst) < chunks) done_wake_.wait(lock);
        caller_waiting_.store(false, std::memory_order_relaxed);
    }

    /* A worker finished a chunk; the last one of the job wakes a sleeping caller. */
    void finish_chunk(long chunks) {
        if (done_.fetch_add(1, std::memory_order_seq_cst) + 1 == chunks &&
            caller_waiting_.load(std::memory_order_seq_cst)) {
            std::lock_guard<std::mutex> lock(mutex_);
            done_wake_.notify_one();
        }
    }

    // claim_: generation (32 bits) | next chunk (16) | chunk count (16); a chunk is claimed by a
    // compare-exchange that also checks the generation, so a worker that slept through a job
    // can never take a chunk of the next one.
    static uint64_t pack(uint32_t gen, uint32_t next, uint32_t chunks) {
        return (uint64_t)gen << 32 | (uint64_t)next << 16 | chunks;
    }
    static uint32_t gen_of(uint64_t v) { return (uint32_t)(v >> 32); }

    static void run_inline(long n, Fn fn, const void *ctx) {
        for (long i = 0; i < n; ++i) fn(ctx, i, 0);
    }

    /* Grows the pool to `want` workers (at most kMaxWorkers); returns how many there are. */
    int spawn(int want) {
        if (want > kMaxWorkers) want = kMaxWorkers;
        if (workers_.empty()) owner_ = getpid();
        else if (owner_ != getpid()) return 0;
        while ((int)workers_.size() < want && !spawn_failed_) {
            const int id = (int)workers_.size() + 1;
            try {
                workers_.emplace_back([this, id] { loop(id); });
            } catch (const std::system_error &) {   // no more threads: run with the ones there are
                spawn_failed_ = true;
            }
        }
        return (int)workers_.size() < want ? (int)workers_.size() : want;
    }

    /* Claims and runs chunks of generation `gen` until none is left; returns how many it ran. */
    long work(uint32_t gen, int worker) {
        long ran = 0;
        uint64_t v = claim_.load(std::memory_order_acquire);
        for (;;) {
            if (gen_of(v) != gen) return ran;
            const uint32_t next = (uint32_t)(v >> 16) & 0xFFFF, chunks = (uint32_t)v & 0xFFFF;
            if (next >= chunks) return ran;
            if (!claim_.compare_exchange_weak(v, v + (1u << 16), std::memory_order_acq_rel,
                                              std::memory_order_acquire))
                continue;
            // Claimed: the job cannot end before this chunk is done, so its fields stay put.
            const long lo = (long)next * chunk_, hi = lo + chunk_ < n_ ? lo + chunk_ : n_;
            for (long i = lo; i < hi; ++i) fn_(ctx_, i, worker);
            if (worker == 0)
                done_.fetch_add(1, std::memory_order_release);   // the caller: it does not wait on itself
            else
                finish_chunk((long)chunks);
            ++ran;
            v = claim_.load(std::memory_order_acquire);
        }
    }

    void loop(int id) {
        uint32_t seen = gen_of(claim_.load(std::memory_order_acquire));
        for (;;) {
            uint64_t v = claim_.load(std::memory_order_acquire);
            const auto until = std::chrono::steady_clock::now() + kSpin;
            const bool spin = spin_.load(std::memory_order_relaxed);
            for (unsigned spins = 0; gen_of(v) == seen && !stop_.load(std::memory_order_relaxed); ++spins) {
                wait_step(spins);
                if (!spin || ((spins & 63) == 63 && std::chrono::steady_clock::now() > until)) {
                    std::unique_lock<std::mutex> lock(mutex_);
                    sleepers_.fetch_add(1, std::memory_order_seq_cst);
                    while (gen_of(claim_.load(std::memory_order_seq_cst)) == seen && !stop_.load())
                        wake_.wait(lock);
                    sleepers_.fetch_sub(1, std::memory_order_relaxed);
                }
                v = claim_.load(std::memory_order_acquire);
            }
            if (stop_.load()) return;
            seen = gen_of(v);
            // A job that asked for fewer threads than the pool has leaves the others out
            // (their worker number would be out of the kernel's scratch range).
            if (id <= limit_.load(std::memory_order_acquire)) work(seen, id);
        }
    }

    std::vector<std::thread> workers_;   // only the thread holding busy_ changes it
    bool spawn_failed_ = false;
    pid_t owner_ = 0;                    // the process the workers run in
    uint32_t gen_ = 0;                   // the generation of the last job (written by the busy_ holder)
    Fn fn_ = nullptr;                    // the current job: written before claim_ publishes it
    const void *ctx_ = nullptr;
    long n_ = 0, chunk_ = 1;
    std::atomic<uint64_t> claim_{0};
    std::atomic<long> done_{0};
    std::atomic<int> limit_{0};
    std::atomic<int> sleepers_{0};
    std::atomic<bool> busy_{false};
    std::atomic<bool> stop_{false};
    std::atomic<bool> spin_{true};            // workers spin between jobs (not when oversubscribed)
    std::atomic<bool> caller_waiting_{false};  // the caller sleeps on done_wake_
    std::mutex mutex_;
    std::condition_variable wake_;            // workers wait here for a job
    std::condition_variable done_wake_;       // the caller waits here for the workers' last chunks
};

inline Pool &pool() {
    static Pool instance;
    return instance;
}

/* f(i, worker) for every i in [0, n) on up to `threads` threads, `chunk` consecutive indices at a
   time; worker < threads. With threads <= 1 or a single chunk it is a plain loop. */
template <class F>
inline void parallel_for(int threads, long n, long chunk, const F &f) {
    if (threads <= 1 || n <= chunk) {
        for (long i = 0; i < n; ++i) f(i, 0);
        return;
    }
    pool().run(threads, n, chunk,
               [](const void *ctx, long i, int worker) { (*static_cast<const F *>(ctx))(i, worker); }, &f);
}

/* The chunk that splits n indices into about `per_thread` chunks per thread (static-like
   blocks that still balance when one thread is slowed down). */
inline long balanced_chunk(long n, int threads, int per_thread = 4) {
    const long parts = (long)(threads > 1 ? threads : 1) * per_thread;
    const long c = (n + parts - 1) / parts;
    return c > 0 ? c : 1;
}

}  // namespace lpfc_parallel

#endif /* LPFC_PARALLEL_HPP */
