import Foundation

/// A small self-contained SVG line chart (the loss curve written at the end of a run).
public enum LossCurvePlot {
    /// One line of the chart.
    public struct Series {
        /// Legend text.
        public var label: String
        /// The points, in x order.
        public var points: [(x: Double, y: Double)]
        /// An SVG colour.
        public var color: String
        /// A series.
        public init(label: String, points: [(x: Double, y: Double)], color: String) {
            self.label = label; self.points = points; self.color = color
        }
    }

    /// The chart as a standalone SVG document.
    public static func svg(title: String, xLabel: String, yLabel: String, series: [Series],
                           width: Double = 720, height: Double = 420) -> String {
        let all = series.flatMap { $0.points }.filter { $0.x.isFinite && $0.y.isFinite }
        let (l, r, t, b) = (70.0, 20.0, 40.0, 50.0)
        var x0 = all.map(\.x).min() ?? 0, x1 = all.map(\.x).max() ?? 1
        var y0 = all.map(\.y).min() ?? 0, y1 = all.map(\.y).max() ?? 1
        if x1 <= x0 { x1 = x0 + 1 }
        if y1 <= y0 { y1 = y0 + 1 }
        let pad = (y1 - y0) * 0.05; y0 -= pad; y1 += pad
        if x0 > 0, x0 < (x1 - x0) * 0.1 { x0 = 0 }
        let pw = width - l - r, ph = height - t - b
        func px(_ x: Double) -> Double { l + (x - x0) / (x1 - x0) * pw }
        func py(_ y: Double) -> Double { t + (1 - (y - y0) / (y1 - y0)) * ph }
        func f(_ v: Double) -> String { String(format: "%.1f", v) }
        func esc(_ s: String) -> String {
            s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;").replacingOccurrences(of: ">", with: "&gt;")
        }
        var s = "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"\(f(width))\" height=\"\(f(height))\" font-family=\"sans-serif\" font-size=\"12\">\n"
        s += "<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n"
        s += "<text x=\"\(f(width / 2))\" y=\"22\" text-anchor=\"middle\" font-size=\"15\">\(esc(title))</text>\n"
        s += "<rect x=\"\(f(l))\" y=\"\(f(t))\" width=\"\(f(pw))\" height=\"\(f(ph))\" fill=\"none\" stroke=\"#444\"/>\n"
        for i in 0...5 {
            let yv = y0 + (y1 - y0) * Double(i) / 5, xv = x0 + (x1 - x0) * Double(i) / 5
            s += "<line x1=\"\(f(l))\" x2=\"\(f(l + pw))\" y1=\"\(f(py(yv)))\" y2=\"\(f(py(yv)))\" stroke=\"#ddd\"/>\n"
            s += "<text x=\"\(f(l - 6))\" y=\"\(f(py(yv) + 4))\" text-anchor=\"end\">\(String(format: "%.3g", yv))</text>\n"
            s += "<text x=\"\(f(px(xv)))\" y=\"\(f(t + ph + 16))\" text-anchor=\"middle\">\(String(format: "%.3g", xv))</text>\n"
        }
        s += "<text x=\"\(f(l + pw / 2))\" y=\"\(f(height - 10))\" text-anchor=\"middle\">\(esc(xLabel))</text>\n"
        s += "<text x=\"16\" y=\"\(f(t + ph / 2))\" text-anchor=\"middle\" transform=\"rotate(-90 16 \(f(t + ph / 2)))\">\(esc(yLabel))</text>\n"
        for (k, se) in series.enumerated() {
            let pts = se.points.filter { $0.x.isFinite && $0.y.isFinite }.map { "\(f(px($0.x))),\(f(py($0.y)))" }.joined(separator: " ")
            if !pts.isEmpty {
                s += "<polyline fill=\"none\" stroke=\"\(se.color)\" stroke-width=\"1.5\" points=\"\(pts)\"/>\n"
            }
            let ly = t + 14 + Double(k) * 16
            s += "<line x1=\"\(f(l + pw - 150))\" x2=\"\(f(l + pw - 130))\" y1=\"\(f(ly - 4))\" y2=\"\(f(ly - 4))\" stroke=\"\(se.color)\" stroke-width=\"2\"/>\n"
            s += "<text x=\"\(f(l + pw - 125))\" y=\"\(f(ly))\">\(esc(se.label))</text>\n"
        }
        s += "</svg>\n"
        return s
    }
}
