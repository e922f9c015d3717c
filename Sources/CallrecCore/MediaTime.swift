/// A point in capture time: nanoseconds since the Unix epoch, as the capture
/// recorded it. callrec never reads the wall clock for media timing, so the
/// same capture always yields the same output.
public struct MediaTime: Hashable, Comparable, Sendable, CustomStringConvertible {
    /// Nanoseconds since 1970-01-01T00:00:00Z.
    public var nanoseconds: Int64

    @inlinable
    public init(nanoseconds: Int64) { self.nanoseconds = nanoseconds }

    @inlinable
    public init(seconds: Int64, microseconds: Int64) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ microseconds &* 1_000
    }

    @inlinable
    public init(seconds: Int64, nanoseconds: Int64) {
        self.nanoseconds = seconds &* 1_000_000_000 &+ nanoseconds
    }

    /// Seconds since the epoch as a floating-point value (for reports only).
    @inlinable
    public var seconds: Double { Double(nanoseconds) / 1e9 }

    @inlinable
    public static func < (lhs: MediaTime, rhs: MediaTime) -> Bool { lhs.nanoseconds < rhs.nanoseconds }

    /// The signed distance `self - other` in nanoseconds.
    @inlinable
    public func nanoseconds(since other: MediaTime) -> Int64 { nanoseconds &- other.nanoseconds }

    /// The signed distance `self - other` in seconds.
    @inlinable
    public func seconds(since other: MediaTime) -> Double { Double(nanoseconds &- other.nanoseconds) / 1e9 }

    /// This time moved by a number of nanoseconds.
    @inlinable
    public func advanced(byNanoseconds delta: Int64) -> MediaTime { MediaTime(nanoseconds: nanoseconds &+ delta) }

    /// The number of samples at `rate` that fit between `origin` and `self`, rounded to nearest.
    @inlinable
    public func samples(since origin: MediaTime, rate: Int) -> Int64 {
        // Double keeps 53 bits: exact to well under a sample for any span a capture holds.
        let product = Double(nanoseconds &- origin.nanoseconds) * Double(rate) / 1e9
        return Int64(product.rounded())
    }

    /// ISO 8601 in UTC with millisecond precision, e.g. `2026-11-29T08:15:30.120Z`.
    public var iso8601: String { ISO8601Time.milliseconds(nanoseconds: nanoseconds) }

    /// The compact UTC form used in recording ids, e.g. `20261129T081530Z`.
    public var compactUTC: String {
        let civil = CivilTime(epochSeconds: floorDiv(nanoseconds, 1_000_000_000))
        return "\(pad(civil.year, 4))\(pad(civil.month, 2))\(pad(civil.day, 2))T"
            + "\(pad(civil.hour, 2))\(pad(civil.minute, 2))\(pad(civil.second, 2))Z"
    }

    /// The UTC calendar date and time of this instant.
    public var civilUTC: CivilTime { CivilTime(epochSeconds: floorDiv(nanoseconds, 1_000_000_000)) }

    public var description: String { iso8601 }
}

/// A UTC calendar date and time of day, from days-from-civil arithmetic
/// (Howard Hinnant's algorithm), so no time zone database is involved.
public struct CivilTime: Hashable, Sendable {
    public var year: Int
    public var month: Int
    public var day: Int
    public var hour: Int
    public var minute: Int
    public var second: Int

    /// The civil UTC time of `epochSeconds` seconds since 1970-01-01T00:00:00Z.
    public init(epochSeconds: Int64) {
        let days = floorDiv(epochSeconds, 86_400)
        let secondsOfDay = Int(epochSeconds - days * 86_400)
        hour = secondsOfDay / 3600
        minute = secondsOfDay % 3600 / 60
        second = secondsOfDay % 60
        // civil_from_days
        let z = days + 719_468
        let era = floorDiv(z, 146_097)
        let doe = z - era * 146_097
        let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365
        let doy = doe - (365 * yoe + yoe / 4 - yoe / 100)
        let mp = (5 * doy + 2) / 153
        let d = doy - (153 * mp + 2) / 5 + 1
        let m = mp < 10 ? mp + 3 : mp - 9
        year = Int(yoe + era * 400 + (m <= 2 ? 1 : 0))
        month = Int(m)
        day = Int(d)
    }
}

@usableFromInline
func floorDiv(_ a: Int64, _ b: Int64) -> Int64 {
    let q = a / b
    return (a % b != 0 && (a < 0) != (b < 0)) ? q - 1 : q
}

func pad(_ value: Int, _ width: Int) -> String {
    let s = String(value)
    return s.count >= width ? s : String(repeating: "0", count: width - s.count) + s
}
