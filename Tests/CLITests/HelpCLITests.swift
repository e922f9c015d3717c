import CallrecTestSupport
import Foundation
import Testing

/// `--help` of every command, as a user's terminal shows it.
///
/// swift-argument-parser wraps the discussion text to the terminal's width
/// (COLUMNS), keeping the text's own line breaks. So prose must be written
/// as paragraphs, one line each, and left to the parser to wrap: a line
/// broken by hand is broken again, mid-sentence, on any other width. Lines
/// that are laid out on purpose (tables, examples) are indented and must
/// fit an 80-column terminal — 79 characters, as the parser breaks a line
/// that fills all 80 — or the parser breaks them at column 0.
@Suite struct HelpCLITests {
    /// Every command's path below `callrec`, `callrec` itself first: found once for both tests.
    static let paths = Result { try findCommandPaths() }
    static func commandPaths() throws -> [[String]] { try paths.get() }

    /// Walks the SUBCOMMANDS section of each help page.
    static func findCommandPaths() throws -> [[String]] {
        var paths: [[String]] = [[]]
        var queue: [[String]] = [[]]
        while let path = queue.first {
            queue.removeFirst()
            let help = try CommandRunner.callrec(path + ["--help"], environment: ["COLUMNS": "200"])
            guard let section = help.stdout.range(of: "\nSUBCOMMANDS:\n") else { continue }
            for line in help.stdout[section.upperBound...].split(separator: "\n", omittingEmptySubsequences: false) {
                if line.isEmpty { break }
                // "  name      abstract" (the default subcommand says "(default)").
                guard line.hasPrefix("  "), !line.hasPrefix("   "), let name = line.split(separator: " ").first else { continue }
                if name == "help" { continue }
                paths.append(path + [String(name)])
                queue.append(path + [String(name)])
            }
        }
        return paths
    }

    /// The OVERVIEW part of a help page: the abstract and the discussion.
    static func overview(_ help: String) -> [Substring] {
        let lines = help.split(separator: "\n", omittingEmptySubsequences: false)
        return Array(lines.prefix { !$0.hasPrefix("USAGE:") })
    }

    @Test func everyCommandIsFound() throws {
        let paths = try Self.commandPaths().map { $0.joined(separator: " ") }
        for expected in ["convert", "record", "inspect", "serve", "catalog", "catalog find", "catalog rules add", "keys new", "verify-evidence"] {
            #expect(paths.contains(expected), "\(expected) not among \(paths)")
        }
    }

    @Test func proseIsParagraphsAndLayoutFitsEightyColumns() throws {
        for path in try Self.commandPaths() {
            let name = (["callrec"] + path).joined(separator: " ")
            let wide = try CommandRunner.callrec(path + ["--help"], environment: ["COLUMNS": "1000"])
            #expect(wide.status == 0, "\(name) --help: \(wide.stderr)")
            let overview = Self.overview(wide.stdout)
            for (line, next) in zip(overview, overview.dropFirst()) {
                let prose = { (l: Substring) in !l.isEmpty && !l.hasPrefix(" ") }
                #expect(!(prose(line) && prose(next)), "\(name) --help: a paragraph broken by hand after \"\(line)\"")
            }
            for line in overview where line.hasPrefix(" ") {
                #expect(line.count < 80, "\(name) --help: \(line.count) columns, too wide for an 80-column terminal: \"\(line)\"")
            }
            // On 80 columns, each laid-out line comes out whole.
            let narrow = try CommandRunner.callrec(path + ["--help"], environment: ["COLUMNS": "80"])
            let narrowLines = Set(Self.overview(narrow.stdout))
            for line in overview where line.hasPrefix(" ") && line.count < 80 {
                #expect(narrowLines.contains(line), "\(name) --help at 80 columns breaks \"\(line)\"")
            }
        }
    }
}
