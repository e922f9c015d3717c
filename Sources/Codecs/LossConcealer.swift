import CSpanDSP

/// Fills the audio of lost packets the way ITU-T G.711 Appendix I does:
/// it repeats the last pitch period of the speech before the loss with
/// overlap-add, fades it out over 60 ms, and blends back into the first
/// real audio after the loss. Never raw zeros in the middle of a word.
///
/// This wraps spandsp's implementation (Steve Underwood's, a faithful
/// Appendix I): one owner per `plc_state_t`, created in `init`, freed in
/// `deinit`. The corresponding C functions are `plc_rx` and `plc_fillin`.
/// Its pitch search is tuned for 8 kHz; at 16 kHz (G.722) it still finds a
/// period to repeat, for higher voices directly and for lower ones at a
/// multiple, which is what a concealment of up to 60 ms needs.
public final class LossConcealer {
    private let state: UnsafeMutablePointer<plc_state_t>

    public init() {
        state = plc_init(nil)
    }

    deinit {
        plc_free(state)
    }

    /// Takes audio that was received, so the concealer knows what came
    /// before a loss. After a loss it blends the start of `samples` with
    /// the concealment (in place).
    @inlinable
    public func received(_ samples: UnsafeMutableBufferPointer<Int16>) {
        guard let base = samples.baseAddress, samples.count > 0 else { return }
        receivedC(base, Int32(samples.count))
    }

    /// Writes `samples.count` samples of concealment for audio that was lost.
    @inlinable
    public func conceal(_ samples: UnsafeMutableBufferPointer<Int16>) {
        guard let base = samples.baseAddress, samples.count > 0 else { return }
        concealC(base, Int32(samples.count))
    }

    @usableFromInline
    func receivedC(_ base: UnsafeMutablePointer<Int16>, _ count: Int32) {
        _ = plc_rx(state, base, count)
    }

    @usableFromInline
    func concealC(_ base: UnsafeMutablePointer<Int16>, _ count: Int32) {
        _ = plc_fillin(state, base, count)
    }
}
