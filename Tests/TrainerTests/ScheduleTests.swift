import XCTest
@testable import Trainer

final class ScheduleTests: XCTestCase {
    func testAlphaSchedules() throws {
        let n = 1001
        XCTAssertEqual(AlphaSchedule.constant(0.4).alpha(step: 500, totalSteps: n), 0.4)
        XCTAssertEqual(AlphaSchedule.linearUp(max: 0.9).alpha(step: 0, totalSteps: n), 0)
        XCTAssertEqual(AlphaSchedule.linearUp(max: 0.9).alpha(step: 500, totalSteps: n), 0.45, accuracy: 1e-12)
        XCTAssertEqual(AlphaSchedule.linearUp(max: 0.9).alpha(step: 1000, totalSteps: n), 0.9, accuracy: 1e-12)
        XCTAssertEqual(AlphaSchedule.linearDown(max: 0.9).alpha(step: 1000, totalSteps: n), 0, accuracy: 1e-12)
        // Periodic: 0.9 on every fourth batch (steps 3, 7, 11, …), 0 otherwise.
        let per = (0..<12).map { AlphaSchedule.periodic(value: 0.9, every: 4).alpha(step: $0, totalSteps: n) }
        XCTAssertEqual(per, [0, 0, 0, 0.9, 0, 0, 0, 0.9, 0, 0, 0, 0.9])
        // WSD: 10 % warm-up, hold, 1 % cosine decay.
        let w = AlphaSchedule.paperWSD(max: 0.9)
        XCTAssertEqual(w.alpha(step: 0, totalSteps: n), 0)
        XCTAssertEqual(w.alpha(step: 50, totalSteps: n), 0.45, accuracy: 1e-9)
        XCTAssertEqual(w.alpha(step: 100, totalSteps: n), 0.9, accuracy: 1e-9)
        XCTAssertEqual(w.alpha(step: 989, totalSteps: n), 0.9, accuracy: 1e-9)
        XCTAssertEqual(w.alpha(step: 995, totalSteps: n), 0.45, accuracy: 1e-9)
        XCTAssertEqual(w.alpha(step: 1000, totalSteps: n), 0, accuracy: 1e-9)
        XCTAssertEqual(try AlphaSchedule(parsing: "wsd:0.9"), w)
        XCTAssertEqual(try AlphaSchedule(parsing: "periodic"), .periodic(value: 0.9, every: 4))
        XCTAssertThrowsError(try AlphaSchedule(parsing: "1.5"))
        XCTAssertThrowsError(try AlphaSchedule(parsing: "wsd:0.9:0.6:0.6"))
    }

    func testLearningRateSchedules() {
        let cos = LRSchedule(kind: .cosine, peak: 1e-3, minimum: 1e-4, warmup: 0.1)
        XCTAssertEqual(cos.rate(step: 0, totalSteps: 100), 1e-4, accuracy: 1e-12)      // (0+1)/10 of peak
        XCTAssertEqual(cos.rate(step: 9, totalSteps: 100), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(step: 10, totalSteps: 100), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(cos.rate(step: 99, totalSteps: 100), 1e-4, accuracy: 1e-12)
        let mid = cos.rate(step: 10 + 89 / 2, totalSteps: 100)
        XCTAssertEqual(mid, 5.5e-4, accuracy: 2e-5)
        let wsd = LRSchedule(kind: .wsd, peak: 1e-3, minimum: 0, warmup: 0.01, decay: 0.1)
        XCTAssertEqual(wsd.rate(step: 500, totalSteps: 1001), 1e-3)
        XCTAssertEqual(wsd.rate(step: 900, totalSteps: 1001), 1e-3, accuracy: 1e-12)
        XCTAssertEqual(wsd.rate(step: 950, totalSteps: 1001), 5e-4, accuracy: 1e-9)
        XCTAssertEqual(wsd.rate(step: 1000, totalSteps: 1001), 0, accuracy: 1e-12)
    }
}

final class AdamWTests: XCTestCase {
    /// Two steps against a scalar transcription of the AdamW update.
    func testMatchesReferenceUpdate() {
        let n = 5
        var p: [Float] = [0.5, -1, 2, 0.1, -0.3]
        let g1: [Float] = [0.1, -0.2, 0.05, 0, 0.3], g2: [Float] = [-0.1, 0.4, 0.2, 0.1, 0.0]
        var s = AdamW.Settings(); s.clipNorm = 0; s.weightDecay = 0.1
        let opt = AdamW(count: n, settings: s, decayedRanges: [0..<3])
        var ref = p.map(Double.init), m = [Double](repeating: 0, count: n), v = m
        for (t, g) in [g1, g2].enumerated() {
            var gg = g
            p.withUnsafeMutableBufferPointer { pp in gg.withUnsafeMutableBufferPointer { opt.step(parameters: pp, gradients: $0, lr: 0.01) } }
            for i in 0..<n {
                let gi = Double(g[i])
                m[i] = 0.9 * m[i] + 0.1 * gi; v[i] = 0.95 * v[i] + 0.05 * gi * gi
                let mh = m[i] / (1 - pow(0.9, Double(t + 1))), vh = v[i] / (1 - pow(0.95, Double(t + 1)))
                ref[i] -= 0.01 * (mh / (vh.squareRoot() + 1e-8) + (i < 3 ? 0.1 : 0) * ref[i])
            }
        }
        for i in 0..<n { XCTAssertEqual(Double(p[i]), ref[i], accuracy: 1e-6) }
    }

    func testClipping() {
        var p: [Float] = [0, 0]
        var g: [Float] = [30, 40]
        var s = AdamW.Settings(); s.clipNorm = 1; s.weightDecay = 0
        let opt = AdamW(count: 2, settings: s, decayedRanges: [])
        let norm = p.withUnsafeMutableBufferPointer { pp in g.withUnsafeMutableBufferPointer { opt.step(parameters: pp, gradients: $0, lr: 0.1) } }
        XCTAssertEqual(norm, 50, accuracy: 1e-9)
        // First Adam moments after clipping to norm 1: g = (0.6, 0.8).
        XCTAssertEqual(opt.m[0], 0.06, accuracy: 1e-6)
        XCTAssertEqual(opt.m[1], 0.08, accuracy: 1e-6)
    }
}

final class CheckpointFormatTests: XCTestCase {
    func tmp() -> String { NSTemporaryDirectory() + "trainer-test-\(UUID().uuidString)" }

    func testSafetensorsRoundTripAndLayout() throws {
        let path = tmp() + ".safetensors"
        defer { unlink(path) }
        let a = Safetensors.Tensor(name: "model.embed_tokens.weight", shape: [3, 2], data: [1, 2, 3, 4, 5, 6])
        let b = Safetensors.Tensor(name: "model.norm.weight", shape: [2], data: [0.5, -0.25])
        try Safetensors.write(path: path, tensors: [a, b], metadata: ["format": "pt", "step": "12"])
        let bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        let n = Int(bytes.prefix(8).withUnsafeBytes { $0.loadUnaligned(as: UInt64.self) })
        XCTAssertEqual(n % 8, 0)
        XCTAssertEqual(bytes.count, 8 + n + 8 * 4)
        let (t, meta) = try Safetensors.read(path: path)
        XCTAssertEqual(t["model.embed_tokens.weight"]?.data, a.data)
        XCTAssertEqual(t["model.embed_tokens.weight"]?.shape, [3, 2])
        XCTAssertEqual(t["model.norm.weight"]?.data, b.data)
        XCTAssertEqual(meta["step"], "12")
        // A truncated file is refused with a message, never read short.
        try bytes.prefix(bytes.count - 3).write(to: URL(fileURLWithPath: path))
        XCTAssertThrowsError(try Safetensors.read(path: path)) { e in
            XCTAssertTrue("\(e)".contains("does not fit"), "\(e)")
        }
        XCTAssertThrowsError(try Safetensors.read(path: path + ".missing"))
    }

    /// Adjacent-pair RoPE on our rows equals rotate-half RoPE on the permuted (HF) rows.
    func testRotaryPermutationMatchesHuggingFaceConvention() {
        let hd = 8, heads = 2, cols = 3, pos = 5
        var rng = LossGradientTests.LCG(s: 3)
        let w = (0..<(heads * hd * cols)).map { _ in Float(rng.next() - 0.5) }
        let x = (0..<cols).map { _ in Float(rng.next() - 0.5) }
        func matvec(_ m: [Float]) -> [Double] { (0..<(heads * hd)).map { r in (0..<cols).reduce(0.0) { $0 + Double(m[r * cols + $1] * x[$1]) } } }
        let theta = { (i: Int) in Double(pos) * pow(10000.0, -2.0 * Double(i) / Double(hd)) }
        var ours = matvec(w)
        for h in 0..<heads { for i in 0..<(hd / 2) {
            let a = ours[h * hd + 2 * i], b = ours[h * hd + 2 * i + 1], c = cos(theta(i)), s = sin(theta(i))
            ours[h * hd + 2 * i] = a * c - b * s; ours[h * hd + 2 * i + 1] = a * s + b * c
        } }
        let hfW = HuggingFaceNames.toRotateHalf(w, headDim: hd, cols: cols)
        var theirs = matvec(hfW)
        for h in 0..<heads { for i in 0..<(hd / 2) {
            let a = theirs[h * hd + i], b = theirs[h * hd + i + hd / 2], c = cos(theta(i)), s = sin(theta(i))
            theirs[h * hd + i] = a * c - b * s; theirs[h * hd + i + hd / 2] = b * c + a * s
        } }
        // Same rotated vectors, up to the row permutation.
        for h in 0..<heads { for i in 0..<(hd / 2) { for j in 0..<2 {
            XCTAssertEqual(ours[h * hd + 2 * i + j], theirs[h * hd + j * hd / 2 + i], accuracy: 1e-9)
        } } }
        XCTAssertEqual(HuggingFaceNames.fromRotateHalf(hfW, headDim: hd, cols: cols), w)
        XCTAssertEqual(HuggingFaceNames.hfName("blk.3.ffn_down"), "model.layers.3.mlp.down_proj.weight")
        XCTAssertNil(HuggingFaceNames.hfName("blk.x.nothing"))
    }

    func testStudentConfigParsingAndValidation() throws {
        let json = #"{"layers": 2, "dim": 64, "heads": 4, "kv_heads": 2, "ffn_dim": 128, "tied_embeddings": false}"#
        let c = try JSONDecoder().decode(StudentConfig.self, from: Data(json.utf8))
        XCTAssertEqual(c, StudentConfig(layers: 2, dim: 64, heads: 4, kvHeads: 2, ffnDim: 128, tiedEmbeddings: false))
        XCTAssertNoThrow(try c.validate())
        XCTAssertThrowsError(try StudentConfig(layers: 2, dim: 64, heads: 3, kvHeads: 1, ffnDim: 8, tiedEmbeddings: true).validate())
        XCTAssertThrowsError(try StudentConfig(layers: 2, dim: 64, heads: 4, kvHeads: 3, ffnDim: 8, tiedEmbeddings: true).validate())
        XCTAssertThrowsError(try StudentConfig.load(path: "/nonexistent/student.json")) { e in
            XCTAssertTrue("\(e)".contains("/nonexistent/student.json"))
        }
    }

    func testPlotIsWellFormedSVG() throws {
        let svg = LossCurvePlot.svg(title: "loss <&>", xLabel: "tokens", yLabel: "loss",
                                    series: [.init(label: "train", points: [(0, 5), (1, 4), (2, .nan), (3, 3)], color: "#1f77b4")])
        XCTAssertTrue(svg.hasPrefix("<svg"))
        XCTAssertTrue(svg.contains("<polyline"))
        XCTAssertTrue(svg.contains("loss &lt;&amp;&gt;"))
        XCTAssertEqual(svg.components(separatedBy: "<text").count, svg.components(separatedBy: "</text>").count)
        XCTAssertTrue(svg.hasSuffix("</svg>\n"))
    }
}
