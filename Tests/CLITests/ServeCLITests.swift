import CallrecTestSupport
import Foundation
import Testing

/// `callrec serve` as a user starts it: the flags, TLS with a certificate
/// openssl made, SIGINT to stop.
@Suite struct ServeCLITests {
    func tool(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.run("/usr/bin/env", arguments) }

    /// A free loopback port (the kernel's pick, released again).
    func freePort() throws -> Int {
        let run = try tool(["python3", "-c", "import socket; s = socket.socket(); s.bind(('127.0.0.1', 0)); print(s.getsockname()[1])"])
        return try #require(Int(run.stdout.trimmingCharacters(in: .whitespacesAndNewlines)))
    }

    /// A self-signed certificate and its key (mode `mode`).
    func certificate(keyMode: Int) throws -> (cert: String, key: String) {
        let folder = FixturePaths.temporaryDirectory("serve-tls")
        let cert = folder + "/cert.pem", key = folder + "/key.pem"
        let made = try tool([
            "openssl", "req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes", "-keyout", key, "-out", cert,
            "-days", "1", "-subj", "/CN=localhost",
        ])
        #expect(made.status == 0, "\(made.stderr)")
        #expect(chmod(key, mode_t(keyMode)) == 0)
        return (cert, key)
    }

    func site() throws -> String {
        let out = FixturePaths.temporaryDirectory("serve-cli")
        let convert = try CommandRunner.callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--out", out])
        #expect(convert.status == 0, "\(convert.stderr)")
        return out
    }

    @Test func usageErrors() throws {
        let alone = try CommandRunner.callrec(["serve", "--tls-cert", "cert.pem"])
        #expect(alone.status == 2)
        #expect(alone.stderr.contains("--tls-cert and --tls-key go together"))
        let listen = try CommandRunner.callrec(["serve", "--listen", "8080"])
        #expect(listen.status == 2)
        #expect(listen.stderr.contains("--listen must be host:port"))
        let missing = try CommandRunner.callrec(["serve", "--out", FixturePaths.temporaryDirectory("serve-none")])
        #expect(missing.status == 1)
        #expect(missing.stderr.contains("no catalog there"))
    }

    @Test func aTLSKeyOthersMayReadIsRefused() throws {
        let (cert, key) = try certificate(keyMode: 0o644)
        let run = try CommandRunner.callrec(["serve", "--out", try site(), "--listen", "127.0.0.1:\(try freePort())", "--tls-cert", cert, "--tls-key", key])
        #expect(run.status == 1)
        #expect(run.stderr.contains(key))
        #expect(run.stderr.split(separator: "\n").last?.hasPrefix("callrec: ") == true)
    }

    /// Over HTTPS with the certificate given: the login page, its cookie marked Secure; SIGINT stops it cleanly.
    @Test func servesHTTPSWithTheGivenCertificate() throws {
        let (cert, key) = try certificate(keyMode: 0o600)
        let port = try freePort()
        var answer = ""
        let run = try CommandRunner.callrec(
            ["serve", "--out", try site(), "--listen", "127.0.0.1:\(port)", "--tls-cert", cert, "--tls-key", key], interrupt: true
        ) {
            for _ in 0..<100 {
                let request = Array("GET /login HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n".utf8)
                if let fetched = try? CommandRunner.run(
                    "/usr/bin/env", ["openssl", "s_client", "-connect", "127.0.0.1:\(port)", "-quiet", "-CAfile", cert, "-verify_return_error"],
                    stdin: request), fetched.stdout.contains("HTTP/1.1")
                {
                    answer = fetched.stdout
                    return
                }
                usleep(100_000)
            }
        }
        #expect(answer.hasPrefix("HTTP/1.1 200"), "\(run.stderr)")
        #expect(answer.lowercased().contains("set-cookie: callrec_login="))
        #expect(answer.contains("Secure"))
        #expect(answer.contains("<form method=\"post\" action=\"/login\""))
        #expect(run.stderr.contains("callrec serve: https://127.0.0.1:\(port)/"))
        #expect(run.status == 0 && !run.killed, "\(run.stderr)")
    }
}
