import Descent
import DescentSupport

/// Every object handed across the C ABI lives in this table and is named by a 64-bit handle:
/// low 32 bits = slot index + 1, high 32 bits = the slot's generation (never 0). Freeing a slot
/// bumps its generation, so a stale copy of a freed handle, a made-up number or 0 (NULL) can
/// never reach an object: every lookup is checked, under a lock, and returns a strong reference
/// that keeps the object alive for the rest of the call even if another thread frees the handle.
///
/// The lock is the process-wide `DSUPPORT_LOCK_HANDLES` (DescentSupport/process_lock.c), not a
/// Swift `Mutex`: pthread_atfork handlers take it around fork(), so a child process never starts
/// with the table locked by a thread it does not have (a Swift `Mutex` held at the fork made the
/// child's first call die with "Unknown error occurred while attempting to acquire a Mutex").
final class HandleTable: @unchecked Sendable {
    private struct Slot {
        var generation: UInt32
        var object: AnyObject?
    }

    private struct State {
        var slots: [Slot] = []
        var freeSlots: [Int] = []
    }

    /// Guarded by `lock`.
    private var guarded = State()
    private let lock: UnsafeMutablePointer<dsupport_lock>? = dsupport_process_lock(Int32(DSUPPORT_LOCK_HANDLES))

    /// Runs `body` on the table's state under the lock.
    private func withState<Result>(_ body: (inout State) -> Result) throws(DescentError) -> Result {
        guard let lock, dsupport_lock_acquire(lock) == 0 else {
            // Unreachable: the fork handlers reset the lock in every child.
            throw DescentError(.internal, "the handle table's lock is unusable in this process")
        }
        defer { dsupport_lock_release(lock) }
        return body(&guarded)
    }

    /// Finishes this table's lazy initialization (the fork handlers call it before fork()).
    @inline(never)
    func prepareForFork() {}

    /// Stores `object` and returns its new handle.
    func insert(_ object: AnyObject) throws(DescentError) -> UInt64 {
        let box = UncheckedBox(object)
        let handle: UInt64? = try withState { state in
            let index: Int
            if let reused = state.freeSlots.popLast() {
                index = reused
                state.slots[index].object = box.value
            } else {
                guard state.slots.count < Int(UInt32.max - 1) else { return nil }
                index = state.slots.count
                state.slots.append(Slot(generation: 1, object: box.value))
            }
            return UInt64(state.slots[index].generation) << 32 | UInt64(index + 1)
        }
        guard let handle else { throw DescentError(.outOfMemory, "handle table is full") }
        return handle
    }

    /// The live object behind `handle`, which must be a `T`.
    func lookup<T: AnyObject>(_ handle: UInt64, as type: T.Type, role: String) throws(DescentError) -> T {
        let found: UncheckedBox<AnyObject>? = try withState { state in
            guard let index = Self.slotIndex(of: handle, in: state),
                  let object = state.slots[index].object else { return nil }
            return UncheckedBox(object)
        }
        guard let found else {
            throw DescentError(.invalidHandle, "\(role) is not a live handle (null, freed or never issued: 0x\(String(handle, radix: 16)))")
        }
        guard let typed = found.value as? T else {
            throw DescentError(.wrongHandleType, "\(role) is a handle to \(Self.kindName(found.value)), not to \(Self.kindName(type))")
        }
        return typed
    }

    /// Releases the object behind `handle` when it is a live `T`. A null or already-freed handle
    /// is a harmless no-op; a live handle of another kind is an error and frees nothing.
    func remove<T: AnyObject>(_ handle: UInt64, as type: T.Type, role: String) throws(DescentError) {
        // The object is released after the lock is dropped: its deinit may be arbitrary work.
        var released: UncheckedBox<AnyObject>? = nil
        let wrongKind: String? = try withState { state in
            guard let index = Self.slotIndex(of: handle, in: state),
                  let object = state.slots[index].object else { return nil }
            guard object is T else { return Self.kindName(object) }
            released = UncheckedBox(object)
            state.slots[index].object = nil
            let next = state.slots[index].generation &+ 1
            state.slots[index].generation = next == 0 ? 1 : next
            state.freeSlots.append(index)
            return nil
        }
        if let wrongKind {
            throw DescentError(.wrongHandleType, "\(role) is a handle to \(wrongKind), not to \(Self.kindName(type)); nothing was freed")
        }
        released = nil
        _ = released
    }

    /// Number of live objects (for leak tests).
    var liveCount: Int {
        (try? withState { state in state.slots.count - state.freeSlots.count }) ?? 0
    }

    private static func slotIndex(of handle: UInt64, in state: State) -> Int? {
        let low = handle & 0xFFFF_FFFF
        let generation = UInt32(truncatingIfNeeded: handle >> 32)
        guard low != 0, generation != 0, low <= UInt64(state.slots.count) else { return nil }
        let index = Int(low - 1)
        guard state.slots[index].generation == generation else { return nil }
        return index
    }

    private static func kindName(_ object: AnyObject) -> String {
        kindName(type(of: object))
    }

    private static func kindName(_ type: AnyObject.Type) -> String {
        if type == Tensor.self { return "a tensor" }
        return "a " + String(describing: type)
    }
}

/// Moves a non-Sendable reference across the lock boundary; the table's lock is what makes it safe.
struct UncheckedBox<Value>: @unchecked Sendable {
    let value: Value
    init(_ value: Value) { self.value = value }
}

/// The process-wide table behind every `descent_*` handle.
let handles = HandleTable()

/// Called by the pthread_atfork prepare handler (DescentSupport/process_lock.c) before it takes the
/// process-wide locks: completes the one-time initializers a child needs, so none can be caught
/// half-run by fork() (the child would wait for it forever).
@_cdecl("dsupport_fork_prepare_swift")
func forkPrepareSwift() {
    handles.prepareForFork()
    Parallel.prepareForFork()
}
