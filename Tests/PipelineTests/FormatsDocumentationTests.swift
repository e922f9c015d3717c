import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Conversion
import ConversionTestSupport
import Foundation
import LiveRecorder
import Testing

/// docs/FORMATS.md is the specification of what callrec writes: every field
/// a call index or peaks file holds must be documented there, every field it
/// documents as always present must be there, and with the documented type.
@Suite struct FormatsDocumentationTests {
    struct Field {
        var name: String
        var type: String
        /// Documented as absent or conditional ("absent ...", "only ...").
        var optional: Bool { type.contains("absent") || type.contains("only") || type.contains("null") }
    }

    /// The fields of the markdown table that follows `marker` in `section` of FORMATS.md.
    static func table(in section: String, after marker: String) throws -> [Field] {
        let text = try String(contentsOfFile: FixturePaths.repositoryRoot + "/docs/FORMATS.md", encoding: .utf8)
        let start = try #require(text.range(of: "\n## " + section))
        let rest = text[start.upperBound...]
        let sectionText = rest.range(of: "\n## ").map { rest[..<$0.lowerBound] } ?? rest
        let tableStart = try #require(sectionText.range(of: marker))
        var fields: [Field] = []
        var inTable = false
        for line in sectionText[tableStart.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
            if line.hasPrefix("| field |") { inTable = true; continue }
            guard inTable else { continue }
            if line.hasPrefix("|---") { continue }
            guard line.hasPrefix("| `") else { break }
            let cells = line.split(separator: "|", omittingEmptySubsequences: false).map { $0.trimmingCharacters(in: .whitespaces) }
            fields.append(Field(name: cells[1].trimmingCharacters(in: CharacterSet(charactersIn: "`")), type: cells[2]))
        }
        return fields
    }

    /// Checks a decoded JSON object against documented fields.
    static func check(_ object: [String: Any], against fields: [Field], what: String) {
        let documented = Dictionary(uniqueKeysWithValues: fields.map { ($0.name, $0) })
        for key in object.keys {
            #expect(documented[key] != nil, "\(what): `\(key)` is written but not documented in FORMATS.md")
        }
        for field in fields {
            guard let value = object[field.name] else {
                #expect(field.optional, "\(what): `\(field.name)` is documented as always present but missing")
                continue
            }
            let type = field.type
            if value is NSNull {
                #expect(field.optional, "\(what): `\(field.name)` is null but not documented as ever null")
            } else if type.hasPrefix("string") {
                #expect(value is String, "\(what): `\(field.name)` should be a string")
            } else if type.hasPrefix("integer") {
                #expect((value as? NSNumber).map { $0.doubleValue == $0.doubleValue.rounded() } == true, "\(what): `\(field.name)` should be an integer")
            } else if type.hasPrefix("number") {
                #expect(value is NSNumber, "\(what): `\(field.name)` should be a number")
            } else if type.hasPrefix("array") {
                #expect(value is [Any], "\(what): `\(field.name)` should be an array")
            }
        }
    }

    @Test func theCallIndexIsWhatFormatsSays() throws {
        // A call with DTMF, so that every list has members.
        var call = SyntheticCall()
        call.seed = 61
        var impairments = LegImpairments()
        impairments.events = [(5, 1.0, 0.2)]
        call.callerImpairments = impairments
        let summary = try ConvertedCall(call, folder: "docs").summary
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: summary.indexPath))) as? [String: Any])

        let top = try Self.table(in: "The call index", after: "A UTF-8 JSON object")
        let channel = try Self.table(in: "The call index", after: "Each element of `channels`")
        let dtmf = try Self.table(in: "The call index", after: "Each element of `dtmf`")
        #expect(top.count > 15 && channel.count > 10 && dtmf.count == 4)
        Self.check(object, against: top, what: "index")
        let channels = try #require(object["channels"] as? [[String: Any]])
        #expect(channels.count == 2)
        for c in channels { Self.check(c, against: channel, what: "channel") }
        let digits = try #require(object["dtmf"] as? [[String: Any]])
        #expect(digits.count == 1)
        for d in digits { Self.check(d, against: dtmf, what: "dtmf") }

        // The peaks file the index names.
        let peaksName = try #require((object["peaks"] as? [String])?.first)
        let peaksPath = (summary.indexPath as NSString).deletingLastPathComponent + "/" + peaksName
        let peaks = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: peaksPath))) as? [String: Any])
        Self.check(peaks, against: try Self.table(in: "Waveform peaks", after: "### JSON"), what: "peaks")
    }

    /// The signed manifest: every field as documented, and nothing else.
    @Test func theManifestIsWhatFormatsSays() throws {
        let out = FixturePaths.temporaryDirectory("docs-manifest")
        let result = try Converter(options: ConvertOptions(outputDirectory: out))
            .convert(path: FixturePaths.fixture("g711u-2legs-20ms.pcap"), diagnostics: Diagnostics())
        let summary = try #require(result.recordings.first)
        let path = (summary.indexPath as NSString).deletingLastPathComponent + "/\(summary.id).manifest.json"
        let object = try #require(try JSONSerialization.jsonObject(with: Data(contentsOf: URL(fileURLWithPath: path))) as? [String: Any])
        let fields = try Self.table(in: "The manifest", after: "A UTF-8 JSON object")
        #expect(fields.count == 16, "15 always there, and supersedes in a manifest signed again by a reseal")
        Self.check(object, against: fields, what: "manifest")
        let capture = try #require(object["capture"] as? [String: Any])
        #expect(Set(capture.keys) == ["kind", "name", "path", "bytes", "sha256", "packets"])
        let audio = try #require(object["audio"] as? [String: Any])
        #expect(Set(audio.keys) == ["format", "channels", "sample_rate", "bitrate", "complexity", "opus_streams"])
    }

    /// `callrec record`'s lines: a recorded call and one a rule skipped, each field as documented.
    @Test func theRecordLinesAreWhatFormatsSays() throws {
        let out = FixturePaths.temporaryDirectory("docs-record")
        let store = try CatalogStore(path: out + "/catalog.sqlite")
        try store.addRule(RecordingRule(action: .skip, remote: try .parse("+4631555020")), by: .operator("test"), at: 0)
        let capture = try TemporaryFile.write(PcapMerge.merge([
            Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("g711u-2legs-20ms.pcap")))),
            Array(try Data(contentsOf: URL(fileURLWithPath: FixturePaths.fixture("g711a-2legs-20ms.pcap")))),
        ]))
        final class Lines: @unchecked Sendable {
            let lock = NSLock()
            var all: [String] = []
        }
        let lines = Lines()
        var settings = Recorder.Settings(convert: ConvertOptions(outputDirectory: out), jobs: 2)
        settings.statusInterval = 0
        let recorder = try Recorder(
            settings: settings, input: .file(capture),
            events: .init(call: { call in lines.lock.withLock { lines.all.append(call.jsonLine) } }, message: { _ in }))
        #expect(recorder.run().recorded == 1)
        let objects = try lines.all.map { try #require(try JSONSerialization.jsonObject(with: Data($0.utf8)) as? [String: Any]) }
        #expect(objects.compactMap { $0["outcome"] as? String }.sorted() == ["recorded", "skipped"])
        let fields = try Self.table(in: "Record's output", after: "standard")
        #expect(fields.count > 15)
        for object in objects { Self.check(object, against: fields, what: "record line") }
    }
}
