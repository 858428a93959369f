import XCTest
import Foundation
@testable import LogitStore

/// Every must-reject vector under Spec/vectors/reject is refused with an error (never a crash, never data), no
/// later than the stage its index lists, and with this implementation's message fragment.
final class RejectVectorTests: XCTestCase {
    static let rejectDir = SpecVectorTests.vectorsDir + "/reject"

    enum Stage: String, Comparable {
        case open, read, verify
        static func < (a: Stage, b: Stage) -> Bool { [Stage.open, .read, .verify].firstIndex(of: a)! < [Stage.open, .read, .verify].firstIndex(of: b)! }
    }

    /// The stage at which the store fails and the error text, or nil when it passes everything.
    func firstFailure(_ dir: String) -> (Stage, String)? {
        let r: StoreReader
        do { r = try StoreReader(directory: dir) } catch { return (.open, "\(error)") }
        do { for i in 0..<r.sequenceCount { _ = try r.sequence(i) } } catch { return (.read, "\(error)") }
        do {
            let report = try r.verify()
            if !report.ok { return (.verify, report.problems.joined(separator: " | ")) }
        } catch { return (.verify, "\(error)") }
        return nil
    }

    func testEveryRejectVectorIsRefused() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: Self.rejectDir + "/index.json"))
        let index = try JSONSerialization.jsonObject(with: data) as! [[String: String]]
        XCTAssertGreaterThanOrEqual(index.count, 40, "must-reject vectors missing")
        let dirs = try FileManager.default.contentsOfDirectory(atPath: Self.rejectDir).filter { !$0.contains(".") }
        XCTAssertEqual(Set(dirs), Set(index.map { $0["name"]! }), "index.json and the directories disagree")
        for v in index {
            let name = v["name"]!, stage = Stage(rawValue: v["stage"]!)!, fragment = v["error"]!
            guard let (got, message) = firstFailure(Self.rejectDir + "/" + name) else {
                XCTFail("\(name) (\(v["rule"]!)) was accepted"); continue
            }
            XCTAssertLessThanOrEqual(got, stage, "\(name) refused only at \(got): \(message)")
            XCTAssertTrue(message.contains(fragment), "\(name): \"\(message)\" lacks \"\(fragment)\"")
            if got != .verify { XCTAssertLessThanOrEqual(message.count, 300, "\(name): error line too long") }
        }
    }

    func testTheUnbrokenOriginalsAreAccepted() throws {
        for name in ["handmade", "handmade-zstd", "handmade-unknown-stream", "handmade-id-table"] {
            XCTAssertNil(firstFailure(SpecVectorTests.vectorsDir + "/" + name).map { "\($0)" }, name)
        }
        // Unknown optional streams are skipped: the same content as the plain store.
        let plain = try StoreReader(directory: SpecVectorTests.vectorsDir + "/handmade")
        for other in ["handmade-unknown-stream", "handmade-id-table", "handmade-zstd"] {
            let extra = try StoreReader(directory: SpecVectorTests.vectorsDir + "/" + other)
            for i in 0..<plain.sequenceCount { XCTAssertEqual(try extra.sequence(i), try plain.sequence(i), other) }
        }
    }
}
