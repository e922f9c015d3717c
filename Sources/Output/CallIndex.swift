import Foundation

/// The call index: one JSON document per recording that says what the
/// recording holds (docs/FORMATS.md specifies it field by field).
public struct CallIndex: Codable, Sendable, Equatable {
    /// The format version this code writes.
    public static let currentVersion = 1

    /// One channel of the recording: one speaker.
    public struct Channel: Codable, Sendable, Equatable {
        /// `caller` or `callee`.
        public var speaker: String
        /// The codec of the leg (`PCMU`, `PCMA`, `G722`), or nil when it carried no audio.
        public var codec: String?
        /// The SSRCs seen on this leg, as `0x1A2B3C4D`.
        public var ssrcs: [String]
        /// RTP packets received on this leg.
        public var packets: Int
        /// Packets lost (expected from the sequence span minus received).
        public var lost: Int
        /// Duplicate packets dropped.
        public var duplicates: Int
        /// Packets that arrived too late to be placed.
        public var late: Int
        /// The largest RFC 3550 interarrival jitter of the leg, in milliseconds.
        public var jitterMs: Double
        /// Audio filled in for lost packets (G.711 Appendix I concealment), in milliseconds.
        public var concealedMs: Int = 0
        /// Times the leg was re-anchored to capture time (timestamp jumps, sequence restarts, new SSRCs).
        public var timestampJumps: Int = 0
        /// The sender's clock drift against capture time that was corrected, in parts
        /// per million (positive: fast); nil (absent) when none was significant.
        public var driftPPM: Int? = nil
        /// Every codec the leg carried, in order, with where it started; absent in indexes written before it.
        public var codecs: [CodecSpan]? = nil
        /// When this speaker spoke: `[start, end]` pairs in seconds from the recording's start.
        public var speech: [[Double]] = []
        /// Seconds this speaker spoke.
        public var talkTimeS: Double = 0

        /// A second stream that sent this leg at the same time as its own
        /// (another source, another SSRC or other content), kept and mixed into
        /// the channel; nil when there was none.
        public var extraStream: ExtraStream? = nil
        /// Streams that sent this leg while its own and its extra stream both did: dropped; nil when none.
        public var droppedStreams: [DroppedStream]? = nil
        /// Packets merged away as copies of the leg's own (the same packets seen at a relay's second hop); nil when none.
        public var relayCopies: Int? = nil
        /// Packets of this leg that were ciphertext although the SDP said plain
        /// RTP: not decoded, their time silent in the recording; nil when none.
        public var encryptedMedia: EncryptedMedia? = nil
        /// Runs of this leg's packets in a codec callrec does not decode: their
        /// time is silence in the recording; nil when none.
        public var undecoded: [UndecodedSpan]? = nil

        public init(speaker: String, codec: String?, ssrcs: [String], packets: Int, lost: Int, duplicates: Int, late: Int, jitterMs: Double) {
            self.speaker = speaker
            self.codec = codec
            self.ssrcs = ssrcs
            self.packets = packets
            self.lost = lost
            self.duplicates = duplicates
            self.late = late
            self.jitterMs = jitterMs
        }

        enum CodingKeys: String, CodingKey {
            case speaker, codec, ssrcs, packets, lost, duplicates, late
            case jitterMs = "jitter_ms"
            case concealedMs = "concealed_ms"
            case timestampJumps = "timestamp_jumps"
            case driftPPM = "drift_ppm"
            case codecs
            case speech
            case talkTimeS = "talk_time_s"
            case extraStream = "extra_stream"
            case droppedStreams = "dropped_streams"
            case relayCopies = "relay_copies"
            case encryptedMedia = "encrypted_media"
            case undecoded
        }
    }

    /// A run of a leg's packets in a codec that is not decoded.
    public struct UndecodedSpan: Codable, Sendable, Equatable {
        /// The SDP's encoding name (`G729`), or `PT <n>` when nothing names it.
        public var codec: String
        /// From the first packet's arrival to the last one's end, in seconds from the recording's start.
        public var fromS: Double
        public var toS: Double
        public var packets: Int

        public init(codec: String, fromS: Double, toS: Double, packets: Int) {
            self.codec = codec
            self.fromS = fromS
            self.toS = toS
            self.packets = packets
        }

        enum CodingKeys: String, CodingKey {
            case codec, packets
            case fromS = "from_s"
            case toS = "to_s"
        }
    }

    /// A leg's packets found to be ciphertext (SRTP keyed where the capture
    /// does not show it, as by a ZRTP handshake on the media path).
    public struct EncryptedMedia: Codable, Sendable, Equatable {
        public var packets: Int
        /// When the first and the last of them arrived, in seconds from the recording's start.
        public var fromS: Double
        public var toS: Double
        /// The entropy of their payload bytes in bits per byte (8 for ciphertext; G.711 speech has 5 to 7).
        public var entropyBits: Double

        public init(packets: Int, fromS: Double, toS: Double, entropyBits: Double) {
            self.packets = packets
            self.fromS = fromS
            self.toS = toS
            self.entropyBits = entropyBits
        }

        enum CodingKeys: String, CodingKey {
            case packets
            case fromS = "from_s"
            case toS = "to_s"
            case entropyBits = "entropy_bits"
        }
    }

    /// A leg's extra stream: a second source sending the leg beside its own.
    public struct ExtraStream: Codable, Sendable, Equatable {
        /// Where it came from (`address:port`, `[address]:port` for IPv6).
        public var source: String?
        /// Its SSRCs, as `0x1A2B3C4D`.
        public var ssrcs: [String]
        /// Its audio codec, or nil when it carried none (events only).
        public var codec: String?
        public var packets: Int
        public var lost: Int
        public var jitterMs: Double
        /// As for the channel: its re-anchorings, and its corrected clock drift (nil when none was significant).
        public var timestampJumps: Int = 0
        public var driftPPM: Int? = nil

        public init(source: String?, ssrcs: [String], codec: String?, packets: Int, lost: Int, jitterMs: Double) {
            self.source = source
            self.ssrcs = ssrcs
            self.codec = codec
            self.packets = packets
            self.lost = lost
            self.jitterMs = jitterMs
        }

        enum CodingKeys: String, CodingKey {
            case source, ssrcs, codec, packets, lost
            case jitterMs = "jitter_ms"
            case timestampJumps = "timestamp_jumps"
            case driftPPM = "drift_ppm"
        }
    }

    /// A stream of a leg that was not kept.
    public struct DroppedStream: Codable, Sendable, Equatable {
        public var source: String
        public var ssrc: String
        public var packets: Int

        public init(source: String, ssrc: String, packets: Int) {
            self.source = source
            self.ssrc = ssrc
            self.packets = packets
        }
    }

    /// One Opus complexity the recording was encoded with, from where it started
    /// (the live recorder lowers it under overload and raises it again).
    public struct ComplexitySpan: Codable, Sendable, Equatable {
        /// The libopus complexity, 0 (fastest) to 10.
        public var complexity: Int
        /// Where the audio encoded at it starts, in seconds from the recording's start.
        public var fromS: Double

        public init(complexity: Int, fromS: Double) {
            self.complexity = complexity
            self.fromS = fromS
        }

        enum CodingKeys: String, CodingKey {
            case complexity
            case fromS = "from_s"
        }
    }

    /// One codec a leg carried, from where it started (a re-INVITE changes it).
    public struct CodecSpan: Codable, Sendable, Equatable {
        /// `PCMU`, `PCMA` or `G722`.
        public var codec: String
        /// Where the leg's audio in this codec starts, in seconds from the recording's start.
        public var fromS: Double

        public init(codec: String, fromS: Double) {
            self.codec = codec
            self.fromS = fromS
        }

        enum CodingKeys: String, CodingKey {
            case codec
            case fromS = "from_s"
        }
    }

    /// One RFC 4733 telephone event (DTMF digit).
    public struct DTMF: Codable, Sendable, Equatable {
        /// The channel (speaker) that sent it.
        public var channel: Int
        /// `0`-`9`, `*`, `#`, `A`-`D`, or `flash`; nil (and absent from the
        /// JSON) in what is shown outside a sealed recording.
        public var digit: String?
        /// Where the event starts on the recording's timeline, in seconds.
        public var atS: Double
        /// How long it lasted, in seconds.
        public var durationS: Double

        public init(channel: Int, digit: String?, atS: Double, durationS: Double) {
            self.channel = channel
            self.digit = digit
            self.atS = atS
            self.durationS = durationS
        }

        enum CodingKeys: String, CodingKey {
            case channel, digit
            case atS = "at_s"
            case durationS = "duration_s"
        }
    }

    public var version: Int
    /// The recording id (`20261129T081530Z-3f9a1c2e`).
    public var id: String
    public var callID: String
    /// The caller (INVITE sender), or nil when there was no signalling.
    public var caller: String?
    public var callee: String?
    /// `inbound`, `outbound`, `internal` or `unknown`.
    public var direction: String
    /// How the call was found: `sip` (its signalling was captured) or `none`
    /// (RTP streams paired without signalling: the parties are unknown).
    public var signalling: String
    /// Time zero of the recording: the first RTP packet of either leg, ISO 8601 UTC.
    public var start: String
    /// Seconds from time zero to the end of the last audio (of the last packet, when no audio was written).
    public var durationS: Double
    /// The rate the audio was coded at; nil when no audio was written.
    public var sampleRate: Int?
    /// Why the call ended: `bye`, `cancel`, `rejected`, `timeout`, `cut` (the capture ended first).
    public var endReason: String
    /// The final 3xx-6xx status of a rejected INVITE (a call that carried early media).
    public var finalStatus: Int?
    /// The recording's audio file, relative to the index (with the split
    /// layout, the caller's file; `audio_files` lists them all); nil when the
    /// audio was not written.
    public var audio: String?
    /// Why the audio was not written (`srtp`: the media was encrypted), nil when it was.
    public var skipped: String?
    /// Whether some or all of the call's media was encrypted (true), so that
    /// the recording holds only the audio sent in clear; nil when none was.
    public var encrypted: Bool? = nil
    /// How the encrypted media was keyed: `sdp` (RTP/SAVP), `zrtp` (a ZRTP
    /// handshake on the media path) or `unknown`; nil when none was encrypted.
    public var encryptionKeying: String? = nil
    /// Every audio file of the recording, relative to the index: one, or one
    /// per channel in channel order (split). Absent in indexes written before it.
    public var audioFiles: [String]?
    /// `opus`, `wav` or `flac`.
    public var format: String?
    /// Files of the recording beside the audio and the index (the waveform
    /// peaks), relative to the index, in the order they are committed.
    public var extraFiles: [String] { peaks }
    /// `stereo` (channel per speaker in one file), `mono` (both mixed) or `split` (a file per speaker).
    public var layout: String?
    /// The Opus complexities the audio was encoded with, in time order, when
    /// the live recorder lowered the configured one during the call because
    /// it fell behind (overload); nil when every frame was encoded at the
    /// configured complexity (always in convert).
    public var opusComplexity: [ComplexitySpan]? = nil
    public var channels: [Channel]
    /// DTMF digits (RFC 4733 events) in time order.
    public var dtmf: [DTMF] = []
    /// Seconds in which both speakers speak at once.
    public var overtalkS: Double = 0
    /// The longest stretch in which nobody speaks, in seconds.
    public var longestSilenceS: Double = 0
    /// The share of the recording in which nobody speaks, 0 to 1.
    public var silenceShare: Double = 0
    /// The waveform peaks files, relative to the index (BBC audiowaveform formats).
    public var peaks: [String] = []
    /// True in what is shown of a sealed recording outside its files (the
    /// JSON lines of convert and record): DTMF digits and speech segments
    /// are left out. Absent from the index file itself.
    public var sealed: Bool? = nil

    public init(
        id: String, callID: String, caller: String?, callee: String?, direction: String, signalling: String = "sip",
        start: String, durationS: Double, sampleRate: Int?, endReason: String, finalStatus: Int? = nil, audio: String?,
        skipped: String? = nil, channels: [Channel]
    ) {
        self.version = CallIndex.currentVersion
        self.id = id
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.direction = direction
        self.signalling = signalling
        self.start = start
        self.durationS = durationS
        self.sampleRate = sampleRate
        self.endReason = endReason
        self.finalStatus = finalStatus
        self.audio = audio
        self.skipped = skipped
        self.channels = channels
    }

    enum CodingKeys: String, CodingKey {
        case version, id, caller, callee, direction, signalling, start, channels, audio, skipped, dtmf, format, layout, peaks, sealed
        case audioFiles = "audio_files"
        case opusComplexity = "opus_complexity"
        case overtalkS = "overtalk_s"
        case longestSilenceS = "longest_silence_s"
        case silenceShare = "silence_share"
        case callID = "call_id"
        case durationS = "duration_s"
        case sampleRate = "sample_rate"
        case endReason = "end_reason"
        case finalStatus = "final_status"
        case encrypted
        case encryptionKeying = "encryption_keying"
    }

    /// What may be shown of a sealed recording outside its sealed files:
    /// the index without the DTMF digits (each event keeps its channel, time
    /// and length: the catalog keeps them too) and without the speech
    /// segments (talk times stay), marked `sealed`. Card numbers and PINs
    /// typed as DTMF, and who spoke when, live only in the sealed index.
    public func withoutSealedContent() -> CallIndex {
        var clear = self
        clear.dtmf = dtmf.map { DTMF(channel: $0.channel, digit: nil, atS: $0.atS, durationS: $0.durationS) }
        for c in clear.channels.indices { clear.channels[c].speech = [] }
        clear.sealed = true
        return clear
    }

    /// The index as pretty, key-sorted JSON with a trailing newline.
    public func encoded() throws -> [UInt8] {
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
        var data = Array(try encoder.encode(self))
        data.append(0x0A)
        return data
    }

    /// Decodes an index written by `encoded()`.
    public static func decode(_ bytes: [UInt8]) throws -> CallIndex {
        try JSONDecoder().decode(CallIndex.self, from: Data(bytes))
    }
}
