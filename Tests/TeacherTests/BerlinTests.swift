import XCTest
@testable import Teacher

/// The reference: after "The capital of France is Paris. The capital of Germany is", SmolLM2-135M-Instruct
/// gives ` Berlin` 0.964, ` Germany` 0.019, ` D` 0.005, ` Hamburg` 0.003, ` London` 0.001.
final class BerlinTests: XCTestCase {
    func testRealTeacherNextTokenDistribution() throws {
        let teacher = try TeacherModel(path: TestModel.path())
        XCTAssertEqual(teacher.config.layers, 30)
        XCTAssertEqual(teacher.config.dim, 576)
        XCTAssertEqual(teacher.config.heads, 9)
        XCTAssertEqual(teacher.config.kvHeads, 3)
        XCTAssertEqual(teacher.config.ffnDim, 1536)
        XCTAssertEqual(teacher.config.vocabSize, 49_152)
        XCTAssertEqual(teacher.config.ropeBase, 100_000)
        XCTAssertTrue(teacher.config.tiedEmbeddings)
        let ids = teacher.tokenizer.encode("The capital of France is Paris. The capital of Germany is")
        let p = try teacher.nextTokenDistribution(after: ids)
        let top = p.indices.sorted { p[$0] > p[$1] }.prefix(5)
        let expected: [(String, Double)] = [(" Berlin", 0.964), (" Germany", 0.019), (" D", 0.005), (" Hamburg", 0.003), (" London", 0.001)]
        for (rank, (id, (text, prob))) in zip(top, expected).enumerated() {
            XCTAssertEqual(try teacher.tokenizer.decode([UInt32(id)]), text, "rank \(rank)")
            XCTAssertEqual(p[id], prob, accuracy: max(0.0006, prob * 0.05), "p(\(text))")
        }
    }
}
