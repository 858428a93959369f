import XCTest
@testable import Teacher

final class TeacherSmokeTests: XCTestCase {
    func testModuleLinks() { XCTAssertTrue(true) }
}
