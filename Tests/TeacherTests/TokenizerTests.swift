import XCTest
@testable import Teacher

final class PreTokenizerTests: XCTestCase {
    func testGPT2PatternAndDigits() {
        XCTAssertEqual(PreTokenizer.split("Hello world"), ["Hello", " world"])
        XCTAssertEqual(PreTokenizer.split("In 2024"), ["In", " ", "2", "0", "2", "4"])
        XCTAssertEqual(PreTokenizer.split("a1b22"), ["a", "1", "b", "2", "2"])
        XCTAssertEqual(PreTokenizer.split("I'm sure they'll"), ["I", "'m", " sure", " they", "'ll"])
        XCTAssertEqual(PreTokenizer.split("'S ''s"), ["'", "S", " ''", "s"])
        // whitespace runs: the last space of a run joins the next word; a run at the end stays whole
        XCTAssertEqual(PreTokenizer.split("a   b"), ["a", "  ", " b"])
        XCTAssertEqual(PreTokenizer.split("a\n\n b"), ["a", "\n\n", " b"])
        XCTAssertEqual(PreTokenizer.split("a\nb"), ["a", "\n", "b"])
        XCTAssertEqual(PreTokenizer.split("end  "), ["end", "  "])
        XCTAssertEqual(PreTokenizer.split("x !!? (y)"), ["x", " !!?", " (", "y", ")"])
        XCTAssertEqual(PreTokenizer.split("Grüße 日本"), ["Grüße", " 日本"])
        XCTAssertEqual(PreTokenizer.split("٣½x"), ["٣", "½", "x"])
        let text = "Mixed  text\twith\r\n runs 12 and émoji 😀!  "
        XCTAssertEqual(PreTokenizer.split(text).joined(), text)
    }
}

/// A tiny vocabulary: the 256 byte tokens plus a few merges.
func tinyTokenizer() throws -> BPETokenizer {
    var tokens = BPETokenizer.byteToScalar.map { String(Character($0)) }
    let merges = ["h e", "l l", "he ll", "o Ġ", "hell o", "Ġ w", "Ġw o", "r l", "Ġwo rl"]
    for m in merges { tokens.append(m.replacingOccurrences(of: " ", with: "")) }
    tokens.append("<eos>")
    var types = Array(repeating: 1, count: tokens.count)
    types[tokens.count - 1] = 3
    return try BPETokenizer(tokens: tokens, merges: merges, tokenTypes: types, eosID: UInt32(tokens.count - 1))
}


final class BPETokenizerTests: XCTestCase {
    func testMergesFollowRankOrder() throws {
        let t = try tinyTokenizer()
        let id = { (s: String) in UInt32(t.tokens.firstIndex(of: s)!) }
        // "hello" → h e l l o → he ll o → hell o → hello? "hell o" merges to "hello" (rank 4).
        XCTAssertEqual(t.encode("hello"), [id("hello")])
        // " world": Ġ w o r l d → Ġw o rl d → Ġwo rl d → Ġworl d  ("o Ġ" never applies inside a word)
        XCTAssertEqual(t.encode(" world"), [id("Ġworl"), id("d")])
        XCTAssertEqual(t.encode("hello world"), [id("hello"), id("Ġworl"), id("d")])
        XCTAssertEqual(try t.decode(t.encode("hello world")), "hello world")
        XCTAssertEqual(try t.decode([id("hello"), UInt32(t.tokens.count - 1)]), "hello<eos>")
        XCTAssertThrowsError(try t.decode([99_999])) { XCTAssertTrue("\($0)".contains("outside the vocabulary")) }
    }

    func testByteLevelRoundTripOfArbitraryText() throws {
        let t = try tinyTokenizer()
        for s in ["", " ", "\n\n\t  x", "Grüße, 世界! 😀👍🏽", "a\u{0}b\u{7F}", "1 2 3 ٣ ½", String(repeating: "ab ", count: 100)] {
            XCTAssertEqual(try t.decode(t.encode(s)), s)
        }
    }

    func testBadMergesAreRejected() {
        let tokens = BPETokenizer.byteToScalar.map { String(Character($0)) }
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, merges: ["a b"])) { XCTAssertTrue("\($0)".contains("produces a token that is not in the vocabulary"), "\($0)") }
        XCTAssertThrowsError(try BPETokenizer(tokens: tokens, merges: ["ab c"])) { XCTAssertTrue("\($0)".contains("names a token that is not in the vocabulary"), "\($0)") }
        XCTAssertThrowsError(try BPETokenizer(tokens: Array(tokens.dropFirst()), merges: [])) { XCTAssertTrue("\($0)".contains("lacks the byte token"), "\($0)") }
    }
}

/// The real SmolLM2 tokenizer from the GGUF file, against encodings produced by the HF `tokenizers` package
/// built from the same vocabulary and merges (Tools/python/scripts/smollm2_numpy.py: build_tokenizer).
final class SmolLM2TokenizerTests: XCTestCase {
    func testKnownEncodings() throws {
        let t = try BPETokenizer(gguf: TestModel.gguf())
        XCTAssertEqual(t.vocabularySize, 49_152)
        XCTAssertEqual(t.eosID, 2)
        let cases: [(String, [UInt32])] = [
            ("The capital of France is Paris. The capital of Germany is", [504, 3575, 282, 4649, 314, 7042, 30, 378, 3575, 282, 4521, 314]),
            ("In 2024 we paid $1,234.50 for 3 items.", [788, 216, 34, 32, 34, 36, 392, 5940, 1885, 33, 28, 34, 35, 36, 30, 37, 32, 327, 216, 35, 3723, 30]),
            ("a  b   c\n\n\n  d\t\te   ", [81, 216, 278, 256, 265, 1116, 3805, 287, 197, 197, 85, 333]),
            ("I'm sure they'll say it's fine, don't you think? 'Tis", [57, 5248, 2090, 502, 3060, 1643, 357, 506, 4979, 28, 1326, 982, 346, 1510, 47, 637, 68, 271]),
            ("Grüße aus Köln! 日本語 Привет 😀 naïve café", [27302, 7170, 34878, 85, 253, 376, 659, 7466, 34115, 17, 17097, 241, 115, 40993, 179, 120, 248, 5470, 249, 46879, 16464, 32547, 40303, 218, 15486, 46494, 37366]),
            ("٣ apples and ½ pie", [164, 113, 13855, 284, 216, 16738, 2357]),
        ]
        for (text, ids) in cases {
            XCTAssertEqual(t.encode(text), ids, text)
            XCTAssertEqual(try t.decode(ids), text)
        }
        XCTAssertEqual(try t.decode([11452]), " Berlin")
        XCTAssertEqual(t.identityHash.count, 16)
    }

    func testDisplayTextEscapesControlCharacters() throws {
        let t = try BPETokenizer(gguf: TestModel.gguf())
        XCTAssertEqual(try t.displayText(11452), " Berlin")
        XCTAssertEqual(try t.displayText(197), "\\t")                 // the tab token (see "\t\t" above)
        XCTAssertEqual(try t.displayText(t.encode("\n")[0]), "\\n")
        XCTAssertEqual(try t.displayText(t.encode("\\")[0]), "\\\\")
        XCTAssertEqual(try t.displayText(164), "\u{FFFD}")             // the first byte of "٣", not whole UTF-8
        XCTAssertThrowsError(try t.displayText(49_152))
    }
}
