#if canImport(Glibc)
import Glibc
#endif
import Foundation

/// POSIX file helpers with errors that name the path and the failing operation.
enum DurableFile {
    static func errnoText() -> String { String(cString: strerror(errno)) }

    static func fail(_ path: String, _ op: String) -> StoreError { .io(path: path, operation: op, message: errnoText()) }

    /// Writes all bytes to `fd`, retrying short writes; ENOSPC and friends become errors.
    static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String) throws {
        var done = 0
        while done < bytes.count {
            let r = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if r < 0 { if errno == EINTR { continue }; throw fail(path, "write") }
            if r == 0 { throw StoreError.io(path: path, operation: "write", message: "no progress (device full?)") }
            done += r
        }
    }

    static func fsyncDirectory(_ dir: String) throws {
        let fd = open(dir, O_RDONLY | O_DIRECTORY)
        guard fd >= 0 else { throw fail(dir, "open directory") }
        defer { close(fd) }
        guard fsync(fd) == 0 else { throw fail(dir, "fsync directory") }
    }

    /// temp + write + fsync + rename + fsync(dir).
    static func writeAtomically(directory: String, name: String, data: [UInt8]) throws {
        let tmp = directory + "/." + name + ".\(getpid()).tmp"
        let final = directory + "/" + name
        let fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail(tmp, "create") }
        do {
            try data.withUnsafeBytes { try writeAll(fd: fd, $0, path: tmp) }
            guard fsync(fd) == 0 else { throw fail(tmp, "fsync") }
        } catch { close(fd); unlink(tmp); throw error }
        close(fd)
        guard rename(tmp, final) == 0 else { let e = fail(final, "rename"); unlink(tmp); throw e }
        try fsyncDirectory(directory)
    }

    /// Removes `.<name>.<pid>.tmp` files left by an interrupted atomic write. Call only while holding the lock
    /// under which such writes happen (`withLock`), so that no live write's temp file is removed.
    static func removeStaleTemporaries(directory: String, name: String) {
        let prefix = "." + name + ".", suffix = ".tmp"
        for f in (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? [] where f.hasPrefix(prefix) && f.hasSuffix(suffix) {
            unlink(directory + "/" + f)
        }
    }

    static func createDirectory(_ path: String) throws {
        var isDir: ObjCBool = false
        if FileManager.default.fileExists(atPath: path, isDirectory: &isDir) {
            guard isDir.boolValue else { throw StoreError.invalidInput("\(path) exists and is not a directory") }
            return
        }
        do { try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true) } catch {
            throw StoreError.io(path: path, operation: "create directory", message: "\(error.localizedDescription)")
        }
    }

    /// An exclusive advisory lock on `<directory>/.lock`, held for the manifest's read-modify-write.
    static func withLock<T>(directory: String, _ body: () throws -> T) throws -> T {
        let path = directory + "/.lock"
        let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
        guard fd >= 0 else { throw fail(path, "open lock") }
        defer { close(fd) }
        while flock(fd, LOCK_EX) != 0 { if errno != EINTR { throw fail(path, "flock") } }
        defer { flock(fd, LOCK_UN) }
        return try body()
    }
}

/// A read-only memory map of a whole file.
final class MappedFile {
    let path: String
    let base: UnsafeRawPointer
    let count: Int

    init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY | O_CLOEXEC)
        guard fd >= 0 else {
            if errno == ENOENT { throw StoreError.notFound("shard \(path)") }
            throw DurableFile.fail(path, "open")
        }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw DurableFile.fail(path, "fstat") }
        count = Int(st.st_size)
        guard count > 0 else { throw StoreError.corrupt(file: path, block: nil, detail: "file is empty") }
        guard let p = mmap(nil, count, PROT_READ, MAP_SHARED, fd, 0), p != MAP_FAILED else { throw DurableFile.fail(path, "mmap") }
        base = UnsafeRawPointer(p)
    }

    deinit { munmap(UnsafeMutableRawPointer(mutating: base), count) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
}
