/// Keeps error messages to one bounded line: what every `description` of the library's errors and every error
/// line of the command-line tool goes through, so that a huge value from a damaged file (a 1 MB manifest string,
/// a binary blob) cannot flood a terminal or a log.
public enum ErrorText {
    /// The longest error line, in characters.
    public static let lineLimit = 300
    /// A single whitespace-free value longer than this is cut to its first `valueLimit` characters and "…".
    public static let valueLimit = 120

    /// `text` as one line of at most `limit` characters: line breaks and tabs become spaces, control characters
    /// are dropped, values longer than `valueLimit` are cut, and a line still too long is elided in the middle.
    public static func bounded(_ text: String, limit: Int = lineLimit) -> String {
        var flat: [Character] = []
        flat.reserveCapacity(min(text.utf8.count, 4 * limit))
        var word = 0
        for c in text {
            if c == "\n" || c == "\r" || c == "\t" || c == " " {
                flat.append(" "); word = 0
                continue
            }
            if c.unicodeScalars.allSatisfy({ $0.properties.generalCategory == .control }) { continue }
            word += 1
            if word <= valueLimit { flat.append(c) } else if word == valueLimit + 1 { flat.append("…") }
            if flat.count > 8 * limit { break }   // enough to cut from; never walk a megabyte of text
        }
        guard flat.count > limit else { return String(flat) }
        let tail = limit / 4
        return String(flat[0..<(limit - tail - 1)]) + "…" + String(flat[(flat.count - tail)...])
    }
}
