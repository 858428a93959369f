/// The element types a `.npy` file may hold here: fixed-width integers and IEEE floats.
public enum NPYScalarType: String, CaseIterable, Sendable {
    /// Unsigned integers of 1, 2, 4 and 8 bytes.
    case uint8 = "u1", uint16 = "u2", uint32 = "u4", uint64 = "u8"
    /// Signed integers of 1, 2, 4 and 8 bytes.
    case int8 = "i1", int16 = "i2", int32 = "i4", int64 = "i8"
    /// IEEE-754 binary16, binary32 and binary64.
    case float16 = "f2", float32 = "f4", float64 = "f8"

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .uint8, .int8: return 1
        case .uint16, .int16, .float16: return 2
        case .uint32, .int32, .float32: return 4
        case .uint64, .int64, .float64: return 8
        }
    }

    /// The NumPy name ("uint32", "float16").
    public var numpyName: String {
        switch self {
        case .uint8: return "uint8"
        case .uint16: return "uint16"
        case .uint32: return "uint32"
        case .uint64: return "uint64"
        case .int8: return "int8"
        case .int16: return "int16"
        case .int32: return "int32"
        case .int64: return "int64"
        case .float16: return "float16"
        case .float32: return "float32"
        case .float64: return "float64"
        }
    }
}

/// A dtype: element type plus byte order, as in the header's `descr` ('<f4', '>u2', '|u1').
public struct NPYDType: Equatable, Sendable, CustomStringConvertible {
    /// The element type.
    public var scalar: NPYScalarType
    /// True for little-endian data (single-byte types count as little-endian).
    public var littleEndian: Bool

    /// A dtype of `scalar` in the given byte order (single-byte types are always little-endian).
    public init(_ scalar: NPYScalarType, littleEndian: Bool = true) {
        self.scalar = scalar
        self.littleEndian = littleEndian || scalar.size == 1
    }

    /// Parses a `descr` string; nil when it is not a supported simple dtype.
    public init?(descr: String) {
        guard descr.count >= 3 else { return nil }
        let order = descr.first!
        let code = String(descr.dropFirst())
        guard let scalar = NPYScalarType(rawValue: code) else { return nil }
        switch order {
        case "<": self.init(scalar, littleEndian: true)
        case ">": self.init(scalar, littleEndian: false)
        case "|": guard scalar.size == 1 else { return nil }; self.init(scalar)
        case "=": self.init(scalar, littleEndian: true)   // native order; this tool runs on little-endian machines
        default: return nil
        }
    }

    /// The `descr` string written to headers.
    public var descr: String {
        if scalar.size == 1 { return "|" + scalar.rawValue }
        return (littleEndian ? "<" : ">") + scalar.rawValue
    }

    /// The NumPy name, e.g. "float32", marked when big-endian.
    public var description: String { scalar.numpyName + (littleEndian ? "" : " (big-endian)") }
}

/// Swift types that map to one NumPy scalar type.
public protocol NPYElement: Sendable {
    /// The NumPy scalar type of this Swift type.
    static var npyScalar: NPYScalarType { get }
    /// Reverses the byte order of a value (for big-endian files).
    var byteSwapped: Self { get }
}

extension UInt8: NPYElement { public static var npyScalar: NPYScalarType { .uint8 } }
extension UInt16: NPYElement { public static var npyScalar: NPYScalarType { .uint16 } }
extension UInt32: NPYElement { public static var npyScalar: NPYScalarType { .uint32 } }
extension UInt64: NPYElement { public static var npyScalar: NPYScalarType { .uint64 } }
extension Int8: NPYElement { public static var npyScalar: NPYScalarType { .int8 } }
extension Int16: NPYElement { public static var npyScalar: NPYScalarType { .int16 } }
extension Int32: NPYElement { public static var npyScalar: NPYScalarType { .int32 } }
extension Int64: NPYElement { public static var npyScalar: NPYScalarType { .int64 } }
extension Float16: NPYElement {
    /// The NumPy scalar type of this Swift type.
    public static var npyScalar: NPYScalarType { .float16 }
    /// The value with its bytes in the opposite order.
    public var byteSwapped: Float16 { Float16(bitPattern: bitPattern.byteSwapped) }
}
extension Float: NPYElement {
    /// The NumPy scalar type of this Swift type.
    public static var npyScalar: NPYScalarType { .float32 }
    /// The value with its bytes in the opposite order.
    public var byteSwapped: Float { Float(bitPattern: bitPattern.byteSwapped) }
}
extension Double: NPYElement {
    /// The NumPy scalar type of this Swift type.
    public static var npyScalar: NPYScalarType { .float64 }
    /// The value with its bytes in the opposite order.
    public var byteSwapped: Double { Double(bitPattern: bitPattern.byteSwapped) }
}
