import CXXHash

/// GPT-2 byte-level BPE built from GGUF tokenizer metadata (`tokenizer.ggml.tokens`, `.merges`, `.token_type`),
/// with the SmolLM2 pre-tokenizer (`PreTokenizer`). Adds no BOS or EOS: `encode` returns exactly the text's tokens.
/// Special (control) tokens are not recognised inside text; they only appear where a caller inserts their ids.
public final class BPETokenizer: @unchecked Sendable {
    /// Token strings as stored (byte-level alphabet: a space is `Ġ`, a newline `Ċ`, ...).
    public let tokens: [String]
    /// The end-of-sequence id (`tokenizer.ggml.eos_token_id`), when the file names one.
    public let eosID: UInt32?
    /// The beginning-of-sequence id (`tokenizer.ggml.bos_token_id`), when the file names one; `encode` never adds it.
    public let bosID: UInt32?
    /// The pre-tokenizer name from `tokenizer.ggml.pre` (e.g. "smollm").
    public let preTokenizerName: String
    /// XXH3-64 (seed 0, hex) of a canonical serialisation of the model, pre-tokenizer, vocabulary and merges.
    public let identityHash: String
    /// The number of tokens in the vocabulary.
    public var vocabularySize: Int { tokens.count }

    private var byteToken = [UInt32](repeating: 0, count: 256)
    private var merges: [UInt64: (rank: Int32, merged: UInt32)] = [:]
    private var tokenBytes: [[UInt8]] = []
    private var isControl: [Bool] = []
    private var cache: [String: [UInt32]] = [:]
    private let cacheLimit = 200_000

    /// The GPT-2 byte ↔ printable-scalar table: bytes that are printable Latin-1 map to themselves, the others to 256+n.
    public static let byteToScalar: [Unicode.Scalar] = {
        var printable = Array(33...126) + Array(161...172) + Array(174...255)
        var scalars = printable
        var n = 0
        for b in 0..<256 where !printable.contains(b) { printable.append(b); scalars.append(256 + n); n += 1 }
        var table = [Unicode.Scalar](repeating: " ", count: 256)
        for (b, s) in zip(printable, scalars) { table[b] = Unicode.Scalar(UInt32(s))! }
        return table
    }()

    /// Builds the tokenizer from a GGUF file's metadata. Requires `tokenizer.ggml.model` = `gpt2`.
    public convenience init(gguf: GGUFFile) throws {
        let model = try gguf.string("tokenizer.ggml.model")
        guard model == "gpt2" else { throw TeacherError.tokenizer("unsupported tokenizer model '\(model)' (supported: gpt2 byte-level BPE)") }
        let pre = (try? gguf.string("tokenizer.ggml.pre")) ?? "default"
        let tokens = try gguf.strings("tokenizer.ggml.tokens")
        let merges = try gguf.strings("tokenizer.ggml.merges")
        let types = (try? gguf.ints("tokenizer.ggml.token_type")) ?? []
        try self.init(tokens: tokens, merges: merges, tokenTypes: types, preTokenizer: pre,
                      eosID: (try? gguf.int("tokenizer.ggml.eos_token_id")).map { UInt32($0) },
                      bosID: (try? gguf.int("tokenizer.ggml.bos_token_id")).map { UInt32($0) },
                      unknownID: (try? gguf.int("tokenizer.ggml.unknown_token_id")).map { UInt32($0) })
    }

    /// Builds the tokenizer from a vocabulary (id order) and merges ("left right", highest priority first).
    /// `tokenTypes` use the GGUF codes (3 = control); control tokens decode to their literal text.
    /// A byte whose byte-level token is missing from the vocabulary encodes as `unknownID`.
    public init(tokens: [String], merges: [String], tokenTypes: [Int] = [], preTokenizer: String = "smollm",
                eosID: UInt32? = nil, bosID: UInt32? = nil, unknownID: UInt32? = nil) throws {
        self.tokens = tokens
        self.eosID = eosID
        self.bosID = bosID
        self.preTokenizerName = preTokenizer
        var index: [String: UInt32] = [:]
        index.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where index[t] == nil { index[t] = UInt32(i) }
        var scalarToByte: [UInt32: UInt8] = [:]
        for b in 0..<256 {
            let s = BPETokenizer.byteToScalar[b]
            scalarToByte[s.value] = UInt8(b)
            // Some vocabularies lack a few byte tokens (bytes never seen in valid UTF-8 text, rare control
            // characters); such a byte encodes as the unknown token.
            guard let id = index[String(Character(s))] ?? unknownID else {
                throw TeacherError.tokenizer("the vocabulary lacks the byte token for byte \(b) and names no unknown token")
            }
            byteToken[b] = id
        }
        for (rank, m) in merges.enumerated() {
            let parts = m.split(separator: " ", maxSplits: 1, omittingEmptySubsequences: false)
            guard parts.count == 2, let l = index[String(parts[0])], let r = index[String(parts[1])] else {
                throw TeacherError.tokenizer("merge \(rank) '\(m)' names a token that is not in the vocabulary")
            }
            guard let merged = index[String(parts[0]) + String(parts[1])] else {
                throw TeacherError.tokenizer("merge \(rank) '\(m)' produces a token that is not in the vocabulary")
            }
            let key = UInt64(l) << 32 | UInt64(r)
            if self.merges[key] == nil { self.merges[key] = (Int32(rank), merged) }
        }
        let control = tokens.indices.map { $0 < tokenTypes.count && tokenTypes[$0] == 3 }
        isControl = control
        tokenBytes = tokens.enumerated().map { i, t in
            if control[i] { return Array(t.utf8) }
            return t.unicodeScalars.map { scalarToByte[$0.value] ?? 0x3F }   // a scalar outside the byte alphabet decodes as '?'
        }
        var canon = "gpt2\u{1}\(preTokenizer)\u{1}"
        canon += tokens.joined(separator: "\u{0}")
        canon += "\u{1}"
        canon += merges.joined(separator: "\u{0}")
        canon += "\u{1}" + control.map { $0 ? "1" : "0" }.joined()
        var bytes = Array(canon.utf8)
        let h = bytes.withUnsafeMutableBytes { XXH3_64bits($0.baseAddress, $0.count) }
        identityHash = String(h, radix: 16).leftPadded(to: 16)
    }

    /// The ids of `text` (no BOS/EOS added).
    public func encode(_ text: String) -> [UInt32] {
        var out: [UInt32] = []
        out.reserveCapacity(text.utf8.count / 3)
        encode(text, into: &out)
        return out
    }

    /// Appends the ids of `text` to `out`.
    public func encode(_ text: String, into out: inout [UInt32]) {
        let scalars = Array(text.unicodeScalars)
        PreTokenizer.splitScalars(scalars) { range in
            var piece = String.UnicodeScalarView()
            piece.append(contentsOf: scalars[range])
            let word = String(piece)
            if let hit = cache[word] { out.append(contentsOf: hit); return }
            let ids = bpe(Array(word.utf8))
            if cache.count >= cacheLimit { cache.removeAll(keepingCapacity: true) }
            cache[word] = ids
            out.append(contentsOf: ids)
        }
    }

    /// Byte-pair merging of one pre-token: repeatedly merge the adjacent pair of lowest merge rank (leftmost first).
    func bpe(_ bytes: [UInt8]) -> [UInt32] {
        var sym = bytes.map { byteToken[Int($0)] }
        while sym.count > 1 {
            var best = Int32.max, at = -1, merged: UInt32 = 0
            for i in 0..<(sym.count - 1) {
                if let m = merges[UInt64(sym[i]) << 32 | UInt64(sym[i + 1])], m.rank < best { best = m.rank; at = i; merged = m.merged }
            }
            if at < 0 { break }
            sym[at] = merged
            sym.remove(at: at + 1)
        }
        return sym
    }

    /// The UTF-8 bytes a sequence of ids stands for (control tokens give their literal text).
    public func decodeBytes(_ ids: [UInt32]) throws -> [UInt8] {
        var out: [UInt8] = []
        for id in ids {
            guard Int(id) < tokenBytes.count else { throw TeacherError.tokenizer("token id \(id) is outside the vocabulary (\(tokenBytes.count))") }
            out.append(contentsOf: tokenBytes[Int(id)])
        }
        return out
    }

    /// One token's text for display on one line: control characters (newline, tab, …) and backslashes escaped as in
    /// Swift string literals, a byte that is not whole UTF-8 as U+FFFD. Throws for an id outside the vocabulary.
    public func displayText(_ id: UInt32) throws -> String {
        try decode([id]).unicodeScalars.map { $0.value < 0x20 || $0 == "\\" ? $0.escaped(asASCII: false) : String($0) }.joined()
    }

    /// The text of `ids`; invalid UTF-8 (a character cut between tokens) becomes U+FFFD.
    public func decode(_ ids: [UInt32]) throws -> String {
        String(decoding: try decodeBytes(ids), as: UTF8.self)
    }
}

extension String {
    func leftPadded(to n: Int) -> String { count >= n ? self : String(repeating: "0", count: n - count) + self }
}
