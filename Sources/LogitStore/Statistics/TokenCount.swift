import Foundation

/// Token counts written the way people say them: "100B", "2.5T", "750M", "64K", or a plain number.
public enum TokenCount {
    /// Parses a count with an optional suffix K (10^3), M (10^6), B or G (10^9), T (10^12), case-insensitive;
    /// nil for anything else (negative, empty, unknown suffix, not finite).
    public static func parse(_ text: String) -> Double? {
        var s = text.trimmingCharacters(in: .whitespaces)
        guard !s.isEmpty else { return nil }
        var scale = 1.0
        switch s.last!.uppercased() {
        case "K": scale = 1e3
        case "M": scale = 1e6
        case "B", "G": scale = 1e9
        case "T": scale = 1e12
        default: break
        }
        if scale != 1 { s.removeLast() }
        guard let v = Double(s), v.isFinite, v >= 0 else { return nil }
        return v * scale
    }

    /// 1.0e11 → "100B", 2.5e12 → "2.5T", 123456 → "123.5K".
    public static func format(_ n: Double) -> String {
        let units: [(Double, String)] = [(1e12, "T"), (1e9, "B"), (1e6, "M"), (1e3, "K")]
        for (u, name) in units where n >= u {
            let v = n / u
            return (v == v.rounded() ? String(Int(v)) : String(format: "%.1f", v)) + name
        }
        return String(Int(n))
    }
}
