import ArgumentParser
import Foundation
import LogitStore
import Teacher

/// `logitstore show STORE --position N`: one stored distribution, readable.
struct ShowCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "show",
        abstract: "Print one position: its input token, the next token, the kept ids with probabilities and the kept mass.",
        discussion: """
        With --teacher MODEL.gguf (the store's teacher, or any model with the same tokenizer), every token is also
        shown as text; a tokenizer whose hash differs from the one in the store's manifest is refused.
        """)

    @Argument(help: "The store directory.") var store: String
    @Option(help: "Global position (0-based).") var position: Int
    @Option(help: "Show at most this many entries (0: all).") var limit: Int = 20
    @Option(help: "A GGUF model whose tokenizer turns ids into text (only its tokenizer is read).") var teacher: String?
    @Flag(help: "Print JSON.") var json = false

    struct Entry: Encodable { let rank: Int, id: UInt32, p: Float, text: String? }
    struct Output: Encodable {
        let position: Int, sequence: Int, offset: Int, sequenceLength: Int
        let token: UInt32, tokenText: String?, nextToken: UInt32?, nextTokenText: String?, nextTokenRank: Int?
        let keptMass: Double, targetLogprob: Float?, entries: [Entry]
        enum CodingKeys: String, CodingKey {
            case position, sequence, offset, token, entries
            case tokenText = "token_text", nextTokenText = "next_token_text"
            case sequenceLength = "sequence_length", nextToken = "next_token", nextTokenRank = "next_token_rank"
            case keptMass = "kept_mass", targetLogprob = "target_logprob"
        }
    }

    /// The tokenizer of `--teacher`, checked against the store's tokenizer hash.
    func tokenizer(for reader: StoreReader) throws -> BPETokenizer? {
        guard let teacher else { return nil }
        let tok = try BPETokenizer(gguf: try GGUFFile(path: teacher))
        if let stored = reader.manifest.teacher.tokenizerHash, stored != "xxh3:" + tok.identityHash {
            throw TeacherError.tokenizer("the tokenizer of \(teacher) (xxh3:\(tok.identityHash)) is not the store's (\(stored))")
        }
        return tok
    }

    func run() async throws {
        let reader = try StoreReader(directory: store)
        let tok = try tokenizer(for: reader)
        func text(_ id: UInt32) -> String? { try? tok?.displayText(id) }
        guard position >= 0 && position < reader.positionCount else {
            throw ValidationError("--position \(position) is outside the store (0..<\(reader.positionCount))")
        }
        let seq = try reader.sequenceIndex(containing: position)
        let range = reader.sequenceRange(seq)
        let offset = position - range.lowerBound
        let hasNext = position + 1 < range.upperBound
        let r = try reader.positions(position..<(hasNext ? position + 2 : position + 1))
        let a = r.offsets[0], b = r.offsets[1]
        let ids = Array(r.ids[a..<b]), probs = r.probs[a..<b].map { Float($0) }
        let mass = probs.reduce(0.0) { $0 + Double($1) }
        let next: UInt32? = hasNext ? r.tokens[1] : nil
        let nextRank = next.flatMap { n in ids.firstIndex(of: n).map { $0 + 1 } }
        let tl = r.targetLogprobs.map { $0[0] }.flatMap { $0.isFinite ? $0 : nil }
        let shown = limit > 0 ? min(limit, ids.count) : ids.count
        let entries = (0..<shown).map { Entry(rank: $0 + 1, id: ids[$0], p: probs[$0], text: text(ids[$0])) }
        if json {
            try printJSON(Output(position: position, sequence: seq, offset: offset, sequenceLength: range.count, token: r.tokens[0],
                                 tokenText: text(r.tokens[0]), nextToken: next, nextTokenText: next.flatMap(text), nextTokenRank: nextRank, keptMass: mass, targetLogprob: tl, entries: entries))
            return
        }
        var head: [[String]] = [
            ["position", "\(Fmt.int(position)) of \(Fmt.int(reader.positionCount))   (sequence \(Fmt.int(seq)), offset \(Fmt.int(offset)) of \(Fmt.int(range.count)))"],
            ["input token", "\(r.tokens[0])" + (text(r.tokens[0]).map { "  \"\($0)\"" } ?? "")],
        ]
        if let next {
            let where_ = nextRank.map { "rank \($0) of the kept set, p = \(Fmt.fixed(Double(probs[$0 - 1]), 4))" } ?? "not in the kept set"
            head.append(["next token", "\(next)" + (text(next).map { "  \"\($0)\"" } ?? "") + "   (\(where_))"])
        } else {
            head.append(["next token", "none (last position of the sequence)"])
        }
        if let tl { head.append(["teacher log p(next)", "\(Fmt.fixed(Double(tl), 4))   (p = \(Fmt.fixed(Foundation.exp(Double(tl)), 4)))"]) }
        head.append(["kept", "\(ids.count) entries, mass \(Fmt.fixed(mass, 4)) (dropped \(Fmt.fixed(1 - mass, 4)))"])
        print(Fmt.table(head, indent: 0, leftAligned: [0, 1]))
        print("")
        var rows: [[String]] = [["rank", "id"] + (tok != nil ? ["text"] : []) + ["p", "cumulative", ""]]
        var cum = 0.0
        for (i, e) in entries.enumerated() {
            cum += Double(e.p)
            rows.append(["\(e.rank)", "\(e.id)" + (e.id == next ? " *" : "")] + (e.text.map { ["\"\($0)\""] } ?? [])
                        + [Fmt.fixed(Double(e.p), 5), Fmt.fixed(cum, 4),
                         Fmt.bar(Double(probs[i]) / Double(max(probs.first ?? 1, 1e-9)), width: 24)])
        }
        print(Fmt.table(rows, leftAligned: tok != nil ? [2, 5] : [4]))
        if shown < ids.count { print("  … \(ids.count - shown) more entries (--limit 0 shows all)") }
        if next != nil && nextRank != nil { print("  * the actual next token") }
    }
}
