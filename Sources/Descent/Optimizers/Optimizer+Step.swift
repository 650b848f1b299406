import DescentSupport

/// One parameter's buffers as raw pointers, for the step loop. Valid while the optimizer holds
/// the tensors (it does: `parameters`, their state and `gradients`).
struct Piece {
    let param: UnsafeMutableRawPointer
    let grad: UnsafeMutableRawPointer
    let slot0: UnsafeMutableRawPointer?
    let slot1: UnsafeMutableRawPointer?
    let slot2: UnsafeMutableRawPointer?
    /// The 8-bit format's per-block scales of slots 0 and 1 (nil otherwise).
    let scale0: UnsafeMutablePointer<Float>?
    let scale1: UnsafeMutablePointer<Float>?
    let group: Int
    let dtype: DType
    /// The param's index (stochastic rounding keys) and element count.
    let index: Int
    let count: Int
}

extension Optimizer {
    /// Binds one gradient tensor per parameter (same dtype and shape, in parameter order). The
    /// optimizer keeps them: fill them in place and call `step()` as often as needed; binding
    /// again replaces the set. On error the previous binding stays.
    public func bindGradients(_ tensors: [Tensor]) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in
            guard tensors.count == parameters.count else {
                throw .shape("got \(tensors.count) gradients for \(parameters.count) params")
            }
            for (index, gradient) in tensors.enumerated() {
                try parameters[index].tensor.requireSameLayout(as: gradient, "gradient \(index)")
            }
            // No gradient may be (or share memory with) ANY param or state tensor: the step writes
            // those while it reads the gradients. Params never overlap one another and state
            // tensors are the optimizer's own allocations, so the owned regions are disjoint:
            // sorted by start, one binary search per gradient finds the only candidate.
            var owned: [(start: UInt, end: UInt, what: String)] = []
            var ownedObjects = Set<ObjectIdentifier>()
            for (index, parameter) in parameters.enumerated() {
                ownedObjects.insert(ObjectIdentifier(parameter.tensor))
                if parameter.tensor.byteCount > 0 {
                    let start = UInt(bitPattern: parameter.tensor.storage)
                    owned.append((start, start + UInt(parameter.tensor.byteCount), "param \(index)"))
                }
                for (slot, state) in parameter.state.enumerated() {
                    guard let state else { continue }
                    ownedObjects.insert(ObjectIdentifier(state))
                    if state.byteCount > 0 {
                        let start = UInt(bitPattern: state.storage)
                        owned.append((start, start + UInt(state.byteCount), "state slot \(slot) of param \(index)"))
                    }
                }
            }
            owned.sort { $0.start < $1.start }
            for (index, gradient) in tensors.enumerated() {
                if ownedObjects.contains(ObjectIdentifier(gradient)) {
                    throw .argument("gradient \(index) is a param or state tensor of this optimizer")
                }
                guard gradient.byteCount > 0 else { continue }
                let start = UInt(bitPattern: gradient.storage), end = start + UInt(gradient.byteCount)
                // The last owned region starting before `end` is the only one that can overlap.
                var low = 0, high = owned.count
                while low < high {
                    let middle = (low + high) / 2
                    if owned[middle].start < end { low = middle + 1 } else { high = middle }
                }
                if low > 0, owned[low - 1].end > start {
                    throw .argument("gradient \(index) shares memory with \(owned[low - 1].what)")
                }
            }
            gradients = tensors
            bindingGeneration &+= 1
            piecesValid = false
        }
    }

    /// Whether gradients are bound.
    public var hasGradients: Bool {
        get throws(DescentError) { try lock.withLock { _ in !gradients.isEmpty || parameters.isEmpty } }
    }

    /// One update of every parameter of every group with the bound gradients, t = stepCount + 1.
    /// Returns true when the step was skipped (non-finite gradient under the `.skip` policy).
    /// On error (no gradients bound, non-finite gradient under `.raise`, a non-finite step
    /// size) nothing changed. Large work is split over cores by element ranges that cross
    /// tensor boundaries; each element's update is independent, so results are bit-identical
    /// whatever the thread count.
    @discardableResult
    public func step() throws(DescentError) -> Bool {
        try step(gradientsKnownFinite: nil)
    }

    /// `step()` for a caller that already knows whether every bound gradient is finite (a graph
    /// records it while backward writes the gradients): then the policy check costs no pass over
    /// memory. `nil` scans as `step()` does.
    @discardableResult
    public func step(gradientsKnownFinite known: Bool?) throws(DescentError) -> Bool {
        try lock.withLock { _ throws(DescentError) -> Bool in
            guard gradients.count == parameters.count else {
                throw .argument("no gradients are bound (descent_optimizer_set_grads / bindGradients)")
            }
            if !piecesValid { rebuildPieces() }
            let checking = nonFinitePolicy != .proceed
            if checking, known == false { return try refuseNonFinite() }
            let (next, overflow) = stepCount.addingReportingOverflow(1)
            do throws(DescentError) {
                guard !overflow else {
                    throw .argument("the step count is at its maximum \(Int64.max); set a smaller one first")
                }
                try buildPlans(step: next)
            } catch {
                // A non-finite gradient is reported (or skipped) before any other step error.
                if checking, known == nil, !gradientsFinite() { return try refuseNonFinite() }
                throw error
            }
            let format = stateFormat, stochastic = stateRounding == .stochastic, seed = stateSeed
            let updated = kernelPlans.withUnsafeBufferPointer { plans in
                let update = PieceUpdate(plans: plans.baseAddress!, format: format, stochastic: stochastic, seed: seed,
                                         step: next)
                guard checking, known == nil else {
                    forEachPiece(update, checked: false)
                    return true
                }
                // One pass over the threads: each checks its chunk of the gradients, all wait until
                // every chunk is checked, then each updates the chunk it just read.
                return forEachPiece(update, checked: true)
            }
            guard updated else { return try refuseNonFinite() }
            for index in groups.indices { groups[index].muProduct = plans[index].muProductAfter }
            stepCount = next
            return false
        }
    }

    /// The policy's answer to a non-finite gradient: skipped (true) or the `.nonFinite` error.
    private func refuseNonFinite() throws(DescentError) -> Bool {
        if nonFinitePolicy == .skip { return true }
        throw DescentError(.nonFinite, "a gradient holds NaN or infinity; nothing was updated (policy raise)")
    }

    /// Fills `plans` (and their C form, `kernelPlans`) for step `next`, reusing the arrays.
    private func buildPlans(step next: Int64) throws(DescentError) {
        if plans.count != groups.count {
            plans.removeAll(keepingCapacity: true)
            kernelPlans.removeAll(keepingCapacity: true)
            for group in groups {
                let plan = try StepPlan(rule: rule, hyper: group.hyper, step: next, muProduct: group.muProduct)
                plans.append(plan)
                kernelPlans.append(plan.kernelPlan)
            }
        } else {
            for index in groups.indices {
                let plan = try StepPlan(rule: rule, hyper: groups[index].hyper, step: next,
                                        muProduct: groups[index].muProduct)
                plans[index] = plan
                kernelPlans[index] = plan.kernelPlan
            }
        }
    }

    private static func finite(_ piece: Piece, _ range: Range<Int>) -> Bool {
        switch piece.dtype {
        case .float32: return allFinite(UnsafePointer(piece.grad.assumingMemoryBound(to: Float.self)), range)
        case .float64: return allFinite(UnsafePointer(piece.grad.assumingMemoryBound(to: Double.self)), range)
        }
    }

    private func rebuildPieces() {
        pieces.removeAll(keepingCapacity: true)
        chunkOffsets.removeAll(keepingCapacity: true)
        chunkOffsets.append(0)
        // 8-bit state: each param starts on a block boundary of the split (the element range is
        // padded to whole blocks), so no block is shared between two threads' chunks.
        let block = stateFormat == .int8Blockwise ? CompactBuffer.blockSize : 1
        for (index, parameter) in parameters.enumerated() {
            let state = parameter.state, compact = parameter.compact
            func slot(_ i: Int) -> UnsafeMutableRawPointer? {
                if i < state.count, let tensor = state[i] { return tensor.storage }
                if i < compact.count, let buffer = compact[i] { return buffer.codes }
                return nil
            }
            let count = parameter.tensor.count
            pieces.append(Piece(param: parameter.tensor.storage, grad: gradients[index].storage,
                                slot0: slot(0), slot1: slot(1), slot2: slot(2),
                                scale0: compact.count > 0 ? compact[0]?.scales : nil,
                                scale1: compact.count > 1 ? compact[1]?.scales : nil,
                                group: parameter.group, dtype: parameter.tensor.dtype, index: index, count: count))
            chunkOffsets.append((chunkOffsets.last ?? 0) + (count + block - 1) / block * block)
        }
        chunkAlignment = stateFormat == .int8Blockwise ? CompactBuffer.blockSize : 64
        piecesValid = true
    }

    /// True when every bound gradient element is finite (a parallel read-only scan).
    private func gradientsFinite() -> Bool {
        forEachPiece(nil, checked: true)
    }

    /// Runs `update` over every element of every parameter, split over cores in contiguous ranges
    /// of the concatenated element index. With `checked`, in two phases on one dispatch
    /// (`Parallel.forEachChunk(count:checking:)`): every chunk's gradients are scanned first, and
    /// nothing is updated unless all are finite (the return value); a nil `update` only scans.
    @discardableResult
    private func forEachPiece(_ update: PieceUpdate?, checked: Bool) -> Bool {
        let offsets = self.chunkOffsets
        return pieces.withUnsafeBufferPointer { pieces in
            offsets.withUnsafeBufferPointer { offsets in
                let job = PieceJob(pieces: pieces, offsets: offsets, update: update)
                let count = offsets[pieces.count]
                guard checked else {
                    Parallel.forEachChunk(count: count, alignment: chunkAlignment, job)
                    return true
                }
                return Parallel.forEachChunk(count: count, alignment: chunkAlignment, checking: job)
            }
        }
    }

    /// The update of one parameter's part of a chunk, with the step's plans (one per group).
    private struct PieceUpdate {
        let plans: UnsafePointer<dsupport_step_plan>
        let format: StateFormat
        let stochastic: Bool
        let seed: UInt64
        let step: Int64

        func callAsFunction(_ piece: Piece, _ range: Range<Int>) {
            let plan = plans + piece.group
            if format != .full {
                Optimizer.updateCompact(piece, range, plan, format: format, stochastic: stochastic, seed: seed,
                                        step: step)
                return
            }
            switch piece.dtype {
            case .float32: Self.run(Float.self, plan, piece, range)
            case .float64: Self.run(Double.self, plan, piece, range)
            }
        }

        @inline(__always)
        private static func run<T: DescentScalar>(_: T.Type, _ plan: UnsafePointer<dsupport_step_plan>,
                                                  _ piece: Piece, _ range: Range<Int>) {
            StepPlan.run(plan, piece.param.assumingMemoryBound(to: T.self),
                         UnsafePointer(piece.grad.assumingMemoryBound(to: T.self)),
                         piece.slot0?.assumingMemoryBound(to: T.self), piece.slot1?.assumingMemoryBound(to: T.self),
                         piece.slot2?.assumingMemoryBound(to: T.self), range)
        }
    }

    /// A chunk of the concatenated elements (a `Parallel` job): `check` scans its gradients,
    /// `run` applies `update` to each parameter's part of it.
    private struct PieceJob: CheckedChunkJob {
        let pieces: UnsafeBufferPointer<Piece>
        let offsets: UnsafeBufferPointer<Int>
        let update: PieceUpdate?

        func run(_ range: Range<Int>) {
            guard let update else { return }
            _ = Optimizer.visit(pieces, offsets, range) { piece, part in update(piece, part); return true }
        }

        func check(_ range: Range<Int>) -> Bool { Optimizer.visit(pieces, offsets, range, Optimizer.finite) }
    }

    /// Calls `body` for each parameter's part of the concatenated element range `range`, stopping
    /// at the first false; returns whether none was false. `offsets` are the params' starts in the
    /// split (`chunkOffsets`: padded to whole blocks under 8-bit state, else contiguous); padding
    /// elements belong to no param.
    @inline(__always)
    private static func visit(_ pieces: UnsafeBufferPointer<Piece>, _ offsets: UnsafeBufferPointer<Int>,
                              _ range: Range<Int>, _ body: (Piece, Range<Int>) -> Bool) -> Bool {
        // The first parameter whose elements reach into `range` (binary search).
        var low = 0, high = pieces.count - 1
        while low < high {
            let middle = (low + high + 1) / 2
            if offsets[middle] <= range.lowerBound { low = middle } else { high = middle - 1 }
        }
        var index = low
        while index < pieces.count, offsets[index] < range.upperBound {
            let start = max(range.lowerBound, offsets[index]) - offsets[index]
            let end = min(range.upperBound, offsets[index] + pieces[index].count) - offsets[index]
            if start < end, !body(pieces[index], start..<end) { return false }
            index += 1
        }
        return true
    }
}
