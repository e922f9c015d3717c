/// One recording as the catalog holds it (table `recordings`;
/// docs/FORMATS.md lists every column).
public struct CatalogRecording: Codable, Sendable, Equatable {
    /// The table.
    public static let databaseTableName = "recordings"

    /// Where a row is in the commit protocol: `pending` while its files are
    /// being renamed into place, `committed` once they all are, `deleting`
    /// while its files are being removed.
    public enum State: String, Codable, Sendable, SQLValueConvertible {
        case pending, committed, deleting
    }

    /// The recording id (`20261129T081530Z-3f9a1c2e`), also the file stem.
    public var id: String
    /// The SIP Call-ID (untrusted text: bound, never SQL).
    public var callID: String
    /// The caller's number or name (nil when unknown).
    public var caller: String?
    /// The callee's number or name (nil when unknown).
    public var callee: String?
    /// `inbound`, `outbound`, `internal` or `unknown`.
    public var direction: String
    /// Time zero of the recording, ISO 8601 UTC.
    public var start: String
    /// Time zero in Unix seconds, for range queries.
    public var startEpoch: Double
    /// Length of the recording in seconds.
    public var durationS: Double
    /// The audio file and the call index, relative to the catalog's folder.
    public var audioPath: String
    /// The call index, relative to the catalog's folder.
    public var indexPath: String
    /// Size of the audio file.
    public var audioBytes: Int64
    /// SHA-256 of the audio file, lowercase hex (nil for rows catalogued before checksums).
    public var audioSHA256: String?
    /// Codec of each channel, comma-separated (`PCMU,PCMU`).
    public var codecs: String
    /// The rate the audio was coded at.
    public var sampleRate: Int?
    /// `bye`, `cancel`, `timeout` or `cut`, as in the call index.
    public var endReason: String
    /// Seconds each party spoke, when the call index has speech detection.
    public var callerTalkS: Double?
    /// Seconds the callee spoke.
    public var calleeTalkS: Double?
    /// Seconds both spoke at once.
    public var overtalkS: Double?
    /// DTMF digits seen (nil: the index does not report DTMF).
    public var dtmfCount: Int?
    /// When each DTMF digit was sent, without the digit: JSON
    /// `[[channel, at_s, duration_s], ...]` (nil: not reported). The digits
    /// themselves are only in the call index, sealed when sealing is on.
    public var dtmfTimes: String?
    /// Share of the recording in which nobody spoke, 0 to 1.
    public var silenceShare: Double?
    /// Stream statistics per party (from the call index).
    public var callerPackets: Int?
    /// RTP packets from the callee.
    public var calleePackets: Int?
    /// Packets the caller sent that were lost.
    public var callerLost: Int?
    /// Packets the callee sent that were lost.
    public var calleeLost: Int?
    /// Largest RFC 3550 jitter of the caller's leg, ms.
    public var callerJitterMs: Double?
    /// Largest RFC 3550 jitter of the callee's leg, ms.
    public var calleeJitterMs: Double?
    /// The recording rule that let the call be recorded (nil: no rule matched).
    public var ruleID: Int64?
    /// When retention ends, Unix seconds; `catalog purge` removes the recording after it.
    public var retainUntilEpoch: Double
    /// A legal hold: while set, no purge, deletion or erasure removes the recording.
    public var holdReason: String?
    /// Who set the hold.
    public var holdBy: String?
    /// When the hold was set, Unix seconds.
    public var holdAtEpoch: Double?
    /// Where the row is in the commit or erasure protocol.
    public var state: State
    /// Set by `catalog verify` when a file no longer has its catalogued SHA-256.
    public var damaged: Bool
    /// Which storage holds the files: '' for an SQLite catalog's folder; in a
    /// PostgreSQL catalog the writer's storage name (`CatalogStore.storage`),
    /// set by the store when it enters the row.
    public var storage: String = ""
    /// Some or all of the call's media was encrypted (the index's `encrypted`):
    /// the recording holds only the audio sent in clear.
    public var mediaEncrypted = false
    /// Recorded under an on-demand rule and not kept yet: removed by purge
    /// once `retainUntilEpoch` is past, unless someone keeps it (`keep`).
    public var onDemand = false
    /// Who kept an on-demand recording, and when (nil: nobody, or not on demand).
    public var keptBy: String?
    public var keptAtEpoch: Double?

    /// A committed recording with the default retention; the optional fields start nil.
    public init(
        id: String, callID: String, caller: String?, callee: String?, direction: String, start: String,
        startEpoch: Double, durationS: Double, audioPath: String, indexPath: String, audioBytes: Int64,
        codecs: String, endReason: String
    ) {
        self.id = id
        self.callID = callID
        self.caller = caller
        self.callee = callee
        self.direction = direction
        self.start = start
        self.startEpoch = startEpoch
        self.durationS = durationS
        self.audioPath = audioPath
        self.indexPath = indexPath
        self.audioBytes = audioBytes
        self.codecs = codecs
        self.endReason = endReason
        self.retainUntilEpoch = Retention.default.until(from: startEpoch)
        self.state = .committed
        self.damaged = false
    }

    /// Whether a legal hold is set.
    public var isHeld: Bool { holdReason != nil }

    /// Talk time of both parties together, when known.
    public var talkS: Double? {
        if callerTalkS == nil && calleeTalkS == nil { return nil }
        return (callerTalkS ?? 0) + (calleeTalkS ?? 0)
    }

    enum CodingKeys: String, CodingKey {
        case id, caller, callee, direction, start, codecs, state, damaged, storage
        case mediaEncrypted = "media_encrypted"
        case onDemand = "on_demand"
        case keptBy = "kept_by"
        case keptAtEpoch = "kept_at_epoch"
        case callID = "call_id"
        case startEpoch = "start_epoch"
        case durationS = "duration_s"
        case audioPath = "audio_path"
        case indexPath = "index_path"
        case audioBytes = "audio_bytes"
        case audioSHA256 = "audio_sha256"
        case sampleRate = "sample_rate"
        case endReason = "end_reason"
        case callerTalkS = "caller_talk_s"
        case calleeTalkS = "callee_talk_s"
        case overtalkS = "overtalk_s"
        case dtmfCount = "dtmf_count"
        case dtmfTimes = "dtmf_times"
        case silenceShare = "silence_share"
        case callerPackets = "caller_packets"
        case calleePackets = "callee_packets"
        case callerLost = "caller_lost"
        case calleeLost = "callee_lost"
        case callerJitterMs = "caller_jitter_ms"
        case calleeJitterMs = "callee_jitter_ms"
        case ruleID = "rule_id"
        case retainUntilEpoch = "retain_until_epoch"
        case holdReason = "hold_reason"
        case holdBy = "hold_by"
        case holdAtEpoch = "hold_at_epoch"
    }
}

/// One file of a recording (audio, call index, later peaks or one file per
/// channel), in the order the commit renames them: the index last.
public struct CatalogFile: Codable, Sendable, Equatable {
    /// The table.
    public static let databaseTableName = "recording_files"

    /// The recording the file belongs to.
    public var recordingID: String
    /// Order of commit: files are renamed into place in ascending position.
    public var position: Int
    /// Relative to the catalog's folder.
    public var path: String
    /// Size in bytes.
    public var bytes: Int64
    /// Lowercase hex SHA-256 (nil for files catalogued before checksums).
    public var sha256: String?
    /// A sealed file's recipients (`age1…`), in the order its header wraps
    /// its key for them; nil for a file in the clear.
    public var sealedTo: [String]?

    /// A file row.
    public init(recordingID: String, position: Int, path: String, bytes: Int64, sha256: String?, sealedTo: [String]? = nil) {
        self.recordingID = recordingID
        self.position = position
        self.path = path
        self.bytes = bytes
        self.sha256 = sha256
        self.sealedTo = sealedTo
    }

    /// Whether the file is sealed (an age file).
    public var isSealed: Bool { sealedTo != nil }

    enum CodingKeys: String, CodingKey {
        case position, path, bytes, sha256
        case recordingID = "recording_id"
        case sealedTo = "sealed_to"
    }
}

// MARK: Rows

extension CatalogRecording {
    /// The columns of `recordings`, in the order of `sqlValues`.
    public static let columns = [
        "id", "call_id", "caller", "callee", "direction", "start", "start_epoch", "duration_s", "audio_path", "index_path",
        "audio_bytes", "audio_sha256", "codecs", "sample_rate", "end_reason", "caller_talk_s", "callee_talk_s", "overtalk_s",
        "dtmf_count", "silence_share", "caller_packets", "callee_packets", "caller_lost", "callee_lost", "caller_jitter_ms",
        "callee_jitter_ms", "rule_id", "retain_until_epoch", "hold_reason", "hold_by", "hold_at_epoch", "state", "damaged",
        "storage", "media_encrypted", "dtmf_times", "on_demand", "kept_by", "kept_at_epoch",
    ]

    /// The row's values, in the order of `columns`.
    public var sqlValues: [SQLValue] {
        let values: [any SQLValueConvertible] = [
            id, callID, caller, callee, direction, start, startEpoch, durationS, audioPath, indexPath,
            audioBytes, audioSHA256, codecs, sampleRate, endReason, callerTalkS, calleeTalkS, overtalkS,
            dtmfCount, silenceShare, callerPackets, calleePackets, callerLost, calleeLost, callerJitterMs,
            calleeJitterMs, ruleID, retainUntilEpoch, holdReason, holdBy, holdAtEpoch, state, damaged,
            storage, mediaEncrypted, dtmfTimes, onDemand, keptBy, keptAtEpoch,
        ]
        return values.map(\.sqlValue)
    }

    /// A recording from a row of `SELECT * FROM recordings`.
    public init(row: SQLRow) throws {
        self.init(
            id: try row["id"], callID: try row["call_id"], caller: try row["caller"], callee: try row["callee"],
            direction: try row["direction"], start: try row["start"], startEpoch: try row["start_epoch"],
            durationS: try row["duration_s"], audioPath: try row["audio_path"], indexPath: try row["index_path"],
            audioBytes: try row["audio_bytes"], codecs: try row["codecs"], endReason: try row["end_reason"])
        audioSHA256 = try row["audio_sha256"]
        sampleRate = try row["sample_rate"]
        callerTalkS = try row["caller_talk_s"]
        calleeTalkS = try row["callee_talk_s"]
        overtalkS = try row["overtalk_s"]
        dtmfCount = try row["dtmf_count"]
        dtmfTimes = try row["dtmf_times"]
        silenceShare = try row["silence_share"]
        callerPackets = try row["caller_packets"]
        calleePackets = try row["callee_packets"]
        callerLost = try row["caller_lost"]
        calleeLost = try row["callee_lost"]
        callerJitterMs = try row["caller_jitter_ms"]
        calleeJitterMs = try row["callee_jitter_ms"]
        ruleID = try row["rule_id"]
        retainUntilEpoch = try row["retain_until_epoch"]
        holdReason = try row["hold_reason"]
        holdBy = try row["hold_by"]
        holdAtEpoch = try row["hold_at_epoch"]
        state = try row["state"]
        damaged = try row["damaged"]
        storage = try row["storage"]
        mediaEncrypted = try row["media_encrypted"]
        onDemand = try row["on_demand"]
        keptBy = try row["kept_by"]
        keptAtEpoch = try row["kept_at_epoch"]
    }

    /// Inserts the row, or updates every column of the row with its id.
    func save(_ db: any SQLConnection) throws {
        try db.upsert(
            into: Self.databaseTableName, values: Array(zip(Self.columns, sqlValues)).map { ($0, $1) }, conflict: ["id"])
    }

    /// The recordings a query of `recordings` rows returns.
    static func fetchAll(_ db: any SQLConnection, sql: String, arguments: SQLArguments = []) throws -> [CatalogRecording] {
        try db.query(sql: sql, arguments: arguments).map(CatalogRecording.init(row:))
    }

    /// The recording with `id`, or nil.
    static func fetchOne(_ db: any SQLConnection, id: String) throws -> CatalogRecording? {
        try db.queryOne(sql: "SELECT * FROM recordings WHERE id = ?", arguments: [id]).map(CatalogRecording.init(row:))
    }
}

extension CatalogFile {
    /// The columns of `recording_files`, in the order of `sqlValues`.
    public static let columns = ["recording_id", "position", "path", "bytes", "sha256", "sealed_to"]

    /// The row's values, in the order of `columns`.
    public var sqlValues: [SQLValue] {
        [recordingID.sqlValue, position.sqlValue, path.sqlValue, bytes.sqlValue, sha256.sqlValue, CatalogFile.recipientList(sealedTo).sqlValue]
    }

    /// A file from a row of `SELECT * FROM recording_files`.
    public init(row: SQLRow) throws {
        self.init(
            recordingID: try row["recording_id"], position: try row["position"], path: try row["path"], bytes: try row["bytes"],
            sha256: try row["sha256"], sealedTo: CatalogFile.recipients(try row["sealed_to"]))
    }

    /// Inserts the row.
    func insert(_ db: any SQLConnection) throws {
        try db.execute(
            sql: "INSERT INTO recording_files (recording_id, position, path, bytes, sha256, sealed_to) VALUES (?, ?, ?, ?, ?, ?)",
            arguments: SQLArguments(sqlValues))
    }

    /// `sealed_to` as stored: the recipients separated by spaces (nil for a file in the clear).
    static func recipientList(_ recipients: [String]?) -> String? {
        recipients.map { $0.joined(separator: " ") }
    }

    /// The recipients of a stored `sealed_to`.
    static func recipients(_ text: String?) -> [String]? {
        text.map { $0.split(separator: " ").map(String.init) }
    }
}
