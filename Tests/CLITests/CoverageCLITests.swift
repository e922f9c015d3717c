import CallrecCore
import CallrecTestSupport
import Foundation
import Testing

/// The call ledger and `callrec catalog coverage`, run as a user runs them.
@Suite struct CoverageCLITests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")  // +4631555010 -> +4631555020

    func run(_ arguments: [String]) throws -> CommandRunner.Run {
        try CommandRunner.callrec(arguments)
    }

    /// `coverage --json` (with `extra`), parsed.
    func coverage(_ at: [String], _ extra: [String] = []) throws -> [String: Any] {
        let result = try run(["catalog", "coverage"] + at + ["--json"] + extra)
        #expect(result.status == 0, "\(result.stderr)")
        return try JSONSerialization.jsonObject(with: Data(result.stdout.utf8)) as? [String: Any] ?? [:]
    }

    /// The non-zero counts of one group: `seen`, `recorded.complete`, `not_recorded.no_media`, ...
    func counts(_ group: Any?) -> [String: Int] {
        guard let group = group as? [String: Any] else { return [:] }
        var result: [String: Int] = [:]
        if let seen = group["seen"] as? Int, seen > 0 { result["seen"] = seen }
        for section in ["recorded", "not_recorded"] {
            for (key, value) in group[section] as? [String: Int] ?? [:] where value > 0 { result[section + "." + key] = value }
        }
        return result
    }

    /// A recorded call and a call a rule skipped: one ledger row each, counted
    /// once however often the capture is converted; the skipped call keeps no
    /// parties (an agent of its number does not see it); grouped by rule and
    /// day; the exact JSON keys of docs/FORMATS.md; forget keeps the count but
    /// not the number.
    @Test(arguments: CatalogBackend.all)
    func everyCallOnceWithItsOutcome(backend: CatalogBackend) throws {
        let (_, at) = try catalogPlace(backend, "cli-coverage")
        #expect(try run(["catalog", "rules", "add"] + at + ["--skip", "--remote", "+4631555020"]).status == 0)
        for _ in 0..<2 {
            let convert = try run(["convert", Self.u, Self.a] + at)
            #expect(convert.status == 0, "\(convert.stderr)")
        }
        let report = try coverage(at)
        #expect(counts(report["total"]) == ["seen": 2, "recorded.total": 1, "recorded.complete": 1, "not_recorded.skipped_by_rule": 1])
        let total = try #require(report["total"] as? [String: Any])
        #expect(Set(total.keys) == ["seen", "recorded", "not_recorded", "required", "required_complete_share"])
        #expect(Set((total["recorded"] as? [String: Int] ?? [:]).keys) == ["total", "complete", "one_sided", "gaps", "cut"])
        #expect(
            Set((total["not_recorded"] as? [String: Int] ?? [:]).keys)
                == ["skipped_by_rule", "not_answered", "no_media", "encrypted_no_key", "unsupported_codec", "dropped", "failed"])
        #expect(total["required_complete_share"] is NSNull)

        let byRule = try coverage(at, ["--by", "rule"])
        let groups = byRule["groups"] as? [[String: Any]] ?? []
        #expect(groups.map { $0["group"] as? String } == ["1", "none"])
        #expect(counts(groups.first) == ["seen": 1, "not_recorded.skipped_by_rule": 1])
        #expect(counts(try coverage(at, ["--rule", "1"])["total"]) == ["seen": 1, "not_recorded.skipped_by_rule": 1])
        let byDay = try coverage(at, ["--by", "day"])["groups"] as? [[String: Any]] ?? []
        #expect(byDay.count == 1 && counts(byDay.first) == counts(report["total"]))
        #expect(counts(try coverage(at, ["--from", "2100-01-01"])["total"]).isEmpty)

        // Scoped by --as: the skipped call has no parties, so its agent sees nothing.
        let password = FixturePaths.temporaryDirectory("password") + "/password"
        _ = FileManager.default.createFile(atPath: password, contents: Data("a long enough password\n".utf8), attributes: [.posixPermissions: 0o600])
        let add = ["--password-file", password, "--work-factor", "10"]
        #expect(try run(["catalog", "users", "add", "alice"] + at + ["--role", "agent", "--number", "+4681234567"] + add).status == 0)
        #expect(try run(["catalog", "users", "add", "carl"] + at + ["--role", "agent", "--number", "+4631555020"] + add).status == 0)
        #expect(counts(try coverage(at + ["--as", "alice"])["total"]) == ["seen": 1, "recorded.total": 1, "recorded.complete": 1])
        #expect(counts(try coverage(at + ["--as", "carl"])["total"]).isEmpty)
        let byUser = try coverage(at, ["--by", "user"])["groups"] as? [[String: Any]] ?? []
        #expect(byUser.map { $0["group"] as? String } == ["alice"])
        let table = try run(["catalog", "coverage"] + at)
        #expect(table.stdout.contains("all       2         1          0     0    0                1"), "\(table.stdout)")
        let audit = try run(["catalog", "audit"] + at)
        #expect(audit.stdout.contains("coverage"), "\(audit.stdout)")

        // Forgetting a number: the call is still counted, nobody's scope holds it any more.
        #expect(try run(["catalog", "forget"] + at + ["--number", "+4681234567", "--reason", "erasure request"]).status == 0)
        #expect(counts(try coverage(at)["total"])["seen"] == 2)
        #expect(counts(try coverage(at + ["--as", "alice"])["total"]).isEmpty)
    }

    /// The real captures of ../shared/data each give the outcome a person
    /// would expect (the table in the README, "Coverage").
    @Test func realCapturesGiveTheExpectedOutcomes() throws {
        let cases: [(String, [String: Int])] = [
            // Two one-way calls; the second is cut by the capture's end.
            ("sipnab__sip-rtp-g711.pcap", ["seen": 2, "recorded.total": 2, "recorded.one_sided": 2, "recorded.cut": 1]),
            // SIP over IPv6 fragments, no RTP at all.
            ("sngrep__ipv6frag.pcap", ["seen": 1, "not_recorded.no_media": 1]),
            // RTP-only GSM: callrec does not decode it.
            ("rtpproxy__DLT_NULL.a.rtp", ["seen": 2, "not_recorded.unsupported_codec": 2]),
            // SRTP with its SDES keys in the SDP: decrypted and recorded.
            ("voipshark__SIP-SRTP-Normal_Call_two_parties.pcap", ["seen": 2, "recorded.total": 2, "recorded.complete": 2]),
            // A call, a stray stream cut at the end, and an INVITE nobody answered.
            (
                "heplify__rtp_rtcp_sip_ipv4_udp.pcap",
                ["seen": 3, "recorded.total": 2, "recorded.one_sided": 1, "recorded.cut": 2, "not_recorded.not_answered": 1]
            ),
            // The INVITE lost a fragment: the call is known from its 180, answered, no RTP.
            ("pkts__fragmented_udp_sip.pcap", ["seen": 1, "not_recorded.no_media": 1]),
        ]
        for (file, expected) in cases {
            let out = FixturePaths.temporaryDirectory("coverage-real")
            let convert = try run(["convert", FixturePaths.shared("captures/" + file), "--out", out])
            // Exit status 1 when no call had audio to record (the ledger has them all the same).
            #expect(convert.status == (expected["recorded.total"] == nil ? 1 : 0), "\(file): \(convert.stderr)")
            #expect(counts(try coverage(["--out", out])["total"]) == expected, "\(file)")
        }
        let out = FixturePaths.temporaryDirectory("coverage-failures")
        #expect(try run(["convert", FixturePaths.shared("captures/sipnab__sip-rtp-g711.pcap"), "--out", out]).status == 0)
        let failures = try run(["catalog", "coverage", "--out", out, "--failures"])
        #expect(failures.stdout.contains("recorded with defects: one_sided, cut  see: callrec catalog show 20161126T145308Z-"), "\(failures.stdout)")
        #expect(failures.stdout.hasSuffix("2 failing calls\n"))
        let json = try JSONSerialization.jsonObject(with: Data(try run(["catalog", "coverage", "--out", out, "--failures", "--json"]).stdout.utf8))
        #expect((json as? [[String: Any]])?.map { $0["outcome"] as? String } == ["recorded", "recorded"])
        #expect(try run(["catalog", "coverage", "--out", out, "--by", "week"]).status == 2)
    }

    // MARK: - Generated traffic with known truth

    /// Call `n` of the generated site: its own Call-ID, numbers (the caller
    /// on the trading desk's +46812... unless `tweak` changes it), addresses
    /// and ports, starting `n` × 10 ms after the first.
    static func call(_ n: Int, duration: Double = 6, _ tweak: (inout SyntheticCall) -> Void = { _ in }) -> [UInt8] {
        var call = SyntheticCall(seed: UInt64(n), duration: duration)
        call.callID = "coverage-\(n)@generated.example.com"
        call.callerNumber = "+46812100\(n)"
        call.calleeNumber = "+4670000\(n)"
        call.callerSignalling = Endpoint(address: IPAddress("192.0.2.\(10 + n)")!, port: 5060)
        call.calleeSignalling = Endpoint(address: IPAddress("198.51.100.\(10 + n)")!, port: 5060)
        call.callerMedia = Endpoint(address: IPAddress("192.0.2.\(10 + n)")!, port: UInt16(40_000 + 2 * n))
        call.calleeMedia = Endpoint(address: IPAddress("198.51.100.\(10 + n)")!, port: UInt16(50_000 + 2 * n))
        call.start = MediaTime(seconds: 1_795_000_000, microseconds: Int64(n) * 10_000)
        tweak(&call)
        return call.build().pcap
    }

    /// Eight calls of known fate on one link, six at once at most: one
    /// complete, one whose callee never sends, one whose caller stops after
    /// 2 s of 8, one a rule skips, one nobody answers (486), one SRTP whose
    /// keys the capture does not hold, and two INVITEs 0.3 s later that find
    /// `--max-calls 6` full. The trading desk's calls (+46812...) are
    /// required. Each call is in the ledger once with its outcome, however
    /// often the capture is converted; coverage counts them; --failures
    /// names the five required calls not recorded completely, with why.
    @Test(arguments: CatalogBackend.all)
    func generatedTrafficGivesEachCallItsOutcomeOnce(backend: CatalogBackend) throws {
        let silentAfter: (inout SyntheticCall) -> Void = { c in
            c.callerImpairments.stopAfter = 0
            c.calleeImpairments.stopAfter = 0
        }
        let capture = try TemporaryFile.write(
            PcapMerge.merge([
                Self.call(1),
                Self.call(2) { $0.calleeImpairments.stopAfter = 0 },
                Self.call(3, duration: 8) { $0.callerImpairments.stopAfter = 2 },
                Self.call(4) { $0.calleeNumber = "+4631555020" },
                Self.call(5) { $0.finalStatus = 486 },
                Self.call(6) { c in
                    c.srtp = true
                    c.srtpKeys = .absent
                },
                Self.call(7) { c in
                    silentAfter(&c)
                    c.start = c.start.advanced(byNanoseconds: 300_000_000)
                },
                Self.call(8) { c in
                    silentAfter(&c)
                    c.start = c.start.advanced(byNanoseconds: 300_000_000)
                },
            ]))
        let (_, at) = try catalogPlace(backend, "cli-coverage-generated")
        #expect(try run(["catalog", "rules", "add"] + at + ["--skip", "--remote", "+4631555020"]).status == 0)
        let add = try run(["catalog", "rules", "add"] + at + ["--record", "--local", "+46812*", "--require", "--name", "desk"])
        #expect(add.status == 0 && add.stdout.contains("required"), "\(add.stdout)\(add.stderr)")
        #expect(try run(["catalog", "rules", "list"] + at).stdout.contains("retain 24m required"))
        for _ in 0..<2 {
            let convert = try run(["convert", capture, "--max-calls", "6"] + at)
            #expect(convert.status == 0, "\(convert.stderr)")
        }
        let report = try coverage(at)
        let total = try #require(report["total"] as? [String: Any])
        #expect(
            counts(total) == [
                "seen": 8, "recorded.total": 3, "recorded.complete": 1, "recorded.one_sided": 1, "recorded.cut": 1,
                "not_recorded.skipped_by_rule": 1, "not_recorded.not_answered": 1, "not_recorded.encrypted_no_key": 1,
                "not_recorded.dropped": 2,
            ])
        // Required: the desk's calls that were answered or turned away (1, 2, 3, 6, 7, 8); one of them complete.
        #expect(total["required"] as? Int == 6)
        #expect(abs((total["required_complete_share"] as? Double ?? 0) - 1.0 / 6) < 1e-9)
        let byRule = try coverage(at, ["--by", "rule"])["groups"] as? [[String: Any]] ?? []
        #expect(byRule.map { $0["group"] as? String } == ["1", "2"])
        #expect(counts(byRule.first) == ["seen": 1, "not_recorded.skipped_by_rule": 1])

        let failures = try run(["catalog", "coverage", "--failures"] + at)
        #expect(failures.stdout.hasSuffix("5 failing calls\n"), "\(failures.stdout)")
        let lines = failures.stdout.split(separator: "\n")
        #expect(lines.filter { $0.contains("required") }.count == 5)
        #expect(failures.stdout.contains("+468121002 -> +46700002  recorded with defects: one_sided"), "\(failures.stdout)")
        #expect(failures.stdout.contains("recorded with defects: cut (the caller's media stops 6."), "\(failures.stdout)")
        #expect(failures.stdout.contains("+468121006 -> +46700006  encrypted_no_key"), "\(failures.stdout)")
        #expect(lines.filter { $0.contains("dropped (max-calls: 6 SIP dialogs in flight)") }.count == 2, "\(failures.stdout)")
        #expect(!failures.stdout.contains("+468121001 "))
    }

    /// Record says each coverage failure as it happens: a `coverage_failure`
    /// line after the call's own, a line on standard error, and the count in
    /// its last line; it goes on recording and exits 0.
    @Test func recordEmitsALineForEachCoverageFailure() throws {
        let capture = try TemporaryFile.write(
            PcapMerge.merge([Self.call(1), Self.call(3, duration: 8) { $0.callerImpairments.stopAfter = 2 }]))
        let out = FixturePaths.temporaryDirectory("record-coverage")
        #expect(try run(["catalog", "rules", "add", "--out", out, "--record", "--local", "+46812*", "--require"]).status == 0)
        let record = try run(["record", capture, "--out", out])
        #expect(record.status == 0, "\(record.stderr)")
        let lines = record.stdout.split(separator: "\n").map(String.init)
        let objects = lines.compactMap { try? JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any] }
        let calls = objects.filter { $0["seq"] != nil }
        let failures = objects.compactMap { $0["coverage_failure"] as? [String: Any] }
        #expect(calls.count == 2)
        #expect(failures.count == 1)
        let failure = try #require(failures.first)
        #expect(failure["call_id"] as? String == "coverage-3@generated.example.com")
        #expect(failure["outcome"] as? String == "recorded")
        #expect((failure["reason"] as? String)?.hasPrefix("recorded with defects: cut (the caller's media stops") == true, "\(failure)")
        #expect(failure["id"] is String && failure["rule"] as? Int == 1)
        // Right after its call's line.
        let index = try #require(lines.firstIndex { $0.contains("\"coverage_failure\"") })
        #expect(index > 0 && lines[index - 1].contains("coverage-3@generated.example.com") && lines[index - 1].contains("\"seq\""))
        #expect(record.stderr.contains("callrec: coverage failure: "), "\(record.stderr)")
        #expect(record.stderr.contains("; 1 coverage failure"), "\(record.stderr)")
    }

    /// A phone that uses one Call-ID for two calls ten minutes apart makes
    /// two ledger rows (converting twice still two); a capture whose only
    /// call nobody answered exits 0 (nothing was to be recorded), and its
    /// call is in the ledger.
    @Test func aReusedCallIDIsTwoCallsAndAnUnansweredCaptureIsNoFailure() throws {
        let again: (inout SyntheticCall) -> Void = { c in
            c.callID = "coverage-1@generated.example.com"
            c.start = c.start.advanced(byNanoseconds: 600_000_000_000)
        }
        let capture = try TemporaryFile.write(PcapMerge.merge([Self.call(1), Self.call(2, again)]))
        let out = FixturePaths.temporaryDirectory("coverage-reused")
        for _ in 0..<2 { #expect(try run(["convert", capture, "--out", out]).status == 0) }
        #expect(counts(try coverage(["--out", out])["total"]) == ["seen": 2, "recorded.total": 2, "recorded.complete": 2])

        let unanswered = try TemporaryFile.write(Self.call(5) { $0.finalStatus = 486 }, name: "unanswered.pcap")
        let quiet = FixturePaths.temporaryDirectory("coverage-unanswered")
        let convert = try run(["convert", unanswered, "--out", quiet])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(convert.stdout.contains("0 recordings written"))
        #expect(counts(try coverage(["--out", quiet])["total"]) == ["seen": 1, "not_recorded.not_answered": 1])
    }
}
