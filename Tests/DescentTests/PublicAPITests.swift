import XCTest
import Descent  // not @testable: only what another package sees
#if canImport(Glibc)
import Glibc
#endif

/// The Swift API as a dependent package uses it: arrays in and out of tensors, a loader over
/// Swift labels, and how a schedule meets the optimizer's own learning rate.
final class PublicAPITests: XCTestCase {
    func testTensorsFromAndToSwiftArrays() throws {
        let t = try Tensor([1.0, 2.0, 3.0, 4.0, 5.0, 6.0], shape: [2, 3])
        XCTAssertEqual(t.dtype, .float64)
        XCTAssertEqual(t.shape, [2, 3])
        XCTAssertEqual(try t.toArray(Double.self), [1, 2, 3, 4, 5, 6])
        let f = try Tensor([Float(0.5), 1.5])
        XCTAssertEqual(f.dtype, .float32)
        XCTAssertEqual(f.shape, [2])
        try f.assign([Float(2), 3])
        XCTAssertEqual(try f.toArray(Float.self), [2, 3])
        XCTAssertThrowsError(try Tensor([1.0, 2.0], shape: [3])) { XCTAssertEqual(($0 as? DescentError)?.code, .shape) }
        XCTAssertThrowsError(try f.toArray(Double.self)) { XCTAssertEqual(($0 as? DescentError)?.code, .dtype) }
        XCTAssertThrowsError(try f.assign([1.0, 2.0])) { XCTAssertEqual(($0 as? DescentError)?.code, .dtype) }
        XCTAssertThrowsError(try f.assign([Float(1)])) { XCTAssertEqual(($0 as? DescentError)?.code, .shape) }
        XCTAssertEqual(try f.toArray(Float.self), [2, 3])
        XCTAssertEqual(try Tensor([Double]()).count, 0)
    }

    func testDataLoaderOverSwiftLabels() throws {
        let x = try Tensor([0.0, 1, 2, 3, 4, 5], shape: [3, 2])
        let loader = try DataLoader(inputs: x, labels: [0, 1, 1], batchSize: 2, shuffle: false)
        XCTAssertEqual(loader.batchCount, 2)
        XCTAssertTrue(loader.hasLabels)
        XCTAssertThrowsError(try DataLoader(inputs: x, labels: [0, 1], batchSize: 2)) {
            XCTAssertEqual(($0 as? DescentError)?.code, .shape)
        }
    }

    func testBaseRateAndRebasedFollowPyTorchsBaseLR() throws {
        let cosine = try LearningRateSchedule.cosine(initial: 0.1, period: 10, minimum: 0.01)
        XCTAssertEqual(cosine.baseRate, 0.1)
        let moved = try cosine.rebased(to: 0.5)
        for t in Int64(0)..<25 {
            let expected = 0.01 + (0.5 - 0.01) * (1 + cos(Double.pi * Double(t) / 10)) / 2
            XCTAssertEqual(try moved.value(at: t), expected, accuracy: 1e-15)
        }
        let warm = try LearningRateSchedule.sequential(
            [.linear(initial: 0.2, startFactor: 0, endFactor: 1, totalSteps: 4), .exponential(initial: 0.2, gamma: 0.5)],
            milestones: [4])
        let rebased = try warm.rebased(to: 1)
        XCTAssertEqual(try rebased.value(at: 2), 0.5, accuracy: 1e-15)
        XCTAssertEqual(try rebased.value(at: 5), 0.5, accuracy: 1e-15)
        XCTAssertThrowsError(try cosine.rebased(to: .nan))
        XCTAssertThrowsError(try LearningRateSchedule.piecewiseConstant(boundaries: [2], values: [0, 1]).rebased(to: 1))
    }

    func testForGroupsAgreesRebasesOrOverrides() throws {
        let schedule = try LearningRateSchedule.exponential(initial: 0.1, gamma: 0.5)
        XCTAssertEqual(try schedule.forGroups(withRates: [0.1, 0.1], base: .agree).count, 2)
        XCTAssertThrowsError(try schedule.forGroups(withRates: [0.1, 0.2], base: .agree)) {
            XCTAssertEqual(($0 as? DescentError)?.code, .invalidArgument)
            XCTAssertTrue(($0 as? DescentError)?.message.contains("group 1 has lr 0.2") ?? false)
        }
        let followed = try schedule.forGroups(withRates: [0.1, 0.2], base: .optimizer)
        XCTAssertEqual(try followed[1].value(at: 2), 0.05, accuracy: 1e-16)
        let overriding = try schedule.forGroups(withRates: [3, 4], base: .schedule)
        XCTAssertEqual(try overriding[1].value(at: 1), 0.05)
        XCTAssertThrowsError(try ScheduleBase(checking: 7))
    }

    func testDescentErrorIsTypedAndSaysWhat() {
        do throws(DescentError) {
            _ = try Tensor.zeros(dtype: .float64, shape: [-1])
            XCTFail("a negative extent was accepted")
        } catch {
            XCTAssertEqual(error.code, .shape)
            XCTAssertFalse(error.message.isEmpty)
            XCTAssertTrue(error.description.hasPrefix("DESCENT_ERR_SHAPE: "))
        }
    }
}

