import DescentSupport

/// A mutex guarding one object's state that survives `fork()`.
///
/// Swift's `Mutex` on Linux records the owning thread's id; in a child process made by `fork()`
/// while another thread held it, the first acquisition fails with a fatal error ("Unknown error
/// occurred while attempting to acquire a Mutex"). This lock records the owning *process* instead
/// (`dsupport_lock`, a futex word): a lock that a thread of the parent held at the instant of the
/// fork can never be released in the child, and the object it guards may be half-updated, so
/// acquiring it throws `.unsupported` with a sentence saying so, every time, instead of trapping
/// or waiting forever. Any lock free at the fork works normally in the child.
///
/// Not recursive. The value lives in its own allocation, so `withLock` works on a `let`.
public struct ForkAwareMutex<Value>: ~Copyable, @unchecked Sendable {
    private let word: UnsafeMutablePointer<dsupport_lock>
    private let value: UnsafeMutablePointer<Value>
    private let owner: StaticString

    /// `owner` names the guarded object in the error message ("optimizer").
    public init(_ initial: consuming Value, owner: StaticString) {
        word = .allocate(capacity: 1)
        word.initialize(to: dsupport_lock(word: 0))
        value = .allocate(capacity: 1)
        value.initialize(to: initial)
        self.owner = owner
    }

    deinit {
        value.deinitialize(count: 1)
        value.deallocate()
        word.deallocate()
    }

    /// Runs `body` with exclusive access to the value. Throws `.unsupported` (and runs nothing)
    /// when the lock was held by another thread at the fork() that made this process.
    public borrowing func withLock<Result>(
        _ body: (inout Value) throws(DescentError) -> Result
    ) throws(DescentError) -> Result {
        guard dsupport_lock_acquire(word) == 0 else {
            throw DescentError(.unsupported,
                               "this \(owner) was in use by another thread when this process was made by fork(), so its state may be half-updated and it cannot be used in this process (create a new one, or load a checkpoint into a new one)")
        }
        defer { dsupport_lock_release(word) }
        return try body(&value.pointee)
    }
}
