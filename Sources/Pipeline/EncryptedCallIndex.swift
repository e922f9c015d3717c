import CallMedia
import CallrecCore
import Output
import RTP
import SIP

extension RoutedCall {
    /// Writes the call index of a call whose media was SRTP: parties, times,
    /// and per leg the codec the SDP named, SSRCs, packet, loss and jitter
    /// counts (the RTP header is sent in clear), with `skipped: "srtp"` and
    /// no audio. Nothing is decoded: encrypted payloads would only be noise.
    ///
    /// - Returns: the index file's path, or nil when no SRTP packet was seen.
    func writeEncryptedIndex(reason: CallEndReason, options: ConvertOptions) throws -> String? {
        let arrivals = legs.flatMap { $0.encryptedStatistics.compactMap(\.statistics.firstArrival) }
        guard let start = arrivals.min() else { return nil }
        let end = legs.flatMap { $0.encryptedStatistics.compactMap(\.statistics.lastArrival) }.max() ?? start
        let call = description
        let id = RecordingNaming.recordingID(start: start, callID: call.callID)
        let channels = CallSide.allCases.map { side -> CallIndex.Channel in
            let leg = legs[side.rawValue]
            let statistics = leg.encryptedStatistics.map(\.statistics)
            // The codec of the leg: what the receiving side's SDP calls its payload type.
            let codec = leg.payloadTypes.lazy.compactMap { pt in
                (call.media(of: side.opposite)?.media ?? call.media(of: side)?.media)?.format(for: pt)?.encoding
                    ?? RTPMap.staticPayloadType(pt)?.encoding
            }.first
            return CallIndex.Channel(
                speaker: side.name, codec: codec, ssrcs: leg.encryptedStatistics.map { RTPHeader.format(ssrc: $0.ssrc) },
                packets: leg.encryptedPackets, lost: statistics.reduce(0) { $0 + max(0, $1.lost) },
                duplicates: statistics.reduce(0) { $0 + $1.duplicates }, late: 0,
                jitterMs: ((statistics.map(\.maxJitter).max() ?? 0) * 1e5).rounded() / 100)
        }
        let index = CallIndex(
            id: id, callID: call.callID, caller: call.callerParty.map { RecordingNaming.bounded($0) },
            callee: call.calleeParty.map { RecordingNaming.bounded($0) }, direction: call.direction.rawValue,
            signalling: session.signalled ? "sip" : "none", start: start.iso8601,
            durationS: (end.seconds(since: start) * 1000).rounded() / 1000, sampleRate: nil, endReason: reason.name,
            finalStatus: reason.finalStatus, audio: nil, skipped: "srtp", channels: channels)
        let file = try AtomicFile(
            directory: options.outputDirectory + "/" + RecordingNaming.dateFolder(start), name: id + ".json", space: options.diskSpace)
        try file.write(try index.encoded())
        try file.sync()
        try file.publish()
        return file.path
    }
}
