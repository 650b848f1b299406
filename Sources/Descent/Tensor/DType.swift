/// Element type of a tensor. Raw values are the C ABI's `DESCENT_DTYPE_*` constants.
public enum DType: Int32, Sendable, CaseIterable, CustomStringConvertible {
    case float32 = 1
    case float64 = 2

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .float32: return 4
        case .float64: return 8
        }
    }

    /// "float32" or "float64".
    public var description: String {
        switch self {
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }

    /// Validates a dtype that arrived as a number from outside.
    public init(checking raw: Int32) throws(DescentError) {
        guard let dtype = DType(rawValue: raw) else {
            throw .dtype("unknown dtype \(raw) (expected 1 = float32 or 2 = float64)")
        }
        self = dtype
    }
}
