import Foundation
import XCTest
@testable import Teacher

/// The real default teacher (SmolLM2-135M-Instruct Q4_1), fetched with Tools/fetch-teacher when missing.
/// Tests that need it FAIL when it cannot be had, unless LOGITSTORE_OFFLINE=1 says to skip them.
enum TestModel {
    static let repoRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent().path

    private static let fetched: Result<String, Error> = {
        let p = Process()
        p.executableURL = URL(fileURLWithPath: repoRoot + "/Tools/fetch-teacher")
        let out = Pipe()
        p.standardOutput = out
        do {
            try p.run()
            let data = out.fileHandleForReading.readDataToEndOfFile()
            p.waitUntilExit()
            guard p.terminationStatus == 0 else { return .failure(TeacherError.config("Tools/fetch-teacher exited with \(p.terminationStatus)")) }
            return .success(String(decoding: data, as: UTF8.self).trimmingCharacters(in: .whitespacesAndNewlines))
        } catch { return .failure(error) }
    }()

    static func path() throws -> String {
        if ProcessInfo.processInfo.environment["LOGITSTORE_OFFLINE"] == "1" {
            throw XCTSkip("LOGITSTORE_OFFLINE=1: skipping a test that needs the real teacher model")
        }
        return try fetched.get()
    }

    private static let lock = NSLock()
    nonisolated(unsafe) private static var file: GGUFFile?
    static func gguf() throws -> GGUFFile {
        lock.lock(); defer { lock.unlock() }
        if let file { return file }
        let f = try GGUFFile(path: try path())
        file = f
        return f
    }
}
