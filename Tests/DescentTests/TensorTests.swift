import XCTest
@testable import Descent

final class TensorTests: XCTestCase {
    func testZerosShapeAndCount() throws {
        let tensor = try Tensor.zeros(dtype: .float64, shape: [2, 3, 4])
        XCTAssertEqual(tensor.count, 24)
        XCTAssertEqual(tensor.rank, 3)
        XCTAssertEqual(Array(try tensor.elements(Double.self)), Array(repeating: 0, count: 24))
    }
}
