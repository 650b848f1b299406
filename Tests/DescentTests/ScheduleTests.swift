import XCTest
@testable import Descent

final class ScheduleTests: XCTestCase {
    func testTextbookInverseTimeTable() throws {
        // deeplearning.ai's learning-rate decay: alpha0 = 0.2, decay rate 1 -> epochs 1...4: 0.1, 0.067, 0.05, 0.04.
        let schedule = try LearningRateSchedule.inverseTime(initial: 0.2, decayRate: 1)
        XCTAssertEqual(try schedule.value(at: 0), 0.2)
        XCTAssertEqual(try schedule.value(at: 1), 0.1, accuracy: 1e-15)
        XCTAssertEqual(try schedule.value(at: 2), 0.2 / 3, accuracy: 1e-15)
        XCTAssertEqual(try schedule.value(at: 3), 0.05, accuracy: 1e-15)
        XCTAssertEqual(try schedule.value(at: 4), 0.04, accuracy: 1e-15)
        XCTAssertThrowsError(try schedule.value(at: -1))
    }

    func testWarmRestartCyclesAreExactIntegers() {
        // t_0 = 10, t_mult = 2: cycles [0, 10), [10, 30), [30, 70), ...
        XCTAssertTrue(warmRestartPosition(9, firstPeriod: 10, multiplier: 2) == (9, 10))
        XCTAssertTrue(warmRestartPosition(10, firstPeriod: 10, multiplier: 2) == (0, 20))
        XCTAssertTrue(warmRestartPosition(69, firstPeriod: 10, multiplier: 2) == (39, 40))
        XCTAssertTrue(warmRestartPosition(Int64.max, firstPeriod: 1, multiplier: 3).position >= 0)
    }

    func testOneCycleRejectsZeroLengthPhase() {
        XCTAssertThrowsError(try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 10, pctStart: 0.1))
        XCTAssertNoThrow(try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 100))
    }

    func testOneCycleMomentumMovesInverselyToTheRate() throws {
        let range = try OneCycle.MomentumRange(base: 0.85, max: 0.95)
        let schedule = try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 100, annealing: .linear,
                                                         momentum: range)
        XCTAssertTrue(schedule.cyclesMomentum)
        XCTAssertEqual(try schedule.momentum(at: 0), 0.95, accuracy: 1e-15)
        XCTAssertEqual(try schedule.momentum(at: 29), 0.85, accuracy: 1e-15)   // lr peak at p*T - 1
        XCTAssertEqual(try schedule.momentum(at: 64), 0.90, accuracy: 1e-15)   // halfway down: linear midpoint
        XCTAssertEqual(try schedule.momentum(at: 99), 0.95, accuracy: 1e-15)
        XCTAssertThrowsError(try schedule.momentum(at: 101))
        let three = try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 100, threePhase: true,
                                                      momentum: range)
        XCTAssertEqual(try three.momentum(at: 58), 0.95, accuracy: 1e-15)      // end of phase 2
        XCTAssertEqual(try three.momentum(at: 80), 0.95, accuracy: 1e-15)      // flat third phase
    }

    func testSequentialCarriesTheMomentumCycle() throws {
        let range = try OneCycle.MomentumRange(base: 0.85, max: 0.95)
        let cycle = try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 100, annealing: .linear,
                                                      momentum: range)
        let warmup = try LearningRateSchedule.linear(initial: 0.04, startFactor: 0, endFactor: 1, totalSteps: 10)
        let after = try LearningRateSchedule.constant(0.01)
        let composite = try LearningRateSchedule.sequential([warmup, cycle, after], milestones: [10, 80])
        XCTAssertTrue(composite.cyclesMomentum)
        XCTAssertEqual(try composite.momentum(at: 3), 0.95, accuracy: 1e-15)         // warmup: max_momentum
        XCTAssertEqual(try composite.momentum(at: 39), 0.85, accuracy: 1e-15)        // the cycle's step 29
        XCTAssertEqual(try composite.momentum(at: 85), try cycle.momentum(at: 69))   // held at its last step
        XCTAssertThrowsError(try composite.momentum(at: -1))
        XCTAssertFalse(try LearningRateSchedule.sequential([warmup, after], milestones: [10]).cyclesMomentum)
    }

    func testMomentumValidationAndUnsupportedKinds() throws {
        XCTAssertThrowsError(try OneCycle.MomentumRange(base: -0.1, max: 0.9))
        XCTAssertThrowsError(try OneCycle.MomentumRange(base: 0.9, max: 0.8))
        XCTAssertThrowsError(try OneCycle.MomentumRange(base: 0.8, max: .infinity))
        XCTAssertThrowsError(try OneCycle.MomentumRange(base: .nan, max: 0.9))
        let plain = try LearningRateSchedule.oneCycle(maxLearningRate: 1, totalSteps: 100)
        XCTAssertFalse(plain.cyclesMomentum)
        XCTAssertThrowsError(try plain.momentum(at: 0)) { error in
            XCTAssertEqual((error as? DescentError)?.code, .unsupported)
        }
        XCTAssertThrowsError(try LearningRateSchedule.constant(0.1).momentum(at: 0))
    }

    func testPlateauReducesAfterPatience() throws {
        let plateau = try ReduceOnPlateau(learningRate: 1, factor: 0.5, patience: 1)
        XCTAssertEqual(try [1.0, 1.0, 1.0].map { try plateau.update(metric: $0) }, [1, 1, 0.5])
    }

    func testClipRejectsAliasedAndMixedGradients() throws {
        let a = try Tensor.full(3, dtype: .float64, shape: [4])
        let b = try Tensor.full(3, dtype: .float32, shape: [4])
        XCTAssertThrowsError(try GradientClipping.clipByNorm([a, a], maxNorm: 1))
        XCTAssertThrowsError(try GradientClipping.clipByNorm([a, b], maxNorm: 1))
        XCTAssertEqual(Array(try a.elements(Double.self)), [3, 3, 3, 3])
        XCTAssertEqual(try GradientClipping.clipByNorm([a], maxNorm: 1), 6)
        XCTAssertEqual(try a.elements(Double.self)[0], 3 / (6 + 1e-6), accuracy: 1e-15)
    }
}
