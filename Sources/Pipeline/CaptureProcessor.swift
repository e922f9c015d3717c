import CallMedia
import CallrecCore
import Capture
import Catalog
import Commit
import RTP
import SIP

/// Drives one capture through the stages: slices each packet, feeds SIP
/// (UDP datagrams, or TCP streams put back in order) to the call tracker,
/// routes RTP to the call whose media it is, pairs RTP streams that no
/// signalling explains into calls of their own, and commits each call's
/// recording when the call ends.
///
/// Routing. Each call claims the endpoints its SDP names (or, for a call
/// without signalling, the two ends of its first stream), and keeps every
/// endpoint it claimed until it ends: a re-INVITE that moves the media adds
/// the new address to the same call and channel, and a hold that sends to
/// `0.0.0.0` or stops sending loses nothing. An RTP packet goes to the call
/// that claimed its destination (that party receives it, so the other one
/// sent it), preferring the call that also claimed its source; failing
/// that, to the call that claimed its source (symmetric RTP behind NAT).
/// When several calls claimed the same endpoints (two dialogs of a B2BUA
/// with direct media, or a later call on the same ports), the most recent
/// claim wins, for both directions alike.
///
/// Memory depends on the calls in flight, never on the length of the
/// capture: calls, endpoints per call, candidate streams, TCP connections and
/// recently ended endpoints are all bounded, the excess counted in
/// `Diagnostics`, and a finished call's state is released as soon as it is
/// committed.
public final class CaptureProcessor {
    /// A call's claim on a media endpoint: the call's `side` receives there.
    struct Claim {
        var call: Int
        var side: CallSide
        /// False for a stream of the call that is not recorded (video, fax): its packets are counted and dropped.
        var audio = true
        /// When the claim was made or last confirmed by signalling.
        var at: MediaTime
    }

    /// Calls that may claim one endpoint at once (a later claim pushes out the oldest).
    static let maxClaimsPerEndpoint = 4
    /// Seconds during which RTP to or from an ended call's media is dropped
    /// (the packets in flight after a BYE), not taken for a new call.
    static let endedMediaQuarantine = 2.0
    /// Ended endpoints remembered at most.
    static let maxQuarantined = 4096
    /// Flows that look like RTP followed at most before they confirm a stream.
    static let maxCandidates = 1024
    /// A candidate flow silent this long is forgotten, in seconds.
    static let candidateTimeout = 5.0
    /// A call without signalling that a SIP dialog claims within this many
    /// seconds of its start is dropped: its packets arrived before the SDP
    /// that explains them. An older one is committed and the dialog goes on.
    static let supersedeGrace = 2.0
    /// A call without signalling that has been silent this long (both legs)
    /// and then hears a new SSRC has ended: the ports carry the next call.
    static let unsignalledRestartGap = 5.0

    public let options: ConvertOptions
    public let diagnostics: Diagnostics

    private let slicer: PacketSlicer
    private var tracker: CallTracker
    private var reassembler: TCPReassembler
    private var calls: [Int: RoutedCall] = [:]
    private var keysByCallID: [String: Int] = [:]
    private var nextKey = 1
    private var claims: [Endpoint: [Claim]] = [:]
    /// Endpoints of calls that just ended, and until when their RTP is dropped.
    private var quarantine: [Endpoint: MediaTime] = [:]
    private var candidates: [RTPStreamCandidate.Key: RTPStreamCandidate] = [:]
    /// The leg each SSRC in flight belongs to, to recognise a leg seen again at another hop.
    private var legsBySSRC: [UInt32: (call: Int, side: CallSide)] = [:]
    /// Where SRTP packets are decrypted: one datagram's worth, made once.
    private let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
    private var lastSweep: MediaTime? = nil
    /// The capture time of the latest packet.
    public private(set) var now: MediaTime? = nil
    /// Called with each finished recording, its files synced under temporary names, to commit it.
    private let onRecording: (FinishedRecording) throws -> Void
    /// Called with every call as it ends, recorded or not.
    private let onCallEnded: ((CallReport) throws -> Void)?
    /// Decides which calls are recorded, before any audio is decoded.
    private let policy: any RecordingPolicy
    /// Runs each call's own work: here and now (convert), or on worker threads (record).
    private let executor: any CallExecutor
    /// With worker threads: told of a call whose recording failed, instead of throwing.
    private let onCallFailed: ((CallReport, any Error) -> Void)?
    /// Told, once a second of capture time and at the end, of the calls
    /// turned away at the call cap since (their `dropped` ledger rows).
    private let onCallsDropped: (([LedgerEntry]) throws -> Void)?
    /// Dropped calls not yet handed to `onCallsDropped`, and their Call-IDs (a
    /// retransmitted INVITE is one call).
    private var pendingDropped: [LedgerEntry] = []
    private var pendingDroppedIDs: Set<String> = []
    /// Dropped calls entered per second of capture time at most: a flood of
    /// new Call-IDs costs the catalog one transaction a second of this many
    /// rows; the excess is counted (`callsDroppedUnledgered`).
    public static let maxDroppedPerSweep = 1024
    /// Calls ended so far (their `CallReport.sequence`).
    private var endedCalls = 0
    /// The number of the packet being processed (the capture's frame number).
    private var packetNumber = 0

    /// - Parameters:
    ///   - policy: the recording rules; a call they skip is never decoded.
    ///   - onCallEnded: called with every call when it ends, whether or not it was recorded.
    ///   - onRecording: called with each finished recording, to commit it (`RecordingCommitter`).
    public convenience init(
        options: ConvertOptions, diagnostics: Diagnostics, policy: any RecordingPolicy = RecordEverything(),
        onCallEnded: ((CallReport) throws -> Void)? = nil, onCallsDropped: (([LedgerEntry]) throws -> Void)? = nil,
        onRecording: @escaping (FinishedRecording) throws -> Void
    ) {
        self.init(
            options: options, diagnostics: diagnostics, policy: policy, executor: InlineExecutor(diagnostics: diagnostics),
            onCallEnded: onCallEnded, onCallFailed: nil, onCallsDropped: onCallsDropped, onRecording: onRecording)
    }

    /// - Parameters:
    ///   - executor: where each call's packets are decoded and its recording written.
    ///   - onCallFailed: when given, a call whose recording fails is reported here (on the
    ///     executor's thread) and the run goes on; when nil, the error is thrown.
    package init(
        options: ConvertOptions, diagnostics: Diagnostics, policy: any RecordingPolicy, executor: any CallExecutor,
        onCallEnded: ((CallReport) throws -> Void)?, onCallFailed: ((CallReport, any Error) -> Void)?,
        onCallsDropped: (([LedgerEntry]) throws -> Void)? = nil,
        onRecording: @escaping (FinishedRecording) throws -> Void
    ) {
        self.options = options
        self.diagnostics = diagnostics
        self.slicer = PacketSlicer(diagnostics: diagnostics)
        let local = LocalParties(numbers: options.localNumbers, prefixes: options.localPrefixes, domains: options.localDomains)
        self.tracker = CallTracker(maxCalls: options.maxCalls, localParties: local, diagnostics: diagnostics)
        self.reassembler = TCPReassembler(diagnostics: diagnostics)
        self.policy = policy
        self.executor = executor
        self.onRecording = onRecording
        self.onCallEnded = onCallEnded
        self.onCallFailed = onCallFailed
        self.onCallsDropped = onCallsDropped
    }

    deinit {
        plain.deallocate()
    }

    /// The number of calls in flight (routed, not yet ended).
    public var callsInFlight: Int { calls.count }
    /// The number of calls ended so far (handed to their executor to be finished).
    public var callsEnded: Int { endedCalls }
    /// The number of SIP dialogs the tracker follows.
    public var dialogsInFlight: Int { tracker.count }
    /// The number of flows held as possible RTP streams.
    public var candidateStreams: Int { candidates.count }
    /// The number of media endpoints claimed by calls in flight.
    public var claimedEndpoints: Int { claims.count }

    /// Takes one captured packet.
    public func process(_ packet: borrowing RawPacket) throws {
        diagnostics.count(.packetsRead)
        packetNumber = packet.number
        let time = packet.timestamp
        if now == nil || time > now! { now = time }
        try sweepIfDue(at: time)
        guard let datagram = slicer.slice(packet) else { return }
        switch datagram.transport {
        case .udp:
            let payload = datagram.payload
            if SIPMessage.looksLikeSIP(payload) {
                try sip(payload, from: datagram.source, to: datagram.destination, at: time)
                return
            }
            try rtp(payload, from: datagram.source, to: datagram.destination, at: time)
        case .tcp:
            // Follow a connection from a segment that starts like a SIP message.
            let follow = SIPMessage.looksLikeSIP(datagram.payload)
            let source = datagram.source
            let destination = datagram.destination
            try reassembler.process(datagram, at: time, follow: follow) { bytes in
                try frameSIP(bytes, from: source, to: destination, at: time)
            }
        }
    }

    // MARK: - Signalling

    /// Takes the next frame of a SIP byte stream; returns the bytes it used.
    private func frameSIP(_ bytes: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws -> Int {
        switch SIPFrame.next(in: bytes) {
        case .incomplete:
            return 0
        case .keepAlive(let count):
            return count
        case .skip(let count):
            diagnostics.count(.sipStreamBytesSkipped, by: count)
            return count
        case .message(let length):
            try sip(UnsafeRawBufferPointer(rebasing: bytes[0..<length]), from: source, to: destination, at: time)
            return length
        }
    }

    private func sip(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws {
        if tracker.isFull, let id = SIPFrame.callID(in: payload),
           tracker.refuses(callID: String(decoding: id, as: UTF8.self)) {
            // Only a new INVITE would have been a call, or a message that opens a dialog whose INVITE
            // is not in the capture (a 1xx/2xx, an ACK). One the ledger has room for goes on to
            // be parsed (the tracker refuses it, with its parties, for its `dropped` row).
            let invite = CaptureProcessor.mayOpenACall(payload)
            if !invite || !ledgersDrops {
                // A flood of new Call-IDs while full: turned away before the full parse.
                diagnostics.count(.sipMessages)
                diagnostics.count(invite ? .callsDroppedOverLimit : .sipNotForACall)
                if invite && onCallsDropped != nil { diagnostics.count(.callsDroppedUnledgered) }
                return
            }
        }
        guard let (message, _) = SIPMessage.parse(payload) else {
            diagnostics.count(.sipMalformed)
            return
        }
        diagnostics.count(.sipMessages)
        message.countHeaderRepairs(in: diagnostics)
        if let callID = message.callID, let key = keysByCallID[callID], let call = calls[key] { call.saw(at: time, packet: packetNumber) }
        var refused: [String] = []
        // Read before: the tracker is being modified while it reports.
        let dialogCap = tracker.maxCalls
        try tracker.process(message, from: source, to: destination, at: time) { event in
            switch event {
            case .updated(let call):
                if try !update(call, at: time) { refused.append(call.callID) }
            case .ended(let call):
                try end(callID: call.callID, description: call, reason: call.endReason ?? .bye, at: time)
            case .refused(let call):
                dropped(call, signalled: true, cause: "max-calls: \(dialogCap) SIP dialogs in flight", at: time)
            }
        }
        // Calls the router had no room for leave the tracker too.
        for callID in refused { _ = tracker.remove(callID: callID) }
    }

    /// Whether a SIP message's first bytes are those of a message that may
    /// open a call: `INVITE`, `ACK `, or a `SIP/2.0 1xx` or `2xx` response
    /// (the tracker decides on the whole message; a BYE alone opens none).
    static func mayOpenACall(_ payload: UnsafeRawBufferPointer) -> Bool {
        guard let first = payload.u32be(at: 0) else { return false }
        switch first {
        case 0x494E_5649, 0x4143_4B20:  // "INVI", "ACK "
            return true
        case 0x5349_502F:  // "SIP/": "SIP/2.0 " then the status code's first digit
            guard payload.count > 8, payload.u32be(at: 4) == 0x322E_3020 else { return false }
            return payload[8] == UInt8(ascii: "1") || payload[8] == UInt8(ascii: "2")
        default:
            return false
        }
    }

    /// Applies a new or changed call description: creates the call, or moves
    /// its media. Returns false when there is no room for a new call.
    private func update(_ description: CallDescription, at time: MediaTime) throws -> Bool {
        let call: RoutedCall
        if let key = keysByCallID[description.callID], let known = calls[key] {
            let before = known.description
            known.description = description
            let session = known.session
            try executor.perform(on: session) { session.description = description }
            call = known
            if before.callerMedia != description.callerMedia || before.calleeMedia != description.calleeMedia {
                // The media moved or changed direction: the next source of each leg is taken at once.
                call.resetSources()
            }
        } else {
            guard let started = startCall(description, signalled: true, at: time) else { return false }
            call = started
        }
        call.update(from: description)
        for side in CallSide.allCases {
            guard let media = description.media(of: side), media.media.isEnabled, !media.media.isUnspecifiedAddress else { continue }
            try claim(media.endpoint, for: call, side: side, at: time)
        }
        for endpoint in description.otherMedia where !call.endpoints.contains(where: { $0.endpoint == endpoint }) {
            // Video and the like: the call's own, so never mistaken for a call without signalling.
            try claim(endpoint, for: call, side: .caller, audio: false, at: time)
        }
        return true
    }

    /// The one place where a call comes into being: a signalled call at its
    /// first INVITE, a call without signalling at its first confirmed RTP
    /// stream. Returns nil (counted) when `maxCalls` calls are in flight.
    private func startCall(_ description: CallDescription, signalled: Bool, at time: MediaTime) -> RoutedCall? {
        guard calls.count < options.maxCalls else {
            diagnostics.count(.callsDroppedOverLimit)
            dropped(description, signalled: signalled, cause: "max-calls: \(options.maxCalls) calls in flight", at: time)
            return nil
        }
        let key = nextKey
        nextKey += 1
        let session = executor.makeSession(key: key, description: description, signalled: signalled, options: options)
        let call = RoutedCall(key: key, session: session, description: description, at: time, packet: packetNumber)
        calls[key] = call
        if signalled { keysByCallID[description.callID] = key }
        // The recording rules decide here, before any audio: a skipped call is claimed but never decoded.
        decide(call, description, at: time)
        return call
    }

    /// Applies the recording rules to a newly identified call; a skipped call
    /// keeps its claims (its packets are not unmatched) but is never decoded.
    private func decide(_ call: RoutedCall, _ description: CallDescription, at time: MediaTime) {
        let decision = policy.decide(
            CallFacts(
                callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
                direction: description.direction, start: time))
        call.decision = decision
        if !decision.records { diagnostics.count(.callsSkippedByRule) }
    }

    /// Whether a call turned away now would get its ledger row.
    private var ledgersDrops: Bool { onCallsDropped != nil && pendingDropped.count < CaptureProcessor.maxDroppedPerSweep }

    /// Notes a call turned away at the call cap for the ledger (`dropped`,
    /// with the cap as the cause): a call the rules would have skipped
    /// anyway is entered as skipped, without its parties.
    private func dropped(_ description: CallDescription, signalled: Bool, cause: String, at time: MediaTime) {
        guard onCallsDropped != nil, !pendingDroppedIDs.contains(description.callID) else { return }
        guard pendingDropped.count < CaptureProcessor.maxDroppedPerSweep else {
            diagnostics.count(.callsDroppedUnledgered)
            return
        }
        let decision = policy.decide(
            CallFacts(
                callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
                direction: description.direction, start: time))
        var entry = LedgerEntry(
            callID: description.callID, startEpoch: time.seconds, endEpoch: time.seconds, direction: description.direction.rawValue,
            caller: description.callerParty, callee: description.calleeParty, signalled: signalled,
            outcome: decision.records ? .dropped : .skippedByRule, retainUntilEpoch: decision.retention.until(from: time.seconds))
        entry.ruleID = decision.ruleID
        entry.required = decision.required
        if decision.records { entry.detail = cause }
        pendingDropped.append(entry)
        pendingDroppedIDs.insert(description.callID)
    }

    /// Hands the dropped calls noted since the last time to `onCallsDropped`.
    private func flushDropped() throws {
        guard let onCallsDropped, !pendingDropped.isEmpty else { return }
        let entries = pendingDropped
        pendingDropped.removeAll(keepingCapacity: true)
        pendingDroppedIDs.removeAll(keepingCapacity: true)
        try onCallsDropped(entries)
    }

    // MARK: - Endpoint claims

    /// Records that `call`'s `side` receives media at `endpoint`.
    private func claim(_ endpoint: Endpoint, for call: RoutedCall, side: CallSide, audio: Bool = true, at time: MediaTime) throws {
        quarantine.removeValue(forKey: endpoint)
        if call.session.signalled {
            // Signalling now explains media that was taken for a call without signalling.
            for other in claims[endpoint] ?? [] where other.call != call.key {
                if let found = calls[other.call], !found.session.signalled { try supersede(found, at: time) }
            }
        }
        var list = claims[endpoint] ?? []
        if let k = list.firstIndex(where: { $0.call == call.key }) {
            list[k].side = side
            list[k].audio = audio
            list[k].at = time
        } else {
            list.append(Claim(call: call.key, side: side, audio: audio, at: time))
            if list.count > CaptureProcessor.maxClaimsPerEndpoint { list.removeFirst() }
        }
        claims[endpoint] = list
        if let forgotten = call.claim(endpoint, side: side) { release(forgotten, of: call.key) }
    }

    private func release(_ endpoint: Endpoint, of key: Int) {
        guard var list = claims[endpoint] else { return }
        list.removeAll { $0.call == key }
        claims[endpoint] = list.isEmpty ? nil : list
    }

    /// A call without signalling whose endpoint a SIP dialog claims: dropped
    /// when it is younger than `supersedeGrace`, else committed as it is.
    private func supersede(_ call: RoutedCall, at time: MediaTime) throws {
        if time.seconds(since: call.createdAt) < CaptureProcessor.supersedeGrace {
            forget(call)
            try executor.discard(call.session)
        } else {
            try end(key: call.key, reason: .superseded, at: time)
        }
    }

    /// The call an RTP packet from `source` to `destination` belongs to, and the side that sent it.
    private func route(from source: Endpoint, to destination: Endpoint) -> (call: RoutedCall, sender: CallSide, audio: Bool)? {
        var best: (claim: Claim, sender: CallSide, score: Int, at: MediaTime)? = nil
        func consider(_ claim: Claim, _ sender: CallSide, _ score: Int, _ at: MediaTime) {
            if let b = best, b.score > score || (b.score == score && b.at >= at) { return }
            best = (claim, sender, score, at)
        }
        let sourceClaims = claims[source]
        if let list = claims[destination] {
            for c in list {
                // The destination's party received it; the other party sent it.
                if let s = sourceClaims?.first(where: { $0.call == c.call && $0.side == c.side.opposite }) {
                    consider(c, c.side.opposite, 3, max(c.at, s.at))
                } else {
                    consider(c, c.side.opposite, 2, c.at)
                }
            }
        }
        if best == nil, let list = sourceClaims {
            // Symmetric RTP: a party sends from the port it receives on.
            for c in list { consider(c, c.side, 1, c.at) }
        }
        guard let b = best, let call = calls[b.claim.call] else { return nil }
        return (call, b.sender, b.claim.audio)
    }

    // MARK: - Media

    private func rtp(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws {
        if let report = RTCPSenderReport(payload) { try senderReport(report, at: time) }
        // Parsed here, once; every step below reads this value.
        let header = RTPHeader(payload)
        if let (call, sender, audio) = route(from: source, to: destination) {
            guard audio else {
                call.saw(at: time, packet: packetNumber)
                diagnostics.count(.mediaNotRecorded)
                if call.noteSkippedStream(from: source) {
                    diagnostics.note(
                        "call \(RecordingNaming.safeForDisplay(call.description.callID)): the stream from \(source) to \(destination) "
                            + "is not the call's audio (video, a second audio stream): not recorded")
                }
                return
            }
            if !call.session.signalled, let header, startsAnotherCall(header, on: call, from: sender, at: time) {
                // Nothing tells when a call without signalling ends but silence and a new source.
                try end(key: call.key, reason: .timeout, at: call.lastActivity)
                quarantine.removeValue(forKey: source)
                quarantine.removeValue(forKey: destination)
                try follow(payload, header: header, from: source, to: destination, at: time)
                return
            }
            try deliver(payload, header: header, to: call, from: sender, source: source, destination: destination, at: time)
            return
        }
        if let until = quarantine[destination] ?? quarantine[source], time < until {
            diagnostics.count(.rtpAfterCallEnd)
            return
        }
        try follow(payload, header: header, from: source, to: destination, at: time)
    }

    /// Hands an RTCP sender report to the leg whose SSRC it describes (its
    /// NTP/RTP pairs tell the leg how the sender's clock runs); the packet is
    /// then counted as before.
    private func senderReport(_ report: RTCPSenderReport, at time: MediaTime) throws {
        guard let known = legsBySSRC[report.ssrc], let call = calls[known.call], call.decision.records else { return }
        let session = call.session
        try executor.perform(on: session) { session.senderReport(report, from: known.side) }
    }

    /// Whether a packet for a call without signalling is the start of the
    /// next call on the same ports: a new SSRC after `unsignalledRestartGap`
    /// seconds in which neither leg sent anything.
    private func startsAnotherCall(_ header: RTPHeader, on call: RoutedCall, from sender: CallSide, at time: MediaTime) -> Bool {
        guard time.seconds(since: call.lastActivity) >= CaptureProcessor.unsignalledRestartGap else { return false }
        return !call.legs[sender.rawValue].ssrcs.contains(header.ssrc)
    }

    /// Hands one RTP packet of `sender`'s leg to its call; `header` is the
    /// packet's, nil when it is not RTP.
    private func deliver(
        _ payload: UnsafeRawBufferPointer, header: RTPHeader?, to call: RoutedCall, from sender: CallSide, source: Endpoint,
        destination: Endpoint, at time: MediaTime
    ) throws {
        guard let header else {
            if CiphertextDetector.isZRTP(payload) {
                // A key exchange on the media path: SRTP the SDP does not show may follow.
                call.zrtpPackets += 1
                call.lastActivity = time
                diagnostics.count(.zrtpPackets)
                return
            }
            diagnostics.count(.rtpMalformed)
            return
        }
        let wire = UnsafeRawBufferPointer(rebasing: payload[header.payloadOffset..<(header.payloadOffset + header.payloadLength)])
        let diagnostics = self.diagnostics
        let admission = call.admit(source, header, payload: wire, for: sender, at: time) { text in
            diagnostics.note("call \(RecordingNaming.safeForDisplay(call.description.callID)), \(sender.name)'s leg: \(text)")
        }
        call.saw(at: time, packet: packetNumber)
        switch admission {
        case .relayCopy:
            diagnostics.count(.rtpSecondPath)
            return
        case .dropped:
            diagnostics.count(.rtpStreamsDropped)
            return
        case .own:
            if call.legs[sender.rawValue].record(header) { legsBySSRC[header.ssrc] = (call.key, sender) }
        case .extra:
            if call.legs[sender.rawValue].recordExtra(header) { legsBySSRC[header.ssrc] = (call.key, sender) }
            diagnostics.count(.rtpExtraStream)
        }
        let stream = admission == .extra ? 1 : 0
        let path = call.legs[sender.rawValue].path(from: source, to: destination)
        diagnostics.count(.rtpPackets)
        if call.encrypted {
            // SRTP with the sender's SDES key: decrypted only if it authenticates, else counted and skipped.
            if let length = call.decryption[sender.rawValue]?.decrypt(payload, into: plain),
               let clear = RTPHeader(UnsafeRawBufferPointer(rebasing: plain[0..<length])) {
                diagnostics.count(.rtpDecrypted)
                // A call the rules skipped is counted but never queued to its worker.
                guard call.decision.records else { return }
                let body = UnsafeRawBufferPointer(rebasing: plain[clear.payloadOffset..<(clear.payloadOffset + clear.payloadLength)])
                try executor.receive(call.session, clear, payload: body, from: sender, stream: stream, path: path, at: time)
                return
            }
            let clockRate = call.description.media(of: sender.opposite)?.media.format(for: header.payloadType)?.clockRate ?? 8000
            call.legs[sender.rawValue].recordEncrypted(header, path: path, at: time, clockRate: clockRate)
            diagnostics.count(.rtpEncrypted)
            return
        }
        let ciphertext = call.dropsCiphertext(header, payload: wire, from: sender, stream: stream, path: path, at: time) { text in
            diagnostics.note("call \(RecordingNaming.safeForDisplay(call.description.callID)), \(sender.name)'s leg: \(text)")
        }
        if ciphertext {
            diagnostics.count(.rtpCiphertext)
            return
        }
        guard call.decision.records else { return }
        try executor.receive(call.session, header, payload: wire, from: sender, stream: stream, path: path, at: time)
    }

    /// Follows a flow no call claims, until it confirms an RTP stream (a call
    /// without signalling) or shows it is not one.
    private func follow(
        _ payload: UnsafeRawBufferPointer, header: RTPHeader?, from source: Endpoint, to destination: Endpoint, at time: MediaTime
    ) throws {
        guard let header else {
            diagnostics.count(.rtpUnmatched)
            return
        }
        let key = RTPStreamCandidate.Key(source: source, destination: destination)
        // Out of the table while it changes, so its held packets are not copied.
        if var candidate = candidates.removeValue(forKey: key) {
            if candidate.extend(header, bytes: payload, at: time) {
                if candidate.isConfirmed {
                    try confirm(candidate, key, at: time)
                } else {
                    candidates[key] = candidate
                }
                return
            }
            // The run broke: what it held was not a stream.
            diagnostics.count(.rtpUnmatched, by: candidate.held.count)
        }
        guard candidates.count < CaptureProcessor.maxCandidates else {
            diagnostics.count(.rtpStreamsOverLimit)
            diagnostics.count(.rtpUnmatched)
            return
        }
        if let candidate = RTPStreamCandidate(header, bytes: payload, at: time, packet: packetNumber) {
            candidates[key] = candidate
        } else {
            diagnostics.count(.rtpUnmatched)
        }
    }

    /// Makes a confirmed stream part of a call.
    ///
    /// - A stream whose SSRC is a leg of a call in flight, at a nearby
    ///   sequence number, is that leg seen at another hop (a gateway or relay
    ///   that keeps the SSRC): its endpoints join that call, where it counts
    ///   as a second path.
    /// - Otherwise it starts a call without signalling, together with the
    ///   stream that mirrors it (source and destination swapped) if that one
    ///   is still a candidate. Channel 0 ("caller") is the stream whose first
    ///   packet was captured first; the mirror, now or later, is channel 1.
    private func confirm(_ candidate: RTPStreamCandidate, _ key: RTPStreamCandidate.Key, at time: MediaTime) throws {
        if let known = legsBySSRC[candidate.ssrc], let call = calls[known.call],
           let sequence = call.legs[known.side.rawValue].sequence(of: candidate.ssrc),
           let last = candidate.held.last?.bytes, last.count >= 4 {
            // Within 500 packets either way, modulo 2^16.
            let distance = Int16(bitPattern: (UInt16(last[2]) << 8 | UInt16(last[3])) &- sequence)
            if abs(Int(distance)) < 500 {
                try claim(key.source, for: call, side: known.side, at: time)
                try claim(key.destination, for: call, side: known.side.opposite, at: time)
                try replay([(candidate, key, known.side)], to: call)
                return
            }
        }
        let mirrorKey = RTPStreamCandidate.Key(source: key.destination, destination: key.source)
        let mirror = candidates.removeValue(forKey: mirrorKey)
        let mirrorFirst = mirror.map { $0.held[0].time < candidate.held[0].time } ?? false
        let (first, firstKey) = mirrorFirst ? (mirror!, mirrorKey) : (candidate, key)
        let start = first.held[0].time
        let name = "rtp:\(firstKey.source)-\(firstKey.destination)/\(RTPHeader.format(ssrc: first.ssrc))"
        let description = CallDescription(callID: name, invitedAt: start, callerSignalling: firstKey.source)
        guard let call = startCall(description, signalled: false, at: start) else {
            diagnostics.count(.rtpUnmatched, by: candidate.held.count + (mirror?.held.count ?? 0))
            return
        }
        call.encrypted = candidate.looksEncrypted || mirror?.looksEncrypted == true
        call.firstPacket = min(candidate.firstPacket, mirror?.firstPacket ?? candidate.firstPacket)
        try claim(firstKey.source, for: call, side: .caller, at: time)
        try claim(firstKey.destination, for: call, side: .callee, at: time)
        var streams = [(candidate, key, mirrorFirst ? CallSide.callee : .caller)]
        if let mirror { streams.append((mirror, mirrorKey, mirrorFirst ? .caller : .callee)) }
        try replay(streams, to: call)
    }

    /// Delivers the packets candidates held, in capture order.
    private func replay(_ streams: [(RTPStreamCandidate, RTPStreamCandidate.Key, CallSide)], to call: RoutedCall) throws {
        var packets: [(time: MediaTime, bytes: [UInt8], header: RTPHeader, sender: CallSide, key: RTPStreamCandidate.Key)] = []
        for (candidate, key, sender) in streams {
            for held in candidate.held { packets.append((held.time, held.bytes, held.header, sender, key)) }
        }
        for packet in packets.sorted(by: { $0.time < $1.time }) {
            try packet.bytes.withUnsafeBytes { bytes in
                try deliver(
                    bytes, header: packet.header, to: call, from: packet.sender, source: packet.key.source,
                    destination: packet.key.destination, at: packet.time)
            }
        }
    }

    // MARK: - Call end

    private func end(callID: String, description: CallDescription, reason: CallEndReason, at time: MediaTime) throws {
        guard let key = keysByCallID[callID], let call = calls[key] else { return }
        call.description = description
        try end(key: key, reason: reason, at: time)
    }

    /// Ends a call: releases its endpoints (quarantined for a moment), and
    /// has its executor finish it: commit its recording (or, for SRTP, its
    /// index alone) and report it.
    private func end(key: Int, reason: CallEndReason, at time: MediaTime) throws {
        guard let call = calls[key] else { return }
        forget(call)
        if !call.session.signalled { diagnostics.count(.callsWithoutSignalling) }
        let until = time.advanced(byNanoseconds: Int64(CaptureProcessor.endedMediaQuarantine * 1e9))
        for (endpoint, _) in call.endpoints where claims[endpoint] == nil && quarantine.count < CaptureProcessor.maxQuarantined {
            quarantine[endpoint] = until
        }
        endedCalls += 1
        // What the router knows is read here; the call is the executor's from now on.
        var report = self.report(call, reason: reason)
        report.sequence = endedCalls
        report.startEpoch = call.createdAt.seconds
        report.endEpoch = call.lastActivity.seconds
        report.answered = !call.session.signalled || call.answered
        let (description, options, onRecording, onCallEnded, onCallFailed) = (call.description, options, onRecording, onCallEnded, onCallFailed)
        let sources = call.legFacts
        let session = call.session
        try executor.complete(
            session,
            {
                // The heavy part, on the call's worker: the last audio encoded, every file synced.
                session.description = description
                session.legSources = sources
                if let failure = session.failure { throw failure }
                return try session.finish(reason: reason)
            },
            then: { finished in
                // What the end makes visible (the commit, the ledger row), in the executor's order.
                var report = report
                do {
                    (report.outcome, report.recording) = try CaptureProcessor.complete(
                        call, try finished.get(), reason: reason, options: options, onRecording: onRecording)
                } catch {
                    guard let onCallFailed else { throw error }
                    session.discard()
                    onCallFailed(report, error)
                    return
                }
                try onCallEnded?(report)
            })
    }

    /// Commits `call`'s finished recording, or writes the index of an SRTP
    /// call; counts a call without media. Runs as the effect of the call's end.
    private static func complete(
        _ call: RoutedCall, _ finished: FinishedRecording?, reason: CallEndReason, options: ConvertOptions,
        onRecording: (FinishedRecording) throws -> Void
    ) throws -> (CallReport.Outcome, RecordingSummary?) {
        let session = call.session
        let diagnostics = session.diagnostics
        if var finished {
            finished.summary.ruleID = call.decision.ruleID
            finished.summary.required = call.decision.required
            finished.summary.callStartEpoch = call.createdAt.seconds
            finished.summary.retainUntilEpoch = call.decision.retention.until(from: finished.summary.start.seconds)
            finished.summary.onDemand = call.decision.onDemand
            finished.summary.capturePackets = call.firstPacket...max(call.firstPacket, call.lastPacket)
            try onRecording(finished)
            return (.recorded, finished.summary)
        }
        if !call.decision.records { return (.notRecorded, nil) }
        if call.encrypted || call.carriedCiphertext, let path = try call.writeEncryptedIndex(reason: reason, options: options) {
            diagnostics.count(.callsEncrypted)
            diagnostics.note(
                "call \(RecordingNaming.safeForDisplay(call.description.callID)): "
                    + (call.encrypted ? "SRTP media is not decrypted" : "the media is encrypted (\(call.encryptionKeying ?? "unknown") keying)")
                    + "; not recorded, indexed in \(path)")
            return (.encrypted(indexPath: path), nil)
        }
        diagnostics.count(.callsWithoutMedia)
        if session.signalled && !call.answered { diagnostics.count(.callsNotAnswered) }
        return (.notRecorded, nil)
    }

    /// What the router knows of `call` as it ends (the outcome is filled in once it is finished).
    private func report(_ call: RoutedCall, reason: CallEndReason) -> CallReport {
        let description = call.description
        var report = CallReport(
            callID: description.callID, caller: description.callerParty, callee: description.calleeParty,
            direction: description.direction.rawValue, signalled: call.session.signalled, endReason: reason.name,
            finalStatus: reason.finalStatus,
            legs: CallSide.allCases.map { side in
                let leg = call.legs[side.rawValue]
                let types = Array(leg.payloadTypes)
                // Named by the receiver's SDP (it says what it accepts), else the sender's, else RFC 3551.
                let encodings = types.compactMap { pt in
                    (description.media(of: side.opposite)?.media.format(for: pt) ?? description.media(of: side)?.media.format(for: pt)
                        ?? RTPMap.staticPayloadType(pt))?.encoding
                }
                return CallReport.Leg(
                    packets: leg.packets, encryptedPackets: leg.encryptedPackets, ssrcs: leg.ssrcs, payloadTypes: types,
                    encodings: encodings)
            },
            outcome: .notRecorded, recording: nil)
        report.decision = call.decision
        report.openedBy = description.openedBy
        return report
    }

    /// Removes every trace of `call` from the router: the call, its Call-ID,
    /// its endpoint claims and its SSRCs.
    private func forget(_ call: RoutedCall) {
        calls.removeValue(forKey: call.key)
        if call.session.signalled { keysByCallID.removeValue(forKey: call.description.callID) }
        for leg in call.legs {
            for ssrc in leg.ssrcs where legsBySSRC[ssrc]?.call == call.key { legsBySSRC.removeValue(forKey: ssrc) }
        }
        for (endpoint, _) in call.endpoints { release(endpoint, of: call.key) }
    }

    /// Once a second of capture time: ends calls idle past their timeout,
    /// forgets stalled candidate flows and expired quarantine, skips TCP holes.
    private func sweepIfDue(at time: MediaTime) throws {
        if let last = lastSweep, time.seconds(since: last) < 1 { return }
        lastSweep = time
        try flushDropped()
        var idle: [RoutedCall] = []
        for call in calls.values where time.seconds(since: call.lastActivity) > timeout(of: call) { idle.append(call) }
        for call in idle.sorted(by: { $0.lastActivity < $1.lastActivity }) {
            if call.session.signalled { _ = tracker.remove(callID: call.description.callID) }
            try end(key: call.key, reason: .timeout, at: time)
        }
        if !candidates.isEmpty {
            let stalled = candidates.filter { time.seconds(since: $0.value.lastArrival) > CaptureProcessor.candidateTimeout }
            for (key, candidate) in stalled {
                candidates.removeValue(forKey: key)
                diagnostics.count(.rtpUnmatched, by: candidate.held.count)
            }
        }
        if !quarantine.isEmpty { quarantine = quarantine.filter { $0.value > time } }
        try reassembler.sweep(at: time) { key, bytes in
            try frameSIP(bytes, from: key.source, to: key.destination, at: time)
        }
    }

    /// How long `call` may go without a packet: calls that are not expected
    /// to send RTP (ringing without early media, on hold) wait longer.
    private func timeout(of call: RoutedCall) -> Double {
        if call.onHold { return max(options.idleTimeout, options.holdTimeout) }
        if call.session.signalled && !call.answered && call.legs[0].packets == 0 && call.legs[1].packets == 0 {
            return max(options.idleTimeout, options.ringTimeout)
        }
        return options.idleTimeout
    }

    /// Moves capture time on to `time` without a packet, and ends the calls
    /// idle past their timeout by then: the live recorder's clock when the
    /// input is silent (see `Recorder`). Earlier times are ignored.
    public func advanceClock(to time: MediaTime) throws {
        guard let current = now, time > current else { return }
        now = time
        try sweepIfDue(at: time)
    }

    /// Ends every call still in flight as cut (the capture ended) and commits it.
    public func finish() throws {
        slicer.reassembler.finish()
        let time = now ?? MediaTime(nanoseconds: 0)
        try tracker.finishAll(at: time) { event in
            if case .ended(let call) = event {
                try end(callID: call.callID, description: call, reason: .cut, at: time)
            }
        }
        for call in calls.values.sorted(by: { $0.createdAt < $1.createdAt }) {
            try end(key: call.key, reason: .cut, at: time)
        }
        for candidate in candidates.values { diagnostics.count(.rtpUnmatched, by: candidate.held.count) }
        candidates.removeAll()
        try flushDropped()
    }

    /// Drops every call in flight without committing (after a fatal error).
    public func discardAll() {
        for call in calls.values {
            try? executor.discard(call.session)
        }
        calls.removeAll()
        keysByCallID.removeAll()
        claims.removeAll()
        candidates.removeAll()
        legsBySSRC.removeAll()
    }
}
