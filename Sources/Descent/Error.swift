/// What went wrong, as a stable number. The C ABI returns these values unchanged as
/// `descent_status` (see `include/descent.h`); the list is append-only.
public enum ErrorCode: Int32, Sendable, CaseIterable {
    case nullPointer = 1
    case invalidHandle = 2
    case wrongHandleType = 3
    case dtype = 4
    case shape = 5
    case invalidArgument = 6
    case outOfMemory = 7
    case bufferTooSmall = 8
    case nonFinite = 9
    case io = 10
    case corrupt = 11
    case callback = 12
    case `internal` = 13
    case unsupported = 14

    /// The C spelling of the code, as `descent_status_string` returns it.
    public var name: StaticString {
        switch self {
        case .nullPointer: return "DESCENT_ERR_NULL_POINTER"
        case .invalidHandle: return "DESCENT_ERR_INVALID_HANDLE"
        case .wrongHandleType: return "DESCENT_ERR_WRONG_HANDLE_TYPE"
        case .dtype: return "DESCENT_ERR_DTYPE"
        case .shape: return "DESCENT_ERR_SHAPE"
        case .invalidArgument: return "DESCENT_ERR_INVALID_ARGUMENT"
        case .outOfMemory: return "DESCENT_ERR_OUT_OF_MEMORY"
        case .bufferTooSmall: return "DESCENT_ERR_BUFFER_TOO_SMALL"
        case .nonFinite: return "DESCENT_ERR_NON_FINITE"
        case .io: return "DESCENT_ERR_IO"
        case .corrupt: return "DESCENT_ERR_CORRUPT"
        case .callback: return "DESCENT_ERR_CALLBACK"
        case .internal: return "DESCENT_ERR_INTERNAL"
        case .unsupported: return "DESCENT_ERR_UNSUPPORTED"
        }
    }
}

/// The one error type the core throws: a code and a sentence for a human.
public struct DescentError: Error, Sendable, Equatable, CustomStringConvertible {
    /// What kind of failure: the stable number the C ABI returns as `descent_status`.
    public let code: ErrorCode
    /// What went wrong, for a human (the C ABI's `descent_last_error()` text).
    public let message: String

    /// An error of kind `code` with a message saying what went wrong.
    public init(_ code: ErrorCode, _ message: String) {
        self.code = code
        self.message = message
    }

    /// `"<C name of the code>: <message>"`.
    public var description: String { "\(code.name): \(message)" }

    static func shape(_ message: String) -> DescentError { DescentError(.shape, message) }
    static func dtype(_ message: String) -> DescentError { DescentError(.dtype, message) }
    static func argument(_ message: String) -> DescentError { DescentError(.invalidArgument, message) }
}
