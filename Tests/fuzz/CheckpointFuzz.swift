// libFuzzer target over the optimizer checkpoint loader (Optimizer.load(checkpoint:name:), the
// in-memory half of descent_optimizer_load). Built by scripts/build-fuzzer.sh into the same module
// as the core's sources, with `swiftc -sanitize=fuzzer,address`: the whole core is instrumented,
// so libFuzzer's coverage guidance sees inside the parser, and AddressSanitizer sees its memory.
//
// Input: byte 0 picks the subject and the mode, the rest is checkpoint bytes.
//   bits 0-3  subject: one optimizer per rule (10) with two groups (float32 (3,4), float64 (5,))
//   bit 4     raw: the rest is a whole file (header included), as read from disk
//             otherwise the rest is a payload, sealed here with a correct header (magic, version,
//             length, FNV-1a-64), so mutations get past the checksum into the parser
//   bit 5     sealed mode: the header says parameter values are included
// Per input: load; an accepted checkpoint must then survive a step (an error is fine, a trap is
// not); a rejected one must leave the optimizer exactly as it was (fingerprint compared). Every
// input starts from the same state (the pristine checkpoint is loaded back after an accepted one).
//
// DESCENT_FUZZ_WRITE_SEEDS=dir writes the seed corpus (each subject's own saves, with and without
// parameters, in both modes) into dir and exits.
import Glibc

final class FuzzSubject {
    let optimizer: Optimizer
    let gradients: [Tensor]
    let pristine: [UInt8]       // the subject's own checkpoint file, parameters included
    let fingerprint: [UInt64]

    init(rule: OptimizerRule, scratch: String) throws(DescentError) {
        optimizer = Optimizer(rule: rule)
        let a = try Tensor.full(0.5, dtype: .float32, shape: [3, 4])
        let b = try Tensor.full(-1.25, dtype: .float64, shape: [5])
        _ = try optimizer.addGroup([a])
        // The second group turns on the settings that need more state slots.
        switch rule {
        case .sgd: try optimizer.setHyperparameter(group: 0, .momentum, 0.9)
        case .rmsprop:
            try optimizer.setHyperparameter(group: 0, .momentum, 0.5)
        default: break
        }
        _ = try optimizer.addGroup([b])
        switch rule {
        case .adam, .adamw: try optimizer.setHyperparameter(group: 1, .flags, Double(OptimizerFlags.amsgrad.rawValue))
        case .rmsprop: try optimizer.setHyperparameter(group: 1, .flags, Double(OptimizerFlags.centered.rawValue))
        case .sgd:
            try optimizer.setHyperparameter(group: 1, .momentum, 0.9)
            try optimizer.setHyperparameter(group: 1, .flags, Double(OptimizerFlags.nesterov.rawValue))
        default: break
        }
        gradients = [try Tensor.full(0.25, dtype: .float32, shape: [3, 4]),
                     try Tensor.full(-2.0, dtype: .float64, shape: [5])]
        try optimizer.bindGradients(gradients)
        _ = try optimizer.step()
        _ = try optimizer.step()
        let path = scratch + "/subject-\(rule.rawValue).ckpt"
        try optimizer.save(to: path, includeParameters: true)
        pristine = try withWholeFile(path) { raw in Array(raw) }
        unlink(path)
        fingerprint = FuzzSubject.fingerprint(optimizer)
    }

    /// Everything a load may replace: defaults, groups, step count, policy, state slots, params.
    static func fingerprint(_ optimizer: Optimizer) -> [UInt64] {
        var hash = FNV1a64()
        var out: [UInt64] = [UInt64(bitPattern: optimizer.stepCount), UInt64(optimizer.nonFinitePolicy.rawValue)]
        func add(_ hyper: Hyperparameters) {
            for value in [hyper.learningRate, hyper.momentum, hyper.dampening, hyper.beta1, hyper.beta2, hyper.alpha,
                          hyper.rho, hyper.epsilon, hyper.weightDecay, hyper.learningRateDecay,
                          hyper.initialAccumulatorValue, hyper.momentumDecay] {
                out.append(value.bitPattern)
            }
            out.append(UInt64(hyper.flags.rawValue))
        }
        add(optimizer.defaults)
        for group in optimizer.groups {
            add(group.hyper)
            out.append(group.muProduct.bitPattern)
        }
        for parameter in optimizer.parameters {
            for state in parameter.state {
                if let state {
                    hash.update(UnsafeRawBufferPointer(start: state.storage, count: state.byteCount))
                    out.append(1)
                } else {
                    out.append(0)
                }
            }
            hash.update(UnsafeRawBufferPointer(start: parameter.tensor.storage, count: parameter.tensor.byteCount))
        }
        out.append(hash.value)
        return out
    }
}

nonisolated(unsafe) var fuzzSubjects: [FuzzSubject] = []
nonisolated(unsafe) var fuzzSelfTest = false

func sealed(_ payload: UnsafeRawBufferPointer, parameters: Bool) -> [UInt8] {
    var file = CheckpointFormat.magic
    func append<I: FixedWidthInteger>(_ value: I) {
        withUnsafeBytes(of: value.littleEndian) { file.append(contentsOf: $0) }
    }
    var checksum = FNV1a64()
    checksum.update(payload)
    append(CheckpointFormat.version)
    append(parameters ? CheckpointFormat.flagParameters : 0)
    append(UInt64(payload.count))
    append(checksum.value)
    file.append(contentsOf: payload)
    return file
}

func writeSeeds(to directory: String) {
    for (index, subject) in fuzzSubjects.enumerated() {
        let payload = Array(subject.pristine[CheckpointFormat.headerSize...])
        var variants: [[UInt8]] = [[UInt8(index) | 0x10] + subject.pristine, [UInt8(index) | 0x20] + payload]
        // The same state without parameter values (the header flag off, the param bytes gone).
        let scratch = directory + "/.noparams"
        if (try? subject.optimizer.save(to: scratch, includeParameters: false)) != nil,
           let bytes = try? withWholeFile(scratch, { raw in Array(raw) }) {
            variants.append([UInt8(index) | 0x10] + bytes)
            variants.append([UInt8(index)] + Array(bytes[CheckpointFormat.headerSize...]))
            unlink(scratch)
        }
        for (number, bytes) in variants.enumerated() {
            let path = directory + "/seed-\(index)-\(number)"
            let file = fopen(path, "wb")
            if let file {
                _ = bytes.withUnsafeBytes { fwrite($0.baseAddress, 1, $0.count, file) }
                fclose(file)
            }
        }
    }
}

/// Loads checkpoint bytes into `optimizer`: nil, or the error.
func load(_ bytes: [UInt8], into optimizer: Optimizer, name: String) -> DescentError? {
    bytes.withUnsafeBytes { raw -> DescentError? in
        do throws(DescentError) {
            try optimizer.load(checkpoint: raw, name: name)
            return nil
        } catch {
            return error
        }
    }
}

@_cdecl("LLVMFuzzerInitialize")
public func fuzzInitialize(_ argc: UnsafeMutablePointer<CInt>, _ argv: UnsafeMutablePointer<UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>?>) -> CInt {
    var template = Array("/tmp/descent-fuzz-XXXXXX".utf8CString)
    let scratch = template.withUnsafeMutableBufferPointer { buffer in
        mkdtemp(buffer.baseAddress!).map { String(cString: $0) }
    }
    guard let scratch else { fatalError("mkdtemp failed") }
    for rule in 1...10 {
        guard let kind = OptimizerRule(rawValue: Int32(rule)) else { continue }
        do { fuzzSubjects.append(try FuzzSubject(rule: kind, scratch: scratch)) } catch {
            fatalError("subject \(kind): \(error.message)")
        }
    }
    rmdir(scratch)
    fuzzSelfTest = getenv("DESCENT_FUZZ_SELF_TEST") != nil
    if let directory = getenv("DESCENT_FUZZ_WRITE_SEEDS") {
        writeSeeds(to: String(cString: directory))
        exit(0)
    }
    return 0
}

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzzOneInput(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    guard size >= 1 else { return 0 }
    let input = UnsafeRawBufferPointer(start: data, count: size)
    let selector = input[0]
    let subject = fuzzSubjects[Int(selector & 0x0F) % fuzzSubjects.count]
    let rest = UnsafeRawBufferPointer(rebasing: input[1...])
    let file: [UInt8] = selector & 0x10 != 0 ? Array(rest) : sealed(rest, parameters: selector & 0x20 != 0)
    let failure = load(file, into: subject.optimizer, name: "fuzz")
    let accepted = failure == nil
    if let failure, failure.message.isEmpty { fatalError("a rejected checkpoint has an empty error message") }
    // The harness's own test (scripts/stress.sh --self-test): a planted bug deep in the parser
    // (past the checksum, the groups and the rule) that the fuzzer must find and report.
    if fuzzSelfTest, let failure, failure.message.contains("bad mu_product") {
        fatalError("self-test: the fuzzer reached the mu_product check")
    }
    if accepted {
        // Whatever was accepted must be usable: a step may refuse (non-finite values), never trap.
        _ = try? subject.optimizer.bindGradients(subject.gradients)
        _ = try? subject.optimizer.step()
        if let failure = load(subject.pristine, into: subject.optimizer, name: "pristine") {
            fatalError("the pristine checkpoint no longer loads: \(failure.message)")
        }
    }
    if FuzzSubject.fingerprint(subject.optimizer) != subject.fingerprint {
        fatalError(accepted ? "reloading the pristine checkpoint did not restore the optimizer"
                            : "a rejected checkpoint changed the optimizer")
    }
    return 0
}
