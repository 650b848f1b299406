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
                let parameter = parameters[index]
                try parameter.tensor.requireSameLayout(as: gradient, "gradient \(index)")
                guard !overlaps(gradient, parameter.tensor) else {
                    throw .argument("gradient \(index) shares memory with its param")
                }
                for other in parameters where other.state.contains(where: { $0 === gradient }) {
                    throw .argument("gradient \(index) is a state tensor")
                }
            }
            gradients = tensors
        }
    }

    /// Whether gradients are bound.
    public var hasGradients: Bool { lock.withLock { _ in !gradients.isEmpty || parameters.isEmpty } }

    /// One update of every parameter of every group with the bound gradients, t = stepCount + 1.
    /// Returns true when the step was skipped (non-finite gradient under the `.skip` policy).
    /// On error (no gradients bound, non-finite gradient under `.raise`, a non-finite step
    /// size) nothing changed. Large work is split over cores by element ranges that cross
    /// tensor boundaries; each element's update is independent, so results are bit-identical
    /// whatever the thread count.
    @discardableResult
    public func step() throws(DescentError) -> Bool {
        try lock.withLock { _ throws(DescentError) -> Bool in
            guard gradients.count == parameters.count else {
                throw .argument("no gradients are bound (descent_optimizer_set_grads / bindGradients)")
            }
            if nonFinitePolicy != .proceed && !gradientsFinite() {
                if nonFinitePolicy == .skip { return true }
                throw DescentError(.nonFinite, "a gradient holds NaN or infinity; nothing was updated (policy raise)")
            }
            let next = stepCount + 1
            if plans.count != groups.count {
                plans.removeAll(keepingCapacity: true)
                for group in groups {
                    plans.append(try StepPlan(rule: rule, hyper: group.hyper, step: next, muProduct: group.muProduct))
                }
            } else {
                for index in groups.indices {
                    plans[index] = try StepPlan(rule: rule, hyper: groups[index].hyper, step: next,
                                                muProduct: groups[index].muProduct)
                }
            }
            forEachPiece { parameter, gradient, range in
                let plan = plans[parameter.group]
                let state = parameter.state
                let s0 = state.count > 0 ? state[0] : nil
                let s1 = state.count > 1 ? state[1] : nil
                let s2 = state.count > 2 ? state[2] : nil
                switch parameter.tensor.dtype {
                case .float32:
                    plan.run(parameter.tensor.pointer(as: Float.self), gradient.pointer(as: Float.self),
                             s0?.pointer(as: Float.self), s1?.pointer(as: Float.self), s2?.pointer(as: Float.self), range)
                case .float64:
                    plan.run(parameter.tensor.pointer(as: Double.self), gradient.pointer(as: Double.self),
                             s0?.pointer(as: Double.self), s1?.pointer(as: Double.self), s2?.pointer(as: Double.self), range)
                }
            }
            for index in groups.indices { groups[index].muProduct = plans[index].muProductAfter }
            stepCount = next
            return false
        }
    }

    /// True when every bound gradient element is finite (a parallel read-only scan).
    private func gradientsFinite() -> Bool {
        finiteFlag.store(0, ordering: .relaxed)
        forEachPiece { parameter, gradient, range in
            let finite: Bool
            switch gradient.dtype {
            case .float32: finite = allFinite(gradient.pointer(as: Float.self), range)
            case .float64: finite = allFinite(gradient.pointer(as: Double.self), range)
            }
            if !finite { finiteFlag.store(1, ordering: .relaxed) }
        }
        return finiteFlag.load(ordering: .relaxed) == 0
    }

    /// Calls `body(parameter, gradient, elementRange)` over every element of every parameter,
    /// split over cores in contiguous ranges of the concatenated element index.
    private func forEachPiece(_ body: (Parameter, Tensor, Range<Int>) -> Void) {
        let parameters = self.parameters, gradients = self.gradients, offsets = self.offsets
        Parallel.forEachChunk(count: elementCount) { range in
            // The first parameter whose elements reach into `range` (binary search over offsets).
            var low = 0, high = parameters.count - 1
            while low < high {
                let middle = (low + high + 1) / 2
                if offsets[middle] <= range.lowerBound { low = middle } else { high = middle - 1 }
            }
            var index = low
            while index < parameters.count, offsets[index] < range.upperBound {
                let start = max(range.lowerBound, offsets[index]) - offsets[index]
                let end = min(range.upperBound, offsets[index + 1]) - offsets[index]
                if start < end { body(parameters[index], gradients[index], start..<end) }
                index += 1
            }
        }
    }
}
