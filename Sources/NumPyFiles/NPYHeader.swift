/// The header of a `.npy` file (format versions 1.0, 2.0 and 3.0, as NumPy's `numpy.lib.format` defines them).
///
/// Layout: the 6-byte magic `\x93NUMPY`, a major and a minor version byte, the header length
/// (little-endian u16 for 1.0, u32 for 2.0 and 3.0), then a Python dict literal
/// `{'descr': '<f4', 'fortran_order': False, 'shape': (3, 4), }` padded with spaces and ended by `\n`.
public struct NPYHeader: Equatable, Sendable {
    /// Element type and byte order.
    public var dtype: NPYDType
    /// The array shape, outermost first (empty for a 0-d array).
    public var shape: [Int]
    /// True when the data is stored column-major.
    public var fortranOrder: Bool
    /// Byte offset of the data section from the start of the file.
    public var dataOffset: Int

    /// A header for writing (the data offset is computed when it is serialised).
    public init(dtype: NPYDType, shape: [Int], fortranOrder: Bool = false, dataOffset: Int = 0) {
        self.dtype = dtype
        self.shape = shape
        self.fortranOrder = fortranOrder
        self.dataOffset = dataOffset
    }

    /// The number of elements (the product of the shape; 1 for a 0-d array).
    public var count: Int { shape.reduce(1, *) }

    /// The number of data bytes.
    public var dataByteCount: Int { count * dtype.scalar.size }

    static let magic: [UInt8] = [0x93, 0x4E, 0x55, 0x4D, 0x50, 0x59]   // \x93NUMPY

    /// "(3, 4)" / "(5,)" as NumPy prints shapes.
    public static func shapeString(_ shape: [Int]) -> String {
        shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
    }

    /// Parses the header at the start of `bytes` (the whole file or at least its header).
    public static func parse(_ bytes: UnsafeRawBufferPointer, path: String) throws -> NPYHeader {
        guard bytes.count >= 10, Array(bytes[0..<6]) == magic else { throw NPYError.notNumPy(path: path) }
        let major = bytes[6], minor = bytes[7]
        let lengthStart: Int, lengthBytes: Int
        switch (major, minor) {
        case (1, 0): lengthStart = 8; lengthBytes = 2
        case (2, 0), (3, 0): lengthStart = 8; lengthBytes = 4
        default: throw NPYError.unsupportedVersion(path: path, major: major, minor: minor)
        }
        guard bytes.count >= lengthStart + lengthBytes else { throw NPYError.malformedHeader(path: path, detail: "file ends inside the header length") }
        var headerLength = 0
        for i in 0..<lengthBytes { headerLength |= Int(bytes[lengthStart + i]) << (8 * i) }
        let textStart = lengthStart + lengthBytes
        guard bytes.count >= textStart + headerLength else {
            throw NPYError.malformedHeader(path: path, detail: "header of \(headerLength) bytes runs past the end of the file")
        }
        let text = String(decoding: UnsafeRawBufferPointer(rebasing: bytes[textStart..<(textStart + headerLength)]), as: UTF8.self)
        var parser = DictLiteralParser(text: text)
        let dict: [String: DictLiteralParser.Value]
        do { dict = try parser.parseDict() } catch let error as DictLiteralParser.Failure {
            throw NPYError.malformedHeader(path: path, detail: error.message)
        }
        guard Set(dict.keys) == ["descr", "fortran_order", "shape"] else {
            throw NPYError.malformedHeader(path: path, detail: "keys must be descr, fortran_order, shape; found \(dict.keys.sorted().joined(separator: ", "))")
        }
        guard case let .string(descr)? = dict["descr"] else {
            if case .list? = dict["descr"] { throw NPYError.unsupportedDType(path: path, descr: "structured") }
            throw NPYError.malformedHeader(path: path, detail: "descr is not a string")
        }
        guard let dtype = NPYDType(descr: descr) else { throw NPYError.unsupportedDType(path: path, descr: descr) }
        guard case let .bool(fortran)? = dict["fortran_order"] else {
            throw NPYError.malformedHeader(path: path, detail: "fortran_order is not True or False")
        }
        guard case let .tuple(items)? = dict["shape"] else { throw NPYError.malformedHeader(path: path, detail: "shape is not a tuple") }
        var shape: [Int] = []
        for item in items {
            guard case let .int(n) = item, n >= 0 else { throw NPYError.malformedHeader(path: path, detail: "shape holds a non-integer or negative size") }
            shape.append(n)
        }
        var product = 1
        for n in shape {
            let (p, overflow) = product.multipliedReportingOverflow(by: n)
            guard !overflow else { throw NPYError.malformedHeader(path: path, detail: "shape \(shapeString(shape)) is too large") }
            product = p
        }
        guard !product.multipliedReportingOverflow(by: dtype.scalar.size).overflow else {
            throw NPYError.malformedHeader(path: path, detail: "shape \(shapeString(shape)) is too large")
        }
        // Fortran order only matters when more than one axis has more than one element.
        if fortran && shape.filter({ $0 > 1 }).count > 1 { throw NPYError.fortranOrder(path: path) }
        return NPYHeader(dtype: dtype, shape: shape, fortranOrder: fortran, dataOffset: textStart + headerLength)
    }

    /// The header bytes NumPy would write for this dtype and shape (version 1.0, or 2.0 when the
    /// dictionary does not fit in 64 KiB), padded so that the data starts on a 64-byte boundary.
    public func encoded() -> [UInt8] {
        let shapeText = shape.count == 1 ? "(\(shape[0]),)" : "(" + shape.map(String.init).joined(separator: ", ") + ")"
        let dict = "{'descr': '\(dtype.descr)', 'fortran_order': \(fortranOrder ? "True" : "False"), 'shape': \(shapeText), }"
        func build(lengthBytes: Int, major: UInt8) -> [UInt8] {
            let prefix = 8 + lengthBytes
            var body = Array(dict.utf8)
            let total = prefix + body.count + 1
            let padded = (total + 63) / 64 * 64
            body += [UInt8](repeating: 0x20, count: padded - total)
            body.append(0x0A)
            var out = Self.magic + [major, 0]
            for i in 0..<lengthBytes { out.append(UInt8(truncatingIfNeeded: body.count >> (8 * i))) }
            return out + body
        }
        let v1 = build(lengthBytes: 2, major: 1)
        return v1.count - 10 <= Int(UInt16.max) ? v1 : build(lengthBytes: 4, major: 2)
    }
}

/// A parser for the small subset of Python literals that `.npy` headers use:
/// dicts with string keys, strings, True/False, integers, tuples and lists.
struct DictLiteralParser {
    enum Value: Equatable { case string(String), bool(Bool), int(Int), tuple([Value]), list([Value]) }
    struct Failure: Error { let message: String }

    private let chars: [Character]
    private var i = 0

    init(text: String) { chars = Array(text) }

    mutating func parseDict() throws -> [String: Value] {
        skipSpace()
        try expect("{")
        var dict: [String: Value] = [:]
        while true {
            skipSpace()
            if peek() == "}" { i += 1; break }
            guard case let .string(key) = try parseValue() else { throw Failure(message: "dictionary key is not a string") }
            skipSpace()
            try expect(":")
            let value = try parseValue()
            guard dict[key] == nil else { throw Failure(message: "duplicate key '\(key)'") }
            dict[key] = value
            skipSpace()
            if peek() == "," { i += 1; continue }
            skipSpace()
            try expect("}")
            break
        }
        skipSpace()
        guard i == chars.count else { throw Failure(message: "unexpected text after the dictionary") }
        return dict
    }

    private mutating func parseValue() throws -> Value {
        skipSpace()
        guard let c = peek() else { throw Failure(message: "unexpected end of header") }
        switch c {
        case "'", "\"":
            i += 1
            var s = ""
            while let d = peek(), d != c { s.append(d); i += 1 }
            guard peek() == c else { throw Failure(message: "unterminated string") }
            i += 1
            return .string(s)
        case "(", "[":
            i += 1
            let close: Character = c == "(" ? ")" : "]"
            var items: [Value] = []
            while true {
                skipSpace()
                if peek() == close { i += 1; break }
                items.append(try parseValue())
                skipSpace()
                if peek() == "," { i += 1; continue }
                skipSpace()
                try expect(close)
                break
            }
            return c == "(" ? .tuple(items) : .list(items)
        case "0"..."9", "-":
            var s = ""
            if c == "-" { s.append(c); i += 1 }
            while let d = peek(), d.isASCII, d.isNumber { s.append(d); i += 1 }
            if peek() == "L" { i += 1 }   // Python 2 long suffix
            guard let n = Int(s) else { throw Failure(message: "bad integer '\(s)'") }
            return .int(n)
        default:
            var word = ""
            while let d = peek(), d.isLetter { word.append(d); i += 1 }
            switch word {
            case "True": return .bool(true)
            case "False": return .bool(false)
            default: throw Failure(message: "unexpected '\(word.isEmpty ? String(c) : word)'")
            }
        }
    }

    private func peek() -> Character? { i < chars.count ? chars[i] : nil }
    private mutating func skipSpace() { while let c = peek(), c.isWhitespace { i += 1 } }
    private mutating func expect(_ c: Character) throws {
        guard peek() == c else { throw Failure(message: "expected '\(c)'" + (peek().map { " but found '\($0)'" } ?? " but the header ended")) }
        i += 1
    }
}
