import Foundation

/// Cores this process may run on: on Linux the `Cpus_allowed` mask of /proc/self/status (so `taskset -c 0`
/// counts as one core), else — or when that cannot be read — the active processor count.
enum UsableCores {
    static var count: Int {
        if let status = try? String(contentsOfFile: "/proc/self/status", encoding: .utf8),
           let line = status.split(separator: "\n").first(where: { $0.hasPrefix("Cpus_allowed:") }) {
            let mask = line.dropFirst("Cpus_allowed:".count).filter { $0.isHexDigit }
            let n = mask.reduce(0) { $0 + (Int(String($1), radix: 16) ?? 0).nonzeroBitCount }
            if n > 0 { return n }
        }
        return ProcessInfo.processInfo.activeProcessorCount
    }
}
