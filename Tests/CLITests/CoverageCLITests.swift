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
}
