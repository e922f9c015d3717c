extension SyntheticCall {
    /// The call's INVITE (with the SDP offer) and its 200 OK (with the answer),
    /// as the generator puts them on the wire.
    public var signalling: (invite: [UInt8], ok: [UInt8]) {
        let messages = SIPTemplates(call: self)
        return (Array(messages.invite.utf8), Array(messages.response(200, "OK", sdp: true).utf8))
    }
}
