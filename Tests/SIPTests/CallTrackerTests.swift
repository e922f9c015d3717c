import CallrecCore
import SIP
import Testing

@Suite struct CallTrackerTests {
    let caller = Endpoint(address: IPAddress("10.0.0.1")!, port: 5060)
    let callee = Endpoint(address: IPAddress("10.0.0.2")!, port: 5060)

    func message(_ text: String) -> SIPMessage {
        Array(text.utf8).withUnsafeBytes { SIPMessage.parse($0)!.message }
    }

    func sdp(_ ip: String, _ port: Int, _ attribute: String = "") -> String {
        let body = "v=0\r\nc=IN IP4 \(ip)\r\nm=audio \(port) RTP/AVP 8\r\n" + attribute
        return "Content-Type: application/sdp\r\nContent-Length: \(body.utf8.count)\r\n\r\n\(body)"
    }

    func request(_ method: String, cseq: Int, fromTag: String = "ft", toTag: String? = "tt", body: String? = nil) -> SIPMessage {
        let to = toTag.map { ";tag=\($0)" } ?? ""
        return message("\(method) sip:200@pbx SIP/2.0\r\nFrom: <sip:100@pbx>;tag=\(fromTag)\r\nTo: <sip:200@pbx>\(to)\r\n"
            + "Call-ID: call-1\r\nCSeq: \(cseq) \(method)\r\n" + (body ?? "Content-Length: 0\r\n\r\n"))
    }

    func response(_ code: Int, method: String = "INVITE", cseq: Int = 1, fromTag: String = "ft", body: String? = nil) -> SIPMessage {
        message("SIP/2.0 \(code) Whatever\r\nFrom: <sip:100@pbx>;tag=\(fromTag)\r\nTo: <sip:200@pbx>;tag=tt\r\n"
            + "Call-ID: call-1\r\nCSeq: \(cseq) \(method)\r\n" + (body ?? "Content-Length: 0\r\n\r\n"))
    }

    @Test func offerAnswerAndBye() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        var events: [CallTracker.Event] = []
        let t = MediaTime(nanoseconds: 0)
        tracker.process(request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), from: caller, to: callee, at: t) { events.append($0) }
        tracker.process(response(200, body: sdp("10.0.0.2", 6000)), from: callee, to: caller, at: t) { events.append($0) }
        tracker.process(request("BYE", cseq: 2, fromTag: "tt", toTag: "ft"), from: callee, to: caller, at: t) { events.append($0) }
        #expect(events.count == 3)
        guard case .ended(let call) = events.last! else { Issue.record("no end"); return }
        #expect(call.callerParty == "100")
        #expect(call.calleeParty == "200")
        #expect(call.callerMedia?.endpoint == Endpoint(address: IPAddress("10.0.0.1")!, port: 4000))
        #expect(call.calleeMedia?.endpoint == Endpoint(address: IPAddress("10.0.0.2")!, port: 6000))
        #expect(call.endReason == .bye)
        #expect(tracker.count == 0)
    }

    @Test func reInviteFromCalleeMovesTheCalleeMedia() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        var last: CallDescription?
        let t = MediaTime(nanoseconds: 0)
        let record: (CallTracker.Event) -> Void = { if case .updated(let c) = $0 { last = c } }
        tracker.process(request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), from: caller, to: callee, at: t, emit: record)
        tracker.process(response(200, body: sdp("10.0.0.2", 6000)), from: callee, to: caller, at: t, emit: record)
        // The callee re-INVITEs from its own tag with a new address.
        tracker.process(request("INVITE", cseq: 7, fromTag: "tt", toTag: "ft", body: sdp("10.0.0.9", 7000)), from: callee, to: caller, at: t, emit: record)
        #expect(last?.calleeMedia?.endpoint.port == 7000)
        #expect(last?.callerMedia?.endpoint.port == 4000)
    }

    @Test func rejectedCallEnds() {
        var tracker = CallTracker(diagnostics: Diagnostics())
        var reason: CallEndReason?
        let t = MediaTime(nanoseconds: 0)
        tracker.process(request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), from: caller, to: callee, at: t) { _ in }
        tracker.process(response(486), from: callee, to: caller, at: t) { if case .ended(let c) = $0 { reason = c.endReason } }
        #expect(reason == .rejected(code: 486))
    }

    @Test func callLimitIsEnforcedAndCounted() {
        let diagnostics = Diagnostics()
        var tracker = CallTracker(maxCalls: 2, diagnostics: diagnostics)
        for k in 0..<5 {
            let m = message("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: c\(k)\r\nCSeq: 1 INVITE\r\n\r\n")
            tracker.process(m, from: caller, to: callee, at: MediaTime(nanoseconds: 0)) { _ in }
        }
        #expect(tracker.count == 2)
        #expect(diagnostics[.callsDroppedOverLimit] == 3)
    }

    /// Feeds `steps` (message, sent by the caller?) and returns every event.
    func run(_ steps: [(SIPMessage, Bool)], tracker: inout CallTracker) -> [CallTracker.Event] {
        var events: [CallTracker.Event] = []
        for (k, (message, byCaller)) in steps.enumerated() {
            let t = MediaTime(nanoseconds: Int64(k) * 1_000_000)
            tracker.process(message, from: byCaller ? caller : callee, to: byCaller ? callee : caller, at: t) { events.append($0) }
        }
        return events
    }

    func last(_ events: [CallTracker.Event]) -> CallDescription? {
        switch events.last {
        case .updated(let c), .ended(let c), .refused(let c): c
        case nil: nil
        }
    }

    @Test func lateOfferTakesTheCallerMediaFromTheACK() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let events = run([
            (request("INVITE", cseq: 1, toTag: nil), true),
            (response(200, body: sdp("10.0.0.2", 6000)), false),
            (request("ACK", cseq: 1, body: sdp("10.0.0.1", 4000)), true),
        ], tracker: &tracker)
        let call = try #require(last(events))
        #expect(call.calleeMedia?.endpoint.port == 6000)
        #expect(call.callerMedia?.endpoint.port == 4000)
        #expect(call.answeredAt != nil)
    }

    @Test func earlyMediaPrackAndUpdateSetEachSide() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(183, body: sdp("10.0.0.2", 6000)), false),
            (request("PRACK", cseq: 2), true),
            (request("UPDATE", cseq: 3, body: sdp("10.0.0.1", 4002)), true),
            (response(200, method: "UPDATE", cseq: 3, body: sdp("10.0.0.2", 6002)), false),
        ], tracker: &tracker)
        let call = try #require(last(events))
        #expect(call.callerMedia?.endpoint.port == 4002)
        #expect(call.calleeMedia?.endpoint.port == 6002)
        #expect(call.answeredAt == nil)
        #expect(tracker.count == 1)
    }

    @Test func aChallengeDoesNotEndTheCall() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(407), false),
            (request("ACK", cseq: 1), true),
            (request("INVITE", cseq: 2, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(200, cseq: 2, body: sdp("10.0.0.2", 6000)), false),
        ], tracker: &tracker)
        #expect(!events.contains { if case .ended = $0 { true } else { false } })
        #expect(last(events)?.answeredAt != nil)
    }

    @Test func cancelEndsOnlyAnUnansweredCall() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        var events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (request("CANCEL", cseq: 1, toTag: nil), true),
        ], tracker: &tracker)
        #expect(last(events)?.endReason == .cancel)
        tracker = CallTracker(diagnostics: Diagnostics())
        events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(200, body: sdp("10.0.0.2", 6000)), false),
            (request("CANCEL", cseq: 1, toTag: nil), true),
        ], tracker: &tracker)
        #expect(tracker.count == 1)
    }

    @Test func holdAndResumeAreMediaChanges() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(200, body: sdp("10.0.0.2", 6000)), false),
            (request("INVITE", cseq: 2, body: sdp("10.0.0.1", 4000, "a=sendonly\r\n")), true),
            (response(200, cseq: 2, body: sdp("10.0.0.2", 6000, "a=recvonly\r\n")), false),
        ], tracker: &tracker)
        let held = try #require(last(events))
        #expect(held.callerMedia?.media.isHold == true)
        #expect(held.calleeMedia?.media.direction == .recvonly)
        let resumed = run([(request("INVITE", cseq: 3, body: sdp("10.0.0.1", 4000)), true)], tracker: &tracker)
        #expect(last(resumed)?.callerMedia?.media.isHold == false)
    }

    @Test func aRequestInsideAnUnknownDialogStartsACallMarkedMidDialog() throws {
        var tracker = CallTracker(localParties: LocalParties(numbers: ["200"]), diagnostics: Diagnostics())
        let events = run([(request("INVITE", cseq: 9, body: sdp("10.0.0.1", 4000)), true)], tracker: &tracker)
        let call = try #require(last(events))
        #expect(call.joinedMidDialog)
        #expect(call.direction == .inbound)
    }

    /// The INVITE is not in the capture (its second fragment lost): the 180
    /// opens the dialog with From as the caller, the 200 answers it and
    /// brings the callee's media, the BYE ends it.
    @Test func aDialogWhoseInviteIsMissingOpensAtItsFirstResponse() throws {
        let diagnostics = Diagnostics()
        var tracker = CallTracker(localParties: LocalParties(numbers: ["100"]), diagnostics: diagnostics)
        let events = run([
            (response(180), false),
            (response(200, body: sdp("10.0.0.2", 6000)), false),
            (request("ACK", cseq: 1), true),
            (request("BYE", cseq: 2), true),
        ], tracker: &tracker)
        let call = try #require(last(events))
        #expect(call.endReason == .bye)
        #expect(call.callerParty == "100" && call.calleeParty == "200")
        #expect(call.direction == .outbound)
        #expect(call.callerSignalling == caller)
        #expect(call.openedBy == "180" && !call.inviteSeen && !call.joinedMidDialog)
        #expect(call.invitedAt == MediaTime(nanoseconds: 0))
        #expect(call.answeredAt == MediaTime(nanoseconds: 1_000_000))
        #expect(call.calleeMedia?.endpoint == Endpoint(address: IPAddress("10.0.0.2")!, port: 6000))
        #expect(call.callerMedia == nil)
        #expect(diagnostics[.sipDialogsJoined] == 1)
        #expect(diagnostics[.sipNotForACall] == 0)
        #expect(tracker.count == 0)
    }

    /// An ACK inside a dialog (To has a tag) opens an answered call and
    /// brings a late offer's SDP; a BYE alone opens the call and ends it.
    @Test func anAckOrAByeInsideAnUnknownDialogOpensAnAnsweredCall() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let acked = run([(request("ACK", cseq: 1, body: sdp("10.0.0.1", 4000)), true)], tracker: &tracker)
        let call = try #require(last(acked))
        #expect(call.openedBy == "ACK" && call.joinedMidDialog)
        #expect(call.answeredAt != nil)
        #expect(call.callerMedia?.endpoint.port == 4000)
        // A BYE alone names no media: the RTP before it is a call without signalling already.
        tracker = CallTracker(diagnostics: Diagnostics())
        let bye = run([(request("BYE", cseq: 2, fromTag: "tt", toTag: "ft"), false)], tracker: &tracker)
        #expect(bye.isEmpty)
        #expect(tracker.count == 0)
    }

    /// What does not open a dialog: a request outside one (no To tag), a final
    /// failure (it may refuse a re-INVITE of a dialog that goes on), a
    /// response to something else, and a late message of a call that ended
    /// here (the ACK of a 486, a retransmitted BYE).
    @Test func lateOrStrayMessagesOpenNoDialog() {
        let diagnostics = Diagnostics()
        var tracker = CallTracker(diagnostics: diagnostics)
        var events = run([
            (request("ACK", cseq: 1, toTag: nil), true),
            (request("BYE", cseq: 2, toTag: nil), true),
            (request("CANCEL", cseq: 1, toTag: nil), true),
            (response(486), false),
            (response(200, method: "BYE", cseq: 2), false),
            (response(200, method: "OPTIONS", cseq: 3), false),
        ], tracker: &tracker)
        #expect(events.isEmpty)
        #expect(diagnostics[.sipNotForACall] == 6)
        events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(486), false),
            (request("ACK", cseq: 1), true),
        ], tracker: &tracker)
        #expect(events.count == 2)
        #expect(diagnostics[.sipNotForACall] == 7)
        events = run([
            (request("INVITE", cseq: 1, toTag: nil, body: sdp("10.0.0.1", 4000)), true),
            (response(200, body: sdp("10.0.0.2", 6000)), false),
            (request("BYE", cseq: 2), true),
            (request("BYE", cseq: 2), true),
            (request("INVITE", cseq: 3, body: sdp("10.0.0.1", 4000)), true),
        ], tracker: &tracker)
        #expect(events.count == 3)
        #expect(diagnostics[.sipNotForACall] == 9)
        #expect(diagnostics[.sipDialogsJoined] == 0)
        #expect(tracker.count == 0)
    }

    /// Liberal: a From that does not parse leaves the caller unknown, and a
    /// request without a usable CSeq is still read by its method; the dialog stays.
    @Test func oneBadHeaderDoesNotLoseTheDialog() throws {
        var tracker = CallTracker(diagnostics: Diagnostics())
        let ack = message("ACK sip:200@pbx SIP/2.0\r\nFrom: <>;tag=ft\r\nTo: <sip:200@pbx>;tag=tt\r\n"
            + "Call-ID: call-1\r\nCSeq: one ACK\r\nContent-Length: 0\r\n\r\n")
        let events = run([(ack, true)], tracker: &tracker)
        let call = try #require(last(events))
        #expect(call.caller == nil && call.calleeParty == "200")
        #expect(call.callerTag == "ft")
        #expect(tracker.count == 1)
    }

    /// A dialog opened late counts against the same cap as one opened by its INVITE.
    @Test func aDialogOpenedLateIsBoundedLikeAnyCall() {
        let diagnostics = Diagnostics()
        var tracker = CallTracker(maxCalls: 2, diagnostics: diagnostics)
        var refused = 0
        for k in 0..<5 {
            let m = message("SIP/2.0 180 Ringing\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>;tag=2\r\nCall-ID: c\(k)\r\nCSeq: 1 INVITE\r\n\r\n")
            tracker.process(m, from: callee, to: caller, at: MediaTime(nanoseconds: 0)) { if case .refused = $0 { refused += 1 } }
        }
        #expect(tracker.count == 2)
        #expect(refused == 3)
        #expect(diagnostics[.callsDroppedOverLimit] == 3)
    }

    @Test func hostileCallIDsAreRefused() {
        let diagnostics = Diagnostics()
        var tracker = CallTracker(diagnostics: diagnostics)
        let long = String(repeating: "x", count: CallTracker.maxCallIDLength + 1)
        let m = message("INVITE sip:a@b SIP/2.0\r\nFrom: <sip:x@y>;tag=1\r\nTo: <sip:a@b>\r\nCall-ID: \(long)\r\nCSeq: 1 INVITE\r\n\r\n")
        tracker.process(m, from: caller, to: callee, at: MediaTime(nanoseconds: 0)) { _ in Issue.record("accepted") }
        #expect(tracker.count == 0)
        #expect(diagnostics[.sipMalformed] == 1)
    }
}

@Suite struct LocalPartiesTests {
    static let parties = LocalParties(
        numbers: ["+46 8-123 45 67", "1001"], prefixes: ["+4631"], domains: ["PBX.example.com", ".office.test"])

    @Test(arguments: [
        ("<sip:+4681234567@carrier.net>", true),
        ("<tel:+46-8-123-45-67>", true),
        ("<sip:1001@10.0.0.1>", true),
        ("<sip:10011@10.0.0.1>", false),
        ("<sip:+46315550@carrier.net>", true),
        ("<sip:0315550@carrier.net>", false),
        ("<sip:alice@pbx.example.com>", true),
        ("<sip:alice@eu.PBX.example.com:5060>", true),
        ("<sip:alice@notpbx.example.com>", false),
        ("<sip:bob@office.test>", true),
        ("<sip:anonymous@anonymous.invalid>", false),
    ])
    func isLocal(header: String, local: Bool) throws {
        #expect(Self.parties.isLocal(try #require(SIPAddress(header: header))) == local)
    }

    @Test func directions() {
        let local = SIPAddress(header: "<sip:1001@x>")
        let remote = SIPAddress(header: "<sip:+1555@y>")
        #expect(Self.parties.direction(caller: local, callee: remote) == .outbound)
        #expect(Self.parties.direction(caller: remote, callee: local) == .inbound)
        #expect(Self.parties.direction(caller: local, callee: local) == .internal)
        #expect(Self.parties.direction(caller: remote, callee: remote) == .unknown)
        #expect(Self.parties.direction(caller: nil, callee: nil) == .unknown)
        #expect(LocalParties().direction(caller: local, callee: remote) == .unknown)
    }
}
