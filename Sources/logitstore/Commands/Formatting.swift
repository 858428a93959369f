import Foundation

/// Number and table formatting shared by the storage commands' human-readable output.
enum Fmt {
    /// 1234567 → "1,234,567".
    static func int(_ n: Int) -> String {
        let s = String(n.magnitude)
        var out = ""
        for (i, c) in s.enumerated() {
            if i > 0 && (s.count - i) % 3 == 0 { out.append(",") }
            out.append(c)
        }
        return (n < 0 ? "-" : "") + out
    }

    /// Decimal byte sizes: 21_600_000 → "21.6 MB".
    static func bytes(_ b: Double) -> String {
        let units = ["B", "kB", "MB", "GB", "TB", "PB", "EB"]
        var v = b, u = 0
        while v >= 1000 && u < units.count - 1 { v /= 1000; u += 1 }
        return u == 0 ? "\(Int(v)) B" : String(format: v < 10 ? "%.2f %@" : (v < 100 ? "%.1f %@" : "%.0f %@"), v, units[u])
    }

    static func fixed(_ x: Double, _ digits: Int) -> String { String(format: "%.\(digits)f", x) }

    static func percent(_ f: Double) -> String { String(format: "%.1f%%", f * 100) }

    /// A ratio as "2.16×" or "1,193×".
    static func times(_ r: Double) -> String { r >= 100 ? int(Int(r.rounded())) + "×" : String(format: "%.2f×", r) }

    /// Left-aligns the first column and right-aligns the others; a header row then the rows.
    static func table(_ rows: [[String]], indent: Int = 2, leftAligned: Set<Int> = [0]) -> String {
        guard let width = rows.map(\.count).max() else { return "" }
        var w = [Int](repeating: 0, count: width)
        for r in rows { for (i, c) in r.enumerated() { w[i] = max(w[i], c.count) } }
        return rows.map { r in
            String(repeating: " ", count: indent) + r.enumerated().map { i, c in
                let pad = String(repeating: " ", count: w[i] - c.count)
                return leftAligned.contains(i) ? c + pad : pad + c
            }.joined(separator: "  ").replacingOccurrences(of: "\\s+$", with: "", options: .regularExpression)
        }.joined(separator: "\n")
    }

    /// A horizontal bar of `fraction` × `width` cells.
    static func bar(_ fraction: Double, width: Int = 30) -> String {
        let cells = fraction * Double(width)
        let full = Int(cells)
        let parts = ["", "▏", "▎", "▍", "▌", "▋", "▊", "▉"]
        let rem = Int((cells - Double(full)) * 8)
        return String(repeating: "█", count: full) + (full < width ? parts[rem] : "")
    }
}
