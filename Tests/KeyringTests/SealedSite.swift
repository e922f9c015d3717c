import CallMedia
import CallrecCore
import CallrecTestSupport
import Catalog
import Commit
import Conversion
import Foundation
import Keyring
import Sealing

/// A recording site for the sealing tests: an output folder with its
/// catalog, the firm's compliance key (kept here as a file, as the
/// compliance officer would keep it elsewhere), users with passwords, and
/// generated calls converted sealed.
final class SealedSite {
    /// scrypt's work factor for the tests' passwords (age's default of 18 takes a second each).
    static let workFactor = 10
    static let admin = CatalogActor.operator("test")

    let out: String
    let catalog: CatalogStore
    let compliance = X25519Identity()
    let complianceKeyFile: String
    private(set) var passwords: [String: String] = [:]

    init() throws {
        out = FixturePaths.temporaryDirectory("sealed-site")
        catalog = try CatalogStore(path: out + "/catalog.sqlite")
        complianceKeyFile = FixturePaths.temporaryDirectory("compliance") + "/compliance.key"
        try compliance.save(to: complianceKeyFile)
    }

    /// Adds a user with a personal key sealed to the password `<name>-password`.
    @discardableResult
    func addUser(_ name: String, _ role: Role, team: String? = nil, numbers: [String] = []) throws -> [TeamKeyChange] {
        let password = name + "-password"
        passwords[name] = password
        let key = try UserKeys.newKey(password: try Passphrase(password), workFactor: Self.workFactor)
        let user = CatalogUser(name: name, role: role, team: team, numbers: try numbers.map { try NumberPattern.parse($0) })
        return try catalog.putUser(user, key: key, teamKeys: TeamKeys(), by: Self.admin, at: 1)
    }

    /// `name`'s keys, unlocked with their password.
    func keys(_ name: String) throws -> RecordingKeys {
        try UserKeys.unlock(name, password: try Passphrase(passwords[name]!), catalog: catalog, action: "test", target: nil, at: 2)
    }

    /// The options of a sealed convert into this site (unsealed with `sealed: false`).
    func options(sealed: Bool = true) -> ConvertOptions {
        var options = ConvertOptions(outputDirectory: out)
        if sealed { options.complianceRecipients = [compliance.recipient.description] }
        return options
    }

    /// Converts `capture` into the site.
    func convert(_ capture: String, sealed: Bool = true, afterCommitStep: ((CommitStep) throws -> Void)? = nil) throws -> [RecordingSummary] {
        let result = try Converter(options: options(sealed: sealed), afterCommitStep: afterCommitStep).convert(path: capture, diagnostics: Diagnostics())
        if let error = result.error { throw CatalogError(.io, error) }
        return result.recordings
    }

    /// A generated call between `caller` and `callee`, as a capture file.
    static func call(caller: String, callee: String, seed: UInt64, duration: Double = 3, dtmf: [(UInt8, Double, Double)] = []) throws -> String {
        var call = SyntheticCall()
        call.callerNumber = caller
        call.calleeNumber = callee
        call.callID = "sealed-\(seed)@example.com"
        call.seed = seed
        call.duration = duration
        var impairments = LegImpairments()
        impairments.events = dtmf.map { (digit: $0.0, at: $0.1, duration: $0.2) }
        call.callerImpairments = impairments
        return try TemporaryFile.write(call.build().pcap)
    }

    /// Every regular file under `folder`, relative to it.
    /// The regular files under `folder` that sealing concerns: without the
    /// recorder's key pair and the signed manifests, which are in the clear
    /// (a manifest names the files as stored, sealed or not).
    static func files(_ folder: String) -> [String] {
        (FileManager.default.enumerator(atPath: folder)?.allObjects as? [String] ?? [])
            .filter { (try? FileManager.default.attributesOfItem(atPath: folder + "/" + $0)[.type] as? FileAttributeType) == .typeRegular }
            .filter { $0 != "recorder.key" && $0 != "recorder.pub.pem" && !isManifest($0) }
            .sorted()
    }

    /// A recording's signed manifest or its signature (`<id>.manifest.json`, `<id>.manifest.sig`).
    static func isManifest(_ path: String) -> Bool {
        path.hasSuffix(".manifest.json") || path.hasSuffix(".manifest.sig")
    }

    static func read(_ path: String) -> [UInt8] {
        (try? Data(contentsOf: URL(fileURLWithPath: path))).map { [UInt8]($0) } ?? []
    }

    /// The X25519 stanzas in a sealed file's header.
    static func stanzaCount(_ path: String) throws -> Int {
        let header = String(decoding: read(path).prefix(64 * 1024), as: UTF8.self)
        return header.components(separatedBy: "\n-> X25519 ").count - 1
    }
}
