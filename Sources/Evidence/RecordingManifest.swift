import Catalog
import Foundation

/// What a recorder signs for each recording when it commits it, before the
/// recording becomes visible: `<id>.manifest.json`, version 1
/// (docs/FORMATS.md, "The manifest"), with the raw 64-byte Ed25519 signature
/// over its exact bytes in `<id>.manifest.sig`:
///
/// ```
/// openssl pkeyutl -verify -pubin -inkey recorder.pub.pem -rawin -in <id>.manifest.json -sigfile <id>.manifest.sig
/// ```
///
/// It names every file of the recording with its size and the SHA-256 of
/// its bytes as stored (sealed or not), where the audio came from, how it
/// was coded, and — the chain — its place in the recorder's sequence of
/// manifests and the SHA-256 of the one before, so a recording removed
/// from the middle leaves a hole that the next manifest's signature proves.
public struct RecordingManifest: Sendable, Equatable {
    /// One file of the recording, as stored.
    public struct File: Sendable, Equatable {
        /// The file's name, in the manifest's folder (`<id>.opus`, `<id>.opus.age`).
        public var name: String
        public var bytes: Int64
        public var sha256: String

        public init(name: String, bytes: Int64, sha256: String) {
            self.name = name
            self.bytes = bytes
            self.sha256 = sha256
        }
    }

    /// Where the packets came from.
    public enum Capture: Sendable, Equatable {
        /// A capture file read to its end: its name, the path as given, its
        /// size and the SHA-256 of all its bytes (computed while it was read;
        /// nil when a read failed before the end).
        case file(path: String, bytes: Int64, sha256: String?, packets: ClosedRange<Int>?)
        /// A capture stream on standard input (`-`).
        case stream(packets: ClosedRange<Int>?)
        /// A live interface through libpcap, with its BPF filter.
        case interface(name: String, filter: String?, packets: ClosedRange<Int>?)
        /// Not known: a recording salvaged after a crash from what its
        /// temporary files held (`catalog verify`, a recorder's start).
        case unknown

        var json: CanonicalJSON {
            var json = CanonicalJSON()
            func packets(_ range: ClosedRange<Int>?) {
                if let range {
                    json.field("packets", integers: [Int64(range.lowerBound), Int64(range.upperBound)])
                } else {
                    json.field("packets", object: nil)
                }
            }
            switch self {
            case .file(let path, let bytes, let sha256, let range):
                json.field("bytes", bytes)
                json.field("kind", "file")
                json.field("name", path.split(separator: "/").last.map(String.init) ?? path)
                packets(range)
                json.field("path", path)
                json.field("sha256", sha256)
            case .stream(let range):
                json.field("kind", "stream")
                json.field("name", "-")
                packets(range)
            case .interface(let name, let filter, let range):
                json.field("filter", filter)
                json.field("kind", "interface")
                json.field("name", name)
                packets(range)
            case .unknown:
                json.field("kind", "unknown")
                json.field("name", nil as String?)
                packets(nil)
            }
            return json
        }

        /// The same capture, naming the packets of one call.
        public func with(packets range: ClosedRange<Int>?) -> Capture {
            switch self {
            case .file(let path, let bytes, let sha256, _): .file(path: path, bytes: bytes, sha256: sha256, packets: range)
            case .stream: .stream(packets: range)
            case .interface(let name, let filter, _): .interface(name: name, filter: filter, packets: range)
            case .unknown: .unknown
            }
        }
    }

    /// The options that shape the audio.
    public struct Audio: Sendable, Equatable {
        /// `opus`, `wav` or `flac`.
        public var format: String
        /// `stereo`, `mono` or `split`.
        public var channels: String
        public var sampleRate: Int
        /// Opus only: bits per second of the file, encoder complexity, `separate` or `coupled`.
        public var bitrate: Int?
        public var complexity: Int?
        public var opusStreams: String?

        public init(format: String, channels: String, sampleRate: Int, bitrate: Int?, complexity: Int?, opusStreams: String?) {
            self.format = format
            self.channels = channels
            self.sampleRate = sampleRate
            self.bitrate = bitrate
            self.complexity = complexity
            self.opusStreams = opusStreams
        }

        var json: CanonicalJSON {
            var json = CanonicalJSON()
            json.field("bitrate", bitrate.map(Int64.init))
            json.field("channels", channels)
            json.field("complexity", complexity.map(Int64.init))
            json.field("format", format)
            json.field("opus_streams", opusStreams)
            json.field("sample_rate", sampleRate)
            return json
        }
    }

    /// The recording id.
    public var recording: String
    /// The SIP Call-ID (or `rtp:...` for a call without signalling), the parties, the direction.
    public var callID: String
    public var caller: String?
    public var callee: String?
    public var direction: String
    /// Time zero and the end of the recording, ISO 8601 UTC with milliseconds.
    public var start: String
    public var end: String
    /// Every file of the recording, in commit order (the manifest's own files aside).
    public var files: [File]
    public var capture: Capture
    public var audio: Audio
    /// The version of callrec that wrote it.
    public var callrecVersion: String
    /// The recorder id, its place in the recorder's chain, and the SHA-256 of
    /// the manifest before it (nil for a recorder's first).
    public var recorder: String
    public var sequence: Int64
    public var previousSHA256: String?
    /// A manifest signed for a recording again (`catalog reseal` gave its
    /// sealed files new headers): the manifest it takes the place of, which
    /// was withdrawn as `resealed` in the same transaction. Nil for a
    /// recording's first manifest, which then has no `supersedes` field.
    public var supersedes: Superseded?

    /// The manifest a later one takes the place of: its recorder, place in
    /// that recorder's chain, and SHA-256.
    public struct Superseded: Sendable, Equatable {
        public var recorder: String
        public var sequence: Int64
        public var sha256: String

        public init(recorder: String, sequence: Int64, sha256: String) {
            self.recorder = recorder
            self.sequence = sequence
            self.sha256 = sha256
        }
    }

    public init(
        recording: String, callID: String, caller: String?, callee: String?, direction: String, start: String, end: String, files: [File],
        capture: Capture, audio: Audio, callrecVersion: String, recorder: String, sequence: Int64 = 0, previousSHA256: String? = nil
    ) {
        self.recording = recording
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.direction = direction
        self.start = start
        self.end = end
        self.files = files
        self.capture = capture
        self.audio = audio
        self.callrecVersion = callrecVersion
        self.recorder = recorder
        self.sequence = sequence
        self.previousSHA256 = previousSHA256
    }

    /// The manifest file's bytes: canonical JSON, one top-level field per line.
    public var bytes: [UInt8] {
        var json = CanonicalJSON(multiline: true)
        json.field("audio", object: audio.json)
        json.field("call_id", callID)
        json.field("callee", callee)
        json.field("caller", caller)
        json.field("callrec", callrecVersion)
        json.field("capture", object: capture.json)
        json.field("direction", direction)
        json.field("end", end)
        json.field(
            "files",
            objects: files.map { file in
                var entry = CanonicalJSON()
                entry.field("bytes", file.bytes)
                entry.field("name", file.name)
                entry.field("sha256", file.sha256)
                return entry
            })
        json.field("previous_sha256", previousSHA256)
        json.field("recorder", recorder)
        json.field("recording", recording)
        json.field("sequence", sequence)
        json.field("start", start)
        if let supersedes {
            var object = CanonicalJSON()
            object.field("recorder", supersedes.recorder)
            object.field("sequence", supersedes.sequence)
            object.field("sha256", supersedes.sha256)
            json.field("supersedes", object: object)
        }
        json.field("v", 1)
        return json.bytes
    }

    /// The file names of a recording's manifest and signature.
    public static func fileNames(recording id: String) -> (manifest: String, signature: String) {
        (id + ".manifest.json", id + ".manifest.sig")
    }
}

extension RecordingManifest {
    /// The manifest whose bytes are `bytes` (a version-1 manifest callrec
    /// wrote): every field read back, so that `bytes` of the result are
    /// `bytes` again. Nil when they are not such a manifest. `catalog reseal`
    /// reads the manifest in force this way to sign the next one, which says
    /// the same apart from its files, its place in a chain and `supersedes`.
    public init?(parsing bytes: [UInt8]) {
        guard let object = try? JSONSerialization.jsonObject(with: Data(bytes)) as? [String: Any],
            (object["v"] as? NSNumber)?.intValue == 1,
            let recording = object["recording"] as? String, let callID = object["call_id"] as? String,
            let direction = object["direction"] as? String, let start = object["start"] as? String, let end = object["end"] as? String,
            let version = object["callrec"] as? String, let recorder = object["recorder"] as? String,
            let sequence = (object["sequence"] as? NSNumber)?.int64Value,
            let fileList = object["files"] as? [[String: Any]], let captureObject = object["capture"] as? [String: Any],
            let audioObject = object["audio"] as? [String: Any]
        else { return nil }
        func string(_ object: [String: Any], _ key: String) -> String? { object[key] as? String }
        func integer(_ object: [String: Any], _ key: String) -> Int64? { (object[key] as? NSNumber)?.int64Value }
        var files: [File] = []
        for file in fileList {
            guard let name = string(file, "name"), let size = integer(file, "bytes"), let sha = string(file, "sha256") else { return nil }
            files.append(File(name: name, bytes: size, sha256: sha))
        }
        var packets: ClosedRange<Int>? = nil
        if let pair = captureObject["packets"] as? [NSNumber] {
            guard pair.count == 2, pair[0].intValue <= pair[1].intValue else { return nil }
            packets = pair[0].intValue...pair[1].intValue
        }
        let capture: Capture
        switch string(captureObject, "kind") {
        case "file":
            guard let path = string(captureObject, "path"), let size = integer(captureObject, "bytes") else { return nil }
            capture = .file(path: path, bytes: size, sha256: string(captureObject, "sha256"), packets: packets)
        case "stream": capture = .stream(packets: packets)
        case "interface":
            guard let name = string(captureObject, "name") else { return nil }
            capture = .interface(name: name, filter: string(captureObject, "filter"), packets: packets)
        case "unknown": capture = .unknown
        default: return nil
        }
        guard let format = string(audioObject, "format"), let channels = string(audioObject, "channels"),
            let rate = integer(audioObject, "sample_rate")
        else { return nil }
        let audio = Audio(
            format: format, channels: channels, sampleRate: Int(rate), bitrate: integer(audioObject, "bitrate").map(Int.init),
            complexity: integer(audioObject, "complexity").map(Int.init), opusStreams: string(audioObject, "opus_streams"))
        self.init(
            recording: recording, callID: callID, caller: string(object, "caller"), callee: string(object, "callee"), direction: direction,
            start: start, end: end, files: files, capture: capture, audio: audio, callrecVersion: version, recorder: recorder,
            sequence: sequence, previousSHA256: string(object, "previous_sha256"))
        if let superseded = object["supersedes"] as? [String: Any] {
            guard let recorder = string(superseded, "recorder"), let sequence = integer(superseded, "sequence"),
                let sha = string(superseded, "sha256")
            else { return nil }
            supersedes = Superseded(recorder: recorder, sequence: sequence, sha256: sha)
        }
        // Only what this type writes: a manifest with other fields would not come out the same.
        guard self.bytes == bytes else { return nil }
    }
}
