import CallrecCore
import CallrecTestSupport
import Foundation
import Output
import Sealing
import Testing

/// Output's writers sealing through `AtomicFile`'s transform: the bytes on
/// disk are an age file from the first write, and never the plaintext.
/// Ogg Opus and JSON stream; WAV, FLAC and the peaks `.dat`, whose writers
/// rewrite a header at the end, use the `.firstChunkLast` layout.
@Suite struct SealedOutputTests {
    typealias S = SealingTestSupport

    /// A speech-like two-channel signal, `seconds` long at `rate`.
    static func signal(seconds: Double, rate: Int) -> [[Int16]] {
        (0..<2).map { channel in
            (0..<Int(seconds * Double(rate))).map { i in
                let t = Double(i) / Double(rate)
                return Int16(7000 * sin(2 * .pi * (220 + 130 * Double(channel)) * t) * (0.6 + 0.4 * sin(2 * .pi * 3 * t)))
            }
        }
    }

    /// Feeds `channels` through `sink` in whole frames and finishes it (the file is synced, not yet published).
    static func feed(_ sink: any AudioSink, _ channels: [[Int16]], checkEachFrame: (AtomicFile) -> Void = { _ in }) throws {
        let n = channels[0].count
        let frame = sink.frameSamples
        var buffer = [Int16](repeating: 0, count: frame * channels.count)
        var k = 0
        while k < n {
            for i in 0..<frame {
                for c in 0..<channels.count { buffer[i * channels.count + c] = k + i < n ? channels[c][k + i] : 0 }
            }
            try buffer.withUnsafeBufferPointer { try sink.write(frame: $0) }
            checkEachFrame(sink.file)
            k += frame
        }
        try sink.finish(totalSamples: Int64(n))
    }

    static func contains(_ bytes: [UInt8], _ needle: String) -> Bool {
        let n = Array(needle.utf8)
        guard bytes.count >= n.count else { return false }
        return (0...(bytes.count - n.count)).contains { bytes[$0..<($0 + n.count)].elementsEqual(n) }
    }

    @Test func aSealedOggOpusFileDecryptsToTheSameBytesAndOpusinfoIsClean() throws {
        let (keyFile, _) = try AgeInteropTests.keygen()
        let identity = try X25519Identity.load(path: keyFile)[0]
        let folder = FixturePaths.temporaryDirectory("sealed-opus")
        let audio = SealedOutputTests.signal(seconds: 30, rate: 8000)
        let format = AudioFormat(sampleRate: 8000, channels: 2)
        let tags = [("CALL_ID", "abc@pbx"), ("START", "2026-11-29T08:15:30.120Z")]

        let plain = try OggOpusWriter(
            file: try AtomicFile(directory: folder, name: "plain.opus"), format: format, settings: .default, tags: tags, serial: 7)
        try SealedOutputTests.feed(plain, audio)
        try plain.file.commit()

        let seal = try AgeWriter(recipients: [identity.recipient])
        let file = try AtomicFile(directory: folder, name: "call.opus" + seal.fileNameSuffix, transform: seal)
        #expect(file.path.hasSuffix("/call.opus.age"))
        let sealed = try OggOpusWriter(file: file, format: format, settings: .default, tags: tags, serial: 7)
        try SealedOutputTests.feed(sealed, audio) { file in
            // Mid-call, the temporary file is an age header and whole chunks: no Ogg page.
            let partial = S.read(file.temporaryPath)
            #expect(partial.starts(with: Array("age-encryption.org/v1\n".utf8)))
        }
        try file.commit()

        let stored = S.read(folder + "/call.opus.age")
        #expect(!SealedOutputTests.contains(stored, "OggS") && !SealedOutputTests.contains(stored, "abc@pbx"))
        #expect(file.size == Int64(stored.count))
        #expect(file.contentSize == plain.file.size)
        let decrypted = try S.toolBytes("age", ["-d", "-i", keyFile, folder + "/call.opus.age"])
        #expect(decrypted.status == 0, "\(decrypted.stderr)")
        #expect(decrypted.bytes == S.read(folder + "/plain.opus"))
        let out = folder + "/decrypted.opus"
        _ = FileManager.default.createFile(atPath: out, contents: Data(decrypted.bytes))
        let info = try S.tool("opusinfo", [out])
        #expect(info.status == 0, "\(info.stdout)")
        #expect(!info.stdout.contains("WARNING") && !info.stdout.contains("ERROR"), "\(info.stdout)")
    }

    /// `catalog export --format wav` of a sealed recording: libopusfile reads
    /// the content through the random-access reader, so the Ogg Opus bytes
    /// are never on disk; the WAV is the one the plain file gives.
    @Test func aSealedOpusFileExportsToTheSameWAVWithoutItsPlaintextOnDisk() throws {
        let identity = X25519Identity()
        let folder = FixturePaths.temporaryDirectory("sealed-export")
        // 40 s: about 70 KB of Opus, two chunks.
        let audio = SealedOutputTests.signal(seconds: 40, rate: 8000)
        let format = AudioFormat(sampleRate: 8000, channels: 2)
        let plain = try OggOpusWriter(file: try AtomicFile(directory: folder, name: "plain.opus"), format: format, settings: .default, tags: [], serial: 3)
        try SealedOutputTests.feed(plain, audio)
        try plain.file.commit()
        let file = try AtomicFile(directory: folder, name: "call.opus.age", transform: try AgeWriter(recipients: [identity.recipient]))
        let sealed = try OggOpusWriter(file: file, format: format, settings: .default, tags: [], serial: 3)
        try SealedOutputTests.feed(sealed, audio)
        try file.commit()

        let fromPlain = try OpusToWAV.convert(opusPath: folder + "/plain.opus", wavPath: folder + "/plain.wav")
        let reader = try AgeFileReader(path: file.path, identities: [identity])
        let fromSealed = try OpusToWAV.convert(source: reader, name: file.path, wavPath: folder + "/sealed.wav")
        #expect(fromSealed.frames == fromPlain.frames && fromSealed.frames > 48_000 * 39)
        #expect(S.read(folder + "/sealed.wav") == S.read(folder + "/plain.wav"))

        // A damaged chunk stops the export with the sealed file's own error.
        var bytes = S.read(file.path)
        let start = try #require(S.headerLength(bytes)) + 16
        try #require(bytes.count > start + AgePayload.sealedChunkSize + 16)
        bytes[start + 100] ^= 1
        let damaged = S.write(bytes, name: "damaged.opus.age")
        do {
            _ = try OpusToWAV.convert(source: try AgeFileReader(path: damaged, identities: [identity]), name: damaged, wavPath: folder + "/damaged.wav")
            Issue.record("a damaged sealed file should not export")
        } catch let error as SealingError {
            #expect(error.code == .payload && error.chunk == 0, "\(error)")
        }
        #expect(!FileManager.default.fileExists(atPath: folder + "/damaged.wav"))
    }

    @Test(arguments: [AudioFileFormat.wav, .flac])
    func sealedWAVAndFLACHoldTheSamePCM(container: AudioFileFormat) throws {
        let identity = X25519Identity()
        let folder = FixturePaths.temporaryDirectory("sealed-pcm")
        // 20 s of 8 kHz stereo: 640 KB of WAV, ten chunks; the header is rewritten at close.
        let audio = SealedOutputTests.signal(seconds: 20, rate: 8000)
        let seal = try AgeWriter(recipients: [identity.recipient], layout: .firstChunkLast)
        let name = "call." + container.fileExtension + seal.fileNameSuffix
        let sink = try SndFileWriter(
            file: try AtomicFile(directory: folder, name: name, transform: seal), format: AudioFormat(sampleRate: 8000, channels: 2),
            container: container, tags: [("CALL_ID", "abc@pbx")])
        try SealedOutputTests.feed(sink, audio)
        try sink.file.commit()
        let stored = S.read(folder + "/" + name)
        #expect(!SealedOutputTests.contains(stored, "RIFF") && !SealedOutputTests.contains(stored, "fLaC"))
        var plain: [UInt8] = []
        try AgeDecryptor.decrypt(path: folder + "/" + name, identities: [identity]) { plain += $0 }
        let decrypted = folder + "/call." + container.fileExtension
        _ = FileManager.default.createFile(atPath: decrypted, contents: Data(plain))
        let reader = try SoundFileReader(path: decrypted)
        #expect(reader.sampleRate == 8000)
        #expect(reader.channels == audio)
    }

    /// With the streaming layout libsndfile's closing header rewrite would
    /// touch a sealed chunk: a clear refusal, never a wrong file.
    @Test func aStreamingSealRefusesWAVsHeaderRewrite() throws {
        let seal = try AgeWriter(recipients: [X25519Identity().recipient])
        let sink = try SndFileWriter(
            file: try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "call.wav.age", transform: seal),
            format: AudioFormat(sampleRate: 8000, channels: 2), container: .wav, tags: [])
        do {
            try SealedOutputTests.feed(sink, SealedOutputTests.signal(seconds: 5, rate: 8000))
            Issue.record("the rewrite of a sealed chunk should have been refused")
        } catch let error as OutputError {
            #expect(error.code == .transform)
            #expect(error.message.contains("chunk 0 is already sealed"), "\(error)")
        }
    }

    @Test func sealedPeaks() throws {
        let identity = X25519Identity()
        for format in PeaksWriter.Format.allCases {
            let seal = try AgeWriter(recipients: [identity.recipient], layout: format == .dat ? .firstChunkLast : .streaming)
            let file = try AtomicFile(directory: FixturePaths.temporaryDirectory(), name: "call" + format.suffix + ".age", transform: seal)
            let peaks = try PeaksWriter(file: file, format: format, bits: 16, channels: 2, sampleRate: 8000, samplesPerPixel: 80)
            let pixel: [Int16] = [-1200, 1300, -400, 500]
            for _ in 0..<40_000 { try pixel.withUnsafeBufferPointer { try peaks.add($0) } }
            try peaks.finish()
            try file.commit()
            let plain = try AgeDecryptor.decrypt(S.read(file.path), identities: [identity])
            switch format {
            case .json:
                #expect(plain.starts(with: Array("{\"version\":2,\"channels\":2".utf8)))
                #expect(String(decoding: plain.suffix(20), as: UTF8.self).contains("\"length\":40000}"))
            case .dat:
                // 24-byte header with the length written last, at offset 16.
                #expect(plain.count == 24 + 40_000 * 8)
                #expect(Array(plain[16..<20]) == [0x40, 0x9C, 0x00, 0x00])
            }
        }
    }

    @Test func aDiscardedSealedFileLeavesNothing() throws {
        let folder = FixturePaths.temporaryDirectory()
        let file = try AtomicFile(directory: folder, name: "x.json.age", transform: try AgeWriter(recipients: [X25519Identity().recipient]))
        try file.write(Array("{\"dtmf\":\"4111\"}".utf8))
        file.discard()
        #expect(try FileManager.default.contentsOfDirectory(atPath: folder).isEmpty)
    }
}
