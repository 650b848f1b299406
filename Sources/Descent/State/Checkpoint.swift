/// Optimizer checkpoints: a versioned, checksummed, little-endian binary file written atomically.
/// C counterparts: `descent_optimizer_save`, `descent_optimizer_load`. Format version 1:
/// ```
/// header (32 bytes)
///   0  8  magic "DSCNTOPT"
///   8  u32 format version (1)
///  12  u32 header flags: bit 0 = parameter values included
///  16  u64 payload length in bytes
///  24  u64 FNV-1a-64 of the payload
/// payload
///   i32 rule, i32 non-finite policy, i64 step count
///   u32 K (number of hyper-parameter keys, 13), then the defaults: K x (i32 key, f64 value)
///   i64 group count G; per group: K x (i32 key, f64 value), f64 mu_product, i64 param count
///   i64 param count P; per param (registration order):
///     i64 group, i32 dtype, i32 rank, rank x i64 extent, u32 slot mask (bit s = slot s stored),
///     for each stored slot in order: count x element (4 or 8 bytes, IEEE little-endian),
///     then the parameter's elements when header bit 0 is set
/// ```
///
/// Format version 2 is version 1 with the compact state format (`Optimizer.setStateFormat`): after
/// the i64 step count come i32 state format (0 full, 1 bfloat16, 2 int8 blockwise), i32 rounding
/// (0 nearest even, 1 stochastic) and u64 seed, and each stored slot holds that format's bytes:
/// full: count x element; bfloat16: count x u16; int8 blockwise: count x u8 codes, then
/// ceil(count / 256) x f32 block scales. Saves write version 1 when the state format is full (the
/// same bytes as before) and version 2 otherwise; loads read both (version 1 means full state) and
/// adopt the file's state format, so compact state round-trips bit for bit.
///
/// Loading checks magic, version, length and checksum before parsing, parses everything into
/// fresh buffers, then checks the file against the optimizer (rule, groups, param counts,
/// dtypes, shapes); only then does it replace hyper-parameters, step count, policy, state (and
/// parameter values when stored). Any failure leaves the optimizer unchanged.
enum CheckpointFormat {
    static let magic: [UInt8] = Array("DSCNTOPT".utf8)
    static let version: UInt32 = 1
    /// Version 2: version 1 plus the compact state format (written only for compact state).
    static let compactVersion: UInt32 = 2
    static let headerSize = 32
    static let flagParameters: UInt32 = 1
}

extension Optimizer {
    /// Writes the complete state (and the parameter values when `includeParameters`) to `path`.
    public func save(to path: String, includeParameters: Bool) throws(DescentError) {
        guard UInt16(1).littleEndian == 1 else { throw DescentError(.unsupported, "checkpoints need a little-endian host") }
        try lock.withLock { _ throws(DescentError) in
            var writer = try AtomicFileWriter(path: path)
            CheckpointFormat.magic.withUnsafeBytes { raw in writer.bytes(raw) }
            let compact = stateFormat != .full
            writer.integer(compact ? CheckpointFormat.compactVersion : CheckpointFormat.version)
            writer.integer(includeParameters ? CheckpointFormat.flagParameters : 0)
            writer.integer(UInt64(0))  // payload length, patched below
            writer.integer(UInt64(0))  // checksum, patched below
            writer.startChecksum()
            writer.integer(rule.rawValue)
            writer.integer(nonFinitePolicy.rawValue)
            writer.integer(stepCount)
            if compact {
                writer.integer(stateFormat.rawValue)
                writer.integer(stateRounding.rawValue)
                writer.integer(stateSeed)
            }
            let keys = HyperparameterKey.allCases
            writer.integer(UInt32(keys.count))
            for key in keys {
                writer.integer(key.rawValue)
                writer.double(defaults[key])
            }
            writer.integer(Int64(groups.count))
            for group in groups {
                for key in keys {
                    writer.integer(key.rawValue)
                    writer.double(group.hyper[key])
                }
                writer.double(group.muProduct)
                writer.integer(Int64(group.members.count))
            }
            writer.integer(Int64(parameters.count))
            for parameter in parameters {
                let tensor = parameter.tensor
                writer.integer(Int64(parameter.group))
                writer.integer(tensor.dtype.rawValue)
                writer.integer(Int32(tensor.rank))
                for extent in tensor.shape { writer.integer(Int64(extent)) }
                var mask: UInt32 = 0
                for slot in 0..<rule.stateSlotCount where parameter.hasSlot(slot) { mask |= 1 << UInt32(slot) }
                writer.integer(mask)
                for (slot, state) in parameter.state.enumerated() {
                    if let state { writer.bytes(UnsafeRawBufferPointer(start: state.storage, count: state.byteCount)) }
                    if let buffer = parameter.compact[slot] {
                        buffer.withBytes { (codes, scales) in
                            writer.bytes(codes)
                            writer.bytes(scales)
                        }
                    }
                }
                if includeParameters {
                    writer.bytes(UnsafeRawBufferPointer(start: tensor.storage, count: tensor.byteCount))
                }
            }
            var lengthField = writer.payloadLength.littleEndian
            var checksumField = writer.checksumValue.littleEndian
            try withUnsafeBytes(of: &lengthField) { (raw) throws(DescentError) in writer.patch(at: 16, raw) }
            try withUnsafeBytes(of: &checksumField) { (raw) throws(DescentError) in writer.patch(at: 24, raw) }
            try writer.commit()
        }
    }

    /// Replaces this optimizer's state with the checkpoint at `path` (see `CheckpointFormat`).
    public func load(from path: String) throws(DescentError) {
        try withWholeFile(path) { (raw) throws(DescentError) in try load(checkpoint: raw, name: path) }
    }

    /// Replaces this optimizer's state with the checkpoint bytes `raw` (the whole file);
    /// `name` names them in error messages. The in-memory half of `load(from:)`, which the
    /// checkpoint fuzzer (Tests/fuzz) drives directly.
    func load(checkpoint raw: UnsafeRawBufferPointer, name: String) throws(DescentError) {
        try lock.withLock { _ throws(DescentError) in try restore(raw, name) }
    }

    private func restore(_ raw: UnsafeRawBufferPointer, _ path: String) throws(DescentError) {
        var header = ByteReader(raw)
        guard raw.count >= CheckpointFormat.headerSize else {
            throw DescentError(.corrupt, "\(path) is \(raw.count) bytes, shorter than a checkpoint header")
        }
        let magic = try header.take(8)
        guard magic.elementsEqual(CheckpointFormat.magic) else {
            throw DescentError(.corrupt, "\(path) is not a Descent optimizer checkpoint (bad magic)")
        }
        let version = try header.integer(UInt32.self)
        guard version == CheckpointFormat.version || version == CheckpointFormat.compactVersion else {
            throw DescentError(.corrupt, "\(path) has checkpoint format version \(version); this library reads versions 1 and 2")
        }
        let flags = try header.integer(UInt32.self)
        guard flags & ~CheckpointFormat.flagParameters == 0 else {
            throw DescentError(.corrupt, "\(path) has unknown header flags 0x\(String(flags, radix: 16))")
        }
        let length = try header.integer(UInt64.self)
        let expectedChecksum = try header.integer(UInt64.self)
        guard length == UInt64(header.remaining) else {
            throw DescentError(.corrupt, "\(path): the header announces \(length) payload bytes, the file holds \(header.remaining) (truncated or extended)")
        }
        let payload = try header.take(Int(length))
        var checksum = FNV1a64()
        checksum.update(payload)
        guard checksum.value == expectedChecksum else {
            throw DescentError(.corrupt, "\(path): payload checksum mismatch (the file was altered or damaged)")
        }
        var reader = ByteReader(payload)
        let fileRule = try reader.integer(Int32.self)
        guard fileRule == rule.rawValue else {
            let name = OptimizerRule(rawValue: fileRule)?.description ?? "unknown rule code \(fileRule)"
            throw .argument("\(path) holds the state of the \(name) rule, this optimizer's rule is \(rule); a checkpoint loads only into an optimizer of the rule that saved it")
        }
        guard let policy = NonFinitePolicy(rawValue: try reader.integer(Int32.self)) else {
            throw DescentError(.corrupt, "\(path): unknown non-finite policy")
        }
        let steps = try reader.integer(Int64.self)
        guard steps >= 0 else { throw DescentError(.corrupt, "\(path): negative step count") }
        var format = StateFormat.full, rounding = StateRounding.nearestEven, seed: UInt64 = 0
        if version == CheckpointFormat.compactVersion {
            guard let storedFormat = StateFormat(rawValue: try reader.integer(Int32.self)),
                  let storedRounding = StateRounding(rawValue: try reader.integer(Int32.self)) else {
                throw DescentError(.corrupt, "\(path): unknown state format or rounding")
            }
            (format, rounding, seed) = (storedFormat, storedRounding, try reader.integer(UInt64.self))
            if format == .int8Blockwise {
                guard Self.int8Supports(rule), rounding == .nearestEven else {
                    throw DescentError(.corrupt, "\(path): int8 blockwise state with \(rule) or stochastic rounding")
                }
            }
        }
        let keyCount = try reader.integer(UInt32.self)
        guard keyCount <= 64 else { throw DescentError(.corrupt, "\(path): \(keyCount) hyper-parameter keys") }
        let newDefaults = try readHyper(&reader, count: Int(keyCount), path)
        let groupCount = try reader.integer(Int64.self)
        guard groupCount == Int64(groups.count) else {
            throw .argument("\(path) has \(groupCount) parameter groups, this optimizer has \(groups.count)")
        }
        var newGroups = groups
        for index in groups.indices {
            newGroups[index].hyper = try readHyper(&reader, count: Int(keyCount), path)
            let product = try reader.double()
            guard product.isFinite, product > 0, product <= 1 else { throw DescentError(.corrupt, "\(path): bad mu_product") }
            newGroups[index].muProduct = product
            let members = try reader.integer(Int64.self)
            guard members == Int64(groups[index].members.count) else {
                throw .argument("\(path): group \(index) has \(members) params, this optimizer's has \(groups[index].members.count)")
            }
        }
        let parameterCount = try reader.integer(Int64.self)
        guard parameterCount == Int64(parameters.count) else {
            throw .argument("\(path) has \(parameterCount) params, this optimizer has \(parameters.count)")
        }
        if format == .int8Blockwise {
            for hyper in [newDefaults] + newGroups.map(\.hyper) where hyper.flags.contains(.amsgrad) {
                throw DescentError(.corrupt, "\(path): int8 blockwise state with AMSGrad")
            }
        }
        var newState: [[Tensor?]] = []
        var newCompact: [[CompactBuffer?]] = []
        var parameterBytes: [UnsafeRawBufferPointer] = []
        for (index, parameter) in parameters.enumerated() {
            let tensor = parameter.tensor
            let group = try reader.integer(Int64.self)
            guard group == Int64(parameter.group) else { throw DescentError(.corrupt, "\(path): param \(index) is in the wrong group") }
            let dtype = try reader.integer(Int32.self)
            let rank = try reader.integer(Int32.self)
            guard rank >= 0, rank <= Int32(Shape.maxRank) else { throw DescentError(.corrupt, "\(path): param \(index) has rank \(rank)") }
            var shape: [Int] = []
            for _ in 0..<Int(rank) { shape.append(Int(truncatingIfNeeded: try reader.integer(Int64.self))) }
            guard dtype == tensor.dtype.rawValue, shape == tensor.shape else {
                let stored = DType(rawValue: dtype)?.description ?? "unknown dtype code \(dtype)"
                throw .shape("\(path): param \(index) is \(stored) with shape \(Shape.describe(shape)), this optimizer's is \(tensor.dtype) with shape \(Shape.describe(tensor.shape))")
            }
            let mask = try reader.integer(UInt32.self)
            guard mask >> UInt32(rule.stateSlotCount) == 0 else { throw DescentError(.corrupt, "\(path): bad slot mask") }
            if format != .full, tensor.dtype != .float32 {
                throw DescentError(.corrupt, "\(path): \(format) state for a \(tensor.dtype) param \(index)")
            }
            if format == .int8Blockwise, mask >> 2 != 0 { throw DescentError(.corrupt, "\(path): bad slot mask") }
            var slots: [Tensor?] = Array(repeating: nil, count: rule.stateSlotCount)
            var compactSlots: [CompactBuffer?] = Array(repeating: nil, count: rule.stateSlotCount)
            for slot in 0..<rule.stateSlotCount where mask & (1 << UInt32(slot)) != 0 {
                if format == .full {
                    let bytes = try reader.take(tensor.byteCount)
                    let state = try Tensor.zeros(dtype: tensor.dtype, shape: tensor.shape)
                    if let base = bytes.baseAddress { state.storage.copyMemory(from: base, byteCount: bytes.count) }
                    slots[slot] = state
                } else {
                    let buffer = try CompactBuffer(format: format, count: tensor.count, signed: slot == 0)
                    let codes = try reader.take(buffer.codeByteCount)
                    let scales = try reader.take(buffer.scaleCount * 4)
                    buffer.load(codes: codes, scales: scales)
                    compactSlots[slot] = buffer
                }
            }
            // A slot the stored settings need must be stored: a crafted file without it would
            // otherwise load and make every later step skip this param's update.
            for slot in 0..<rule.stateSlotCount where slots[slot] == nil && compactSlots[slot] == nil
                && rule.needsSlot(slot, newGroups[parameter.group].hyper) {
                throw DescentError(.corrupt, "\(path): param \(index) lacks \(rule.stateSlotName(slot)), which its group's settings need")
            }
            newState.append(slots)
            newCompact.append(compactSlots)
            if flags & CheckpointFormat.flagParameters != 0 { parameterBytes.append(try reader.take(tensor.byteCount)) }
        }
        guard reader.remaining == 0 else { throw DescentError(.corrupt, "\(path): \(reader.remaining) unexpected trailing bytes") }
        // Every check passed: commit (nothing below can fail).
        defaults = newDefaults
        groups = newGroups
        stepCount = steps
        nonFinitePolicy = policy
        stateFormat = format
        stateRounding = rounding
        stateSeed = seed
        plans = []
        piecesValid = false
        for (index, parameter) in parameters.enumerated() {
            parameter.state = newState[index]
            parameter.compact = newCompact[index]
            if index < parameterBytes.count, let base = parameterBytes[index].baseAddress {
                parameter.tensor.storage.copyMemory(from: base, byteCount: parameterBytes[index].count)
            }
        }
    }

    private func readHyper(_ reader: inout ByteReader, count: Int, _ path: String) throws(DescentError) -> Hyperparameters {
        var hyper = Hyperparameters()
        for _ in 0..<count {
            let raw = try reader.integer(Int32.self)
            let value = try reader.double()
            guard let key = HyperparameterKey(rawValue: raw) else { throw DescentError(.corrupt, "\(path): unknown hyper-parameter key \(raw)") }
            if key == .flags {
                guard let bits = Int32(exactly: value), bits >= 0 else { throw DescentError(.corrupt, "\(path): bad flags") }
                hyper.flags = OptimizerFlags(rawValue: bits)
            } else {
                hyper[key] = value
            }
        }
        do {
            try hyper.validate(for: rule)
        } catch {
            throw DescentError(.corrupt, "\(path): stored hyper-parameters are invalid: \(error.message)")
        }
        return hyper
    }
}
