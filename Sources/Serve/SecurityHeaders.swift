import HTTPTypes
import Hummingbird
import Logging

/// Sets the headers every response carries, and turns what a handler
/// throws into a short response with them (nothing of the error's text
/// reaches the client but for HTTP errors such as an unknown route's 404):
/// a Content-Security-Policy that allows only our own script and style (no
/// inline script) and no framing; nosniff; no referrer; no caching of
/// pages, API answers or audio (a recording is not left in a browser's cache).
struct SecurityHeaders: RouterMiddleware {
    typealias Context = ServeContext

    static let contentSecurityPolicy =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; media-src 'self'; connect-src 'self'; "
        + "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"

    static let frameOptions = HTTPField.Name("X-Frame-Options")!
    static let referrerPolicy = HTTPField.Name("Referrer-Policy")!

    func handle(_ request: Request, context: Context, next: (Request, Context) async throws -> Response) async throws -> Response {
        var response: Response
        do {
            response = try await next(request, context)
        } catch let error as HTTPError {
            response = Response(status: error.status, body: .init(byteBuffer: ByteBuffer(string: error.status.reasonPhrase + "\n")))
            response.headers[.contentType] = "text/plain; charset=utf-8"
        } catch {
            context.logger.error("\(request.method) \(request.uri.path): \(error)")
            response = Response(status: .internalServerError, body: .init(byteBuffer: ByteBuffer(string: "internal error\n")))
            response.headers[.contentType] = "text/plain; charset=utf-8"
        }
        response.headers[.contentSecurityPolicy] = Self.contentSecurityPolicy
        response.headers[.xContentTypeOptions] = "nosniff"
        response.headers[Self.frameOptions] = "DENY"
        response.headers[Self.referrerPolicy] = "no-referrer"
        if response.headers[.cacheControl] == nil { response.headers[.cacheControl] = "no-store" }
        return response
    }
}
