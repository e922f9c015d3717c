/// A bounded first-in first-out queue from one producer thread to one
/// consumer thread. Each element carries a run of bytes (a packet), copied
/// into a ring made once, so passing a packet allocates nothing.
///
/// When the queue is full, `push` either waits (back-pressure: the producer
/// slows to the consumer's pace) or refuses the element and counts it
/// (`dropped`), as the caller chooses. The consumer takes every element
/// queued at once and works through them outside the lock.
///
/// The producer ends the stream with `finishInput` (the consumer drains
/// what is queued, then sees `.finished`); `abandon` ends it from either side
/// at once (waiting pushes return `.closed`).
///
/// One `Lock` guards it; its one condition serves both sides: with one
/// producer and one consumer, only one of them can be waiting at a time (the
/// producer on a full queue, the consumer on an empty one).
package final class HandoffQueue<Element>: @unchecked Sendable {
    // SAFETY: every stored var is read and written with `lock` held, except
    // the slots and bytes of a batch the consumer holds: the producer never
    // touches a slot or byte range until the consumer has released it.

    private struct Slot {
        var element: Element?
        /// Where the element's bytes start in the ring, and how many.
        var offset = 0
        var length = 0
        /// Ring bytes the element used up: its length plus any tail of the
        /// ring skipped so that its bytes stay contiguous.
        var span = 0
    }

    /// Elements queued at most.
    package let capacity: Int
    /// Bytes the ring holds.
    package let byteCapacity: Int

    private let slots: UnsafeMutablePointer<Slot>
    private let bytes: UnsafeMutableRawPointer
    private var head = 0
    private var count = 0
    private var byteHead = 0
    private var byteTail = 0
    private var byteUsed = 0
    private var inputFinished = false
    private var abandoned = false
    private var consumerWaiting = false
    private var producerWaiting = false
    private var droppedCount = 0
    private var peakBytes = 0
    private let lock = Lock()

    /// A queue of at most `capacity` elements and `byteCapacity` bytes.
    package init(capacity: Int, byteCapacity: Int) {
        precondition(capacity > 0 && byteCapacity > 0)
        self.capacity = capacity
        self.byteCapacity = byteCapacity
        slots = UnsafeMutablePointer<Slot>.allocate(capacity: capacity)
        slots.initialize(repeating: Slot(), count: capacity)
        bytes = UnsafeMutableRawPointer.allocate(byteCount: byteCapacity, alignment: 16)
    }

    deinit {
        slots.deinitialize(count: capacity)
        slots.deallocate()
        bytes.deallocate()
    }

    /// What became of a pushed element.
    package enum PushResult: Equatable {
        case queued
        /// The queue was full and the producer would not wait (counted in `dropped`).
        case dropped
        /// The queue takes nothing more (finished or abandoned).
        case closed
    }

    /// Queues `element` with a copy of `payload`. When the queue is full,
    /// waits for room if `wait`, else drops the element (counted).
    @discardableResult
    package func push(_ element: Element, bytes payload: UnsafeRawBufferPointer, wait: Bool) -> PushResult {
        lock.lock()
        defer { lock.unlock() }
        while true {
            if abandoned || inputFinished { return .closed }
            // An element larger than the ring could never be queued.
            guard payload.count <= byteCapacity else {
                droppedCount += 1
                return .dropped
            }
            if count < capacity, let (offset, span) = allocate(payload.count) {
                let index = (head + count) % capacity
                slots[index] = Slot(element: element, offset: offset, length: payload.count, span: span)
                if payload.count > 0 { (bytes + offset).copyMemory(from: payload.baseAddress!, byteCount: payload.count) }
                byteTail = offset + payload.count
                byteUsed += span
                peakBytes = max(peakBytes, byteUsed)
                count += 1
                if consumerWaiting { lock.signal() }
                return .queued
            }
            guard wait else {
                droppedCount += 1
                return .dropped
            }
            producerWaiting = true
            lock.wait()
            producerWaiting = false
        }
    }

    /// Where `length` contiguous bytes fit in the ring, and how much of it
    /// they use up; nil when they do not fit now. The lock is held.
    private func allocate(_ length: Int) -> (offset: Int, span: Int)? {
        // Back to the start only when nothing is queued or held: a batch the consumer holds may be
        // all empty elements (no bytes used), and its release sets `byteHead` to where they were
        // queued — which must then still be where the ring's bytes begin.
        if count == 0 {
            byteHead = 0
            byteTail = 0
        }
        let full = byteUsed > 0 && byteTail == byteHead
        if full { return length == 0 ? (byteTail, 0) : nil }
        if byteTail >= byteHead {
            // Free: [byteTail, end) and [0, byteHead).
            if byteCapacity - byteTail >= length { return (byteTail, length) }
            if byteHead >= length { return (0, byteCapacity - byteTail + length) }
            return nil
        }
        // Free: [byteTail, byteHead).
        return byteHead - byteTail >= length ? (byteTail, length) : nil
    }

    /// What `pop` found.
    package enum PopResult: Equatable {
        /// This many elements were handed to the body.
        case delivered(Int)
        /// Nothing came within the timeout.
        case timedOut
        /// The producer finished (or the queue was abandoned) and everything queued was delivered.
        case finished
    }

    /// Hands every queued element, with its bytes, to `body` in order,
    /// waiting up to `timeout` seconds (nil: for ever) for the first one.
    /// The bytes are valid only during the call.
    package func pop(timeout: Double?, _ body: (Element, UnsafeRawBufferPointer) -> Void) -> PopResult {
        lock.lock()
        if count == 0 && !inputFinished && !abandoned {
            consumerWaiting = true
            if let timeout {
                let deadline = monotonicSeconds() + max(0, timeout)
                while count == 0 && !inputFinished && !abandoned {
                    let left = deadline - monotonicSeconds()
                    if left <= 0 || !lock.wait(seconds: left) { break }
                }
            } else {
                while count == 0 && !inputFinished && !abandoned { lock.wait() }
            }
            consumerWaiting = false
        }
        let (start, n) = (head, abandoned ? 0 : count)
        let finished = n == 0 && (inputFinished || abandoned)
        lock.unlock()
        if finished { return .finished }
        if n == 0 { return .timedOut }
        var released = 0
        for k in 0..<n {
            let index = (start + k) % capacity
            // The producer does not touch queued slots: this element is the consumer's until released.
            let element = slots[index].element!
            slots[index].element = nil
            body(element, UnsafeRawBufferPointer(start: bytes + slots[index].offset, count: slots[index].length))
            released += slots[index].span
        }
        lock.withLock {
            let last = slots[(start + n - 1) % capacity]
            byteHead = last.offset + last.length
            byteUsed -= released
            head = (head + n) % capacity
            count -= n
            if producerWaiting { lock.signal() }
        }
        return .delivered(n)
    }

    /// The producer is done: the consumer gets what is queued, then `.finished`.
    package func finishInput() {
        lock.withLock {
            inputFinished = true
            lock.broadcast()
        }
    }

    /// Ends the queue at once: pushes fail, a waiting producer or consumer
    /// wakes, and what is still queued is never delivered (nor counted).
    package func abandon() {
        lock.withLock {
            abandoned = true
            lock.broadcast()
        }
    }

    /// Elements refused because the queue was full (and the producer would not wait).
    package var dropped: Int {
        lock.withLock { droppedCount }
    }

    /// The share of the byte ring in use now, and the most ever used (0 to 1).
    package var fill: (now: Double, peak: Double) {
        lock.withLock { (Double(byteUsed) / Double(byteCapacity), Double(peakBytes) / Double(byteCapacity)) }
    }
}
