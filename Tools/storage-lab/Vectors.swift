import Foundation
import LogitStore

enum Vectors {
    static func generate(outDir: String) throws { fail("vectors: not yet") }
}
