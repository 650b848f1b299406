import Descent

// C exports of the stateful optimizer (descent_optimizer handles). Shims only.

@inline(__always)
private func optimizer(_ handle: UInt64) throws(DescentError) -> Optimizer {
    try handles.lookup(handle, as: Optimizer.self, role: "optimizer")
}

/// Reads `count` tensor handles from a C array.
private func tensorList(_ list: UnsafePointer<UInt64>?, _ count: Int64, _ role: String) throws(DescentError) -> [Tensor] {
    let length = try readCount(count, "count")
    if length == 0 { return [] }
    let handlesIn = try required(list, role)
    try probeAllocation(Tensor.self, count: length, copies: 2, "the tensor list")  // growing by doubling
    var result: [Tensor] = []
    result.reserveCapacity(min(length, 1 << 16))  // a count larger than the array is the caller's error; do not trap on it first
    for index in 0..<length { result.append(try tensor(handlesIn[index], "\(role)[\(index)]")) }
    return result
}

private func readIndex(_ value: Int64, _ name: String) throws(DescentError) -> Int {
    guard value >= -1, value <= Int64(Int32.max) else { throw .init(.invalidArgument, "\(name) \(value) is out of range") }
    return Int(value)
}

@c public func descent_optimizer_new(_ rule: Int32, _ out: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_optimizer_new") { () throws(DescentError) in
        let destination = try required(out, "out")
        let kind = try OptimizerRule(checking: rule)
        destination.pointee = try handles.insert(Optimizer(rule: kind))
    }
}

@c public func descent_optimizer_free(_ handle: UInt64) -> Int32 {
    exported("descent_optimizer_free") { () throws(DescentError) in
        try handles.remove(handle, as: Optimizer.self, role: "optimizer")
    }
}

@c public func descent_optimizer_add_group(_ handle: UInt64, _ params: UnsafePointer<UInt64>?, _ count: Int64,
                                           _ groupOut: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_optimizer_add_group") { () throws(DescentError) in
        let target = try optimizer(handle)
        let tensors = try tensorList(params, count, "params")
        let group = try target.addGroup(tensors)
        groupOut?.pointee = Int64(group)
    }
}

@c public func descent_optimizer_set_hyper(_ handle: UInt64, _ group: Int64, _ key: Int32, _ value: Double) -> Int32 {
    exported("descent_optimizer_set_hyper") { () throws(DescentError) in
        let target = try optimizer(handle)
        let name = try HyperparameterKey(checking: key)
        try target.setHyperparameter(group: readIndex(group, "group"), name, value)
    }
}

@c public func descent_optimizer_get_hyper(_ handle: UInt64, _ group: Int64, _ key: Int32,
                                           _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_optimizer_get_hyper") { () throws(DescentError) in
        let target = try optimizer(handle)
        let destination = try required(out, "out")
        let name = try HyperparameterKey(checking: key)
        destination.pointee = try target.hyperparameter(group: readIndex(group, "group"), name)
    }
}

@c public func descent_optimizer_set_grads(_ handle: UInt64, _ grads: UnsafePointer<UInt64>?, _ count: Int64) -> Int32 {
    exported("descent_optimizer_set_grads") { () throws(DescentError) in
        let target = try optimizer(handle)
        try target.bindGradients(tensorList(grads, count, "grads"))
    }
}

@c public func descent_optimizer_step(_ handle: UInt64, _ skipped: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_optimizer_step") { () throws(DescentError) in
        let wasSkipped = try optimizer(handle).step()
        skipped?.pointee = wasSkipped ? 1 : 0
    }
}

@c public func descent_optimizer_set_nonfinite_policy(_ handle: UInt64, _ policy: Int32) -> Int32 {
    exported("descent_optimizer_set_nonfinite_policy") { () throws(DescentError) in
        let target = try optimizer(handle)
        try target.setNonFinitePolicy(try NonFinitePolicy(checking: policy))
    }
}

@c public func descent_optimizer_nonfinite_policy(_ handle: UInt64, _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_optimizer_nonfinite_policy") { () throws(DescentError) in
        let target = try optimizer(handle)
        try required(out, "out").pointee = try target.summary.policy.rawValue
    }
}

@c public func descent_optimizer_step_count(_ handle: UInt64, _ out: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_optimizer_step_count") { () throws(DescentError) in
        let target = try optimizer(handle)
        try required(out, "out").pointee = try target.summary.stepCount
    }
}

@c public func descent_optimizer_set_step_count(_ handle: UInt64, _ count: Int64) -> Int32 {
    exported("descent_optimizer_set_step_count") { () throws(DescentError) in
        try optimizer(handle).setStepCount(count)
    }
}

@c public func descent_optimizer_mu_product(_ handle: UInt64, _ group: Int64, _ out: UnsafeMutablePointer<Double>?) -> Int32 {
    exported("descent_optimizer_mu_product") { () throws(DescentError) in
        let target = try optimizer(handle)
        let destination = try required(out, "out")
        destination.pointee = try target.muProduct(group: readIndex(group, "group"))
    }
}

@c public func descent_optimizer_set_mu_product(_ handle: UInt64, _ group: Int64, _ value: Double) -> Int32 {
    exported("descent_optimizer_set_mu_product") { () throws(DescentError) in
        try optimizer(handle).setMuProduct(group: readIndex(group, "group"), value)
    }
}

@c public func descent_optimizer_counts(_ handle: UInt64, _ rule: UnsafeMutablePointer<Int32>?,
                                        _ groups: UnsafeMutablePointer<Int64>?,
                                        _ params: UnsafeMutablePointer<Int64>?) -> Int32 {
    exported("descent_optimizer_counts") { () throws(DescentError) in
        let target = try optimizer(handle)
        let summary = try target.summary
        rule?.pointee = target.rule.rawValue
        groups?.pointee = Int64(summary.groups)
        params?.pointee = Int64(summary.parameters)
    }
}

@c public func descent_optimizer_state_present(_ handle: UInt64, _ param: Int64, _ slot: Int32,
                                               _ out: UnsafeMutablePointer<Int32>?) -> Int32 {
    exported("descent_optimizer_state_present") { () throws(DescentError) in
        let target = try optimizer(handle)
        let destination = try required(out, "out")
        destination.pointee = try target.hasState(parameter: readIndex(param, "param"), slot: Int(slot)) ? 1 : 0
    }
}

@c public func descent_optimizer_state_get(_ handle: UInt64, _ param: Int64, _ slot: Int32, _ dtype: Int32,
                                           _ out: UnsafeMutableRawPointer?, _ capacity: Int64) -> Int32 {
    exported("descent_optimizer_state_get") { () throws(DescentError) in
        let target = try optimizer(handle)
        let type = try DType(checking: dtype)
        let room = try readCount(capacity, "capacity")
        let destination = try required(out, "out")
        try target.readState(parameter: readIndex(param, "param"), slot: Int(slot), into: destination,
                             capacity: room, dtype: type)
    }
}

@c public func descent_optimizer_state_set(_ handle: UInt64, _ param: Int64, _ slot: Int32, _ dtype: Int32,
                                           _ data: UnsafeRawPointer?, _ count: Int64) -> Int32 {
    exported("descent_optimizer_state_set") { () throws(DescentError) in
        let target = try optimizer(handle)
        let type = try DType(checking: dtype)
        let length = try readCount(count, "count")
        let source = try required(data, "data")
        try target.writeState(parameter: readIndex(param, "param"), slot: Int(slot), from: source,
                              count: length, dtype: type)
    }
}

/// A NUL-terminated UTF-8 path from C. Invalid UTF-8 is rejected rather than repaired: the
/// repaired string would name another file.
private func readPath(_ path: UnsafePointer<CChar>?) throws(DescentError) -> String {
    guard let text = String(validatingCString: try required(path, "path")) else {
        throw DescentError(.invalidArgument, "path is not valid UTF-8")
    }
    return text
}

@c public func descent_optimizer_save(_ handle: UInt64, _ path: UnsafePointer<CChar>?, _ includeParams: Int32) -> Int32 {
    exported("descent_optimizer_save") { () throws(DescentError) in
        let target = try optimizer(handle)
        let file = try readPath(path)
        try target.save(to: file, includeParameters: includeParams != 0)
    }
}

@c public func descent_optimizer_load(_ handle: UInt64, _ path: UnsafePointer<CChar>?) -> Int32 {
    exported("descent_optimizer_load") { () throws(DescentError) in
        let target = try optimizer(handle)
        let file = try readPath(path)
        try target.load(from: file)
    }
}

@c public func descent_optimizer_set_state_format(_ handle: UInt64, _ format: Int32, _ rounding: Int32,
                                                  _ seed: UInt64) -> Int32 {
    exported("descent_optimizer_set_state_format") { () throws(DescentError) in
        let target = try optimizer(handle)
        try target.setStateFormat(try StateFormat(checking: format), rounding: try StateRounding(checking: rounding),
                                  seed: seed)
    }
}

@c public func descent_optimizer_state_format(_ handle: UInt64, _ format: UnsafeMutablePointer<Int32>?,
                                              _ rounding: UnsafeMutablePointer<Int32>?,
                                              _ seed: UnsafeMutablePointer<UInt64>?) -> Int32 {
    exported("descent_optimizer_state_format") { () throws(DescentError) in
        let settings = try optimizer(handle).stateFormatSettings
        format?.pointee = settings.format.rawValue
        rounding?.pointee = settings.rounding.rawValue
        seed?.pointee = settings.seed
    }
}
