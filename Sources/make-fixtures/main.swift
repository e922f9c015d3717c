// make-fixtures: regenerates the generated captures in Fixtures/.
//
//   swift run make-fixtures [FIXTURES_DIR]
//   swift run make-fixtures --speech-call CALLER.raw CALLEE.raw PCMU|PCMA|G722|CALLER+CALLEE OUT.pcap [CALLER_DRIFT]
//
// The second form builds a call from given speech (16-bit little-endian raw
// at the codec's rate, one file per party), for measurements such as
// scripts/measure-opus-quality.py.
//
// Every fixture is deterministic (seeded), so running this again writes the
// same bytes; Fixtures/README.md says how each file was made.
import CallrecTestSupport
import Codecs
import Foundation

let arguments = CommandLine.arguments
if (6...7).contains(arguments.count) && arguments[1] == "--speech-call" {
    func raw(_ path: String) throws -> [Int16] {
        let data = try Data(contentsOf: URL(fileURLWithPath: path))
        return stride(from: 0, to: data.count - 1, by: 2).map { Int16(bitPattern: UInt16(data[$0]) | UInt16(data[$0 + 1]) << 8) }
    }
    // CODEC, or CALLER+CALLEE for a call whose legs carry different codecs (PCMU+G722).
    let names = arguments[4].split(separator: "+").map(String.init)
    let codecs = names.compactMap { AudioCodec(encoding: $0) }
    guard (1...2).contains(names.count), codecs.count == names.count else {
        print("make-fixtures: unknown codec \(arguments[4])")
        exit(2)
    }
    var call = SyntheticCall()
    call.codec = codecs[0]
    if codecs.count == 2 { call.calleeCodec = codecs[1] }
    // An optional last argument: how much faster the caller's clock runs (0.001 = 0.1 %).
    if arguments.count == 7, let drift = Double(arguments[6]) { call.callerImpairments.clockDrift = drift }
    call.callerSpeech = try raw(arguments[2])
    call.calleeSpeech = try raw(arguments[3])
    call.duration = 3600
    call.networkJitter = 0
    let output = call.build()
    try Data(output.pcap).write(to: URL(fileURLWithPath: arguments[5]))
    print("wrote \(arguments[5]) (\(output.packetsPerLeg) RTP packets per leg)")
    exit(0)
}

let directory = CommandLine.arguments.count > 1 ? CommandLine.arguments[1] : FixturePaths.repositoryRoot + "/Fixtures"

struct Fixture {
    var name: String
    var call: SyntheticCall
}

var pcmu = SyntheticCall()
pcmu.codec = .pcmu
pcmu.seed = 1
pcmu.callID = "a84b4c76e66710@pc33.example.com"

var pcma = SyntheticCall()
pcma.codec = .pcma
pcma.seed = 2
pcma.callID = "3848276298220188511@atlanta.example.com"
pcma.callerNumber = "+4631555010"
pcma.calleeNumber = "+4631555020"
pcma.callerVoice = .high
pcma.calleeVoice = .low

for fixture in [Fixture(name: "g711u-2legs-20ms.pcap", call: pcmu), Fixture(name: "g711a-2legs-20ms.pcap", call: pcma)] {
    let output = fixture.call.build()
    let path = directory + "/" + fixture.name
    try Data(output.pcap).write(to: URL(fileURLWithPath: path))
    print("wrote \(path) (\(output.pcap.count) bytes, \(output.packetsPerLeg) RTP packets per leg)")
}
