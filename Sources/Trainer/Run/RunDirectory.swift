import Foundation
import LogitStore

/// A run's directory: `log.jsonl` (one JSON line per step and per evaluation), `data.json` (the data split),
/// the checkpoint files (`Checkpoint`) and the loss-curve plot.
public final class RunDirectory {
    /// The directory.
    public let path: String
    /// The step log.
    public var logPath: String { path + "/log.jsonl" }
    /// The data split, written when the run starts.
    public var dataPath: String { path + "/" + Self.dataFile }
    /// File name of the data split record.
    public static let dataFile = "data.json"
    private let log: FileHandle

    /// Starts a new run in `path` (created if needed); refuses a directory that already holds a run.
    public static func create(path: String, split: DataSplit) throws -> RunDirectory {
        try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
        if FileManager.default.fileExists(atPath: path + "/" + Checkpoint.stateFile) {
            throw TrainerError.checkpoint(path: path, reason: "already holds a run; resume it or choose another run directory")
        }
        let enc = JSONEncoder(); enc.outputFormatting = [.prettyPrinted, .sortedKeys]
        try AtomicFile.write(try enc.encode(split), to: path + "/" + dataFile)
        try AtomicFile.write(Data(), to: path + "/log.jsonl")
        return try RunDirectory(path: path)
    }

    /// Re-opens a run to resume it from its checkpoint at `step`: log lines of later steps (written by the killed
    /// process after its last checkpoint, and about to be trained again) are dropped, as is a torn last line.
    public static func resume(path: String, checkpointStep step: Int) throws -> RunDirectory {
        let logPath = path + "/log.jsonl"
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        var kept = Data()
        for line in text.split(separator: "\n", omittingEmptySubsequences: true) {
            guard let s = LogLine(line), s.step <= step else { continue }
            kept.append(contentsOf: Array(line.utf8)); kept.append(0x0A)
        }
        try AtomicFile.write(kept, to: logPath)
        return try RunDirectory(path: path)
    }

    private init(path: String) throws {
        self.path = path
        guard let h = FileHandle(forWritingAtPath: path + "/log.jsonl") else {
            throw TrainerError.io(path: path + "/log.jsonl", reason: "cannot open the log for writing")
        }
        h.seekToEndOfFile()
        log = h
    }

    deinit { try? log.close() }

    /// The data split the run recorded, or nil for a run directory written before it was recorded.
    public static func split(ofRun path: String) throws -> DataSplit? {
        guard let d = FileManager.default.contents(atPath: path + "/" + dataFile) else { return nil }
        do { return try JSONDecoder().decode(DataSplit.self, from: d) } catch {
            throw TrainerError.checkpoint(path: path + "/" + dataFile, reason: "unreadable: \(error)")
        }
    }

    /// Appends one JSON line (keys sorted; Double fields written with full precision).
    public func append<T: Encodable>(_ value: T) {
        let enc = JSONEncoder(); enc.outputFormatting = [.sortedKeys]
        guard var d = try? enc.encode(value) else { return }
        d.append(0x0A)
        log.write(d)
    }

    /// The log's points: training loss and LM CE per step, held-out CE per evaluation, each against tokens.
    /// A step logged twice counts once (its last line).
    public func curves() -> (loss: [(x: Double, y: Double)], lmCE: [(x: Double, y: Double)], heldOut: [(x: Double, y: Double)]) {
        let text = (try? String(contentsOfFile: logPath, encoding: .utf8)) ?? ""
        var train: [Int: (Double, Double, Double?)] = [:], eval: [Int: (Double, Double)] = [:]
        for line in text.split(separator: "\n") {
            guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
                  let step = (o["step"] as? NSNumber)?.intValue, let tok = (o["tokens"] as? NSNumber)?.doubleValue else { continue }
            if (o["type"] as? String) == "eval", let ce = (o["cross_entropy"] as? NSNumber)?.doubleValue {
                eval[step] = (tok, ce)
            } else if let l = (o["loss"] as? NSNumber)?.doubleValue {
                train[step] = (tok, l, (o["lm_ce"] as? NSNumber)?.doubleValue)
            }
        }
        let t = train.sorted { $0.key < $1.key }.map(\.value), e = eval.sorted { $0.key < $1.key }.map(\.value)
        return (t.map { ($0.0, $0.1) }, t.compactMap { v in v.2.map { (v.0, $0) } }, e.map { ($0.0, $0.1) })
    }

    /// Writes `loss.svg`: training loss and LM CE (smoothed) and held-out CE against training tokens.
    public func writePlot(title: String) throws {
        let c = curves()
        let svg = LossCurvePlot.svg(title: title, xLabel: "training tokens", yLabel: "nats",
                                    series: [.init(label: "train loss", points: Self.smooth(c.loss), color: "#1f77b4"),
                                             .init(label: "train LM CE", points: Self.smooth(c.lmCE), color: "#ff7f0e"),
                                             .init(label: "held-out CE", points: c.heldOut, color: "#2ca02c")])
        try AtomicFile.write(Data(svg.utf8), to: path + "/loss.svg")
    }

    /// Averages runs of points down to about 100 when there are more than 200.
    static func smooth(_ p: [(x: Double, y: Double)]) -> [(x: Double, y: Double)] {
        guard p.count > 200 else { return p }
        let w = p.count / 100
        return stride(from: 0, to: p.count, by: w).map { i in
            let s = p[i..<Swift.min(i + w, p.count)]
            return (s.map(\.x).reduce(0, +) / Double(s.count), s.map(\.y).reduce(0, +) / Double(s.count))
        }
    }
}

/// The step number of one log line, if the line is whole JSON with a `step`.
struct LogLine {
    var step: Int
    init?(_ line: Substring) {
        guard let o = try? JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any],
              let s = (o["step"] as? NSNumber)?.intValue else { return nil }
        step = s
    }
}
