import Synchronization
#if canImport(Glibc)
import Glibc
#endif
import DescentSupport

/// Splits elementwise work over the machine's cores.
///
/// Work below `minimumChunk` elements per thread runs inline on the caller's thread. Above it,
/// `0 ..< count` is cut into at most `Parallel.threadCount` contiguous ranges (boundaries rounded to
/// 64 elements); the caller runs the first range and a pool of persistent worker threads (started
/// once, on first use) runs the rest; the call returns when all are done. Use it only for work
/// whose result per element does not depend on the split (elementwise updates, or "any element
/// is non-finite" flags), so results stay bit-identical whatever the thread count.
///
/// One parallel job runs at a time: a call that finds the pool busy (another thread's job, or a
/// nested call from inside a job) runs its whole range inline instead of waiting, so the pool can
/// never deadlock and concurrent callers never block each other. A child process made by fork()
/// inherits none of the workers (and perhaps a pool lock held by a thread it does not have): it
/// never touches its parent's pool and starts a pool of its own on first use.
public enum Parallel {
    /// Threads used for large elementwise work: $DESCENT_NUM_THREADS if set (>= 1), else the
    /// number of online processors.
    public static let threadCount: Int = {
        if let text = getenv("DESCENT_NUM_THREADS"), let value = Int(String(cString: text)), value >= 1 {
            return min(value, 256)
        }
        return max(1, sysconf(Int32(_SC_NPROCESSORS_ONLN)))
    }()

    /// Default per-thread minimum: below ~64K elements a thread costs more than it saves.
    public static let defaultMinimumChunk = 1 << 16

    /// Runs `job` over `0 ..< count`, split as described above. `alignment` rounds range
    /// boundaries (64 elements by default; 1 for a few coarse work items such as the blocks of a
    /// partitioned matrix product).
    @inline(__always)
    static func forEachChunk<Job: ChunkJob>(count: Int, minimumChunk: Int = defaultMinimumChunk, alignment: Int = 64,
                                            _ job: Job) {
        guard let share = share(count: count, minimumChunk: minimumChunk, alignment: alignment) else {
            if count > 0 { job.run(0..<count) }
            return
        }
        guard let pool = WorkerPool.current(), pool.tryAcquire() else {
            // No pool (it could not start its threads) or a busy pool.
            job.run(0..<count)
            return
        }
        withUnsafePointer(to: job) { pool.run(count: count, share: share, job: UnsafeRawPointer($0), run: Job.run) }
        pool.release()
    }

    /// The elements per thread (a multiple of `alignment`) when `count` is worth splitting over
    /// more than one thread, else nil: at most `threadCount` ranges of at least `minimumChunk`.
    private static func share(count: Int, minimumChunk: Int, alignment: Int) -> Int? {
        let threads = min(threadCount, max(1, count / max(minimumChunk, 1)))
        guard threads > 1 else { return nil }
        let step = max(alignment, 1)
        return ((count + threads - 1) / threads + step - 1) / step * step
    }
}

extension Parallel {
    /// Runs `job.check` over every chunk of `0 ..< count` and then, only if every chunk's check
    /// returned true, `job.run` over every chunk; returns whether the checks passed (false: `run`
    /// ran nowhere). One dispatch to the pool serves both phases: each thread checks its chunk,
    /// waits at a barrier until every chunk is checked, then runs the same chunk, whose data the
    /// check has just brought into its cache. Chunks as in `forEachChunk`.
    @inline(__always)
    static func forEachChunk<Job: CheckedChunkJob>(count: Int, minimumChunk: Int = defaultMinimumChunk,
                                                   alignment: Int = 64, checking job: Job) -> Bool {
        if let share = share(count: count, minimumChunk: minimumChunk, alignment: alignment),
           let pool = WorkerPool.current(), pool.tryAcquire() {
            let passed = withUnsafePointer(to: job) {
                pool.runChecked(count: count, share: share, job: UnsafeRawPointer($0), check: Job.check, run: Job.run)
            }
            pool.release()
            return passed
        }
        guard count > 0 else { return true }
        guard job.check(0..<count) else { return false }
        job.run(0..<count)
        return true
    }

    /// Finishes the lazy initialization of `threadCount` (the fork handlers call this before
    /// fork(), so a child never finds its one-time initializer half-run).
    @inline(never)
    public static func prepareForFork() {
        withExtendedLifetime(threadCount) {}
    }
}

/// Work for `Parallel.forEachChunk`: a value holding what every chunk needs (pointers, sizes,
/// settings). The workers reach it through a pointer to the caller's copy and call it through
/// `run(_:_:)`, a plain function of the concrete type, so a dispatch allocates nothing: a closure
/// handed to other threads would need a heap context (`withoutActuallyEscaping` allocates one per
/// call), which broke the promise that a training step allocates nothing once it got to the pool.
protocol ChunkJob {
    /// Does the work of the elements in `range` (any thread; ranges never overlap).
    func run(_ range: Range<Int>)
}

/// A `ChunkJob` with a first phase that must pass on every range before any range runs.
protocol CheckedChunkJob: ChunkJob {
    /// Whether the elements in `range` allow the work (read only: nothing may be written).
    func check(_ range: Range<Int>) -> Bool
}

extension ChunkJob {
    /// `run` on the job at `job` (a pointer to a `Self`), as the pool calls it.
    static func run(_ job: UnsafeRawPointer, _ range: Range<Int>) {
        job.assumingMemoryBound(to: Self.self).pointee.run(range)
    }
}

extension CheckedChunkJob {
    static func check(_ job: UnsafeRawPointer, _ range: Range<Int>) -> Bool {
        job.assumingMemoryBound(to: Self.self).pointee.check(range)
    }
}

/// The persistent workers behind `Parallel`. Workers sleep on a condition variable and wake for
/// each job's generation; the caller waits (spinning briefly, then sleeping) until every worker
/// range is done. All state is guarded by one mutex; the job is only called while the caller is
/// inside `run`, which is what makes handing it a pointer to the caller's stack safe.
private final class WorkerPool: @unchecked Sendable {
    /// This process's pool, started on first use; nil when it has no workers (one core, or its
    /// threads could not be started). The pool lives in a C slot (not a Swift lazy global, whose
    /// one-time initializer a fork() could interrupt) and belongs to the process that started it:
    /// a child made by fork() sees its parent's pool there, leaves it alone (its threads do not
    /// exist here and its locks may be held) and starts its own.
    static func current() -> WorkerPool? {
        let process = dsupport_process_tag()
        if let raw = dsupport_worker_pool() {
            let pool = Unmanaged<WorkerPool>.fromOpaque(raw).takeUnretainedValue()
            if pool.ownerProcess == process { return pool.workerCount > 0 ? pool : nil }
        }
        return start(in: process)
    }

    private static func start(in process: UInt32) -> WorkerPool? {
        // The process-wide pool lock (taken around fork() by the fork handlers) lets one thread start it.
        guard let lock = dsupport_process_lock(Int32(DSUPPORT_LOCK_WORKER_POOL)),
              dsupport_lock_acquire(lock) == 0 else { return nil }
        defer { dsupport_lock_release(lock) }
        if let raw = dsupport_worker_pool() {
            let pool = Unmanaged<WorkerPool>.fromOpaque(raw).takeUnretainedValue()
            if pool.ownerProcess == process { return pool.workerCount > 0 ? pool : nil }
        }
        // Retained for the life of the process (a parent's pool is deliberately never released).
        let pool = WorkerPool(workers: Parallel.threadCount - 1) ?? WorkerPool()
        dsupport_set_worker_pool(Unmanaged.passRetained(pool).toOpaque())
        return pool.workerCount > 0 ? pool : nil
    }

    private let mutex = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let wake = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let done = UnsafeMutablePointer<pthread_cond_t>.allocate(capacity: 1)
    private let busy = UnsafeMutablePointer<pthread_mutex_t>.allocate(capacity: 1)
    private let workerCount: Int
    /// The process that started the workers; a child made by fork() has none of them.
    let ownerProcess = dsupport_process_tag()

    // Guarded by `mutex`.
    private var generation: UInt64 = 0
    /// Lock-free mirrors of `generation` and `pending`: workers and the caller spin on them for a
    /// short while before sleeping, because the jobs of one training step (matrix products, the
    /// update) come a few hundred microseconds apart and a condition-variable wake-up costs tens
    /// of microseconds on a busy virtual machine.
    private let publishedGeneration = Atomic<UInt64>(0)
    private let remaining = Atomic<Int>(0)
    /// The current job: the caller's value, and the functions that run and check a range of it
    /// (plain functions without captures: storing them allocates nothing).
    private var job: UnsafeRawPointer? = nil
    private var runJob: ((UnsafeRawPointer, Range<Int>) -> Void)? = nil
    /// The first phase of a `runChecked` job (nil for a plain job).
    private var checkJob: ((UnsafeRawPointer, Range<Int>) -> Bool)? = nil
    private var participants = 0
    private var count = 0
    private var share = 0
    private var pending = 0

    /// A pool without workers: records that this process runs everything inline.
    private init() {
        workerCount = 0
    }

    private init?(workers: Int) {
        guard workers >= 1 else { return nil }
        workerCount = workers
        pthread_mutex_init(mutex, nil)
        pthread_mutex_init(busy, nil)
        pthread_cond_init(wake, nil)
        pthread_cond_init(done, nil)
        var started = 0
        for index in 1...workers {
            let context = Unmanaged.passRetained(WorkerContext(pool: self, index: index)).toOpaque()
            var attributes = pthread_attr_t()
            pthread_attr_init(&attributes)
            pthread_attr_setdetachstate(&attributes, Int32(PTHREAD_CREATE_DETACHED))
            var thread = pthread_t()
            let status = pthread_create(&thread, &attributes, { raw in
                guard let raw else { return nil }
                let context = Unmanaged<WorkerContext>.fromOpaque(raw).takeRetainedValue()
                context.pool.workerLoop(index: context.index)
                return nil
            }, context)
            pthread_attr_destroy(&attributes)
            if status != 0 {
                Unmanaged<WorkerContext>.fromOpaque(context).release()
                break
            }
            started += 1
        }
        // Without all its workers the pool would wait forever for missing ranges; a pool that
        // could not start them is not used (work then runs inline).
        guard started == workers else { return nil }
    }

    func tryAcquire() -> Bool { pthread_mutex_trylock(busy) == 0 }
    func release() { pthread_mutex_unlock(busy) }

    /// Runs range 0 on the calling thread and ranges 1... on the workers; returns when all ran.
    func run(count: Int, share: Int, job: UnsafeRawPointer, check: ((UnsafeRawPointer, Range<Int>) -> Bool)? = nil,
             run: @escaping (UnsafeRawPointer, Range<Int>) -> Void) {
        pthread_mutex_lock(mutex)
        self.job = job
        self.runJob = run
        self.checkJob = check
        self.count = count
        self.share = share
        pending = workerCount
        remaining.store(workerCount, ordering: .releasing)
        generation &+= 1
        publishedGeneration.store(generation, ordering: .releasing)
        pthread_cond_broadcast(wake)
        pthread_mutex_unlock(mutex)

        invoke(0..<min(count, share))

        spin(microseconds: 200) { remaining.load(ordering: .acquiring) == 0 }
        pthread_mutex_lock(mutex)
        while pending > 0 { pthread_cond_wait(done, mutex) }
        self.job = nil
        self.runJob = nil
        self.checkJob = nil
        pthread_mutex_unlock(mutex)
    }

    /// The barrier of `runChecked`: ranges that finished their check, and whether any failed.
    private let checkedRanges = Atomic<Int>(0)
    private let checkFailed = Atomic<Bool>(false)

    /// `run` with a barrier between two phases: every range runs `check`, waits until all ranges
    /// have, and runs the job only if no check failed. Returns whether all checks passed.
    func runChecked(count: Int, share: Int, job: UnsafeRawPointer, check: @escaping (UnsafeRawPointer, Range<Int>) -> Bool,
                    run: @escaping (UnsafeRawPointer, Range<Int>) -> Void) -> Bool {
        participants = (count + share - 1) / share  // the non-empty ranges; read by workers after the publish
        checkedRanges.store(0, ordering: .relaxed)
        checkFailed.store(false, ordering: .relaxed)
        self.run(count: count, share: share, job: job, check: check, run: run)
        return !checkFailed.load(ordering: .relaxed)
    }

    /// Calls the current job on `range`. The job is written before the job's broadcast and
    /// cleared only after every worker reported, both under the mutex, so reading it here without
    /// the lock is ordered.
    private func invoke(_ range: Range<Int>) {
        guard let job, let runJob else { return }
        guard let checkJob else { return runJob(job, range) }
        // runChecked: check, wait at the barrier for every range's check, then run if all passed.
        if !checkJob(job, range) { checkFailed.store(true, ordering: .relaxed) }
        checkedRanges.add(1, ordering: .acquiringAndReleasing)
        while checkedRanges.load(ordering: .acquiring) < participants { sched_yield() }
        if !checkFailed.load(ordering: .relaxed) { runJob(job, range) }
    }

    private func workerLoop(index: Int) {
        var seen: UInt64 = 0
        while true {
            spin(microseconds: 300) { publishedGeneration.load(ordering: .acquiring) != seen }
            pthread_mutex_lock(mutex)
            while generation == seen { pthread_cond_wait(wake, mutex) }
            seen = generation
            let start = min(count, index * share)
            let end = min(count, start + share)
            pthread_mutex_unlock(mutex)

            if start < end { invoke(start..<end) }

            pthread_mutex_lock(mutex)
            pending -= 1
            remaining.store(pending, ordering: .releasing)
            if pending == 0 { pthread_cond_signal(done) }
            pthread_mutex_unlock(mutex)
        }
    }
}

/// Waits until `done()` or `microseconds` pass, yielding the core between polls (so a spinning
/// thread costs little when the cores are oversubscribed) and checking the clock every 16 polls.
@inline(__always)
private func spin(microseconds: Int, _ done: () -> Bool) {
    var start = timespec()
    clock_gettime(CLOCK_MONOTONIC, &start)
    var polls = 0
    while !done() {
        sched_yield()
        polls &+= 1
        if polls & 15 == 0 {
            var now = timespec()
            clock_gettime(CLOCK_MONOTONIC, &now)
            let elapsed = (now.tv_sec - start.tv_sec) * 1_000_000 + (now.tv_nsec - start.tv_nsec) / 1_000
            if elapsed >= microseconds { return }
        }
    }
}

private final class WorkerContext {
    let pool: WorkerPool
    let index: Int
    init(pool: WorkerPool, index: Int) {
        self.pool = pool
        self.index = index
    }
}
