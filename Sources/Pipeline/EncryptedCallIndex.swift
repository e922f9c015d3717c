import CallMedia
import CallrecCore
import Output
import RTP
import SIP

extension RoutedCall {
    /// The call index of a call whose media was SRTP: parties, times,
    /// and per leg the codec the SDP named, SSRCs, packet, loss and jitter
    /// counts (the RTP header is sent in clear), with `skipped: "srtp"` and
    /// no audio, marked `encrypted` with its keying (`sdp`, or `zrtp` / `unknown`
    /// for ciphertext on a leg the SDP called plain RTP). Nothing is decoded:
    /// encrypted payloads would only be noise.
    ///
    /// Made on the router's thread as the call ends (it reads the router's
    /// counts); written by `write(encryptedIndex:start:options:)` wherever
    /// the call's end runs.
    ///
    /// - Returns: the index and the time of its first packet, or nil when no encrypted packet was seen.
    func encryptedIndex(reason: CallEndReason) -> (index: CallIndex, start: MediaTime)? {
        guard let start = legs.compactMap(\.encryptedStatistics.firstArrival).min() else { return nil }
        let end = legs.compactMap(\.encryptedStatistics.lastArrival).max() ?? start
        let call = description
        let id = RecordingNaming.recordingID(start: start, callID: call.callID)
        let channels = CallSide.allCases.map { side -> CallIndex.Channel in
            let leg = legs[side.rawValue]
            let statistics = leg.encryptedStatistics
            // The codec of the leg: what the receiving side's SDP calls its payload type.
            let codec = leg.payloadTypes.lazy.compactMap { pt in
                (call.media(of: side.opposite)?.media ?? call.media(of: side)?.media)?.format(for: pt)?.encoding
                    ?? RTPMap.staticPayloadType(pt)?.encoding
            }.first
            var channel = CallIndex.Channel(
                speaker: side.name, codec: codec, ssrcs: statistics.ssrcs.map { RTPHeader.format(ssrc: $0) },
                packets: leg.encryptedPackets, lost: statistics.lost, duplicates: statistics.duplicates, late: 0,
                jitterMs: (statistics.maxJitter * 1e5).rounded() / 100)
            if let ciphertext = legFacts[side.rawValue].ciphertext {
                channel.encryptedMedia = CallIndex.EncryptedMedia(
                    packets: ciphertext.packets, fromS: (ciphertext.first.seconds(since: start) * 1000).rounded() / 1000,
                    toS: (ciphertext.last.seconds(since: start) * 1000).rounded() / 1000,
                    entropyBits: (ciphertext.entropy * 1000).rounded() / 1000)
            }
            return channel
        }
        var index = CallIndex(
            id: id, callID: call.callID, caller: call.callerParty.map { RecordingNaming.bounded($0) },
            callee: call.calleeParty.map { RecordingNaming.bounded($0) }, direction: call.direction.rawValue,
            signalling: session.signalled ? "sip" : "none", start: start.iso8601,
            durationS: (end.seconds(since: start) * 1000).rounded() / 1000, sampleRate: nil, endReason: reason.name,
            finalStatus: reason.finalStatus, audio: nil, skipped: "srtp", channels: channels)
        index.encrypted = true
        index.encryptionKeying = encryptionKeying
        return (index, start)
    }

    /// Writes an SRTP call's index (`encryptedIndex(reason:)`) beside the recordings.
    /// - Returns: the index file's path.
    static func write(encryptedIndex index: CallIndex, start: MediaTime, options: ConvertOptions) throws -> String {
        // Sealed like a recording's index when sealing is on (to its parties' keys as the catalog stands now).
        let seal = try options.sealer?.seal(caller: index.caller, callee: index.callee)
        let file = try seal.file(
            directory: options.outputDirectory + "/" + RecordingNaming.dateFolder(start), name: index.id + ".json", space: options.diskSpace)
        try file.write(try index.encoded())
        try file.sync()
        try file.publish()
        return file.path
    }
}
