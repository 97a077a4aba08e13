/**
 * The HTTP/1.1 upgrade request of a WebSocket connection [RFC 6455 4.2]: parsed from the bytes
 * read before any frame, checked against the listener's `websocket` settings (path, subprotocol,
 * origin) and answered with 101 or an HTTP error. Private to src/supervisor/. Pure but for SHA-1:
 * bytes in, a verdict and the response bytes out.
 */

import { createHash } from "node:crypto";
import type { WebsocketConfig } from "../config/types.ts";

/** Largest request head accepted (request line + headers, cookies included). */
export const MAX_REQUEST_HEAD = 16 * 1024;
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11";

/** What the bytes read so far say. */
export type Upgrade =
  | { kind: "need-more" }
  | { kind: "refused"; status: number; reason: string; response: Uint8Array }
  | {
    kind: "accepted";
    response: Uint8Array;
    /** Bytes after the request head (frames the client sent without waiting). */
    consumed: number;
    /** First address of the proxy address header, when configured and present. */
    forwardedFor: string | null;
    forwardedPort: string | null;
    /** Value of the configured authentication cookie, or "". */
    cookie: string;
  };

const STATUS_TEXT: Record<number, string> = {
  400: "Bad Request",
  403: "Forbidden",
  404: "Not Found",
  405: "Method Not Allowed",
  426: "Upgrade Required",
  431: "Request Header Fields Too Large",
};

function refuse(status: number, reason: string, extra = ""): Upgrade {
  const text = `HTTP/1.1 ${status} ${STATUS_TEXT[status] ?? "Error"}\r\n${extra}` +
    "connection: close\r\ncontent-length: 0\r\n\r\n";
  return { kind: "refused", status, reason, response: new TextEncoder().encode(text) };
}

/** Index of the "\r\n\r\n" that ends the head, or -1. */
function headEnd(buf: Uint8Array): number {
  for (let i = 3; i < buf.length; i++) {
    if (buf[i] === 0x0a && buf[i - 1] === 0x0d && buf[i - 2] === 0x0a && buf[i - 3] === 0x0d) {
      return i + 1;
    }
  }
  return -1;
}

/**
 * Checks the upgrade request at the start of `buf` against `ws`.
 *
 * @example
 * ```ts ignore
 * const u = checkUpgrade(bytes, config.listeners.ws.default!.websocket);
 * if (u.kind === "accepted") socket.write(u.response);
 * ```
 */
export function checkUpgrade(buf: Uint8Array, ws: WebsocketConfig): Upgrade {
  const end = headEnd(buf);
  if (end < 0) {
    return buf.length > MAX_REQUEST_HEAD
      ? refuse(431, `request head exceeds ${MAX_REQUEST_HEAD} bytes`)
      : { kind: "need-more" };
  }
  if (end > MAX_REQUEST_HEAD) return refuse(431, `request head exceeds ${MAX_REQUEST_HEAD} bytes`);
  // Header bytes are Latin-1 [RFC 9110 5.5]; anything else is opaque to us.
  const lines = String.fromCharCode(...buf.subarray(0, end - 4)).split("\r\n");
  const request = /^(\S+) (\S+) HTTP\/1\.(\d)$/.exec(lines[0] ?? "");
  if (!request) return refuse(400, "not an HTTP/1.x request");
  const headers = new Map<string, string>();
  for (const line of lines.slice(1)) {
    const colon = line.indexOf(":");
    if (colon <= 0) return refuse(400, "malformed header line");
    const name = line.slice(0, colon).trim().toLowerCase();
    const value = line.slice(colon + 1).trim();
    // Repeated headers fold into one comma-separated value [RFC 9110 5.3] (cookies with "; ").
    const before = headers.get(name);
    headers.set(
      name,
      before === undefined ? value : `${before}${name === "cookie" ? "; " : ", "}${value}`,
    );
  }
  const [, method, target = "", minor] = request;
  if (method !== "GET") return refuse(405, `method ${method}`);
  if (minor !== "1") return refuse(400, "WebSocket needs HTTP/1.1");
  const path = target.split("?")[0];
  if (path !== ws.mqttPath) return refuse(404, `path ${path} is not ${ws.mqttPath}`);
  const tokens = (name: string) =>
    (headers.get(name) ?? "").toLowerCase().split(",").map((s) => s.trim());
  if (!tokens("upgrade").includes("websocket")) return refuse(400, "no Upgrade: websocket");
  if (!tokens("connection").includes("upgrade")) return refuse(400, "no Connection: upgrade");
  if (headers.get("sec-websocket-version") !== "13") {
    return refuse(426, "Sec-WebSocket-Version is not 13", "sec-websocket-version: 13\r\n");
  }
  const key = headers.get("sec-websocket-key") ?? "";
  if (!/^[A-Za-z0-9+/]{22}==$/.test(key)) return refuse(400, "bad Sec-WebSocket-Key");

  const origin = headers.get("origin");
  if (ws.checkOriginEnable) {
    if (origin === undefined ? !ws.allowOriginAbsence : !ws.checkOrigins.includes(origin)) {
      return refuse(
        403,
        origin === undefined ? "no Origin header" : `origin ${origin} not allowed`,
      );
    }
  }

  let protocol: string | null = null;
  const offered = headers.get("sec-websocket-protocol");
  if (offered === undefined) {
    if (ws.failIfNoSubprotocol) return refuse(400, "no Sec-WebSocket-Protocol");
  } else {
    const names = offered.split(",").map((s) => s.trim());
    protocol = names.find((p) => ws.supportedSubprotocols.includes(p)) ?? null;
    if (protocol === null) return refuse(400, `no supported subprotocol in "${offered}"`);
  }

  const accept = createHash("sha1").update(key + GUID).digest("base64");
  const response = "HTTP/1.1 101 Switching Protocols\r\nupgrade: websocket\r\n" +
    `connection: Upgrade\r\nsec-websocket-accept: ${accept}\r\n` +
    (protocol === null ? "" : `sec-websocket-protocol: ${protocol}\r\n`) + "\r\n";
  const forwarded = ws.proxyAddressHeader ? headers.get(ws.proxyAddressHeader) : undefined;
  return {
    kind: "accepted",
    response: new TextEncoder().encode(response),
    consumed: end,
    forwardedFor: forwarded?.split(",")[0]?.trim() || null,
    forwardedPort: (ws.proxyPortHeader ? headers.get(ws.proxyPortHeader)?.trim() : null) || null,
    cookie: ws.authCookieName ? cookieValue(headers.get("cookie") ?? "", ws.authCookieName) : "",
  };
}

/** The value of cookie `name` in a Cookie header ("a=1; b=2"), or "". */
export function cookieValue(header: string, name: string): string {
  for (const part of header.split(";")) {
    const eq = part.indexOf("=");
    if (eq > 0 && part.slice(0, eq).trim() === name) {
      let value = part.slice(eq + 1).trim();
      if (value.length >= 2 && value.startsWith('"') && value.endsWith('"')) {
        value = value.slice(1, -1);
      }
      return value;
    }
  }
  return "";
}
