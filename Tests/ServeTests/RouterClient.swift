import HTTPTypes
import Hummingbird
import Logging
import NIOCore
import NIOEmbedded
import Serve

// The serve tests talk to the server's router in process, through Hummingbird's public responder API, without
// HummingbirdTesting: that module links AsyncHTTPClient and with it swift-nio-http2, SOCKS and swift-configuration,
// which nothing else here needs and which cost the build about a minute (make test must stay under 15). The real
// server over a socket is what the browser test (Tests/Browser) and the CLI tests drive.

/// A response as the tests read it: status, header fields and the whole body.
struct TestResponse: Sendable {
    let status: HTTPResponse.Status
    let headers: HTTPFields
    let body: ByteBuffer
}

/// A client of the router of one `CallServer`: each request is answered as the server would answer it on a
/// connection (errors the routes throw become their own status, as Hummingbird's server makes them).
struct RouterClient: Sendable {
    let responder: RouterResponder<ServeContext>
    let logger: Logger

    func execute(uri: String, method: HTTPRequest.Method, headers: HTTPFields = [:], body: ByteBuffer? = nil) async throws -> TestResponse {
        var headers = headers
        if let body { headers[.contentLength] = String(body.readableBytes) }
        let request = Request(
            head: HTTPRequest(method: method, scheme: "http", authority: "localhost", path: uri, headerFields: headers),
            body: RequestBody(buffer: body ?? ByteBuffer()))
        // No socket: the peer's address is unknown, as ServeContext says.
        let context = ServeContext(source: ApplicationRequestContextSource(channel: NIOAsyncTestingChannel(), logger: logger))
        let response: Response
        do {
            response = try await responder.respond(to: request, context: context)
        } catch let error as any HTTPResponseError {
            response = try error.response(from: request, context: context)
        } catch {
            response = Response(status: .internalServerError)
        }
        let collector = BodyCollector()
        try await response.body.write(collector)
        return TestResponse(status: response.status, headers: response.headers, body: collector.body.value)
    }
}

/// Gathers a response body as the server would send it.
private struct BodyCollector: ResponseBodyWriter {
    final class Box: @unchecked Sendable { var value = ByteBuffer() }
    let body = Box()

    mutating func write(_ buffer: ByteBuffer) async throws {
        var buffer = buffer
        body.value.writeBuffer(&buffer)
    }

    consuming func finish(_ trailingHeaders: HTTPFields?) async throws {}
}

extension CallServer {
    /// Runs `test` with a client of this server's router.
    func test<Value>(_ test: (RouterClient) async throws -> Value) async throws -> Value {
        var logger = Logger(label: "callrec.serve.test")
        logger.logLevel = .warning
        return try await test(RouterClient(responder: router().buildResponder(), logger: logger))
    }
}
