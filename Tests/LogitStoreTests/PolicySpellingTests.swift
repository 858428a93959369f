import XCTest
@testable import LogitStore

/// `--policy` and `--out PATH[:POLICY]` as design.md spells them.
final class PolicySpellingTests: XCTestCase {
    func testSpellings() throws {
        XCTAssertEqual(try PolicySpelling.parse("top-p-k:0.9:50"), TruncationPolicy(topP: 0.9, topK: 50))
        XCTAssertEqual(try PolicySpelling.parse("sample:64"), .sample(samples: 64))
        XCTAssertEqual(try PolicySpelling.parse("sample:64:2", sampleSeed: 7), .sample(samples: 64, sampleTemperature: 2, seed: 7))
        XCTAssertEqual(try PolicySpelling.parse("sample:64:2").weights, .importance)
        XCTAssertEqual(try PolicySpelling.parse("sample:8", temperature: 1.5).temperature, 1.5)
        for bad in ["sample", "sample:0", "sample:70000", "sample:x", "sample:8:0", "sample:8:-1", "sample:8:1:2",
                    "top-p-k:0.9", "top-p-k:1.5:10", "top-p-k:0.9:0", "topk:5", ""] {
            XCTAssertThrowsError(try PolicySpelling.parse(bad), bad) { XCTAssertFalse("\($0)".contains("\n")) }
        }
        XCTAssertThrowsError(try PolicySpelling.parse("sample:8", sampleSeed: 1 << 53)) { XCTAssert("\($0)".contains("seed"), "\($0)") }
    }

    func testStoreSuffixes() {
        XCTAssert(PolicySpelling.splitStore("out/a") == ("out/a", nil))
        XCTAssert(PolicySpelling.splitStore("out/a:sample:64") == ("out/a", "sample:64"))
        XCTAssert(PolicySpelling.splitStore("/x:y/a:top-p-k:0.95:100") == ("/x:y/a", "top-p-k:0.95:100"))
        XCTAssert(PolicySpelling.splitStore("a:sample:8:top-p-k:1:1") == ("a", "sample:8:top-p-k:1:1"))
        XCTAssert(PolicySpelling.splitStore(":sample:8") == ("", "sample:8"))
    }
}
