import Benchmark
import CallrecTestSupport
import Catalog
import Foundation
import Keyring
import Sealing
import Serve

#if canImport(Glibc)
import Glibc
#endif

/// `callrec serve` over the same million-recording catalog (issue 14, item
/// 5: the first page of "my latest calls" and a search by number in under
/// 50 ms p99). A real server on a loopback port, a signed-in session, and
/// one request per iteration over a kept-alive HTTP/1.1 connection: the
/// unit of work is what a browser waits for — the request, the scoped
/// catalog query, the page rendered, the whole answer read.
///
/// - the agent's "my latest calls" (`GET /`): an agent whose number took
///   200 of the million calls, newest first, one page (50);
/// - an admin's search by one number (`GET /?number=...`, the page) and
///   the same through the JSON API (`GET /api/calls?number=...`);
/// - the baseline, measured in the same run: `GET /static/app.js`, a fixed
///   asset with no catalog work — what the HTTP round trip itself costs.
func servePages(in store: CatalogStore, named suffix: String, probe: Int) {
    let agentNumber = GeneratedCatalog.callee(probe)
    let searched = GeneratedCatalog.caller(probe)
    let site: (port: Int, agent: String, admin: String)
    do {
        site = try ServeBench.start(store, agentNumber: agentNumber)
    } catch {
        fatalError("serve: \(error)")
    }
    func page(_ name: String, cookie: String, _ path: String, expecting marker: String) {
        Benchmark("Serve.\(name) \(suffix)") { benchmark in
            let client = try LoopbackHTTP(port: site.port)
            for _ in benchmark.scaledIterations {
                benchmark.startMeasurement()
                let (status, body) = try client.get(path, cookie: cookie)
                benchmark.stopMeasurement()
                if status != 200 || !body.contains(marker) {
                    // A benchmark of a wrong answer measures nothing: say what came back and stop.
                    FileHandle.standardError.write(Data("Serve.\(name): \(status), \(body.prefix(600))\n".utf8))
                    exit(1)
                }
                blackHole(body)
            }
        }
    }
    page("my latest calls (agent, first page)", cookie: site.agent, "/", expecting: agentNumber)
    page("search by number (admin, page)", cookie: site.admin, "/?number=" + searched.replacingOccurrences(of: "+", with: "%2B"), expecting: searched)
    page("search by number (admin, JSON API)", cookie: site.admin, "/api/calls?number=" + searched.replacingOccurrences(of: "+", with: "%2B"), expecting: searched)
    page("baseline: a static asset (no catalog)", cookie: site.agent, "/static/app.js", expecting: "callrec serve")
}

enum ServeBench {
    /// Adds the users (an agent owning `agentNumber`, an admin), starts the
    /// server on a free loopback port, signs both in; their session cookies.
    static func start(_ store: CatalogStore, agentNumber: String) throws -> (port: Int, agent: String, admin: String) {
        let admin = CatalogActor.operator("bench")
        for (name, role, numbers) in [("agent", Role.agent, [agentNumber]), ("ada", Role.admin, [])] {
            // A small scrypt work factor: sign-in speed is not what is measured.
            let key = try UserKeys.newKey(password: try Passphrase(name + "-password"), workFactor: 10)
            let user = CatalogUser(name: name, role: role, numbers: try numbers.map { try NumberPattern.parse($0) })
            try store.putUser(user, key: key, teamKeys: TeamKeys(), by: admin, at: 1)
        }
        let port = try freePort()
        var options = ServeOptions(port: port)
        options.keyWorkFactor = 10
        let server = try CallServer(catalog: store, options: options)
        let application = try server.application()
        Task { try await application.runService() }
        var client: LoopbackHTTP?
        for _ in 0..<200 where client == nil {
            client = try? LoopbackHTTP(port: port)
            if client == nil { usleep(50_000) }
        }
        guard let client else { throw BenchError("the server did not start on port \(port)") }
        return (port, try client.signIn("agent"), try client.signIn("ada"))
    }

    static func freePort() throws -> Int {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        defer { close(fd) }
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafeMutablePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) == 0 && getsockname(fd, $0, &length) == 0 }
        }
        guard bound else { throw BenchError("no free port") }
        return Int(UInt16(bigEndian: address.sin_port))
    }
}

/// A blocking HTTP/1.1 client over one kept-alive loopback connection: just
/// what the benchmark needs (GET and a form POST; Content-Length or chunked
/// answers), so its own cost stays out of the figures.
final class LoopbackHTTP {
    let fd: Int32
    private var pending: [UInt8] = []

    init(port: Int) throws {
        fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = UInt16(port).bigEndian
        let connected = withUnsafePointer(to: &address) {
            $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) == 0 }
        }
        if !connected {
            close(fd)
            throw BenchError("cannot connect to 127.0.0.1:\(port)")
        }
        var one: Int32 = 1
        setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    }

    deinit { close(fd) }

    func get(_ path: String, cookie: String) throws -> (Int, String) {
        let (status, _, body) = try exchange("GET \(path) HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(cookie)\r\n\r\n")
        return (status, body)
    }

    /// Signs `user` in (password `<user>-password`); the session cookie.
    func signIn(_ user: String) throws -> String {
        let (_, headers, page) = try exchange("GET /login HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        guard let token = page.range(of: #"name="csrf" value=""#).map({ String(page[$0.upperBound...].prefix(64)) }),
              let preCookie = headers.first(where: { $0.lowercased().hasPrefix("set-cookie:") })?.dropFirst(11).split(separator: ";").first
        else { throw BenchError("no sign-in form") }
        let form = "user=\(user)&password=\(user)-password&csrf=\(token)"
        let (status, answer, _) = try exchange(
            "POST /login HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: \(preCookie.trimmingCharacters(in: .whitespaces))\r\n"
                + "Content-Type: application/x-www-form-urlencoded\r\nContent-Length: \(form.utf8.count)\r\n\r\n\(form)")
        guard let session = answer.first(where: { $0.lowercased().hasPrefix("set-cookie:") && $0.contains("callrec_session=") })?
            .dropFirst(11).split(separator: ";").first
        else { throw BenchError("sign-in of \(user) failed (\(status))") }
        return session.trimmingCharacters(in: .whitespaces)
    }

    private func exchange(_ request: String) throws -> (Int, [String], String) {
        var bytes = Array(request.utf8)
        var sent = 0
        while sent < bytes.count {
            let n = bytes.withUnsafeMutableBytes { send(fd, $0.baseAddress! + sent, $0.count - sent, 0) }
            guard n > 0 else { throw BenchError("send failed") }
            sent += n
        }
        let head = try readUntil([13, 10, 13, 10])
        let lines = String(decoding: head, as: UTF8.self).components(separatedBy: "\r\n")
        let status = Int(lines.first?.split(separator: " ").dropFirst().first ?? "") ?? 0
        let headers = Array(lines.dropFirst())
        func header(_ name: String) -> String? {
            headers.first { $0.lowercased().hasPrefix(name + ":") }.map { String($0.dropFirst(name.count + 1)).trimmingCharacters(in: .whitespaces) }
        }
        var body: [UInt8] = []
        if let length = header("content-length").flatMap(Int.init) {
            body = try read(length)
        } else if header("transfer-encoding")?.lowercased() == "chunked" {
            while true {
                let sizeLine = String(decoding: try readUntil([13, 10]), as: UTF8.self)
                let size = Int(sizeLine.split(separator: ";").first.map(String.init) ?? "", radix: 16) ?? 0
                if size == 0 {
                    _ = try readUntil([13, 10])
                    break
                }
                body += try read(size)
                _ = try read(2)
            }
        }
        return (status, headers, String(decoding: body, as: UTF8.self))
    }

    private func fill() throws {
        var buffer = [UInt8](repeating: 0, count: 65_536)
        let n = buffer.withUnsafeMutableBytes { recv(fd, $0.baseAddress!, $0.count, 0) }
        guard n > 0 else { throw BenchError("the connection closed") }
        pending += buffer[0..<n]
    }

    private func read(_ count: Int) throws -> [UInt8] {
        while pending.count < count { try fill() }
        let out = Array(pending[0..<count])
        pending.removeFirst(count)
        return out
    }

    /// Bytes up to and including `marker`, without it.
    private func readUntil(_ marker: [UInt8]) throws -> [UInt8] {
        var searched = 0
        while true {
            if pending.count >= marker.count {
                for i in searched...(pending.count - marker.count) where Array(pending[i..<(i + marker.count)]) == marker {
                    let out = Array(pending[0..<i])
                    pending.removeFirst(i + marker.count)
                    return out
                }
                searched = pending.count - marker.count + 1
            }
            try fill()
        }
    }
}

struct BenchError: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}
