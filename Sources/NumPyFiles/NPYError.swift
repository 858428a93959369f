/// Why a `.npy` file could not be read or written. Every message is one line and names the file.
public enum NPYError: Error, CustomStringConvertible, Equatable {
    /// The path does not exist or cannot be opened.
    case cannotOpen(path: String, reason: String)
    /// The file does not start with the NumPy magic string.
    case notNumPy(path: String)
    /// The format version is not 1.0, 2.0 or 3.0.
    case unsupportedVersion(path: String, major: UInt8, minor: UInt8)
    /// The header dictionary could not be parsed.
    case malformedHeader(path: String, detail: String)
    /// The dtype is not one this tool reads (structured, object, complex, ...).
    case unsupportedDType(path: String, descr: String)
    /// The array is stored in Fortran (column-major) order with more than one non-trivial axis.
    case fortranOrder(path: String)
    /// The data section is shorter or longer than the header implies.
    case sizeMismatch(path: String, expectedBytes: Int, actualBytes: Int)
    /// The dtype is not the one the caller needs.
    case wrongDType(path: String, expected: String, found: String)
    /// The shape is not the one the caller needs.
    case wrongShape(path: String, expected: String, found: [Int])
    /// A write failed (full disk, permissions, ...).
    case writeFailed(path: String, reason: String)
    /// A streaming writer received more or fewer elements than its shape declares.
    case elementCountMismatch(path: String, declared: Int, written: Int)

    /// The one-line message, naming the file.
    public var description: String {
        switch self {
        case let .cannotOpen(path, reason): return "\(path): cannot open: \(reason)"
        case let .notNumPy(path): return "\(path): not a NumPy .npy file (magic \\x93NUMPY missing)"
        case let .unsupportedVersion(path, major, minor): return "\(path): unsupported .npy format version \(major).\(minor) (supported: 1.0, 2.0, 3.0)"
        case let .malformedHeader(path, detail): return "\(path): malformed .npy header: \(detail)"
        case let .unsupportedDType(path, descr): return "\(path): unsupported dtype '\(descr)' (supported: u1 u2 u4 u8 i1 i2 i4 i8 f2 f4 f8, little- or big-endian)"
        case let .fortranOrder(path): return "\(path): array is in Fortran order; save it C-contiguous (np.ascontiguousarray)"
        case let .sizeMismatch(path, expected, actual): return "\(path): data section is \(actual) bytes but the header implies \(expected) (truncated or corrupt file)"
        case let .wrongDType(path, expected, found): return "\(path): expected dtype \(expected), found \(found)"
        case let .wrongShape(path, expected, found): return "\(path): expected shape \(expected), found \(NPYHeader.shapeString(found))"
        case let .writeFailed(path, reason): return "\(path): write failed: \(reason)"
        case let .elementCountMismatch(path, declared, written): return "\(path): header declares \(declared) elements but \(written) were written"
        }
    }
}
