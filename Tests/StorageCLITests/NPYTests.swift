import XCTest
@testable import NumPyFiles

final class NPYTests: XCTestCase {
    let tmp = TemporaryDirectory()

    private func open(_ fixture: String, _ name: String = "a.npy") throws -> NPYFile {
        try NPYFile(path: tmp.write(NPYFixtures.bytes(fixture), to: name))
    }

    private func assertError(_ expected: (NPYError) -> Bool, _ body: () throws -> Void, file: StaticString = #filePath, line: UInt = #line) {
        do {
            try body()
            XCTFail("no error thrown", file: file, line: line)
        } catch let error as NPYError {
            XCTAssertTrue(expected(error), "unexpected error: \(error)", file: file, line: line)
            XCTAssertFalse(error.description.contains("\n"), "error message must be one line", file: file, line: line)
        } catch {
            XCTFail("unexpected error type: \(error)", file: file, line: line)
        }
    }

    func testReadsNumPyIntegerFiles() throws {
        XCTAssertEqual(try open(NPYFixtures.uint8).toArray(UInt8.self), [0, 1, 255])
        XCTAssertEqual(try open(NPYFixtures.uint16).toArray(UInt16.self), [0, 1, 65535, 300])
        XCTAssertEqual(try open(NPYFixtures.uint32).toArray(UInt32.self), [0, 1, 4_294_967_295, 49151])
        XCTAssertEqual(try open(NPYFixtures.int64).toArray(Int64.self), [2048, -1, 9_007_199_254_740_993])
        XCTAssertEqual(try open(NPYFixtures.uint32Version2).toArray(UInt32.self), [7, 8, 9])
    }

    func testReadsFloatsAndShapes() throws {
        let half = try open(NPYFixtures.float16)
        XCTAssertEqual(try half.toArray(Float16.self).map(\.bitPattern), [0x3C00, 0x3800, 0xC000, 0x7BFF, 11877])
        let m = try open(NPYFixtures.float32Matrix)
        XCTAssertEqual(m.shape, [2, 3])
        XCTAssertEqual(try m.requireMatrix(rows: 2).columns, 3)
        try m.withElements(Float.self) { XCTAssertEqual(Array($0), [0, 0.25, 0.5, 0.75, 1, 1.25]) }
        let empty = try open(NPYFixtures.float32Empty)
        XCTAssertEqual(empty.shape, [0, 5])
        try empty.withElements(Float.self) { XCTAssertEqual($0.count, 0) }
    }

    func testBigEndianIsSwapped() throws {
        XCTAssertEqual(try open(NPYFixtures.float32BigEndian).toArray(Float.self), [1.5, -3.25])
        let u = try open(NPYFixtures.uint32BigEndian)
        XCTAssertFalse(u.dtype.littleEndian)
        try u.withElements(UInt32.self) { XCTAssertEqual(Array($0), [1, 258]) }
        XCTAssertEqual(try u.unsignedIntegers(), [1, 258])
    }

    func testCountsWidenFromEveryUnsignedType() throws {
        XCTAssertEqual(try open(NPYFixtures.uint8).unsignedIntegers(), [0, 1, 255])
        XCTAssertEqual(try open(NPYFixtures.uint16).unsignedIntegers(), [0, 1, 65535, 300])
        assertError({ if case .wrongDType = $0 { return true }; return false }) { _ = try open(NPYFixtures.int64).unsignedIntegers() }
    }

    func testRejectsFortranOrderComplexAndStructured() {
        assertError({ $0 == .fortranOrder(path: tmp.file("f.npy")) }) { _ = try open(NPYFixtures.float32Fortran, "f.npy") }
        assertError({ if case .unsupportedDType(_, "<c8") = $0 { return true }; return false }) { _ = try open(NPYFixtures.complex64) }
        assertError({ if case .unsupportedDType(_, "structured") = $0 { return true }; return false }) { _ = try open(NPYFixtures.structured) }
    }

    func testWrongDTypeAndShapeAreNamed() throws {
        let f = try open(NPYFixtures.float32Matrix)
        assertError({ $0.description.contains("expected dtype uint32, found float32") }) { _ = try f.toArray(UInt32.self) }
        assertError({ if case .wrongShape = $0 { return true }; return false }) { try f.requireVector() }
        assertError({ $0.description.contains("expected shape (2, 4)") }) { try f.requireMatrix(rows: 2, columns: 4) }
        assertError({ $0.description.contains("expected dtype float16 or float32, found uint8") }) { try open(NPYFixtures.uint8).require(dtype: [.float16, .float32]) }
    }

    func testTruncatedCorruptAndMissingFiles() throws {
        let good = NPYFixtures.bytes(NPYFixtures.uint32)
        assertError({ $0 == .sizeMismatch(path: tmp.file("t.npy"), expectedBytes: 16, actualBytes: 13) }) {
            _ = try NPYFile(path: tmp.write(Array(good.dropLast(3)), to: "t.npy"))
        }
        assertError({ if case .sizeMismatch(_, 16, 20) = $0 { return true }; return false }) {
            _ = try NPYFile(path: tmp.write(good + [1, 2, 3, 4], to: "long.npy"))
        }
        assertError({ if case .malformedHeader = $0 { return true }; return false }) {
            _ = try NPYFile(path: tmp.write(Array(good.prefix(40)), to: "h.npy"))
        }
        var badMagic = good; badMagic[1] = UInt8(ascii: "X")
        assertError({ if case .notNumPy = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.write(badMagic, to: "m.npy")) }
        var badVersion = good; badVersion[6] = 9
        assertError({ if case .unsupportedVersion(_, 9, 0) = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.write(badVersion, to: "v.npy")) }
        var badDict = good; badDict[11] = UInt8(ascii: "x")   // "{'descr'" → "{x'descr'"? breaks the key
        assertError({ if case .malformedHeader = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.write(badDict, to: "d.npy")) }
        assertError({ if case .notNumPy = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.write([], to: "empty.npy")) }
        assertError({ if case .cannotOpen = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.file("missing.npy")) }
        assertError({ if case .cannotOpen = $0 { return true }; return false }) { _ = try NPYFile(path: tmp.path) }
    }

    func testHeaderParserEdgeCases() throws {
        func header(_ dict: String) throws -> NPYHeader {
            var bytes: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59, 1, 0]
            let text = Array((dict + "\n").utf8)
            bytes += [UInt8(text.count & 0xFF), UInt8(text.count >> 8)] + text
            return try bytes.withUnsafeBytes { try NPYHeader.parse($0, path: "x") }
        }
        XCTAssertEqual(try header("{\"descr\":\"<u4\",\"fortran_order\":False,\"shape\":(2,3)}").shape, [2, 3])
        XCTAssertEqual(try header("{'descr': '<f8', 'fortran_order': False, 'shape': (), }").count, 1)
        XCTAssertEqual(try header("{'descr': '<u2', 'fortran_order': True, 'shape': (1, 7), }").shape, [1, 7])
        XCTAssertThrowsError(try header("{'descr': '<u2', 'fortran_order': False, 'shape': (-1,), }"))
        XCTAssertThrowsError(try header("{'descr': '<u2', 'fortran_order': False, 'shape': (1,), 'extra': 1}"))
        XCTAssertThrowsError(try header("{'descr': '<u2', 'fortran_order': False}"))
        XCTAssertThrowsError(try header("{'descr': '|u2', 'fortran_order': False, 'shape': (1,)}"))
        XCTAssertThrowsError(try header("{'descr': '<u4', 'fortran_order': False, 'shape': (99999999999, 99999999999)}"))
        XCTAssertThrowsError(try header("{'descr': '<u4', 'fortran_order': False, 'shape': (1,)"))
    }

    func testWriterMatchesNumPyBytesExactly() throws {
        let values: [UInt32] = [0, 1, 4_294_967_295, 49151]
        let path = tmp.file("w.npy")
        try NPYWriter.write(values, to: path)
        XCTAssertEqual(Array(FileManager.default.contents(atPath: path)!), NPYFixtures.bytes(NPYFixtures.uint32))
        let m: [Float] = [0, 0.25, 0.5, 0.75, 1, 1.25]
        try NPYWriter.write(m, shape: [2, 3], to: path)
        XCTAssertEqual(Array(FileManager.default.contents(atPath: path)!), NPYFixtures.bytes(NPYFixtures.float32Matrix))
        try NPYWriter.write([UInt8]([0, 1, 255]), to: path)
        XCTAssertEqual(Array(FileManager.default.contents(atPath: path)!), NPYFixtures.bytes(NPYFixtures.uint8))
    }

    func testStreamingWriterRoundTripAndCountCheck() throws {
        let path = tmp.file("s.npy")
        let w = try NPYWriter(path: path, scalar: .float16, shape: [1_200_001])
        var all: [Float16] = []
        var rng = SystemRandomNumberGenerator()
        while all.count < 1_200_001 {
            let chunk = (0..<min(500_001, 1_200_001 - all.count)).map { _ in Float16(bitPattern: UInt16.random(in: 0...0x7BFF, using: &rng)) }
            try w.append(contentsOf: chunk)
            all += chunk
        }
        try w.finish()
        XCTAssertEqual(try NPYFile(path: path).toArray(Float16.self).map(\.bitPattern), all.map(\.bitPattern))

        // Too few elements: finish refuses and nothing appears at the path.
        let short = tmp.file("short.npy")
        do {
            let w2 = try NPYWriter(path: short, scalar: .uint32, shape: [5])
            try w2.append(contentsOf: [UInt32(1), 2])
            XCTAssertThrowsError(try w2.finish())
        }
        XCTAssertFalse(FileManager.default.fileExists(atPath: short))
        XCTAssertEqual(try FileManager.default.contentsOfDirectory(atPath: tmp.path).filter { $0.contains("partial") }, [])
        // Too many elements.
        let w3 = try NPYWriter(path: short, scalar: .uint32, shape: [1])
        XCTAssertThrowsError(try w3.append(contentsOf: [UInt32(1), 2]))
        // Unwritable directory.
        XCTAssertThrowsError(try NPYWriter(path: tmp.file("no/such/dir/x.npy"), scalar: .uint8, shape: [1]))
    }
}
