import XCTest
@testable import Transformer

final class TransformerSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
