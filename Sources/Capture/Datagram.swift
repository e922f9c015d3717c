import CallrecCore

/// A transport payload sliced out of a frame: the UDP datagram (or TCP
/// segment) with its endpoints. `payload` borrows the packet's bytes.
public struct Datagram {
    /// Which transport carried the payload.
    public enum Transport: UInt8, Sendable {
        case udp
        case tcp
    }

    public var transport: Transport
    public var source: Endpoint
    public var destination: Endpoint
    /// The transport payload.
    public var payload: UnsafeRawBufferPointer
    /// For TCP: the sequence number of the first payload byte.
    public var tcpSequence: UInt32
    /// For TCP: the header flags (FIN 0x01, SYN 0x02, RST 0x04, ...).
    public var tcpFlags: UInt8

    public init(
        transport: Transport, source: Endpoint, destination: Endpoint, payload: UnsafeRawBufferPointer,
        tcpSequence: UInt32 = 0, tcpFlags: UInt8 = 0
    ) {
        self.transport = transport
        self.source = source
        self.destination = destination
        self.payload = payload
        self.tcpSequence = tcpSequence
        self.tcpFlags = tcpFlags
    }
}
