import CallrecTestSupport
import Foundation
import Testing

/// Direction settings, the configuration file, and calls without signalling, from the command line.
extension CLITests {
    func firstCall(_ run: Run) throws -> [String: Any] {
        let line = try #require(run.stdout.split(separator: "\n").first)
        let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as? [String: Any]
        return try #require(object?["call"] as? [String: Any])
    }

    @Test func directionFromLocalNumbersPrefixesAndDomains() throws {
        let fixture = FixturePaths.fixture("g711u-2legs-20ms.pcap")
        for (arguments, direction) in [
            ([String](), "unknown"),
            (["--local-number", "+4681234567"], "outbound"),
            (["--local-prefix", "+468765"], "inbound"),
            (["--local-prefix", "+468"], "internal"),
            (["--local-domain", "198.51.100.20"], "inbound"),
        ] {
            let run = try callrec(["convert", fixture, "--out", FixturePaths.temporaryDirectory("cli"), "--json"] + arguments)
            #expect(run.status == 0, "\(run.stderr)")
            #expect(try firstCall(run)["direction"] as? String == direction, "\(arguments)")
        }
    }

    @Test func configurationFileAndCommandLineAddUp() throws {
        let config = try TemporaryFile.write(Array("""
            # this site
            local-number = "+4687654321"
            idle-timeout = 30

            """.utf8), name: "callrec.conf")
        let fixture = FixturePaths.fixture("g711u-2legs-20ms.pcap")
        let alone = try callrec(["convert", fixture, "--out", FixturePaths.temporaryDirectory("cli"), "--json", "--config", config])
        #expect(try firstCall(alone)["direction"] as? String == "inbound")
        let both = try callrec([
            "convert", fixture, "--out", FixturePaths.temporaryDirectory("cli"), "--json", "--config", config,
            "--local-number", "+4681234567",
        ])
        #expect(try firstCall(both)["direction"] as? String == "internal")
    }

    @Test func aBadConfigurationLineIsAUsageErrorNamingTheLine() throws {
        let config = try TemporaryFile.write(Array("local-number = 100\nlocal-numbr = 200\n".utf8), name: "bad.conf")
        let run = try callrec(["convert", FixturePaths.fixture("g711u-2legs-20ms.pcap"), "--config", config])
        #expect(run.status == 2)
        #expect(run.stderr.contains("\(config):2: unknown setting 'local-numbr'"))
    }

    @Test(.enabled(if: FixturePaths.hasSharedData, "needs ../shared/data"))
    func aCallWithoutSignallingSaysItsPartiesAreUnknown() throws {
        let run = try callrec([
            "convert", FixturePaths.shared("captures/sipp__g711a.pcap"), "--out", FixturePaths.temporaryDirectory("cli"), "--json",
        ])
        #expect(run.status == 0, "\(run.stderr)")
        let call = try firstCall(run)
        #expect(call["signalling"] as? String == "none")
        #expect(call["caller"] == nil && call["callee"] == nil)
        #expect(call["direction"] as? String == "unknown")
    }
}
