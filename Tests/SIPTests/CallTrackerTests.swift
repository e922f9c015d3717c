import CallrecCore
import SIP
import Testing

@Suite struct CallTrackerTests {
    let caller = Endpoint(address: IPAddress("10.0.0.1")!, port: 5060)
    let callee = Endpoint(address: IPAddress("10.0.0.2")!, port: 5060)

    func message(_ text: String) -> SIPMessage {
        Array(text.utf8).withUnsafeBytes { SIPMessage.parse($0)!.message }
    }

    func sdp(_ ip: String, _ port: Int) -> String {
        let body = "v=0\r\nc=IN IP4 \(ip)\r\nm=audio \(port) RTP/AVP 8\r\n"
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
}
