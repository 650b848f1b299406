import DescentSupport
import Foundation
import XCTest
@testable import Descent

/// The core's side of the Reliability issue: fork-aware locks, unique and swept temporary files,
/// concurrent saves to one path. (Out-of-memory and fork() itself are exercised from C, in child
/// processes: Tests/c/test_reliability.c.)
final class ReliabilityTests: XCTestCase {
    private var directory: String!

    override func setUpWithError() throws {
        directory = NSTemporaryDirectory() + "descent-reliability-\(getpid())-\(UUID().uuidString)"
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: false)
    }

    override func tearDownWithError() throws {
        try? FileManager.default.removeItem(atPath: directory)
    }

    private func temporaries(of name: String) throws -> [String] {
        try FileManager.default.contentsOfDirectory(atPath: directory).filter { $0.hasPrefix(name + ".tmp") }.sorted()
    }

    /// A process id that no process has right now: a child that already exited and was reaped.
    private func deadProcessID() throws -> pid_t {
        let child = Process()
        child.executableURL = URL(fileURLWithPath: "/bin/true")
        try child.run()
        child.waitUntilExit()
        let pid = child.processIdentifier
        XCTAssertEqual(kill(pid, 0), -1)
        return pid
    }

    private func adam(_ value: Double, count: Int = 10_000) throws -> (Optimizer, Tensor) {
        let param = try Tensor.full(value, dtype: .float64, shape: [count])
        let grad = try Tensor.full(0.5, dtype: .float64, shape: [count])
        let optimizer = Optimizer(rule: .adam)
        _ = try optimizer.addGroup([param])
        try optimizer.bindGradients([grad])
        try optimizer.step()
        return (optimizer, param)
    }

    // MARK: locks

    func testForkAwareMutexSerializesThreads() throws {
        let counter = ForkAwareMutex(0, owner: "counter")
        DispatchQueue.concurrentPerform(iterations: 8) { _ in
            for _ in 0..<10_000 { try? counter.withLock { $0 += 1 } }
        }
        XCTAssertEqual(try counter.withLock { $0 }, 80_000)
    }

    func testALockHeldByAnotherProcessIsStaleNotAWait() {
        // What a child of fork() finds when a thread of its parent held the lock at the fork: the
        // owner bits name another process. Acquiring reports it at once (no wait, no trap).
        let other = (dsupport_process_tag() &+ 1) & 0x3FFF_FFFF
        var held = dsupport_lock(word: other << 2 | 1)
        XCTAssertEqual(dsupport_lock_acquire(&held), DSUPPORT_LOCK_STALE)
        XCTAssertEqual(held.word, other << 2 | 1, "a stale lock is left as it was")
        var free = dsupport_lock(word: 0)
        XCTAssertEqual(dsupport_lock_acquire(&free), 0)
        XCTAssertEqual(free.word >> 2, dsupport_process_tag())
        dsupport_lock_release(&free)
        XCTAssertEqual(free.word, 0)
    }

    // MARK: temporary files

    func testTemporaryNamesAreUniqueAndLocked() throws {
        let path = directory + "/opt.ckpt"
        var names = Set<String>()
        var descriptors: [Int32] = []
        for _ in 0..<50 {
            var name = [CChar](repeating: 0, count: dsupport_temporary_name_capacity(path))
            let descriptor = dsupport_temporary_create(path, &name, name.count)
            XCTAssertGreaterThanOrEqual(descriptor, 0)
            descriptors.append(descriptor)
            let bytes = name.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }
            names.insert(String(decoding: bytes, as: UTF8.self))
        }
        XCTAssertEqual(names.count, 50)
        for name in names {
            XCTAssertTrue(name.hasPrefix(path + ".tmp-\(getpid())-"), name)
            XCTAssertEqual(name.count, path.count + ".tmp-\(getpid())-".count + 16, name)
            // Another open file description cannot lock it: the save holding it is alive.
            let probe = open(name, O_RDONLY)
            XCTAssertEqual(flock(probe, LOCK_EX | LOCK_NB), -1)
            close(probe)
        }
        dsupport_temporary_sweep(path)
        XCTAssertEqual(try temporaries(of: "opt.ckpt").count, 50, "live saves' files are never swept")
        for descriptor in descriptors { close(descriptor) }
        // Unlocked now, but their process (this one) lives and they are fresh: still kept.
        dsupport_temporary_sweep(path)
        XCTAssertEqual(try temporaries(of: "opt.ckpt").count, 50)
    }

    func testSweepRemovesOnlyWhatDeadSavesLeft() throws {
        let path = directory + "/opt.ckpt"
        let dead = try deadProcessID()
        let mine = getpid()
        func create(_ name: String) -> Int32 {
            let descriptor = open(directory + "/" + name, O_WRONLY | O_CREAT | O_EXCL, 0o644)
            XCTAssertGreaterThanOrEqual(descriptor, 0, name)
            return descriptor
        }
        // Dead, unlocked, locking format: removed.
        close(create("opt.ckpt.tmp-\(dead)-0123456789abcdef"))
        // Dead owner but the lock is held (say, inherited by a live child process): kept.
        let held = create("opt.ckpt.tmp-\(dead)-00000000ffffffff")
        XCTAssertEqual(flock(held, LOCK_EX), 0)
        // Earlier versions' unlocked format: removed when its process is gone, kept while it lives.
        close(create("opt.ckpt.tmp-\(dead)"))
        close(create("opt.ckpt.tmp-\(mine)"))
        // Unlocked, owner alive, but untouched for two minutes: removed.
        let old = "opt.ckpt.tmp-\(mine)-aaaaaaaaaaaaaaaa"
        close(create(old))
        var times = [timespec(tv_sec: time(nil) - 120, tv_nsec: 0), timespec(tv_sec: time(nil) - 120, tv_nsec: 0)]
        XCTAssertEqual(utimensat(AT_FDCWD, directory + "/" + old, &times, 0), 0)
        // Not ours: other names, other checkpoints, a directory with a matching name.
        close(create("opt.ckpt.tmp-\(dead)-xyz"))
        close(create("opt.ckpt.tmp-\(dead)-0123456789abcde"))
        close(create("other.ckpt.tmp-\(dead)-0123456789abcdef"))
        close(create("opt.ckpt.bak"))
        XCTAssertEqual(mkdir(directory + "/opt.ckpt.tmp-\(dead)-1111111111111111", 0o755), 0)

        dsupport_temporary_sweep(path)
        let left = try FileManager.default.contentsOfDirectory(atPath: directory).sorted()
        XCTAssertEqual(left, [
            "opt.ckpt.bak",
            "opt.ckpt.tmp-\(dead)-00000000ffffffff",
            "opt.ckpt.tmp-\(dead)-0123456789abcde",
            "opt.ckpt.tmp-\(dead)-1111111111111111",
            "opt.ckpt.tmp-\(dead)-xyz",
            "opt.ckpt.tmp-\(mine)",
            "other.ckpt.tmp-\(dead)-0123456789abcdef",
        ].sorted())
        close(held)
        dsupport_temporary_sweep(path)
        XCTAssertFalse(try temporaries(of: "opt.ckpt").contains("opt.ckpt.tmp-\(dead)-00000000ffffffff"))
    }

    // MARK: saves

    func testConcurrentSavesToOnePathAllSucceedAndLeaveOneCompleteCheckpoint() throws {
        let path = directory + "/opt.ckpt"
        // Optimizer is not Sendable; the test hands each thread its own (the point under test).
        nonisolated(unsafe) let savers = try (1...4).map { try adam(Double($0)).0 }
        let lock = NSLock()
        nonisolated(unsafe) var failures: [String] = []
        for _ in 0..<25 {
            DispatchQueue.concurrentPerform(iterations: savers.count) { index in
                do throws(DescentError) {
                    try savers[index].save(to: path, includeParameters: true)
                } catch {
                    lock.withLock { failures.append(error.message) }
                }
            }
            let (reader, param) = try adam(0)
            try reader.load(from: path)
            let values = try param.elements(Double.self)
            XCTAssertTrue(values.allSatisfy { $0 == values[0] }, "a checkpoint mixing two saves")
        }
        XCTAssertEqual(failures, [])
        XCTAssertEqual(try temporaries(of: "opt.ckpt"), [])
    }

    func testAFailedSaveLeavesNoTemporaryFile() throws {
        let (optimizer, _) = try adam(1)
        XCTAssertEqual(mkdir(directory + "/taken", 0o755), 0)   // rename over a directory fails
        XCTAssertThrowsError(try optimizer.save(to: directory + "/taken", includeParameters: false)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .io)
        }
        XCTAssertEqual(try temporaries(of: "taken"), [])
    }
}
