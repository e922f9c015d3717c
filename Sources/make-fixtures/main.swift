// make-fixtures: regenerates the generated captures in Fixtures/.
//
//   swift run make-fixtures [FIXTURES_DIR]
//
// Every fixture is deterministic (seeded), so running this again writes the
// same bytes; Fixtures/README.md says how each file was made.
import CallrecTestSupport
import Codecs
import Foundation

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
