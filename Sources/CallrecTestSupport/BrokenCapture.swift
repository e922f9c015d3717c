/// Captures that break part-way, for tests of what survives a read error.
public enum BrokenCapture {
    /// A one-second call (a `SyntheticCall`, 107 packets) as pcapng, then the
    /// header of a section of a pcapng version that does not exist: a reader
    /// delivers the call and then must stop. Also returns the call and the
    /// byte offset of the bad section.
    public static func callThenUnknownSection() throws -> (path: String, call: SyntheticCall, sectionAt: Int) {
        var call = SyntheticCall()
        call.duration = 1
        var writer = PcapngWriter(rewriting: call.build().pcap)
        let sectionAt = writer.bytes.count
        writer.sectionOfUnknownVersion(major: 3)
        return (try TemporaryFile.write(writer.bytes, name: "cut.pcapng"), call, sectionAt)
    }
}
