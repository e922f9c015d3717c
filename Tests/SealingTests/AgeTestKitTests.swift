import CallrecTestSupport
import Foundation
import Sealing
import Testing

/// The age test kit (C2SP CCTV, Fixtures/age-testkit): every vector that
/// needs no post-quantum key, through the sequential decryptor and, for the
/// binary ones, the random-access reader. Each must end in the outcome the
/// kit names, and what the decryptor handed out (everything, or what came
/// before a payload failure) must hash to the kit's `payload`.
@Suite struct AgeTestKitTests {
    struct Vector: CustomStringConvertible {
        var name: String
        var expect: String
        var payload: String?
        var identities: [String] = []
        var passphrases: [String] = []
        var armored = false
        var file: [UInt8]
        var description: String { name }
    }

    static let folder = FixturePaths.fixture("age-testkit")

    static let names: [String] = {
        ((try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? [])
            .filter { !$0.hasSuffix(".md") && $0 != "LICENSE" }.sorted()
    }()

    static func load(_ name: String) throws -> Vector {
        let bytes = SealingTestSupport.read(folder + "/" + name)
        // The text header ends at the first empty line.
        let blank = try #require(bytes.indices.first { bytes[$0] == 0x0A && $0 + 1 < bytes.count && bytes[$0 + 1] == 0x0A })
        var vector = Vector(name: name, expect: "", file: Array(bytes[(blank + 2)...]))
        var compressed = false
        for line in String(decoding: bytes[..<blank], as: UTF8.self).split(separator: "\n") {
            let parts = line.split(separator: ":", maxSplits: 1).map { $0.trimmingCharacters(in: .whitespaces) }
            guard parts.count == 2 else { continue }
            switch parts[0] {
            case "expect": vector.expect = parts[1]
            case "payload": vector.payload = parts[1]
            case "identity": vector.identities.append(parts[1])
            case "passphrase": vector.passphrases.append(parts[1])
            case "armored": vector.armored = parts[1] == "yes"
            case "compressed": compressed = parts[1] == "zlib"
            default: break
            }
        }
        if compressed { vector.file = try SealingTestSupport.inflate(vector.file) }
        return vector
    }

    static func code(for expect: String) -> SealingError.Code? {
        switch expect {
        case "success": nil
        case "no match": .noMatch
        case "HMAC failure": .headerMAC
        case "header failure": .header
        case "payload failure": .payload
        case "armor failure": .armor
        default: .usage
        }
    }

    @Test func theKitIsHere() {
        #expect(AgeTestKitTests.names.count == 124)
    }

    @Test(arguments: AgeTestKitTests.names)
    func vector(_ name: String) throws {
        let vector = try AgeTestKitTests.load(name)
        let identities: [any AgeIdentity] =
            try vector.identities.map { try X25519Identity($0) } + vector.passphrases.map { ScryptIdentity(passphrase: try Passphrase($0)) }
        let path = SealingTestSupport.write(vector.file, name: name)
        var released: [UInt8] = []
        let error = SealingTestSupport.sealingError {
            try AgeDecryptor.decrypt(path: path, identities: identities, armor: vector.armored ? .required : .detect) {
                released.append(contentsOf: $0)
            }
        }
        let expected = AgeTestKitTests.code(for: vector.expect)
        #expect(error?.code == expected, "\(name): \(error?.description ?? "no error")")
        if expected == nil || expected == .payload, let payload = vector.payload {
            #expect(SealingTestSupport.sha256(released) == payload, "\(name): released \(released.count) bytes")
        } else {
            #expect(released.isEmpty, "\(name): released content before a header failure")
        }
        if let error { #expect(error.description.hasPrefix(path + ": "), "\(name): \(error)") }

        // The random-access reader, on the binary files: the same outcome, or
        // for a damaged payload a failure at open or at the read that touches the damage.
        guard !vector.armored else { return }
        var content: [UInt8]? = nil
        let randomError = SealingTestSupport.sealingError {
            let reader = try AgeFileReader(path: path, identities: identities)
            content = try reader.read(0..<reader.contentSize)
        }
        #expect(randomError?.code == expected, "\(name) (random access): \(randomError?.description ?? "no error")")
        if expected == nil { #expect(content.map(SealingTestSupport.sha256) == vector.payload) }
    }
}
