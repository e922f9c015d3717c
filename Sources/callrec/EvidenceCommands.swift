import ArgumentParser
import CallrecCore
import Catalog
import Evidence
import Foundation
import Sealing

/// Opens a convert or a recorder: a signing key that cannot be used (its
/// group or others may read it, it is not an Ed25519 key, a --signing-key
/// that does not exist) or a catalog that cannot be opened prints one line
/// and exits with status 1.
func openingRecorder<T>(_ body: () throws -> T) throws -> T {
    do {
        return try body()
    } catch let error as SealingError {
        FileHandleOutput.standardError.write("callrec: signing key: \(error)\n")
        throw PartialFailure()
    } catch let error as CatalogError {
        FileHandleOutput.standardError.write("callrec: \(error.message)\n")
        throw PartialFailure()
    }
}

/// `callrec verify-evidence FILE.zip`.
struct VerifyEvidence: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify-evidence",
        abstract: "Check an evidence bundle (catalog export --evidence): signatures, hashes, the audit chain.",
        discussion: """
            Makes every check the bundle's VERIFY.txt describes, and prints each one's result: \
            that no file changed since the export (SHA256SUMS and its signature), which key the \
            recorder has, that the recorder signed the recording's manifest, that the recording's \
            files are the ones the manifest lists, that the checkpoint is signed, that the audit \
            entries form one chain up to it, and that the entries about the recording hold what \
            they committed to. Needs nothing but the bundle: no catalog, no recording folder.

            Exit status: 0 when every check holds, 1 when one does not.

            Example: callrec verify-evidence dispute-4711.zip
            """
    )

    @Argument(help: ArgumentHelp("The evidence bundle.", valueName: "file.zip")) var bundle: String

    func run() throws {
        let steps = EvidenceBundle.verify(path: bundle)
        let out = FileHandleOutput.standardOutput
        for step in steps {
            out.write("\(step.ok ? "ok    " : "FAILED") \(step.title)\n       \(step.detail)\n")
        }
        let failed = steps.filter { !$0.ok }.count
        if failed == 0 && !steps.isEmpty {
            out.write("all \(steps.count) checks hold\n")
        } else {
            out.write("\(failed) of \(steps.count) checks failed\n")
            throw PartialFailure()
        }
    }
}

/// `callrec catalog recorders`.
struct CatalogRecorders: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "recorders",
        abstract: "List the recorders whose keys sign the catalog's manifests, with their fingerprints.",
        discussion: """
            Each convert or record output folder has its own recorder: an Ed25519 key that signs every \
            recording's manifest and the checkpoints of the audit chain. The recorder id is the first \
            16 hex digits of the key's fingerprint; compare the fingerprint with the one the recorder \
            printed when it started.
            """
    )
    @OptionGroup var location: CatalogLocation
    @Flag(help: "Also print each recorder's public key (PEM).") var keys = false

    func run() throws {
        try location.run { store, _ in
            var text = ""
            for r in try store.recorders() {
                text += "\(r.id)  \(r.fingerprint)  \(r.headSequence) manifest\(r.headSequence == 1 ? "" : "s")  since \(ISO8601Time.seconds(r.registeredEpoch))  \(r.label)\n"
                if keys { text += r.publicKeyPEM }
            }
            FileHandleOutput.standardOutput.write(text)
        }
    }
}

/// The check `show` and `export` make before presenting a recording.
func integrityCheck(_ store: CatalogStore) -> (CatalogRecording, [CatalogFile]) throws -> [String] {
    { recording, files in try RecordingIntegrity.problems(of: recording, files: files, in: store) }
}
