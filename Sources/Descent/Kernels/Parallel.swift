#if canImport(Glibc)
import Glibc
#endif

/// Splits elementwise work over the machine's cores.
///
/// Work below `minimumChunk` elements per thread runs inline on the caller's thread. Above it,
/// `0 ..< count` is cut into at most `Parallel.threadCount` contiguous ranges (boundaries rounded to
/// 64 elements) and each runs on its own thread; the call returns when all are done. Use it only
/// for work whose result per element does not depend on the split (elementwise updates), so
/// results stay bit-identical whatever the thread count. Reductions must not use it.
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

    public static func forEachChunk(count: Int, minimumChunk: Int = defaultMinimumChunk,
                                    _ body: (Range<Int>) -> Void) {
        let threads = min(threadCount, max(1, count / max(minimumChunk, 1)))
        if threads <= 1 {
            if count > 0 { body(0..<count) }
            return
        }
        var ranges: [Range<Int>] = []
        let share = ((count + threads - 1) / threads + 63) & ~63
        var start = 0
        while start < count {
            let end = min(count, start + share)
            ranges.append(start..<end)
            start = end
        }
        withoutActuallyEscaping(body) { escapable in
            let job = ChunkJob(body: escapable)
            var workers: [pthread_t] = []
            workers.reserveCapacity(ranges.count - 1)
            for range in ranges.dropFirst() {
                let context = Unmanaged.passRetained(ChunkTask(job: job, range: range)).toOpaque()
                var thread = pthread_t()
                if pthread_create(&thread, nil, { raw in
                    guard let raw else { return nil }
                    let task = Unmanaged<ChunkTask>.fromOpaque(raw).takeRetainedValue()
                    task.job.body(task.range)
                    return nil
                }, context) == 0 {
                    workers.append(thread)
                } else {
                    // Could not start a thread: do that range here instead.
                    let task = Unmanaged<ChunkTask>.fromOpaque(context).takeRetainedValue()
                    task.job.body(task.range)
                }
            }
            escapable(ranges[0])
            for thread in workers { pthread_join(thread, nil) }
        }
    }
}

private final class ChunkJob {
    let body: (Range<Int>) -> Void
    init(body: @escaping (Range<Int>) -> Void) { self.body = body }
}

private final class ChunkTask {
    let job: ChunkJob
    let range: Range<Int>
    init(job: ChunkJob, range: Range<Int>) {
        self.job = job
        self.range = range
    }
}
