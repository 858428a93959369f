import ArgumentParser
import Foundation
import LogitStore

/// `logitstore bench read STORE`: sequential decode throughput and random whole-sequence latency.
struct BenchReadCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "read",
        abstract: "Time sequential decode (positions/s) and random whole-sequence reads (ms, p50/p99).",
        discussion: """
        Sequential: every sequence in order into one reused record, best of --repeat passes (with block checksums, and \
        again without: positions_per_second_no_verify). Random: --samples reads of uniformly drawn whole sequences \
        (seeded), each timed alone, on a fresh reader; with --span N also reads of N consecutive positions. Block checksums are verified \
        unless --no-verify. Single-threaded; pin it to one core (taskset -c 0) for the one-core figure. The shards are \
        memory-mapped, so the figures are for a warm page cache after the first pass.
        """)

    @Argument(help: "The store directory.") var store: String
    @Option(name: .customLong("repeat"), help: "Sequential passes; the best is reported.") var repeats: Int = 3
    @Option(help: "Random sequence reads.") var samples: Int = 500
    @Option(help: "Seed of the random sequence choice.") var seed: UInt64 = 1
    @Flag(name: .customLong("no-verify"), help: "Skip block checksums.") var noVerify = false
    @Option(help: "Also time random reads of this many consecutive positions, starting at a random sequence start (they may cross sequences).")
    var span: Int?

    struct Result: Encodable {
        let positions: Int, sequences: Int, entries: Int, verifyChecksums: Bool
        let positionsPerSecond: Double, entriesPerSecond: Double, sequentialSecondsBest: Double
        let randomSamples: Int, randomSequenceMsP50: Double, randomSequenceMsP99: Double, randomSequenceMsMean: Double
        let meanSequenceLength: Double, cacheCapacityBlocks: Int
        let positionsPerSecondNoVerify: Double?
        let randomSpanPositions: Int?, randomSpanMsP50: Double?, randomSpanMsP99: Double?
        enum CodingKeys: String, CodingKey {
            case positions, sequences, entries
            case verifyChecksums = "verify_checksums"
            case positionsPerSecond = "positions_per_second", entriesPerSecond = "entries_per_second"
            case sequentialSecondsBest = "sequential_seconds_best"
            case randomSamples = "random_samples", randomSequenceMsP50 = "random_sequence_ms_p50"
            case randomSequenceMsP99 = "random_sequence_ms_p99", randomSequenceMsMean = "random_sequence_ms_mean"
            case meanSequenceLength = "mean_sequence_length", cacheCapacityBlocks = "cache_capacity_blocks"
            case positionsPerSecondNoVerify = "positions_per_second_no_verify"
            case randomSpanPositions = "random_span_positions", randomSpanMsP50 = "random_span_ms_p50", randomSpanMsP99 = "random_span_ms_p99"
        }
    }

    func run() async throws {
        let reader = try StoreReader(directory: store, verifyChecksums: !noVerify)
        let s = reader.sequenceCount
        guard s > 0 else { throw CommandFailure("\(store) holds no sequences") }
        var record = SequenceRecord()
        /// Best of `repeats` sequential passes over every sequence.
        func sequential(_ r: StoreReader) throws -> Double {
            var best = Double.infinity
            for _ in 0..<max(1, repeats) {
                var decoded = 0
                let t0 = DispatchTime.now().uptimeNanoseconds
                for q in 0..<s {
                    try r.read(r.sequenceRange(q), into: &record)
                    decoded &+= record.ids.count
                }
                best = min(best, Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e9)
                guard decoded == r.entryCount else {
                    throw CommandFailure("sequential pass decoded \(decoded) entries, expected \(r.entryCount)")
                }
            }
            return best
        }
        let best = try sequential(reader)
        let bestNoVerify = noVerify ? nil : try sequential(StoreReader(directory: store, verifyChecksums: false))

        let fresh = try StoreReader(directory: store, verifyChecksums: !noVerify)
        var rng = SplitMix64(seed: seed)
        var ms: [Double] = []
        ms.reserveCapacity(samples)
        for _ in 0..<max(1, samples) {
            let q = Int(rng.next() % UInt64(s))
            let t0 = DispatchTime.now().uptimeNanoseconds
            try fresh.read(fresh.sequenceRange(q), into: &record)
            ms.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
        }
        ms.sort()
        func pct(_ p: Double, _ ms: [Double]) -> Double { ms[min(ms.count - 1, Int((p * Double(ms.count - 1)).rounded()))] }

        var spanMs: [Double] = []
        var spanLength: Int?
        if let span, span > 0 {
            let n = min(span, reader.positionCount)
            spanLength = n
            let starts = (0..<s).map { fresh.sequenceRange($0).lowerBound }.filter { $0 + n <= reader.positionCount }
            let candidates = starts.isEmpty ? [0] : starts
            for _ in 0..<max(1, samples) {
                let a = candidates[Int(rng.next() % UInt64(candidates.count))]
                let t0 = DispatchTime.now().uptimeNanoseconds
                try fresh.read(a..<(a + n), into: &record)
                spanMs.append(Double(DispatchTime.now().uptimeNanoseconds - t0) / 1e6)
            }
            spanMs.sort()
        }
        try printJSON(Result(
            positions: reader.positionCount, sequences: s, entries: reader.entryCount, verifyChecksums: !noVerify,
            positionsPerSecond: Double(reader.positionCount) / best, entriesPerSecond: Double(reader.entryCount) / best,
            sequentialSecondsBest: best, randomSamples: ms.count, randomSequenceMsP50: pct(0.5, ms), randomSequenceMsP99: pct(0.99, ms),
            randomSequenceMsMean: ms.reduce(0, +) / Double(ms.count),
            meanSequenceLength: Double(reader.positionCount) / Double(s), cacheCapacityBlocks: fresh.cacheCapacity,
            positionsPerSecondNoVerify: bestNoVerify.map { Double(reader.positionCount) / $0 },
            randomSpanPositions: spanLength, randomSpanMsP50: spanMs.isEmpty ? nil : pct(0.5, spanMs),
            randomSpanMsP99: spanMs.isEmpty ? nil : pct(0.99, spanMs)))
    }
}

/// A small, fast, seedable generator (SplitMix64) so benchmark choices are reproducible.
struct SplitMix64 {
    private var state: UInt64
    init(seed: UInt64) { state = seed }
    mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }
}
