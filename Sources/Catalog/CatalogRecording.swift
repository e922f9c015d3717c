import GRDB

/// One recording as the catalog holds it.
public struct CatalogRecording: Codable, Sendable, Equatable, FetchableRecord, PersistableRecord {
    public static let databaseTableName = "recordings"

    /// The recording id (`20261129T081530Z-3f9a1c2e`), also the file stem.
    public var id: String
    public var callID: String
    public var caller: String?
    public var callee: String?
    /// `inbound`, `outbound`, `internal` or `unknown`.
    public var direction: String
    /// Time zero of the recording, ISO 8601 UTC.
    public var start: String
    /// Time zero in Unix seconds, for range queries.
    public var startEpoch: Double
    public var durationS: Double
    /// The audio file and the call index, relative to the catalog's folder.
    public var audioPath: String
    public var indexPath: String
    public var audioBytes: Int64
    /// Codec of each channel, comma-separated (`PCMU,PCMU`).
    public var codecs: String
    public var endReason: String

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
    }

    enum CodingKeys: String, CodingKey {
        case id, caller, callee, direction, start, codecs
        case callID = "call_id"
        case startEpoch = "start_epoch"
        case durationS = "duration_s"
        case audioPath = "audio_path"
        case indexPath = "index_path"
        case audioBytes = "audio_bytes"
        case endReason = "end_reason"
    }
}
