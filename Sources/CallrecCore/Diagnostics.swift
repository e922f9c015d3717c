/// Counts of everything callrec met and did not turn into audio: malformed,
/// late, duplicate or unknown packets. A bad packet is never an error; it is
/// counted here and processing goes on. The counts reach the call index, the
/// `inspect` report and `--verbose`.
///
/// Counters are a fixed block of memory indexed by `Counter`, so counting is
/// one add: no allocation and no exclusivity check on the per-packet path.
public final class Diagnostics {
    /// What was counted.
    public enum Counter: Int, CaseIterable, Sendable {
        case packetsRead
        case packetsTruncated
        case linkTypeUnsupported
        case notIP
        case ipMalformed
        case ipFragments
        case notUDP
        case udpMalformed
        case udpDatagrams
        case sipMessages
        case sipMalformed
        case sipNotForACall
        /// Headers left out of a SIP message that was kept: no colon, a bad name, over 8 KiB, past the header cap, control characters in a header callrec does not read.
        case sipHeadersDropped
        /// Headers callrec reads (Call-ID, From, To, CSeq, ...) that held control characters, kept with U+FFFD in their place.
        case sipHeadersRepaired
        case rtpPackets
        case rtpMalformed
        case rtpUnmatched
        case rtpUnsupportedPayload
        case rtpLate
        case rtpDuplicate
        case rtpTimestampJumps
        case callsWithoutMedia
        case callsDroppedOverLimit
        /// SDP bodies with no usable audio stream.
        case sdpWithoutAudio
        /// TCP segments that only repeated bytes already seen.
        case tcpRetransmitted
        /// Holes in a SIP-over-TCP stream that were skipped (the message around them is lost).
        case tcpGaps
        /// SIP-over-TCP connections not followed because too many were open.
        case tcpFlowsOverLimit
        /// Bytes of a SIP-over-TCP stream skipped to find the next message (garbage, oversized messages).
        case sipStreamBytesSkipped
        /// RTP to or from the media of a call that had just ended.
        case rtpAfterCallEnd
        /// RTP copies of a leg seen at a second hop (a relay: same SSRC, sequence numbers and payload), not mixed in twice.
        case rtpSecondPath
        /// Packets of a leg's extra stream: a second source sending the leg at the same time, kept and mixed into its channel.
        case rtpExtraStream
        /// Packets of a third stream sending a leg while its own and its extra stream both send: dropped, and reported in a note and the index.
        case rtpStreamsDropped
        /// SRTP packets that could not be decrypted (no SDES key, or none that authenticates): reported, never decoded.
        case rtpEncrypted
        /// SRTP packets decrypted with their sender's SDES key and authenticated.
        case rtpDecrypted
        /// Packets of a leg whose SDP says plain RTP that are ciphertext (SRTP keyed elsewhere, as after a ZRTP handshake): never decoded.
        case rtpCiphertext
        /// ZRTP packets (RFC 6189) on a call's media ports: a key exchange for SRTP the SDP does not show.
        case zrtpPackets
        /// Packets of a call's streams that are not its recorded audio (video, fax, a second audio stream).
        case mediaNotRecorded
        /// RTP streams without signalling not followed because too many were open.
        case rtpStreamsOverLimit
        /// Calls without signalling, found by pairing RTP streams.
        case callsWithoutSignalling
        /// Calls whose media was SRTP (or ciphertext without SRTP in the SDP) from the start: indexed, not recorded.
        case callsEncrypted
        case callsSkippedByRule
        /// Calls recorded already (seen again: a second probe, an overlapping capture, a capture converted twice), not written again.
        case callsAlreadyRecorded
        /// Bytes of garbage skipped to find the next good record.
        case captureBytesSkipped
        /// Records or blocks whose header could not be right (each starts a resynchronisation).
        case captureRecordsCorrupt
        /// A last record cut short by the end of the capture.
        case captureRecordsTruncated
        /// pcapng blocks of a type callrec does not know (skipped).
        case captureBlocksUnknown
        /// Packets the kernel dropped during a live capture (libpcap's count).
        case captureDroppedByKernel
        /// Packets a `--filter` expression rejected.
        case capturePacketsFiltered
        /// IP datagrams put back together from fragments.
        case ipFragmentsReassembled
        /// Fragments given up on: timed out, over the memory cap, overlapping or malformed.
        case ipFragmentsDropped
        /// ICMP and ICMPv6 messages (their quoted packets are never RTP).
        case icmpMessages
        /// RTP streams not tracked because the stream table was full.
        case rtpStreamsDroppedOverLimit
        /// Calls turned away at the call cap that found no room in the ledger (more than
        /// `CaptureProcessor.maxDroppedPerSweep` in one second of capture time): counted only.
        case callsDroppedUnledgered
        /// Signalled calls that ended unanswered with nothing recorded (rejected, cancelled, rung out).
        case callsNotAnswered
        /// SIP dialogs whose initial INVITE the capture does not hold, opened at a later
        /// message (a 1xx or 2xx to the INVITE, an ACK inside the dialog, a re-INVITE).
        case sipDialogsJoined

        /// A stable snake_case name for reports and JSON.
        public var name: String {
            switch self {
            case .packetsRead: "packets_read"
            case .packetsTruncated: "packets_truncated"
            case .linkTypeUnsupported: "link_type_unsupported"
            case .notIP: "not_ip"
            case .ipMalformed: "ip_malformed"
            case .ipFragments: "ip_fragments"
            case .notUDP: "not_udp"
            case .udpMalformed: "udp_malformed"
            case .udpDatagrams: "udp_datagrams"
            case .sipMessages: "sip_messages"
            case .sipMalformed: "sip_malformed"
            case .sipNotForACall: "sip_not_for_a_call"
            case .sipHeadersDropped: "sip_headers_dropped"
            case .sipHeadersRepaired: "sip_headers_repaired"
            case .rtpPackets: "rtp_packets"
            case .rtpMalformed: "rtp_malformed"
            case .rtpUnmatched: "rtp_unmatched"
            case .rtpUnsupportedPayload: "rtp_unsupported_payload"
            case .rtpLate: "rtp_late"
            case .rtpDuplicate: "rtp_duplicate"
            case .rtpTimestampJumps: "rtp_timestamp_jumps"
            case .callsWithoutMedia: "calls_without_media"
            case .callsDroppedOverLimit: "calls_dropped_over_limit"
            case .sdpWithoutAudio: "sdp_without_audio"
            case .tcpRetransmitted: "tcp_retransmitted"
            case .tcpGaps: "tcp_gaps"
            case .tcpFlowsOverLimit: "tcp_flows_over_limit"
            case .sipStreamBytesSkipped: "sip_stream_bytes_skipped"
            case .rtpAfterCallEnd: "rtp_after_call_end"
            case .rtpSecondPath: "rtp_second_path"
            case .rtpExtraStream: "rtp_extra_stream"
            case .rtpStreamsDropped: "rtp_streams_dropped"
            case .rtpEncrypted: "rtp_encrypted"
            case .rtpDecrypted: "rtp_decrypted"
            case .rtpCiphertext: "rtp_ciphertext"
            case .zrtpPackets: "zrtp_packets"
            case .mediaNotRecorded: "media_not_recorded"
            case .rtpStreamsOverLimit: "rtp_streams_over_limit"
            case .callsWithoutSignalling: "calls_without_signalling"
            case .callsEncrypted: "calls_encrypted"
            case .callsSkippedByRule: "calls_skipped_by_rule"
            case .callsAlreadyRecorded: "calls_already_recorded"
            case .captureBytesSkipped: "capture_bytes_skipped"
            case .captureRecordsCorrupt: "capture_records_corrupt"
            case .captureRecordsTruncated: "capture_records_truncated"
            case .captureBlocksUnknown: "capture_blocks_unknown"
            case .captureDroppedByKernel: "capture_dropped_by_kernel"
            case .capturePacketsFiltered: "capture_packets_filtered"
            case .ipFragmentsReassembled: "ip_fragments_reassembled"
            case .ipFragmentsDropped: "ip_fragments_dropped"
            case .icmpMessages: "icmp_messages"
            case .rtpStreamsDroppedOverLimit: "rtp_streams_dropped_over_limit"
            case .callsDroppedUnledgered: "calls_dropped_unledgered"
            case .callsNotAnswered: "calls_not_answered"
            case .sipDialogsJoined: "sip_dialogs_joined"
            }
        }
    }

    /// The most notes kept; later ones are counted in `notesDropped`.
    public static let maxNotes = 100

    /// One slot per `Counter`, made in `init`, freed in `deinit`. A pointer rather
    /// than an array: counting is then a plain add the compiler can inline.
    @usableFromInline
    let counts: UnsafeMutablePointer<Int>
    /// Human-readable notes about unusual input (an unsupported codec, a re-anchor).
    public private(set) var notes: [String] = []
    /// Notes not kept because `maxNotes` was reached.
    public private(set) var notesDropped = 0

    public init() {
        counts = UnsafeMutablePointer<Int>.allocate(capacity: Counter.allCases.count)
        counts.initialize(repeating: 0, count: Counter.allCases.count)
    }

    deinit {
        counts.deallocate()
    }

    /// Adds `amount` to `counter`.
    @inlinable
    public func count(_ counter: Counter, by amount: Int = 1) {
        // SAFETY: every Counter's raw value is below allCases.count, the slots allocated.
        counts[counter.rawValue] &+= amount
    }

    /// The current value of `counter`.
    public subscript(_ counter: Counter) -> Int { counts[counter.rawValue] }

    /// Records a note, keeping at most `maxNotes`.
    public func note(_ text: @autoclosure () -> String) {
        if notes.count < Diagnostics.maxNotes {
            notes.append(text())
        } else {
            notesDropped += 1
        }
    }

    /// Every non-zero counter, in declaration order.
    public var nonZero: [(Counter, Int)] {
        Counter.allCases.compactMap { counts[$0.rawValue] == 0 ? nil : ($0, counts[$0.rawValue]) }
    }

    /// Adds every count and note of `other` into this one.
    public func merge(_ other: Diagnostics) {
        for c in Counter.allCases { counts[c.rawValue] &+= other.counts[c.rawValue] }
        for n in other.notes { note(n) }
        notesDropped += other.notesDropped
    }
}
