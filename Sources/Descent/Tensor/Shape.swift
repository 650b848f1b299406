/// Shape rules shared by every tensor constructor.
public enum Shape {
    /// Highest rank a tensor may have.
    public static let maxRank = 8

    /// Checks `dims` (rank, non-negative extents, no overflow of the byte size) and returns the
    /// element count.
    public static func elementCount(_ dims: [Int], dtype: DType) throws(DescentError) -> Int {
        guard dims.count <= maxRank else {
            throw .shape("rank \(dims.count) exceeds the maximum rank \(maxRank)")
        }
        var count = 1
        for (axis, extent) in dims.enumerated() {
            guard extent >= 0 else {
                throw .shape("negative extent \(extent) on axis \(axis)")
            }
            let (product, overflow) = count.multipliedReportingOverflow(by: extent)
            guard !overflow else { throw .shape("shape \(dims) has too many elements") }
            count = product
        }
        let (bytes, overflow) = count.multipliedReportingOverflow(by: dtype.size)
        guard !overflow, bytes <= Int(Int64.max / 2) else {
            throw .shape("shape \(dims) is too large for \(dtype)")
        }
        return count
    }

    static func describe(_ dims: [Int]) -> String {
        "(" + dims.map(String.init).joined(separator: ", ") + (dims.count == 1 ? ",)" : ")")
    }
}
