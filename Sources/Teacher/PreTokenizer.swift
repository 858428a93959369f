/// The SmolLM2 pre-tokenizer: every numeric character (Unicode N*) is split off on its own, then each
/// remaining piece is split with the GPT-2 pattern
/// `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`,
/// implemented here as a hand-written scanner over Unicode scalars (same leftmost-first semantics).
public enum PreTokenizer {
    enum Class { case letter, number, space, other }

    @inline(__always) static func classify(_ s: Unicode.Scalar) -> Class {
        if s.value < 0x80 {
            switch s.value {
            case 0x41...0x5A, 0x61...0x7A: return .letter
            case 0x30...0x39: return .number
            case 0x09...0x0D, 0x20: return .space
            default: return .other
            }
        }
        let p = s.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// Splits `text` into pre-tokens (as ranges of its Unicode scalars), in order; their concatenation is `text`.
    public static func split(_ text: String) -> [String] {
        let scalars = Array(text.unicodeScalars)
        var out: [String] = []
        splitScalars(scalars) { range in
            var s = String.UnicodeScalarView()
            s.append(contentsOf: scalars[range])
            out.append(String(s))
        }
        return out
    }

    /// Calls `emit` with each pre-token's scalar range, in order.
    public static func splitScalars(_ s: [Unicode.Scalar], emit: (Range<Int>) -> Void) {
        let cls = s.map(classify)
        var start = 0
        // Digits split: each number scalar is its own piece; the text between is scanned with the GPT-2 pattern.
        for i in 0..<s.count where cls[i] == .number {
            if start < i { gpt2(s, cls, start..<i, emit) }
            emit(i..<(i + 1))
            start = i + 1
        }
        if start < s.count { gpt2(s, cls, start..<s.count, emit) }
    }

    static let contractions: [[Unicode.Scalar]] = ["s", "t", "re", "ve", "m", "ll", "d"].map { Array($0.unicodeScalars) }

    static func gpt2(_ s: [Unicode.Scalar], _ cls: [Class], _ piece: Range<Int>, _ emit: (Range<Int>) -> Void) {
        let end = piece.upperBound
        var i = piece.lowerBound
        func run(_ from: Int, _ c: Class) -> Int { var j = from; while j < end && cls[j] == c { j += 1 }; return j }
        func runOther(_ from: Int) -> Int { var j = from; while j < end && cls[j] == .other { j += 1 }; return j }
        while i < end {
            // 's 't 're 've 'm 'll 'd
            if s[i] == "'" {
                var matched = 0
                for c in contractions where i + 1 + c.count <= end && s[(i + 1)..<(i + 1 + c.count)].elementsEqual(c) {
                    matched = 1 + c.count
                    break
                }
                if matched > 0 { emit(i..<(i + matched)); i += matched; continue }
            }
            // optional single ' ' then letters / numbers / others
            let lead = (s[i] == " " && i + 1 < end) ? 1 : 0
            if lead == 1 || cls[i] != .space {
                let k = i + lead
                switch cls[k] {
                case .letter: let j = run(k, .letter); emit(i..<j); i = j; continue
                case .number: let j = run(k, .number); emit(i..<j); i = j; continue
                case .other: let j = runOther(k); emit(i..<j); i = j; continue
                case .space: break   // a ' ' followed by whitespace: fall through to the whitespace rules
                }
            }
            // \s+(?!\S) | \s+
            let j = run(i, .space)
            if j == end || j - i == 1 { emit(i..<j); i = j } else { emit(i..<(j - 1)); i = j - 1 }
        }
    }
}
