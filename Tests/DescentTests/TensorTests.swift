import XCTest
@testable import Descent

/// Core tensor behaviour: shapes, factories, copies, and the errors bad input produces.
final class TensorTests: XCTestCase {
    func testZerosShapeAndCount() throws {
        let tensor = try Tensor.zeros(dtype: .float64, shape: [2, 3, 4])
        XCTAssertEqual(tensor.count, 24)
        XCTAssertEqual(tensor.rank, 3)
        XCTAssertEqual(Array(try tensor.elements(Double.self)), Array(repeating: 0, count: 24))
    }

    func testFullRoundsToFloat() throws {
        let tensor = try Tensor.full(0.1, dtype: .float32, shape: [3])
        XCTAssertEqual(Array(try tensor.elements(Float.self)), [0.1, 0.1, 0.1] as [Float])
    }

    func testElementsRejectsTheWrongType() throws {
        let tensor = try Tensor.ones(dtype: .float32, shape: [2])
        XCTAssertThrowsError(try tensor.elements(Double.self)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .dtype)
        }
    }

    func testShapeValidation() {
        XCTAssertThrowsError(try Shape.elementCount([2, -1], dtype: .float64)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .shape)
        }
        XCTAssertThrowsError(try Shape.elementCount(Array(repeating: 1, count: 9), dtype: .float64))
        XCTAssertThrowsError(try Shape.elementCount([Int.max / 2, 4], dtype: .float64))
        XCTAssertEqual(try Shape.elementCount([], dtype: .float32), 1)
        XCTAssertEqual(try Shape.elementCount([3, 0, 2], dtype: .float32), 0)
    }

    func testArangeAndLinspace() throws {
        let range = try Tensor.arange(start: 1, stop: 2, step: 0.25, dtype: .float64)
        XCTAssertEqual(Array(try range.elements(Double.self)), [1, 1.25, 1.5, 1.75])
        let empty = try Tensor.arange(start: 3, stop: 1, step: 1, dtype: .float64)
        XCTAssertEqual(empty.count, 0)
        let spaced = try Tensor.linspace(start: 0, stop: 1, count: 3, endpoint: true, dtype: .float64)
        XCTAssertEqual(Array(try spaced.elements(Double.self)), [0, 0.5, 1])
        let open = try Tensor.linspace(start: 0, stop: 1, count: 4, endpoint: false, dtype: .float64)
        XCTAssertEqual(Array(try open.elements(Double.self)), [0, 0.25, 0.5, 0.75])
        XCTAssertThrowsError(try Tensor.arange(start: 0, stop: 1, step: 0, dtype: .float64))
    }

    func testWrappingSharesMemoryAndChecksCapacity() throws {
        var storage: [Double] = [1, 2, 3, 4]
        try storage.withUnsafeMutableBytes { raw in
            let tensor = try Tensor(wrapping: raw.baseAddress!, dtype: .float64, shape: [2, 2], capacity: 4)
            try tensor.scale(by: 2)
            XCTAssertThrowsError(try Tensor(wrapping: raw.baseAddress!, dtype: .float64, shape: [5], capacity: 4))
        }
        XCTAssertEqual(storage, [2, 4, 6, 8])
    }

    func testCopyOutChecksDtypeAndCapacity() throws {
        let tensor = try Tensor.ones(dtype: .float64, shape: [3])
        var out = [Double](repeating: 0, count: 2)
        XCTAssertThrowsError(try out.withUnsafeMutableBytes { raw in
            try tensor.copy(to: raw.baseAddress!, capacity: 2, dtype: .float64)
        }) { error in XCTAssertEqual((error as? DescentError)?.code, .bufferTooSmall) }
        XCTAssertEqual(out, [0, 0])
    }
}
