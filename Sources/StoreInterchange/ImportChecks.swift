import LogitStore
import NumPyFiles

/// Whole-input checks an import runs before anything is written, so that bad input is refused whole
/// instead of stopping the import half way (what `logitstore import --help` promises).
enum ImportChecks {
    /// Every token id below the vocabulary size.
    static func tokens(_ tokens: [UInt32], vocab: Int, path: String) throws {
        if let j = tokens.firstIndex(where: { Int($0) >= vocab }) {
            throw InterchangeError.inconsistent("\(path): token \(tokens[j]) at position \(j) is not below the vocabulary size \(vocab)")
        }
    }

    /// Every logit of the real vocabulary (the first `vocab` columns of each row; padded columns are ignored,
    /// as the truncation ignores them) is finite.
    static func logits(_ file: NPYFile, rows: Int, width: Int, vocab: Int) throws {
        func scan<T: BinaryFloatingPoint>(_ values: UnsafeBufferPointer<T>) throws {
            for r in 0..<rows {
                let row = r * width
                for c in 0..<vocab where !values[row + c].isFinite {
                    throw InterchangeError.inconsistent("\(file.path): logit [\(r), \(c)] is \(Double(values[row + c])); every logit must be finite")
                }
            }
        }
        switch file.dtype.scalar {
        case .float32: try file.withElements(Float.self) { try scan($0) }
        default: try file.withElements(Float16.self) { try scan($0) }
        }
    }

    /// Every target log-probability is ≤ 0 (or NaN, meaning unknown).
    static func targetLogprobs(_ values: [Float], path: String) throws {
        if let j = values.firstIndex(where: { !($0.isNaN || $0 <= 0) }) {
            throw InterchangeError.inconsistent("\(path): target log-prob \(values[j]) at position \(j) is positive; a log-probability is at most 0")
        }
    }
}
