import Foundation

/// A one-line progress bar on standard error with a rate and an ETA.
///
/// It redraws at most ten times a second, only when standard error is a terminal
/// (or `force` is set); otherwise it prints a plain line every `plainInterval` seconds,
/// so logs of batch jobs stay readable.
public final class ProgressBar {
    private let total: Double?
    private let unit: String
    private let label: String
    private let start = Date()
    private var lastDraw = Date.distantPast
    private let isTerminal: Bool
    private let plainInterval: TimeInterval
    private(set) var done: Double = 0
    private var extra: String = ""

    /// - Parameters:
    ///   - label: a short word shown first ("dump", "train").
    ///   - total: the amount of work, in `unit`s, or nil when unknown.
    ///   - unit: what is counted ("tok", "pos").
    public init(label: String, total: Double?, unit: String, plainInterval: TimeInterval = 10, force: Bool = false) {
        self.label = label
        self.total = total
        self.unit = unit
        self.plainInterval = plainInterval
        self.isTerminal = force || isatty(STDERR_FILENO) != 0
    }

    /// Sets the amount done so far and, optionally, extra text (a loss, say); redraws when due.
    public func update(done: Double, extra: String? = nil) {
        self.done = done
        if let extra { self.extra = extra }
        let now = Date()
        let interval = isTerminal ? 0.1 : plainInterval
        if now.timeIntervalSince(lastDraw) >= interval {
            lastDraw = now
            draw(final: false)
        }
    }

    /// Draws the final state and ends the line.
    public func finish(extra: String? = nil) {
        if let extra { self.extra = extra }
        draw(final: true)
    }

    private func draw(final: Bool) {
        let elapsed = max(Date().timeIntervalSince(start), 1e-9)
        let rate = done / elapsed
        var line = "\(label) "
        if let total, total > 0 {
            let fraction = min(max(done / total, 0), 1)
            let width = 24
            let filled = Int(fraction * Double(width))
            line += "[" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "] "
            line += String(format: "%5.1f%% ", fraction * 100)
            line += "\(Self.compact(done))/\(Self.compact(total)) \(unit) "
            let eta = rate > 0 ? (total - done) / rate : .infinity
            line += "\(Self.compact(rate)) \(unit)/s "
            line += final ? "in \(Self.clock(elapsed))" : "ETA \(Self.clock(eta))"
        } else {
            line += "\(Self.compact(done)) \(unit) \(Self.compact(rate)) \(unit)/s \(Self.clock(elapsed))"
        }
        if !extra.isEmpty { line += "  " + extra }
        let text = isTerminal ? "\r\u{1B}[2K" + line + (final ? "\n" : "") : line + "\n"
        FileHandle.standardError.write(Data(text.utf8))
    }

    /// 1234567 → "1.23M".
    static func compact(_ x: Double) -> String {
        let a = abs(x)
        if a >= 1e9 { return String(format: "%.2fG", x / 1e9) }
        if a >= 1e6 { return String(format: "%.2fM", x / 1e6) }
        if a >= 1e4 { return String(format: "%.1fk", x / 1e3) }
        if a >= 100 { return String(format: "%.0f", x) }
        return String(format: "%.1f", x)
    }

    /// Seconds → "1:02:03" or "02:03".
    static func clock(_ s: Double) -> String {
        guard s.isFinite else { return "--:--" }
        let t = Int(s.rounded())
        let h = t / 3600, m = (t % 3600) / 60, sec = t % 60
        return h > 0 ? String(format: "%d:%02d:%02d", h, m, sec) : String(format: "%02d:%02d", m, sec)
    }
}
