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
