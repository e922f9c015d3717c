/// ISO 8601 times in UTC, as callrec writes every one of them: the one
/// formatter and parser of the project (`MediaTime.iso8601` is the same form
/// with milliseconds). By hand on `CivilTime`'s day arithmetic rather than
/// Foundation's formatters, so CallrecCore stays free of Foundation and a
/// time prints the same on every platform.
public enum ISO8601Time {
    /// `2026-11-29T08:15:30Z`: UTC, whole seconds (rounded down).
    public static func seconds(_ epoch: Double) -> String {
        let civil = CivilTime(epochSeconds: Int64(epoch.rounded(.down)))
        return date(civil) + "T" + clock(civil) + "Z"
    }

    /// `2026-11-29T08:15:30.120Z`: UTC, milliseconds.
    public static func milliseconds(nanoseconds: Int64) -> String {
        let whole = floorDiv(nanoseconds, 1_000_000_000)
        let civil = CivilTime(epochSeconds: whole)
        let millis = Int((nanoseconds - whole * 1_000_000_000) / 1_000_000)
        return date(civil) + "T" + clock(civil) + "." + pad(millis, 3) + "Z"
    }

    /// Unix seconds of an RFC 3339 date-time (`2026-11-29T08:15:30Z`,
    /// `2026-11-29T08:15:30.120Z`, `2026-11-29T09:15:30+01:00`), or nil for
    /// anything else.
    public static func parse(_ text: String) -> Double? {
        let b = Array(text.utf8)
        func number(_ from: Int, _ count: Int) -> Int? {
            guard from + count <= b.count else { return nil }
            var v = 0
            for k in from..<(from + count) {
                guard b[k] >= 0x30 && b[k] <= 0x39 else { return nil }
                v = v * 10 + Int(b[k] - 0x30)
            }
            return v
        }
        func byte(_ k: Int, _ c: Character) -> Bool { k < b.count && b[k] == c.asciiValue! }
        guard b.count >= 20, let year = number(0, 4), byte(4, "-"), let month = number(5, 2), byte(7, "-"),
              let day = number(8, 2), byte(10, "T") || byte(10, "t"), let hour = number(11, 2), byte(13, ":"),
              let minute = number(14, 2), byte(16, ":"), let second = number(17, 2),
              (1...12).contains(month), (1...daysIn(month, year)).contains(day), hour < 24, minute < 60, second < 61
        else { return nil }
        var k = 19
        var fraction = 0.0
        if byte(k, ".") {
            k += 1
            var scale = 0.1
            let start = k
            while k < b.count, b[k] >= 0x30 && b[k] <= 0x39, k - start < 9 {
                fraction += Double(b[k] - 0x30) * scale
                scale /= 10
                k += 1
            }
            guard k > start else { return nil }
        }
        var offset = 0
        if byte(k, "Z") || byte(k, "z") {
            k += 1
        } else if byte(k, "+") || byte(k, "-") {
            guard let h = number(k + 1, 2), byte(k + 3, ":"), let m = number(k + 4, 2), h < 24, m < 60 else { return nil }
            offset = (h * 3600 + m * 60) * (byte(k, "-") ? -1 : 1)
            k += 6
        } else {
            return nil
        }
        guard k == b.count else { return nil }
        let days = daysFromCivil(year: year, month: month, day: day)
        let seconds = days * 86_400 + Int64(hour * 3600 + minute * 60 + second - offset)
        return Double(seconds) + fraction
    }

    static func date(_ civil: CivilTime) -> String { pad(civil.year, 4) + "-" + pad(civil.month, 2) + "-" + pad(civil.day, 2) }
    static func clock(_ civil: CivilTime) -> String { pad(civil.hour, 2) + ":" + pad(civil.minute, 2) + ":" + pad(civil.second, 2) }

    static func daysIn(_ month: Int, _ year: Int) -> Int {
        switch month {
        case 2: return year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) ? 29 : 28
        case 4, 6, 9, 11: return 30
        default: return 31
        }
    }

    /// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's days_from_civil,
    /// the inverse of `CivilTime`'s).
    static func daysFromCivil(year: Int, month: Int, day: Int) -> Int64 {
        let y = Int64(month <= 2 ? year - 1 : year)
        let era = floorDiv(y, 400)
        let yoe = y - era * 400
        let m = Int64(month)
        let doy = (153 * (m > 2 ? m - 3 : m + 9) + 2) / 5 + Int64(day) - 1
        let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy
        return era * 146_097 + doe - 719_468
    }
}
