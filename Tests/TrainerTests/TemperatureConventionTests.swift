import XCTest
import Foundation
@testable import Trainer

/// The temperature convention: defaults, the pd-star preset, saved options (old files included).
final class TemperatureConventionTests: XCTestCase {
    func testDefaultsAndPresetUseTheTeacherOnlyConvention() throws {
        let d = TrainingOptions()
        XCTAssertEqual(d.kdTemperatureOn, .teacherOnly)
        XCTAssertFalse(d.tauSquared)
        var o = TrainingOptions()
        o.kdTemperatureOn = .both; o.tauSquared = true
        try o.apply(preset: "pd-star")
        XCTAssertEqual(o.temperature, .fixed(2))
        XCTAssertEqual(o.kdTemperatureOn, .teacherOnly)
        XCTAssertFalse(o.tauSquared)
        XCTAssertTrue(o.label.contains("on-teacher"), o.label)
    }

    func testOptionsRoundTripWithTheConvention() throws {
        var o = TrainingOptions()
        o.kdTemperatureOn = .both; o.tauSquared = true; o.temperature = .fixed(3)
        let back = try JSONDecoder().decode(TrainingOptions.self, from: try JSONEncoder().encode(o))
        XCTAssertEqual(back, o)
    }

    /// An options file saved before the convention existed loads, as the convention that trainer applied (both).
    func testOldOptionsFileLoadsAsBoth() throws {
        var o = TrainingOptions()
        o.temperature = .fixed(2); o.batchSize = 3
        var json = try JSONSerialization.jsonObject(with: try JSONEncoder().encode(o)) as! [String: Any]
        json.removeValue(forKey: "kdTemperatureOn"); json.removeValue(forKey: "tauSquared")
        let old = try JSONDecoder().decode(TrainingOptions.self, from: try JSONSerialization.data(withJSONObject: json))
        XCTAssertEqual(old.kdTemperatureOn, .both)
        XCTAssertFalse(old.tauSquared)
        XCTAssertEqual(old.batchSize, 3)
        XCTAssertEqual(old.temperature, .fixed(2))
    }

    func testConventionSpellings() {
        XCTAssertEqual(TemperatureConvention(rawValue: "teacher"), .teacherOnly)
        XCTAssertEqual(TemperatureConvention(rawValue: "both"), .both)
        XCTAssertNil(TemperatureConvention(rawValue: "student"))
    }
}
