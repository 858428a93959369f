import Foundation

/// Reading text documents with clear errors.
public enum TextInput {
    /// The contents of `path` ("-" = standard input) as UTF-8 text; throws on a missing file or invalid UTF-8.
    public static func readUTF8(path: String) throws -> String {
        let data: Data
        if path == "-" {
            data = FileHandle.standardInput.readDataToEndOfFile()
        } else {
            guard FileManager.default.fileExists(atPath: path) else { throw TeacherError.input(path: path, reason: "no such file") }
            do { data = try Data(contentsOf: URL(fileURLWithPath: path)) } catch {
                throw TeacherError.input(path: path, reason: "cannot read: \(error.localizedDescription)")
            }
        }
        guard let s = String(data: data, encoding: .utf8) else { throw TeacherError.input(path: path, reason: "not valid UTF-8 text") }
        return s
    }
}
