import XCTest
@testable import LogitStore

final class LogitStoreSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
