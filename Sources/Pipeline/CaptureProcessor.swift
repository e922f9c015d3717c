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
    public let options: ConvertOptions
    public let diagnostics: Diagnostics

    // The router's state, all of it owned by the thread that calls `process`.
    // By what it does: this file takes packets and signalling and routes
    // media; `EndpointClaims` holds who receives where; UnsignalledStreams.swift
    // finds streams no signalling explains and makes calls of them; CallEnd.swift
    // finishes a call, handing its executor values only (`CallCompletion`).
    let slicer: PacketSlicer
    var tracker: CallTracker
    var reassembler: TCPReassembler
    /// The calls in flight by key, and the keys of the signalled ones by Call-ID.
    var calls: [Int: RoutedCall] = [:]
    var keysByCallID: [String: Int] = [:]
    private var nextKey = 1
    /// Which call receives media where (and the endpoints of calls just ended).
    var claims = EndpointClaims()
    /// Flows no call claims, followed until they prove to be RTP streams.
    var streams: UnsignalledStreams
    /// The leg each SSRC in flight belongs to, to recognise a leg seen again at another hop.
    var legsBySSRC: [UInt32: (call: Int, side: CallSide)] = [:]
    /// Where SRTP packets are decrypted: one datagram's worth, made once.
    private let plain = UnsafeMutableRawBufferPointer.allocate(byteCount: 65_536, alignment: 8)
    var lastSweep: MediaTime? = nil
    /// The capture time of the latest packet.
    public internal(set) var now: MediaTime? = nil
    /// Called with each finished recording, its files synced under temporary names, to commit it.
    let onRecording: (FinishedRecording) throws -> Void
    /// Called with every call as it ends, recorded or not.
    let onCallEnded: ((CallReport) throws -> Void)?
    /// Decides which calls are recorded, before any audio is decoded.
    private let policy: any RecordingPolicy
    /// Runs each call's own work: here and now (convert), or on worker threads (record).
    let executor: any CallExecutor
    /// With worker threads: told of a call whose recording failed, instead of throwing.
    let onCallFailed: ((CallReport, any Error) -> Void)?
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
    var endedCalls = 0
    /// The number of the packet being processed (the capture's frame number).
    var packetNumber = 0

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
        self.streams = UnsignalledStreams(diagnostics: diagnostics)
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
    public var candidateStreams: Int { streams.count }
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
    func frameSIP(_ bytes: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws -> Int {
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
    func startCall(_ description: CallDescription, signalled: Bool, at time: MediaTime) -> RoutedCall? {
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
    func flushDropped() throws {
        guard let onCallsDropped, !pendingDropped.isEmpty else { return }
        let entries = pendingDropped
        pendingDropped.removeAll(keepingCapacity: true)
        pendingDroppedIDs.removeAll(keepingCapacity: true)
        try onCallsDropped(entries)
    }

    // MARK: - Endpoint claims

    /// Records that `call`'s `side` receives media at `endpoint`.
    func claim(_ endpoint: Endpoint, for call: RoutedCall, side: CallSide, audio: Bool = true, at time: MediaTime) throws {
        claims.lift(endpoint)
        if call.session.signalled {
            // Signalling now explains media that was taken for a call without signalling.
            for other in claims.claimants(of: endpoint) where other.call != call.key {
                if let found = calls[other.call], !found.session.signalled { try supersede(found, at: time) }
            }
        }
        claims.claim(endpoint, for: call.key, side: side, audio: audio, at: time)
        if let forgotten = call.claim(endpoint, side: side) { claims.release(forgotten, of: call.key) }
    }

    // MARK: - Media

    private func rtp(_ payload: UnsafeRawBufferPointer, from source: Endpoint, to destination: Endpoint, at time: MediaTime) throws {
        if let report = RTCPSenderReport(payload) { try senderReport(report, at: time) }
        // Parsed here, once; every step below reads this value.
        let header = RTPHeader(payload)
        if let (key, sender, audio) = claims.route(from: source, to: destination), let call = calls[key] {
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
                claims.lift(source)
                claims.lift(destination)
                try follow(payload, header: header, from: source, to: destination, at: time)
                return
            }
            try deliver(payload, header: header, to: call, from: sender, source: source, destination: destination, at: time)
            return
        }
        if claims.isQuarantined(from: source, to: destination, at: time) {
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

    /// Hands one RTP packet of `sender`'s leg to its call; `header` is the
    /// packet's, nil when it is not RTP.
    func deliver(
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
}
