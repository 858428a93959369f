/// The command-line spellings of target policies (`--policy`, `--out PATH[:POLICY]`), shared by every tool that
/// writes a store so they all read the same text the same way.
///
/// - `top-p-k:P:K`: top-p P, then at most K entries (τ from the caller).
/// - `sample:N` or `sample:N:TS`: N draws per position from the teacher's softmax, proposal temperature TS
///   (default 1, counts weights; otherwise importance weights), seed from the caller.
public enum PolicySpelling {
    /// Parses one policy spelling; throws `StoreError.invalidInput` with a one-line reason. The result is validated.
    public static func parse(_ text: String, sampleSeed: UInt64 = 0, temperature: Double = 1) throws -> TruncationPolicy {
        let parts = text.split(separator: ":", omittingEmptySubsequences: false).map(String.init)
        let policy: TruncationPolicy
        switch parts.first {
        case "top-p-k":
            guard parts.count == 3, let p = Double(parts[1]), let k = Int(parts[2]) else {
                throw StoreError.invalidInput("policy '\(text)': expected top-p-k:P:K, e.g. top-p-k:0.95:100")
            }
            policy = TruncationPolicy(topP: p, topK: k, temperature: temperature)
        case "sample":
            guard parts.count == 2 || parts.count == 3, let n = Int(parts[1]) else {
                throw StoreError.invalidInput("policy '\(text)': expected sample:N or sample:N:TS, e.g. sample:64")
            }
            var ts = 1.0
            if parts.count == 3 {
                guard let v = Double(parts[2]) else { throw StoreError.invalidInput("policy '\(text)': sample temperature '\(parts[2])' is not a number") }
                ts = v
            }
            guard n >= 1, n <= 65_535 else { throw StoreError.invalidInput("policy '\(text)': samples must be in 1...65535") }
            policy = .sample(samples: n, sampleTemperature: ts, seed: sampleSeed, temperature: temperature)
        default:
            throw StoreError.invalidInput("policy '\(text)': expected top-p-k:P:K or sample:N[:TS]")
        }
        do { try policy.validate() } catch StoreError.invalidInput(let why) {
            throw StoreError.invalidInput("policy '\(text)': \(why)")
        }
        return policy
    }

    /// Splits `PATH[:POLICY]`: the policy suffix starts at the first `:top-p-k:` or `:sample:` (so a path may
    /// itself contain colons). Returns the path and the policy text, or nil when there is no suffix.
    public static func splitStore(_ text: String) -> (path: String, policy: String?) {
        let markers = [":top-p-k:", ":sample:"]
        let hits = markers.compactMap { text.range(of: $0) }
        guard let first = hits.min(by: { $0.lowerBound < $1.lowerBound }) else { return (text, nil) }
        return (String(text[..<first.lowerBound]), String(text[text.index(after: first.lowerBound)...]))
    }
}
