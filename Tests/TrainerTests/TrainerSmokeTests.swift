import XCTest
@testable import Trainer

final class TrainerSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
