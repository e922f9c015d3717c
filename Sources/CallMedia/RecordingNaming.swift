import CallrecCore

/// Names derived for recordings. Nothing from the network becomes a path:
/// the id is the UTC start time and a hash of the Call-ID.
public enum RecordingNaming {
    /// `20261129T081530Z-3f9a1c2e`.
    package static func recordingID(start: MediaTime, callID: String) -> String {
        start.compactUTC + "-" + StableHash.hex(StableHash.fnv1a32(callID.utf8), digits: 8)
    }

    /// `2026/11/29`, the UTC date of `time`.
    package static func dateFolder(_ time: MediaTime) -> String {
        let civil = time.civilUTC
        return "\(civil.year)/\(civil.month < 10 ? "0" : "")\(civil.month)/\(civil.day < 10 ? "0" : "")\(civil.day)"
    }

    /// Untrusted text cut to a length fit for tags and reports.
    package static func bounded(_ text: String, maxBytes: Int = 256) -> String {
        if text.utf8.count <= maxBytes { return text }
        return String(decoding: text.utf8.prefix(maxBytes), as: UTF8.self)
    }

    /// Untrusted text made safe to print on one line: control characters escaped, length bounded.
    public static func safeForDisplay(_ text: String) -> String {
        var out = ""
        for scalar in bounded(text, maxBytes: 120).unicodeScalars {
            if scalar.value < 0x20 || scalar.value == 0x7F {
                out += "\\x" + StableHash.hex(UInt8(truncatingIfNeeded: scalar.value), digits: 2)
            } else {
                out.unicodeScalars.append(scalar)
            }
        }
        return out
    }
}

/// Gives each call a recording id no other call holds, so a recording is
/// never written over by another call's.
///
/// An id is the call's start second and a 32-bit hash of its Call-ID: two
/// different calls can share one (two Call-IDs with the same hash starting
/// in the same second), while the same call seen again (a second probe, an
/// overlapping capture file, a capture converted twice) gets the same id on
/// purpose, so the commit recognises it (`CatalogError.exists`) and keeps the
/// recording there is. A claimed id is checked against the calls in flight
/// here and the catalog's recordings; when another call holds it, the next
/// of `<id>-2`, `<id>-3`, … that is free or this call's own is taken.
public final class RecordingIDs: @unchecked Sendable {
    /// The Call-ID of the recording catalogued under an id, or nil when none is.
    public typealias Catalogued = @Sendable (_ id: String) throws -> String?

    private let catalogued: Catalogued
    private let lock = Lock()
    /// Ids of calls in flight (claimed, not yet committed or discarded) and their Call-IDs.
    private var inFlight: [String: String] = [:]

    /// Ids checked against the calls in flight and `catalogued`.
    public init(catalogued: @escaping Catalogued) {
        self.catalogued = catalogued
    }

    /// The id for a call of `callID` starting at `start`, held until `release`.
    /// A catalog that cannot be read counts as free: the commit still refuses
    /// to replace what is there.
    package func claim(start: MediaTime, callID: String) -> String {
        let base = RecordingNaming.recordingID(start: start, callID: callID)
        return lock.withLock {
            var n = 1
            while true {
                let id = n == 1 ? base : base + "-\(n)"
                let holder = inFlight[id] ?? ((try? catalogued(id)) ?? nil)
                if holder == nil || holder == callID || n == 1000 {
                    inFlight[id] = callID
                    return id
                }
                n += 1
            }
        }
    }

    /// Ends the claim on `id` (the recording was committed, refused or discarded).
    public func release(_ id: String) {
        lock.withLock { _ = inFlight.removeValue(forKey: id) }
    }

    /// Calls in flight, for tests.
    package var claimed: Int { lock.withLock { inFlight.count } }
}
