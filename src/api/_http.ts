/**
 * Response helpers and the one API error (private to src/api/): EMQX's error body
 * `{code, message}`, JSON answers, 204, and reading a request body within a size bound.
 *
 * @module
 */

/** The one error route handlers throw; the router turns it into EMQX's `{code, message}`. */
export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
    this.name = "ApiError";
  }
}

/** 400 BAD_REQUEST naming the field. */
export function badRequest(message: string): ApiError {
  return new ApiError(400, "BAD_REQUEST", message);
}

/** A JSON answer. */
export function json(body: unknown, status = 200, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { "content-type": "application/json", ...headers },
  });
}

/** 204 No Content. */
export function noContent(): Response {
  return new Response(null, { status: 204 });
}

/** The response for an ApiError. */
export function errorResponse(err: ApiError): Response {
  return json({ code: err.code, message: err.message }, err.status, err.headers);
}

/**
 * The request body as text, refusing more than `max` bytes (413) whatever Content-Length says.
 * An empty body is "".
 */
export async function readBody(request: Request, max: number): Promise<string> {
  const declared = Number(request.headers.get("content-length") ?? "0");
  if (declared > max) throw tooLarge(max);
  if (!request.body) return "";
  const reader = request.body.getReader();
  const chunks: Uint8Array[] = [];
  let total = 0;
  for (;;) {
    const { value, done } = await reader.read();
    if (done) break;
    total += value.length;
    if (total > max) {
      await reader.cancel().catch(() => {});
      throw tooLarge(max);
    }
    chunks.push(value);
  }
  const all = new Uint8Array(total);
  let at = 0;
  for (const c of chunks) {
    all.set(c, at);
    at += c.length;
  }
  return new TextDecoder().decode(all);
}

function tooLarge(max: number): ApiError {
  return new ApiError(413, "PAYLOAD_TOO_LARGE", `Request body over ${max} bytes`);
}
