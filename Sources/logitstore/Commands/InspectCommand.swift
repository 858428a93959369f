import ArgumentParser
import Foundation
import LogitStore

/// `logitstore inspect STORE [--json] [--project TOKENS]`: what a store holds and what it costs.
struct InspectCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "inspect",
        abstract: "Report the policy, positions, entries, bytes per token and per entry, the byte split, ratios, the entries (distinct ids) histogram, kept mass and teacher perplexity.")

    @Argument(help: "The store directory.")
    var store: String

    @Flag(help: "Print JSON (keys include policy, positions, sequences, entries, bytes, bytes_per_entry, bytes_per_token, distinct_ids_per_position).")
    var json = false

    @Option(help: "Project the size for this many tokens, e.g. 100B, 2.5T, 750M (suffixes K M B T).")
    var project: String?

    func run() async throws {
        var projected: (tokens: Double, bytes: Double)?
        var tokens: Double?
        if let project {
            guard let t = TokenCount.parse(project) else { throw ValidationError("--project: cannot read '\(project)' as a token count (e.g. 100B, 2.5T, 750M, 64K)") }
            tokens = t
        }
        let reader = try StoreReader(directory: store)
        let bar = json ? nil : ProgressBar(label: "inspect", total: Double(reader.positionCount), unit: "pos", plainInterval: 30)
        let stats = try reader.statistics { done, _ in bar?.update(done: Double(done)) }
        if let tokens { projected = (tokens, stats.projectedBytes(tokens: tokens)) }
        if json {
            try printJSON(InspectJSON(store: store, stats: stats, projectTokens: projected?.tokens, projectedBytes: projected?.bytes))
        } else {
            bar?.finish()
            print(Self.render(store: store, stats: stats, projected: projected))
        }
    }

    /// The human-readable report.
    static func render(store: String, stats s: StoreStatistics, projected: (tokens: Double, bytes: Double)?) -> String {
        var out: [String] = []
        let sampled = s.distinctIdsPerPosition != nil
        let tau = s.temperature == 1 ? "" : ", τ \(s.temperature)"
        let policy = s.policyLabel.isEmpty ? "top-p \(s.topP), top-k \(s.topK)\(tau)" : s.policyLabel
        let weights = s.weights.map { w in w == "counts" ? ", weights count/N" : ", importance weights c·p/r" } ?? ""
        out.append(Fmt.table([
            ["store", store],
            ["teacher", "\(s.teacher)   vocabulary \(Fmt.int(s.vocabSize))"],
            ["policy", "\(policy)\(weights)"],
            ["contents", "\(Fmt.int(s.positions)) positions in \(Fmt.int(s.sequences)) sequences, \(Fmt.int(s.entries)) entries (\(Fmt.fixed(s.entriesPerPosition, 2)) per position)"],
            ["files", "\(Fmt.int(s.shards)) shard\(s.shards == 1 ? "" : "s"), \(Fmt.int(s.blocks)) blocks"],
            ["on disk", "\(Fmt.bytes(Double(s.bytes))) (\(Fmt.int(s.bytes)) bytes)   \(Fmt.fixed(s.bytesPerPosition, 2)) B/token (position)   \(Fmt.fixed(s.bytesPerEntry, 3)) B/entry"],
            ["ratio", "\(Fmt.times(s.ratioVsRaw)) smaller than raw ids+probs (6 B/entry)   \(Fmt.times(s.ratioVsFullFloat32)) smaller than full-vocabulary float32"],
        ], indent: 0, leftAligned: [0, 1]))
        out.append("")
        out.append("where the bytes go")
        var rows: [[String]] = [["part", "bytes", "share", "B/position", "B/entry", "raw → stored"]]
        for p in s.split {
            let ratio = p.rawBytes.map { r in p.bytes > 0 ? Fmt.fixed(Double(r) / Double(p.bytes), 2) + "×" : "-" } ?? ""
            rows.append([p.part, Fmt.int(p.bytes), Fmt.percent(p.fraction), Fmt.fixed(p.bytesPerPosition, 3), Fmt.fixed(p.bytesPerEntry, 3), ratio])
        }
        rows.append(["total", Fmt.int(s.bytes), "100.0%", Fmt.fixed(s.bytesPerPosition, 3), Fmt.fixed(s.bytesPerEntry, 3), ""])
        out.append(Fmt.table(rows))
        out.append("")
        let atCap = s.positions > 0 ? Double(s.positionsAtCap) / Double(s.positions) : 0
        if sampled {
            out.append("distinct ids per position (mean \(Fmt.fixed(s.entriesPerPosition, 2)) of \(s.samples ?? s.topK) draws; \(Fmt.percent(atCap)) of positions with every draw distinct)")
        } else {
            out.append("entries per position (mean \(Fmt.fixed(s.entriesPerPosition, 1)); \(Fmt.percent(atCap)) of positions at the cap k=\(s.topK))")
        }
        var hist: [[String]] = []
        let bins = s.histogramBins(10)
        let maxShare = bins.map { Double($0.positions) }.max() ?? 1
        for b in bins {
            let label = b.range.count == 1 ? "\(b.range.lowerBound)" : "\(b.range.lowerBound)-\(b.range.upperBound)"
            let f = s.positions > 0 ? Double(b.positions) / Double(s.positions) : 0
            hist.append([label, Fmt.int(b.positions), Fmt.percent(f), Fmt.bar(maxShare > 0 ? Double(b.positions) / maxShare : 0, width: 30)])
        }
        if s.topK < s.entryHistogram.count, s.topK > 1 {
            hist.append(["=\(s.topK) \(sampled ? "(all distinct)" : "(cap)")", Fmt.int(s.positionsAtCap), Fmt.percent(atCap), ""])
        }
        out.append(Fmt.table(hist, leftAligned: [0, 3]))
        out.append("")
        var tail: [[String]] = [sampled
            ? ["mean Σp", "\(Fmt.fixed(s.meanKeptMass, 4)) (sampled weights sum to 1 per position)"]
            : ["mean kept mass", "\(Fmt.fixed(s.meanKeptMass, 4)) (Σp per position; dropped mass \(Fmt.fixed(1 - s.meanKeptMass, 4)))"]]
        if let ppl = s.teacherPerplexity {
            tail.append(["teacher perplexity", "\(Fmt.fixed(ppl, 3)) over \(Fmt.int(s.perplexityPositions)) positions with a known next token"])
        } else {
            tail.append(["teacher perplexity", "n/a (the store has no target-log-prob stream)"])
        }
        if let projected {
            tail.append(["projection", "\(TokenCount.format(projected.tokens)) tokens → \(Fmt.bytes(projected.bytes)) at \(Fmt.fixed(s.bytesPerPosition, 2)) B/position"])
        }
        out.append(Fmt.table(tail, indent: 0, leftAligned: [0, 1]))
        return out.joined(separator: "\n")
    }
}

/// `inspect --json`: the statistics plus the store path and the projection.
struct InspectJSON: Encodable {
    let store: String
    let stats: StoreStatistics
    let projectTokens: Double?
    let projectedBytes: Double?

    enum Keys: String, CodingKey { case store, projectTokens = "project_tokens", projectedBytes = "projected_bytes" }

    func encode(to encoder: Encoder) throws {
        try stats.encode(to: encoder)
        var c = encoder.container(keyedBy: Keys.self)
        try c.encode(store, forKey: .store)
        try c.encodeIfPresent(projectTokens, forKey: .projectTokens)
        try c.encodeIfPresent(projectedBytes, forKey: .projectedBytes)
    }
}
