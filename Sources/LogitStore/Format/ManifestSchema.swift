/// Maps a strictly parsed `manifest.json` onto `Manifest`, enforcing Spec/FORMAT.md §3: JSON types (integers
/// without fraction or exponent), ranges, the truncation policy, writer ids, shard paths, duplicates and serial order.
enum ManifestSchema {
    typealias Bad = (String) -> StoreError

    static func manifest(from json: JSONValue, bad: Bad) throws -> Manifest {
        guard case .object = json else { throw bad("manifest is \(json.typeName), not an object") }
        let format = try string(json, "format", bad)
        guard format == "logitstore" else { throw bad("format is \"\(elided(format, 40))\", expected \"logitstore\"") }
        let version = try integer(json, "format_version", bad)
        guard version == Manifest.currentVersion else {
            throw StoreError.incompatible("store has format version \(version); this reader reads version \(Manifest.currentVersion) only")
        }
        let vocab = try integer(json, "vocab_size", bad)
        guard vocab >= 1, vocab <= Int(UInt32.max) else { throw bad("vocab_size \(vocab) is outside 1...4294967295") }
        var padded: Int?
        if json["padded_vocab_size"] != nil {
            let p = try integer(json, "padded_vocab_size", bad)
            guard p >= vocab, p <= Int(UInt32.max) else { throw bad("padded_vocab_size \(p) is outside vocab_size (\(vocab))...4294967295") }
            padded = p
        }
        let truncation = try policy(try object(json, "truncation", bad), bad)
        let teacherJSON = try object(json, "teacher", bad)
        let teacher = TeacherIdentity(name: try string(teacherJSON, "name", bad, path: "teacher"),
                                      weightsHash: try optionalString(teacherJSON, "weights_hash", bad, path: "teacher"),
                                      tokenizerHash: try optionalString(teacherJSON, "tokenizer_hash", bad, path: "teacher"))
        let targets = try bool(json, "target_logprobs", bad)
        guard case .array(let list)? = json["shards"] else {
            throw bad("shards is \(json["shards"]?.typeName ?? "missing"), expected an array")
        }
        var shards: [Manifest.ShardEntry] = []
        shards.reserveCapacity(list.count)
        for (i, s) in list.enumerated() {
            let where_ = "shards[\(i)]"
            guard case .object = s else { throw bad("\(where_) is \(s.typeName), not an object") }
            shards.append(Manifest.ShardEntry(
                file: try string(s, "file", bad, path: where_), writerID: try string(s, "writer_id", bad, path: where_),
                sequences: try integer(s, "sequences", bad, path: where_), positions: try integer(s, "positions", bad, path: where_),
                entries: try integer(s, "entries", bad, path: where_), bytes: try integer(s, "bytes", bad, path: where_),
                xxh3: try string(s, "xxh3", bad, path: where_)))
        }
        let m = Manifest(vocabSize: vocab, paddedVocabSize: padded, truncation: truncation, teacher: teacher,
                         targetLogprobs: targets, shards: shards)
        try checkShards(m.shards, bad: bad)
        return m
    }

    // MARK: Shard list rules

    static func checkShards(_ shards: [Manifest.ShardEntry], bad: Bad) throws {
        var files = Set<String>(), sums = Set<String>()
        var lastSerial: [String: Int] = [:]  // "<directory>\0<writer id>" → serial
        var totals = (sequences: 0, positions: 0, entries: 0)
        for (i, s) in shards.enumerated() {
            let at = "shards[\(i)]"
            guard isValidWriterID(s.writerID) else {
                throw bad("\(at).writer_id \"\(elided(s.writerID, 70))\" does not match [A-Za-z0-9_-][A-Za-z0-9._-]{0,63}")
            }
            let serial = try checkPath(s.file, writerID: s.writerID, at: at, bad: bad)
            guard s.sequences >= 1, s.positions >= s.sequences, s.entries >= s.positions else {
                throw bad("\(at) (\(elided(s.file))): counts must satisfy 1 ≤ sequences ≤ positions ≤ entries, got \(s.sequences) / \(s.positions) / \(s.entries)")
            }
            let minimum = ShardLayout.headerSize + ShardLayout.indexHeaderSize + ShardLayout.trailerSize
            guard s.bytes >= minimum else { throw bad("\(at) (\(elided(s.file))): bytes \(s.bytes) is less than the smallest shard (\(minimum))") }
            guard s.xxh3.utf8.count == 16, s.xxh3.utf8.allSatisfy({ (0x30...0x39).contains($0) || (0x61...0x66).contains($0) }) else {
                throw bad("\(at) (\(elided(s.file))): xxh3 \"\(elided(s.xxh3, 40))\" is not 16 lower-case hexadecimal digits")
            }
            guard files.insert(s.file).inserted else { throw bad("\(at): shard \(elided(s.file)) is listed twice") }
            guard sums.insert(s.xxh3).inserted else { throw bad("\(at) (\(elided(s.file))): xxh3 \(s.xxh3) is listed twice (the same shard under two names?)") }
            let dir = s.file.contains("/") ? String(s.file[..<s.file.lastIndex(of: "/")!]) : ""
            let key = dir + "\u{0}" + s.writerID
            if let prev = lastSerial[key], serial <= prev {
                throw bad("\(at) (\(elided(s.file))): serial \(serial) does not follow \(prev) of writer \(s.writerID) in that directory")
            }
            lastSerial[key] = serial
            var ok = true
            for (a, b) in [(totals.sequences, s.sequences), (totals.positions, s.positions), (totals.entries, s.entries)] {
                if a.addingReportingOverflow(b).overflow { ok = false }
            }
            guard ok else { throw bad("\(at): store totals overflow") }
            totals = (totals.sequences + s.sequences, totals.positions + s.positions, totals.entries + s.entries)
        }
    }

    /// `[A-Za-z0-9_-][A-Za-z0-9._-]{0,63}`.
    static func isValidWriterID(_ id: String) -> Bool {
        let u = Array(id.utf8)
        guard (1...64).contains(u.count) else { return false }
        func ok(_ c: UInt8) -> Bool {
            (0x30...0x39).contains(c) || (0x41...0x5A).contains(c) || (0x61...0x7A).contains(c) || c == 0x5F || c == 0x2D || c == 0x2E
        }
        return u.allSatisfy(ok) && u[0] != 0x2E
    }

    /// Checks the path rules (relative, `/`-separated, no NUL or backslash, no empty or `.` components, `..` only
    /// leading, last component `<writer_id>-<6 digits>.lgs`) and returns the serial.
    static func checkPath(_ file: String, writerID: String, at: String, bad: Bad) throws -> Int {
        let shown = elided(file.replacingOccurrences(of: "\u{0}", with: "\\0"))
        guard file.utf8.count <= 4096 else { throw bad("\(at).file is longer than 4096 bytes") }
        guard !file.utf8.contains(0) else { throw bad("\(at).file \"\(shown)\" contains a NUL byte") }
        guard !file.contains("\\") else { throw bad("\(at).file \"\(shown)\" contains a backslash") }
        guard !file.hasPrefix("/") else { throw bad("\(at).file \"\(shown)\" is an absolute path") }
        let parts = file.split(separator: "/", omittingEmptySubsequences: false)
        var leading = true
        for (k, p) in parts.enumerated() {
            if p.isEmpty || p == "." { throw bad("\(at).file \"\(shown)\" has an empty or '.' component") }
            if p == ".." {
                guard leading, k < parts.count - 1 else { throw bad("\(at).file \"\(shown)\" has '..' after a named component") }
            } else { leading = false }
        }
        let last = Array(parts.last!.utf8), prefix = Array((writerID + "-").utf8), suffix = Array(".lgs".utf8)
        guard last.count == prefix.count + 6 + suffix.count, Array(last.prefix(prefix.count)) == prefix,
              Array(last.suffix(suffix.count)) == suffix else {
            throw bad("\(at).file \"\(shown)\" is not named <writer_id>-<6 digits>.lgs for writer \(elided(writerID, 70))")
        }
        let digits = last[prefix.count..<(prefix.count + 6)]
        guard digits.allSatisfy({ (0x30...0x39).contains($0) }) else {
            throw bad("\(at).file \"\(shown)\" is not named <writer_id>-<6 digits>.lgs")
        }
        return digits.reduce(0) { $0 * 10 + Int($1 - 0x30) }
    }

    // MARK: Truncation policy

    static func policy(_ t: JSONValue, _ bad: Bad) throws -> TruncationPolicy {
        let path = "truncation"
        let kindName = try string(t, "policy", bad, path: path)
        guard let kind = TargetPolicyKind(rawValue: kindName) else {
            throw bad("truncation.policy \"\(elided(kindName, 40))\" is neither \"top-p-k\" nor \"sample\"")
        }
        var p = TruncationPolicy(topP: try number(t, "top_p", bad, path: path), topK: try integer(t, "top_k", bad, path: path),
                                 temperature: try number(t, "temperature", bad, path: path))
        p.kind = kind
        if t["samples"] != nil { p.samples = try integer(t, "samples", bad, path: path) }
        if t["sample_temperature"] != nil { p.sampleTemperature = try number(t, "sample_temperature", bad, path: path) }
        if t["seed"] != nil {
            p.seed = UInt64(try integer(t, "seed", bad, path: path))
        }
        if t["weights"] != nil {
            let w = try string(t, "weights", bad, path: path)
            guard let weights = SampleWeights(rawValue: w) else { throw bad("truncation.weights \"\(elided(w, 40))\" is neither \"counts\" nor \"importance\"") }
            p.weights = weights
        }
        do { try p.validate() } catch let StoreError.invalidInput(why) { throw bad("truncation: \(why)") }
        return p
    }

    // MARK: Typed fields

    static func field(_ o: JSONValue, _ key: String, _ bad: Bad, path: String?) throws -> JSONValue {
        guard case .object = o else { throw bad("\(path ?? "manifest") is \(o.typeName), not an object") }
        guard let v = o[key] else { throw bad("\(path.map { $0 + "." } ?? "")\(key) is missing") }
        return v
    }

    static func name(_ key: String, _ path: String?) -> String { (path.map { $0 + "." } ?? "") + key }

    static func object(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> JSONValue {
        let v = try field(o, key, bad, path: path)
        guard case .object = v else { throw bad("\(name(key, path)) is \(v.typeName), expected an object") }
        return v
    }

    static func string(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> String {
        let v = try field(o, key, bad, path: path)
        guard case .string(let s) = v else { throw bad("\(name(key, path)) is \(v.typeName), expected a string") }
        return s
    }

    static func optionalString(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> String? {
        o[key] == nil ? nil : try string(o, key, bad, path: path)
    }

    static func bool(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> Bool {
        let v = try field(o, key, bad, path: path)
        guard case .bool(let b) = v else { throw bad("\(name(key, path)) is \(v.typeName), expected true or false") }
        return b
    }

    /// An integer written without fraction or exponent that fits in 63 bits.
    static func integer(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> Int {
        let v = try field(o, key, bad, path: path)
        guard case .number(let text) = v, StrictJSON.isInteger(text), !text.hasPrefix("-") else {
            throw bad("\(name(key, path)) is \(v.typeName.replacingOccurrences(of: "an integer", with: "a negative integer")), expected a non-negative integer")
        }
        guard let n = Int(text) else { throw bad("\(name(key, path)) \(elided(text, 40)) does not fit in 64 bits") }
        return n
    }

    /// Any finite JSON number, as the nearest binary64 value.
    static func number(_ o: JSONValue, _ key: String, _ bad: Bad, path: String? = nil) throws -> Double {
        let v = try field(o, key, bad, path: path)
        guard case .number(let text) = v, let d = Double(text), d.isFinite else {
            throw bad("\(name(key, path)) is \(v.typeName), expected a finite number")
        }
        return d
    }
}
