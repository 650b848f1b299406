import DescentSupport

/// Stateless updates over caller-owned buffers: one call applies one step of one rule to
/// `count` elements of a parameter, its gradient and the rule's state slots, in place.
/// C counterparts: `descent_<rule>_step` (`descent_sgd_step`, `descent_adam_step`, ...).
/// Large buffers are split over cores with `Parallel.forEachChunk`; the update is elementwise,
/// so results are bit-identical whatever the thread count.
public enum FunctionalStep {
    /// Up to three state buffers, in the rule's slot order (see `OptimizerRule.stateSlotName`).
    public struct StateBuffers {
        /// The rule's first state buffer (e.g. momentum buffer, exp_avg), or nil when not needed.
        public var slot0: UnsafeMutableRawPointer?
        /// The second state buffer (e.g. exp_avg_sq), or nil.
        public var slot1: UnsafeMutableRawPointer?
        /// The third state buffer (e.g. max_exp_avg_sq), or nil.
        public var slot2: UnsafeMutableRawPointer?
        /// State buffers in slot order (`OptimizerRule.stateSlotName`).
        public init(_ slot0: UnsafeMutableRawPointer? = nil, _ slot1: UnsafeMutableRawPointer? = nil,
                    _ slot2: UnsafeMutableRawPointer? = nil) {
            self.slot0 = slot0
            self.slot1 = slot1
            self.slot2 = slot2
        }

        func slot(_ index: Int) -> UnsafeMutableRawPointer? {
            switch index {
            case 0: return slot0
            case 1: return slot1
            default: return slot2
            }
        }
    }

    /// Checks every argument, then updates `param` and the state in place. NAdam reads and
    /// writes `muProduct` (Π, start it at 1); other rules ignore it. On error nothing changed.
    public static func apply(rule: OptimizerRule, dtype: DType, count: Int,
                             param: UnsafeMutableRawPointer?, grad: UnsafeRawPointer?,
                             state: StateBuffers, step: Int64, hyper: Hyperparameters,
                             muProduct: UnsafeMutablePointer<Double>? = nil) throws(DescentError) {
        guard count >= 0 else { throw .argument("count \(count) is negative") }
        guard let param else { throw DescentError(.nullPointer, "param is NULL") }
        guard let grad else { throw DescentError(.nullPointer, "grad is NULL") }
        for slot in 0..<rule.stateSlotCount where rule.needsSlot(slot, hyper) && state.slot(slot) == nil {
            throw DescentError(.nullPointer, "\(rule.stateSlotName(slot)) is NULL but \(rule) needs it with these settings")
        }
        // No two buffers may start at the same address (a stack buffer: no heap allocation).
        let aliased = withUnsafeTemporaryAllocation(of: UnsafeRawPointer?.self, capacity: 5) { list -> Bool in
            list.initialize(repeating: nil)
            list[0] = UnsafeRawPointer(param)
            list[1] = grad
            list[2] = state.slot0.map(UnsafeRawPointer.init)
            list[3] = state.slot1.map(UnsafeRawPointer.init)
            list[4] = state.slot2.map(UnsafeRawPointer.init)
            for first in 0..<5 {
                for second in (first + 1)..<5 {
                    if let a = list[first], let b = list[second], a == b { return true }
                }
            }
            return false
        }
        guard !aliased else { throw .argument("buffers must not alias (param, grad and state buffers are distinct)") }
        let aligned = { (address: UnsafeRawPointer?) -> Bool in
            address.map { Int(bitPattern: $0) % dtype.size == 0 } ?? true
        }
        guard aligned(UnsafeRawPointer(param)), aligned(grad), aligned(state.slot0.map(UnsafeRawPointer.init)),
              aligned(state.slot1.map(UnsafeRawPointer.init)), aligned(state.slot2.map(UnsafeRawPointer.init)) else {
            throw .argument("buffers must be aligned to \(dtype.size) bytes for \(dtype)")
        }
        var previousProduct = 1.0
        if rule == .nadam {
            guard let muProduct else { throw DescentError(.nullPointer, "mu_product is NULL (nadam needs it; start it at 1)") }
            previousProduct = muProduct.pointee
            guard previousProduct.isFinite, previousProduct > 0, previousProduct <= 1 else {
                throw .argument("mu_product must be in (0, 1], got \(previousProduct)")
            }
        }
        let plan = try StepPlan(rule: rule, hyper: hyper, step: step, muProduct: previousProduct)
        switch dtype {
        case .float32: try run(plan, Float.self, count, param, grad, state)
        case .float64: try run(plan, Double.self, count, param, grad, state)
        }
        if rule == .nadam, let muProduct { muProduct.pointee = plan.muProductAfter }
    }

    private static func run<T: DescentScalar>(_ plan: StepPlan, _: T.Type, _ count: Int,
                                              _ param: UnsafeMutableRawPointer, _ grad: UnsafeRawPointer,
                                              _ state: StateBuffers) throws(DescentError) {
        let p = param.assumingMemoryBound(to: T.self)
        let g = grad.assumingMemoryBound(to: T.self)
        let s0 = state.slot0?.assumingMemoryBound(to: T.self)
        let s1 = state.slot1?.assumingMemoryBound(to: T.self)
        let s2 = state.slot2?.assumingMemoryBound(to: T.self)
        let checkFinite = plan.flags.contains(.checkFinite)
        let kernelPlan = plan.kernelPlan
        let updated = withUnsafePointer(to: kernelPlan) { plan in
            let job = StepJob(plan: plan, p: p, g: g, s0: s0, s1: s1, s2: s2)
            guard checkFinite else {
                Parallel.forEachChunk(count: count, job)
                return true
            }
            // The scan and the update in one pass over the threads (nothing is written on failure).
            return Parallel.forEachChunk(count: count, checking: job)
        }
        guard updated else { throw DescentError(.nonFinite, "grad holds NaN or infinity; nothing was updated") }
    }
}

/// One functional step over a range of elements (a `Parallel` job); `check` is the gradient's
/// finiteness scan.
private struct StepJob<T: DescentScalar>: CheckedChunkJob {
    let plan: UnsafePointer<dsupport_step_plan>
    let p: UnsafeMutablePointer<T>
    let g: UnsafePointer<T>
    let s0, s1, s2: UnsafeMutablePointer<T>?

    func run(_ range: Range<Int>) { StepPlan.run(plan, p, g, s0, s1, s2, range) }
    func check(_ range: Range<Int>) -> Bool { allFinite(g, range) }
}
