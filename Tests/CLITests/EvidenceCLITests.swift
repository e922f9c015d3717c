import CallrecTestSupport
import Foundation
import Testing

/// Evidence as the people who rely on it see it: the recorder's key and its
/// manifests checked with OpenSSL alone, an evidence bundle checked with
/// unzip, sha256sum and openssl as its VERIFY.txt says, and by
/// `callrec verify-evidence`.
@Suite struct EvidenceCLITests {
    static let u = FixturePaths.fixture("g711u-2legs-20ms.pcap")  // +4681234567 -> +4687654321
    static let a = FixturePaths.fixture("g711a-2legs-20ms.pcap")

    func callrec(_ arguments: [String]) throws -> CommandRunner.Run { try CommandRunner.callrec(arguments) }
    func tool(_ arguments: [String], in directory: String? = nil) throws -> CommandRunner.Run {
        try CommandRunner.run("/usr/bin/env", arguments, in: directory)
    }

    /// `openssl pkeyutl -verify` of `file` with `signature` against `key`, as the manifest's spec says.
    func opensslVerifies(key: String, file: String, signature: String, in directory: String? = nil) throws -> Bool {
        let run = try tool(["openssl", "pkeyutl", "-verify", "-pubin", "-inkey", key, "-rawin", "-in", file, "-sigfile", signature], in: directory)
        return run.status == 0 && run.stdout.contains("Signature Verified Successfully")
    }

    func files(_ folder: String, ending suffix: String) -> [String] {
        ((FileManager.default.enumerator(atPath: folder)?.allObjects as? [String]) ?? []).filter { $0.hasSuffix(suffix) }.sorted()
    }

    @Test func theRecorderSaysWhoItIsAndOpenSSLChecksEveryManifest() throws {
        let out = FixturePaths.temporaryDirectory("cli-evidence")
        let convert = try callrec(["convert", Self.u, Self.a, "--out", out])
        #expect(convert.status == 0, "\(convert.stderr)")
        #expect(KeysCLITests.mode(out + "/recorder.key") == 0o600)
        // The start line names the recorder, its key file and fingerprint; catalog recorders lists the same.
        let start = try #require(convert.stderr.split(separator: "\n").first { $0.hasPrefix("callrec: recorder ") })
        let fingerprint = try #require(start.split(separator: " ").last.map(String.init)?.trimmingCharacters(in: CharacterSet(charactersIn: ")")))
        #expect(fingerprint.hasPrefix("SHA256:") && fingerprint.count == 7 + 64)
        let id = String(fingerprint.dropFirst(7).prefix(16))
        #expect(start.hasPrefix("callrec: recorder \(id) signs its manifests with \(out)/recorder.key (made now"))
        let der = try tool(["sh", "-c", "openssl pkey -pubin -in '\(out)/recorder.pub.pem' -outform DER | sha256sum"])
        #expect(der.stdout.hasPrefix(fingerprint.dropFirst(7)))
        let recorders = try callrec(["catalog", "recorders", "--out", out])
        #expect(recorders.stdout.hasPrefix("\(id)  \(fingerprint)  2 manifests  since "), "\(recorders.stdout)")
        // A checkpoint of both chains, signed, on standard error: an outside copy.
        #expect(convert.stderr.contains("callrec: checkpoint {\"at\":"))

        let manifests = files(out, ending: ".manifest.json")
        #expect(manifests.count == 2)
        for manifest in manifests {
            let path = out + "/" + manifest
            let signature = String(path.dropLast(".json".count)) + ".sig"
            #expect(try FileManager.default.attributesOfItem(atPath: signature)[.size] as? NSNumber == 64)
            #expect(try opensslVerifies(key: out + "/recorder.pub.pem", file: path, signature: signature), "\(manifest)")
            // What it says: the recording's files with their SHA-256 as on disk, the capture with its own.
            let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
            #expect(object["recorder"] as? String == id)
            let folder = String(path[..<path.lastIndex(of: "/")!])
            for file in object["files"] as? [[String: Any]] ?? [] {
                let name = try #require(file["name"] as? String)
                #expect(try tool(["sha256sum", folder + "/" + name]).stdout.hasPrefix(file["sha256"] as? String ?? "-"), "\(name)")
            }
            #expect((object["files"] as? [[String: Any]])?.map { $0["name"] as? String ?? "" }.contains { $0.hasSuffix(".opus") } == true)
            let capture = try #require(object["capture"] as? [String: Any])
            let input = capture["name"] as? String == "g711u-2legs-20ms.pcap" ? Self.u : Self.a
            #expect(try tool(["sha256sum", input]).stdout.hasPrefix(capture["sha256"] as? String ?? "-"))
        }
        // One byte of a manifest changed: OpenSSL says so.
        let path = out + "/" + manifests[0]
        var bytes = try Data(contentsOf: URL(fileURLWithPath: path))
        bytes[bytes.count - 3] ^= 0x20
        let copy = FixturePaths.temporaryDirectory("cli-evidence") + "/changed.json"
        try bytes.write(to: URL(fileURLWithPath: copy))
        #expect(try !opensslVerifies(key: out + "/recorder.pub.pem", file: copy, signature: String(path.dropLast(".json".count)) + ".sig"))
    }

    @Test func aSigningKeyOthersCanReadIsRefusedInOneLine() throws {
        let out = FixturePaths.temporaryDirectory("cli-evidence")
        let key = FixturePaths.temporaryDirectory("cli-evidence") + "/recorder.key"
        #expect(try callrec(["keys", "new", "--signing", "--out", key]).status == 0)
        try FileManager.default.setAttributes([.posixPermissions: 0o640], ofItemAtPath: key)
        let run = try callrec(["convert", Self.u, "--out", out, "--signing-key", key])
        #expect(run.status == 1)
        #expect(run.stderr.hasPrefix("callrec: signing key: \(key): private key file has mode 0640"), "\(run.stderr)")
        #expect(run.stderr.split(separator: "\n").count == 1)
        #expect(files(out, ending: ".opus").isEmpty)
        // With the mode mended, that key signs.
        try FileManager.default.setAttributes([.posixPermissions: 0o600], ofItemAtPath: key)
        let signed = try callrec(["convert", Self.u, "--out", out, "--signing-key", key])
        #expect(signed.status == 0, "\(signed.stderr)")
        #expect(!FileManager.default.fileExists(atPath: out + "/recorder.key"))
        let manifest = out + "/" + (try #require(files(out, ending: ".manifest.json").first))
        #expect(try opensslVerifies(key: String(key.dropLast(".key".count)) + ".pub.pem", file: manifest, signature: String(manifest.dropLast(5)) + ".sig"))
    }

    @Test func anEvidenceBundleIsCheckedWithSha256sumOpenSSLAndVerifyEvidence() throws {
        let out = FixturePaths.temporaryDirectory("cli-evidence")
        #expect(try callrec(["convert", Self.u, Self.a, "--out", out]).status == 0)
        let find = try callrec(["catalog", "find", "--out", out, "--json", "--caller", "+4681234567"])
        let id = try #require((try JSONSerialization.jsonObject(with: Data(find.stdout.utf8)) as? [[String: Any]])?.first?["id"] as? String)
        #expect(try callrec(["catalog", "show", id, "--out", out, "--reason", "complaint 4711"]).status == 0)
        let zip = FixturePaths.temporaryDirectory("cli-evidence") + "/dispute-4711.zip"
        #expect(try callrec(["catalog", "export", id, "--out", out, "--evidence", zip]).status == 2, "--reason is required")
        let export = try callrec(["catalog", "export", id, "--out", out, "--evidence", zip, "--reason", "dispute 4711"])
        #expect(export.status == 0, "\(export.stderr)")
        #expect(export.stdout.contains("exported \(id) as evidence to \(zip)"))
        #expect(try callrec(["catalog", "export", id, "--out", out, "--evidence", zip, "--reason", "again"]).status == 1, "never over a file")

        // Anyone: unzip, then the steps of VERIFY.txt, with sha256sum and openssl.
        let unpacked = FixturePaths.temporaryDirectory("cli-evidence-unzip")
        #expect(try tool(["unzip", "-q", zip, "-d", unpacked]).status == 0)
        let bundle = unpacked + "/evidence-\(id)"
        #expect(try opensslVerifies(key: "recorder.pub.pem", file: "SHA256SUMS", signature: "SHA256SUMS.sig", in: bundle))
        let sums = try tool(["sha256sum", "-c", "SHA256SUMS"], in: bundle)
        #expect(sums.status == 0 && !sums.stdout.contains("FAILED"), "\(sums.stdout)")
        for name in ["recording/\(id).opus", "recording/\(id).wav", "recording/\(id).json", "recording/\(id).peaks.json", "VERIFY.txt", "bundle.json"] {
            #expect(sums.stdout.contains("\(name): OK"), "\(name) in SHA256SUMS")
        }
        #expect(try opensslVerifies(key: "recorder.pub.pem", file: "recording/\(id).manifest.json", signature: "recording/\(id).manifest.sig", in: bundle))
        #expect(try opensslVerifies(key: "recorder.pub.pem", file: "checkpoint.json", signature: "checkpoint.sig", in: bundle))
        // Step 6 of VERIFY.txt, the audit chain, run as it is written there.
        let verifyText = try String(contentsOfFile: bundle + "/VERIFY.txt", encoding: .utf8)
        let script = try #require(Self.step(6, of: verifyText))
        let chain = try tool(["bash", "-c", script], in: bundle)
        #expect(chain.status == 0 && !chain.stdout.contains("BROKEN"), "\(chain.stdout)")
        let hashes = chain.stdout.split(separator: "\n").suffix(2).map { line in line.split(whereSeparator: { !$0.isHexDigit }).map(String.init).filter { $0.count == 64 } }
        #expect(hashes.count == 2 && hashes[0] == hashes[1] && hashes[0].count == 1, "\(chain.stdout)")
        // The entries about it: the show and the export, with what they committed to.
        let personal = files(bundle + "/audit", ending: ".personal.json")
        #expect(personal.count >= 2)
        for name in personal {
            let entry = try String(contentsOfFile: bundle + "/audit/" + name.replacingOccurrences(of: ".personal.json", with: ".json"), encoding: .utf8)
            let sum = try tool(["sha256sum", "audit/" + name], in: bundle).stdout.prefix(64)
            #expect(entry.contains("\"personal_sha256\":\"\(sum)\""))
        }
        #expect(personal.contains { (try? String(contentsOfFile: bundle + "/audit/" + $0, encoding: .utf8))?.contains("complaint 4711") == true })

        // callrec's own check agrees, step by step.
        let verified = try callrec(["verify-evidence", zip])
        #expect(verified.status == 0, "\(verified.stdout)")
        #expect(verified.stdout.hasSuffix("checks hold\n") && !verified.stdout.contains("FAILED"))
        // The export is in the audit log, with its reason.
        #expect(try callrec(["catalog", "audit", "--out", out, "--target", id]).stdout.contains("why: dispute 4711  (evidence bundle \(zip))"))

        // One byte of the decoded WAV changed and the zip made again: both checks fail.
        let wav = bundle + "/recording/\(id).wav"
        var audio = try Data(contentsOf: URL(fileURLWithPath: wav))
        audio[audio.count / 2] ^= 0x01
        try audio.write(to: URL(fileURLWithPath: wav))
        #expect(try tool(["sha256sum", "--quiet", "-c", "SHA256SUMS"], in: bundle).stdout.contains("recording/\(id).wav: FAILED"))
        let tampered = FixturePaths.temporaryDirectory("cli-evidence") + "/tampered.zip"
        #expect(try tool(["zip", "-q", "-r", tampered, "evidence-\(id)"], in: unpacked).status == 0)
        let refused = try callrec(["verify-evidence", tampered])
        #expect(refused.status == 1)
        #expect(refused.stdout.contains("FAILED") && refused.stdout.contains("\(id).wav"), "\(refused.stdout)")
    }

    /// record prints signed checkpoints among its JSON lines; kept outside,
    /// they catch a catalog rewritten since — even one whose own checkpoints
    /// were removed with the recordings.
    @Test func checkpointsRecordPrintedCatchACatalogRewrittenSince() throws {
        let out = FixturePaths.temporaryDirectory("cli-evidence-record")
        let recorder = try RecorderProcess(["--out", out])
        try recorder.write(PcapMerge.merge([RecordCLITests.call(1, seconds: 2), RecordCLITests.call(2, seconds: 2, offset: 3)]))
        recorder.closeInput()
        #expect(recorder.waitForExit().status == 0, "\(recorder.stderr)")
        #expect(recorder.calls.count == 2)
        let checkpoint = try #require(recorder.checkpoints.last)
        let signed = try #require(checkpoint["checkpoint"] as? String)
        #expect(signed.contains("\"manifest_sequence\":2"), "\(signed)")
        #expect(recorder.stderr.contains("callrec: checkpoint " + signed + " signature "))
        let kept = FixturePaths.temporaryDirectory("cli-evidence-record") + "/calls.jsonl"
        try (recorder.lines.joined(separator: "\n") + "\n").write(toFile: kept, atomically: true, encoding: .utf8)
        let clean = try callrec(["catalog", "verify", "--out", out, "--chain-only", "--checkpoints", kept])
        #expect(clean.status == 0 && clean.stdout.contains("and 1 kept outside: intact"), "\(clean.stdout)")

        // The second recording removed with its manifest, the chain's head moved back,
        // the catalog's own checkpoints deleted: only the copy outside remembers.
        let database = out + "/catalog.sqlite"
        // The workers commit in parallel: the second manifest is whichever call was committed second.
        func value(_ sql: String) throws -> String { try tool(["sqlite3", database, sql]).stdout.trimmingCharacters(in: .whitespacesAndNewlines) }
        let id = try value("SELECT recording_id FROM manifests WHERE sequence = 2")
        #expect(recorder.calls.contains { $0["id"] as? String == id })
        let first = try value("SELECT sha256 FROM manifests WHERE sequence = 1")
        let sql = """
            DROP TRIGGER manifests_no_delete; DROP TRIGGER recorders_no_update; DROP TRIGGER checkpoints_no_delete;
            DELETE FROM manifests WHERE recording_id = '\(id)'; DELETE FROM recording_files WHERE recording_id = '\(id)';
            DELETE FROM recordings WHERE id = '\(id)'; UPDATE recorders SET head_sequence = 1, head_sha256 = '\(first)';
            DELETE FROM checkpoints;
            """
        #expect(try tool(["sqlite3", database, sql]).status == 0)
        #expect(try callrec(["catalog", "verify", "--out", out, "--chain-only"]).status == 0, "the catalog alone looks whole")
        let caught = try callrec(["catalog", "verify", "--out", out, "--chain-only", "--checkpoints", kept])
        #expect(caught.status == 1)
        #expect(caught.stdout.contains("evidence: outside checkpoint (recorder ") && caught.stdout.contains("it signed manifest #2, which is no longer in the chain"), "\(caught.stdout)")
    }

    /// The shell lines of step `n` of a VERIFY.txt: its indented block.
    static func step(_ n: Int, of text: String) -> String? {
        let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
        guard let start = lines.firstIndex(where: { $0.hasPrefix("\(n). ") }) else { return nil }
        var block: [String] = []
        var inBlock = false
        for line in lines[(start + 1)...] {
            if line.hasPrefix("\(n + 1). ") { break }
            if line.hasPrefix("     ") {
                inBlock = true
                block.append(String(line.dropFirst(5)))
            } else if inBlock && line.trimmingCharacters(in: .whitespaces).isEmpty {
                break
            }
        }
        return block.isEmpty ? nil : block.joined(separator: "\n")
    }
}
