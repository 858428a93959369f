/// Token embedding: row r of the output is row tokens[r] of the table [vocab, dim].
public enum Embedding {
    /// Copies row tokens[r] of `table` [vocab, dim] into row r of `out`; the tokens must be below the vocabulary size.
    public static func forward(out: UnsafeMutablePointer<Float>, tokens: UnsafePointer<UInt32>, table: UnsafePointer<Float>,
                        rows: Int, dim: Int) {
        for r in 0..<rows {
            (out + r * dim).update(from: table + Int(tokens[r]) * dim, count: dim)
        }
    }

    /// dTable[tokens[r]] += dOut[r].
    public static func backward(dTable: UnsafeMutablePointer<Float>, dOut: UnsafePointer<Float>, tokens: UnsafePointer<UInt32>,
                         rows: Int, dim: Int) {
        for r in 0..<rows {
            let d = dTable + Int(tokens[r]) * dim
            let g = dOut + r * dim
            for i in 0..<dim { d[i] += g[i] }
        }
    }
}
