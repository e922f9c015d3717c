import Evidence
import Foundation
import Testing

/// `ManifestFacts` reads a manifest in one pass of its own; Foundation's
/// JSON reader, which it replaced, is the reference: the same facts from
/// every manifest callrec writes and from JSON written another way, and
/// nil where the bytes are not a version-1 manifest.
@Suite struct ManifestFactsTests {
    static func manifest(caller: String?, files: [RecordingManifest.File], sequence: Int64, previous: String?) -> RecordingManifest {
        var m = RecordingManifest(
            recording: "20261129T081530Z-3f9a1c2e", callID: "a\"b\\c@pbx", caller: caller, callee: "+4687654321", direction: "outbound",
            start: "2026-11-29T08:15:30.120Z", end: "2026-11-29T08:16:33.520Z", files: files,
            capture: .file(path: "/srv/captures/mirror.pcap", bytes: 1 << 30, sha256: nil, packets: 1...6400),
            audio: .init(format: "opus", channels: "stereo", sampleRate: 8000, bitrate: 32000, complexity: 5, opusStreams: "separate"),
            callrecVersion: "0.2.0", recorder: "3f9a1c2e5b7d9e01", sequence: sequence, previousSHA256: previous)
        m.supersedes = sequence > 2 ? .init(recorder: "3f9a1c2e5b7d9e01", sequence: 2, sha256: String(repeating: "d", count: 64)) : nil
        return m
    }

    /// The facts as Foundation reads them (the code `ManifestFacts` had before).
    static func reference(_ bytes: [UInt8]) -> ManifestFacts.Reference? {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            (object["v"] as? NSNumber)?.intValue == 1, let recording = object["recording"] as? String,
            let recorder = object["recorder"] as? String, let sequence = (object["sequence"] as? NSNumber)?.int64Value,
            let files = object["files"] as? [[String: Any]]
        else { return nil }
        var list: [RecordingManifest.File] = []
        for file in files {
            guard let name = file["name"] as? String, let size = (file["bytes"] as? NSNumber)?.int64Value, let sha = file["sha256"] as? String
            else { return nil }
            list.append(.init(name: name, bytes: size, sha256: sha))
        }
        return .init(recording: recording, recorder: recorder, sequence: sequence, previousSHA256: object["previous_sha256"] as? String, files: list)
    }

    static let files: [[RecordingManifest.File]] = [
        [],
        [.init(name: "20261129T081530Z-3f9a1c2e.opus", bytes: 240_000, sha256: String(repeating: "a", count: 64))],
        [
            .init(name: "20261129T081530Z-3f9a1c2e.opus.age", bytes: 0, sha256: String(repeating: "b", count: 64)),
            .init(name: "ünïcødé ☎ \"quoted\"\n😀.json", bytes: 1 << 40, sha256: ""),
        ],
    ]

    @Test(arguments: 0..<3, [nil, "+4681234567", "Ström \u{1} \"x\" \\ 😀"] as [String?])
    func everyManifestCallrecWritesReadsAsFoundationReadsIt(files: Int, caller: String?) throws {
        let places: [(sequence: Int64, previous: String?)] = [(1, nil), (7, String(repeating: "e", count: 64))]
        for (sequence, previous) in places {
            let bytes = Self.manifest(caller: caller, files: Self.files[files], sequence: sequence, previous: previous).bytes
            let facts = try #require(ManifestFacts(bytes))
            #expect(facts.reference == Self.reference(bytes))
            #expect(facts.sequence == sequence && facts.previousSHA256 == previous && facts.files == Self.files[files])
        }
    }

    /// JSON another writer could give: other whitespace, other order, escapes
    /// where none are needed, unknown fields of every kind, a field twice.
    @Test(arguments: [
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"previous_sha256":null,"files":[]}"#,
        " \r\n\t{ \"files\" : [ { \"sha256\" : \"\\u0041\\/b\" , \"name\" : \"\\ud83d\\ude00\\n\" , \"bytes\" : -0 , \"x\" : [1.5e-3, {\"y\": [true, false, null]}] } ] ,\n \"sequence\" : -12, \"recorder\":\"k\", \"recording\":\"\\\"r\\\\\", \"v\" : 1 , \"z\": {} } \n",
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"previous_sha256":7,"files":[],"unknown":"\u00e9\u20ac"}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":0,"previous_sha256":"p","files":[{"name":"","bytes":0,"sha256":""},{"name":"a","bytes":1,"sha256":"s","v":2}]}"#,
    ])
    func jsonWrittenAnotherWayReadsTheSame(text: String) throws {
        let bytes = Array(text.utf8)
        let facts = try #require(ManifestFacts(bytes))
        #expect(facts.reference == Self.reference(bytes))
    }

    /// Not a version-1 manifest: nil, as Foundation's reading gave (or
    /// stricter, where a manifest has no business being loose: a key twice,
    /// a fraction where an integer belongs).
    @Test(arguments: [
        "", "{", "[]", "null", #"{"v":1}"#,
        #"{"v":2,"recording":"r","recorder":"k","sequence":3,"files":[]}"#,
        #"{"v":"1","recording":"r","recorder":"k","sequence":3,"files":[]}"#,
        #"{"v":1,"recording":7,"recorder":"k","sequence":3,"files":[]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":"3","files":[]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":{}}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[{"name":"a","bytes":1}]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[7]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[]} x"#,
        // A key twice: which one a reader takes differs between readers.
        #"{"v":2,"v":1,"recording":"r","recorder":"k","sequence":3,"files":[]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[{"name":"a","bytes":1,"sha256":"s","name":"b"}]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[] "x":1}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":tru}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":01}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":"\q"}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":"\ud83d"}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":"\ud83d \ude00"}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":"\ude00"}"#,
        "{\"v\":1,\"recording\":\"r\",\"recorder\":\"k\",\"sequence\":3,\"files\":[],\"x\":\"tab\there\"}",
        // Stricter than Foundation: a fraction, an exponent or an overflow where an integer belongs.
        #"{"v":1,"recording":"r","recorder":"k","sequence":3.0,"files":[]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":3e0,"files":[]}"#,
        #"{"v":1,"recording":"r","recorder":"k","sequence":9223372036854775808,"files":[]}"#,
    ])
    func whatIsNotAManifestIsNil(text: String) {
        #expect(ManifestFacts(Array(text.utf8)) == nil)
    }

    @Test func invalidUTF8AndDeepNestingAreNilNotACrash() {
        var bytes = Array(#"{"v":1,"recording":"r"#.utf8) + [0xC3, 0x28] + Array(#"","recorder":"k","sequence":3,"files":[]}"#.utf8)
        #expect(ManifestFacts(bytes) == nil)
        bytes = Array(#"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":"#.utf8) + Array(repeating: UInt8(ascii: "["), count: 100_000)
        #expect(ManifestFacts(bytes) == nil)
        let nested = String(repeating: "[", count: 60) + String(repeating: "]", count: 60)
        #expect(ManifestFacts(Array(#"{"v":1,"recording":"r","recorder":"k","sequence":3,"files":[],"x":\#(nested)}"#.utf8)) != nil)
    }
}

extension ManifestFacts {
    /// The facts that Foundation's reading gave, to compare with.
    struct Reference: Equatable {
        var recording: String
        var recorder: String
        var sequence: Int64
        var previousSHA256: String?
        var files: [RecordingManifest.File]
    }

    var reference: Reference { .init(recording: recording, recorder: recorder, sequence: sequence, previousSHA256: previousSHA256, files: files) }
}
