import CallrecCore
import Capture

/// The `fragment` target: the IPv4 and IPv6 fragment reassembler, through
/// the packet slicer, against a model of what reassembly must give.
///
/// Input (`FuzzRecords`): each record is one IP packet the target builds
/// around a fragment. Control byte: bit 0 IPv6 (else IPv4), bit 1 more
/// fragments, bits 2-3 which of four sources, bit 4 TCP (else UDP), bit 5
/// IPv4 options or an IPv6 hop-by-hop header, bits 6-7 how far capture time
/// moves on (0, 10 ms, 0.6 s, 1.5 s: the timeout is 1 s). Then one byte of
/// identification, the 13-bit fragment offset (in 8-byte units) in two
/// bytes, and the fragment's data.
///
/// The model (`Partial`) keeps each datagram's bytes as the fragments wrote
/// them (a later fragment overwrites an earlier one, as the reassembler
/// does) and says when a datagram is complete; the reassembler must complete
/// exactly then, with exactly those bytes. Once the reassembler gives up a
/// fragment (`ip_fragments_dropped`: a timeout, an eviction, a malformed
/// fragment), the datagrams then in flight are left unchecked.
enum FragmentTarget {
    static let limits = FragmentReassembler.Limits(maxDatagrams: 4, maxBytes: 1 << 17, timeout: 1_000_000_000)
    static let steps: [Int64] = [0, 10_000_000, 600_000_000, 1_500_000_000]

    struct Key: Hashable {
        var version: UInt8
        var source: Int
        var identification: UInt8
    }

    /// What the fragments of one datagram have said so far.
    struct Partial {
        var bytes: [UInt8] = []
        var blocks: Set<Int> = []
        var total: Int?
        var firstProtocol: UInt8 = 0
        /// False once the reassembler dropped something while this datagram was in flight.
        var checked = true

        var isComplete: Bool {
            guard let total, bytes.count <= total else { return false }
            return (0..<((total + 7) / 8)).allSatisfy { blocks.contains($0) }
        }
    }

    static func run(_ bytes: UnsafeRawBufferPointer) {
        let input = FuzzRecords(bytes)
        let diagnostics = Diagnostics()
        let slicer = PacketSlicer(diagnostics: diagnostics, fragmentLimits: limits)
        var model: [Key: Partial] = [:]
        var time = MediaTime(seconds: 1_700_000_000, microseconds: 0)
        for (number, (control, body)) in input.records.enumerated() {
            time = time.advanced(byNanoseconds: steps[Int(control >> 6)])
            let version: UInt8 = control & 1 != 0 ? 6 : 4
            let more = control & 2 != 0
            let key = Key(version: version, source: Int(control >> 2) & 3, identification: body.first ?? 0)
            let offset = Int(body.fuzzU16(at: 1) & 0x1FFF) * 8
            let proto: UInt8 = control & 0x10 != 0 ? 6 : 17
            let data = body.fuzzRest(from: 3)
            let packet = build(key, more: more, offset: offset, proto: proto, extra: control & 0x20 != 0, data: data)
            let isFragment = version == 6 || more || offset != 0
            let dropped = diagnostics[.ipFragmentsDropped]
            let completed = diagnostics[.ipFragmentsReassembled]
            let datagram = packet.withUnsafeBytes { raw in
                slicer.slice(RawPacket(timestamp: time, bytes: raw, originalLength: raw.count, linkType: .raw, number: number + 1))
            }
            let payload = datagram.map { Array($0.payload) }
            precondition(slicer.reassembler.datagramsInFlight <= limits.maxDatagrams, "at most maxDatagrams in flight")
            precondition(slicer.reassembler.bytesHeld >= 0 && slicer.reassembler.bytesHeld <= limits.maxBytes, "at most maxBytes held")
            guard isFragment else { continue }
            // A drop (this fragment, or another datagram timed out or evicted): nothing in flight is checked any more.
            let gaveUp = diagnostics[.ipFragmentsDropped] != dropped
            if gaveUp { for k in model.keys { model[k]!.checked = false } }
            var partial = model[key] ?? Partial()
            if gaveUp { partial.checked = false }
            let end = offset + data.count
            if partial.bytes.count < end { partial.bytes += [UInt8](repeating: 0, count: end - partial.bytes.count) }
            for k in 0..<data.count { partial.bytes[offset + k] = data[k] }
            for block in (offset / 8)..<((end + 7) / 8) { partial.blocks.insert(block) }
            if offset == 0 { partial.firstProtocol = proto }
            if !more { partial.total = end }
            let reassembled = diagnostics[.ipFragmentsReassembled] != completed
            if partial.checked {
                precondition(reassembled == partial.isComplete, "a datagram is complete exactly when all its fragments are in")
            }
            guard reassembled else {
                model[key] = partial
                continue
            }
            model[key] = nil
            guard partial.checked, let total = partial.total else { continue }
            let whole = Array(partial.bytes[0..<total])
            // What the transport layer reads from the datagram the model built.
            var expected: [UInt8]? = nil
            if partial.firstProtocol == 17, whole.count >= 8 {
                let length = Int(whole[4]) << 8 | Int(whole[5])
                if length >= 8 && length <= whole.count { expected = Array(whole[8..<length]) }
            } else if partial.firstProtocol == 6, whole.count >= 14 {
                let headerLength = Int(whole[12] >> 4) * 4
                if headerLength >= 20 && headerLength <= whole.count { expected = Array(whole[headerLength...]) }
            }
            precondition(payload == expected, "the reassembled datagram holds what its fragments said")
        }
        slicer.reassembler.finish()
        precondition(slicer.reassembler.datagramsInFlight == 0 && slicer.reassembler.bytesHeld == 0, "finish gives up every datagram")
    }

    /// The IP packet around one fragment (raw IP: no link layer).
    static func build(_ key: Key, more: Bool, offset: Int, proto: UInt8, extra: Bool, data: UnsafeRawBufferPointer) -> [UInt8] {
        let destination: [UInt8]
        var packet: [UInt8]
        if key.version == 4 {
            let options: [UInt8] = extra ? [1, 1, 1, 1] : []
            let length = min(65_535, 20 + options.count + data.count)
            packet = [extra ? 0x46 : 0x45, 0, UInt8(length >> 8), UInt8(length & 0xFF), 0x10, key.identification]
            let field = (more ? 0x2000 : 0) | (offset / 8)
            packet += [UInt8(field >> 8), UInt8(field & 0xFF), 64, proto, 0, 0, 192, 0, 2, UInt8(1 + key.source)]
            destination = [198, 51, 100, 2]
            packet += destination + options
            packet += data.prefix(length - packet.count)
            return packet
        }
        let hopByHop: [UInt8] = extra ? [44, 0, 1, 4, 0, 0, 0, 0] : []
        let field = UInt16(offset / 8) << 3 | (more ? 1 : 0)
        let fragmentHeader: [UInt8] = [proto, 0, UInt8(field >> 8), UInt8(field & 0xFF), 0, 0, 0x10, key.identification]
        let length = min(65_535, hopByHop.count + fragmentHeader.count + data.count)
        packet = [0x60, 0, 0, 0, UInt8(length >> 8), UInt8(length & 0xFF), extra ? 0 : 44, 64]
        packet += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [UInt8(1 + key.source)]
        packet += [0x20, 0x01, 0x0D, 0xB8] + [UInt8](repeating: 0, count: 11) + [0x64]
        packet += hopByHop + fragmentHeader
        packet += data.prefix(40 + length - packet.count)
        return packet
    }
}
