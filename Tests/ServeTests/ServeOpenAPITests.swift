import CallrecCore
import CallrecTestSupport
import Catalog
import Foundation
import HTTPTypes
import Hummingbird
import Serve
import Testing

/// docs/openapi.yaml against the real server: every operation it lists
/// answers, signed in, with its documented success status and content type
/// and a body holding its schema's required fields; without a session with
/// its documented 401; for an unknown id with its documented 404.
///
/// The file is read by its layout (two-space YAML indentation, as written:
/// paths at 2, methods at 4, response codes at 8, media types at 12), so
/// the test needs no YAML library; a file that no longer has that layout
/// fails the first expectation.
@Suite struct ServeOpenAPITests {
    struct Operation {
        var method: String
        var path: String
        /// Response code -> its media type (nil: no body documented), the schema named, and whether it is an array of it.
        var responses: [String: (type: String?, schema: String?, array: Bool)] = [:]
    }

    struct Spec {
        var operations: [Operation] = []
        /// components.responses name -> media type.
        var sharedResponses: [String: String] = [:]
        /// components.schemas name -> required properties.
        var required: [String: [String]] = [:]
    }

    static func spec() throws -> Spec {
        let file = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
            .appendingPathComponent("docs/openapi.yaml")
        let lines = try String(contentsOf: file, encoding: .utf8).split(separator: "\n", omittingEmptySubsequences: false).map(String.init)
        func match(_ line: String, _ pattern: String) -> [String]? {
            guard let regex = try? NSRegularExpression(pattern: pattern),
                let m = regex.firstMatch(in: line, range: NSRange(line.startIndex..., in: line))
            else { return nil }
            return (1..<m.numberOfRanges).map { m.range(at: $0).location == NSNotFound ? "" : String(line[Range(m.range(at: $0), in: line)!]) }
        }
        var spec = Spec()
        var section = "", component = "", schema = "", response = ""
        var path = "", code = ""
        for line in lines {
            if let top = match(line, #"^(\w+):"#) { section = top[0]; continue }
            if section == "components" {
                if let name = match(line, #"^  (\w+):$"#) { component = name[0]; continue }
                if component == "schemas", let name = match(line, #"^    (\w+):$"#) { schema = name[0] }
                if component == "schemas", let list = match(line, #"^      required: \[(.*)\]$"#) {
                    spec.required[schema] = list[0].split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces) }
                }
                if component == "responses", let name = match(line, #"^    (\w+):$"#) { response = name[0] }
                if component == "responses", let type = match(line, #"^        ([a-z]+/[a-z0-9.+-]+):$"#) { spec.sharedResponses[response] = type[0] }
            }
            guard section == "paths" else { continue }
            if let p = match(line, #"^  (/\S*):$"#) { path = p[0]; continue }
            if let m = match(line, #"^    (get|post|put|delete):$"#) {
                spec.operations.append(Operation(method: m[0], path: path))
                continue
            }
            if let c = match(line, #"^        "(\d{3})":(.*)$"#) {
                code = c[0]
                var entry: (type: String?, schema: String?, array: Bool) = (nil, nil, false)
                if let shared = match(c[1], #"#/components/responses/(\w+)"#) { entry.type = spec.sharedResponses[shared[0]] }
                spec.operations[spec.operations.count - 1].responses[code] = entry
                continue
            }
            guard !code.isEmpty, !spec.operations.isEmpty, line.hasPrefix("          ") else {
                if !line.hasPrefix("          ") { code = "" }
                continue
            }
            var entry = spec.operations[spec.operations.count - 1].responses[code]!
            if let type = match(line, #"^            ([a-z]+/[a-z0-9.+-]+):$"#) { entry.type = type[0] }
            if let named = match(line, #"#/components/schemas/(\w+)"#) { entry.schema = named[0] }
            if line.contains("type: array") { entry.array = true }
            spec.operations[spec.operations.count - 1].responses[code] = entry
        }
        return spec
    }

    @Test func everyDocumentedOperationAnswersAsDocumented() async throws {
        let spec = try Self.spec()
        let documented = Set(spec.operations.map { "\($0.method.uppercased()) \($0.path)" })
        #expect(
            documented.isSuperset(of: [
                "POST /login", "POST /logout", "GET /api/calls", "GET /api/calls/{id}", "GET /api/calls/{id}/peaks", "GET /calls/{id}/audio",
                "GET /calls/{id}/download", "GET /api/audit",
            ]), "\(documented.sorted())")
        let site = try ServeSite()
        let alice = site.calls["alice"]!
        try await site.server().test { client in
            for operation in spec.operations {
                let name = "\(operation.method.uppercased()) \(operation.path)"
                let success = try #require(operation.responses.keys.filter { $0.hasPrefix("2") || $0.hasPrefix("3") }.sorted().first, "\(name)")
                var browser = Browser(client)
                let answer: TestResponse
                switch name {
                case "POST /login":
                    answer = try await browser.login("alice")
                case "POST /logout":
                    try await browser.login("alice")
                    let csrf = try #require(Browser.csrf(try await browser.send("/")))
                    answer = try await browser.send("/logout", .post, form: "csrf=\(csrf)")
                default:
                    try await browser.login(operation.path.hasPrefix("/api/audit") ? "ada" : "alice")
                    answer = try await browser.send(operation.path.replacingOccurrences(of: "{id}", with: alice), HTTPRequest.Method(operation.method.uppercased())!)
                }
                #expect(String(answer.status.code) == success, "\(name): \(answer.status)")
                let documentedResponse = operation.responses[success]!
                if let type = documentedResponse.type {
                    #expect(answer.headers[.contentType]?.hasPrefix(type) == true, "\(name): \(answer.headers[.contentType] ?? "no type")")
                }
                if let schema = documentedResponse.schema, documentedResponse.type == "application/json" {
                    let required = try #require(spec.required[schema], "\(name): schema \(schema)")
                    let body = try answer.json()
                    let objects = documentedResponse.array ? try #require(body as? [[String: Any]], "\(name)") : [try #require(body as? [String: Any], "\(name)")]
                    #expect(!objects.isEmpty, "\(name)")
                    for object in objects {
                        for field in required { #expect(object[field] != nil, "\(name): \(schema).\(field) missing") }
                    }
                }
                // Without a session, and for an id that does not exist: as documented.
                if let unauthorized = operation.responses["401"], name != "POST /login" {
                    let refused = try await client.execute(
                        uri: operation.path.replacingOccurrences(of: "{id}", with: alice), method: HTTPRequest.Method(operation.method.uppercased())!)
                    #expect(refused.status == .unauthorized, "\(name) without a session: \(refused.status)")
                    if let type = unauthorized.type { #expect(refused.headers[.contentType]?.hasPrefix(type) == true, "\(name)") }
                }
                if let missing = operation.responses["404"], operation.path.contains("{id}") {
                    var signedIn = Browser(client)
                    try await signedIn.login("alice")
                    let unknown = try await signedIn.send(operation.path.replacingOccurrences(of: "{id}", with: "20990101T000000Z-deadbeef"))
                    #expect(unknown.status == .notFound, "\(name) of an unknown id: \(unknown.status)")
                    if let type = missing.type { #expect(unknown.headers[.contentType]?.hasPrefix(type) == true, "\(name)") }
                }
            }
        }
    }
}
