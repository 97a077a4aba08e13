/**
 * Schema of the listeners area: `listeners.tcp|ssl|ws|wss.<name>` with EMQX 5's keys and the
 * mqtt.peer_cert_as_* leaves. Private to src/config/ (schema.ts wires it in). Pure: validates
 * plain data; it never reads the certificate files (the supervisor does, and a missing file
 * stops the start with the key's name).
 */

import { isIP } from "node:net";
import { z } from "zod";
import { bind, bool, duration, int, MAX_TIMER_MS, oneOf, size } from "./_fields.ts";
import { rate as clientRate } from "./_schema_security.ts";
import type {
  AccessRule,
  EnableAuthn,
  ListenerCommonConfig,
  ListenersConfig,
  SslListenerConfig,
  SslOptionsConfig,
  WebsocketConfig,
  WsListenerConfig,
  WssListenerConfig,
} from "./types_listeners.ts";
import type { Rate } from "./types_auth.ts";

const UNLIMITED = Number.MAX_SAFE_INTEGER;

const listenerName = z.string().regex(/^[A-Za-z0-9_-]+$/, {
  message: `a listener name of letters, digits, "_" or "-"`,
});

/** A list written as YAML sequence or as one comma-separated string (EMQX accepts both). */
function list<T>(expected: string, item: (s: string) => T | undefined) {
  return z.unknown().transform((v, ctx): T[] => {
    const parts = typeof v === "string"
      ? v.split(",").map((s) => s.trim()).filter((s) => s !== "")
      : Array.isArray(v) && v.every((s) => typeof s === "string")
      ? v.map((s: string) => s.trim())
      : null;
    const out = parts?.map(item);
    if (!out || out.some((x) => x === undefined)) {
      ctx.addIssue({ code: "custom", message: expected, input: v });
      return z.NEVER;
    }
    return out as T[];
  });
}

/** Parses "allow 10.0.0.0/8", "deny 192.168.1.1", "allow all"; undefined when malformed. */
export function parseAccessRule(text: string): AccessRule | undefined {
  const m = /^(allow|deny)\s+(\S+)$/.exec(text.trim());
  if (!m) return undefined;
  const action = m[1] as "allow" | "deny";
  const target = m[2] as string;
  if (target === "all") return { action, text, cidr: "all" };
  const [address = "", bits] = target.split("/");
  const family = isIP(address);
  if (family === 0) return undefined;
  const max = family === 4 ? 32 : 128;
  const prefix = bits === undefined ? max : /^\d{1,3}$/.test(bits) ? Number(bits) : NaN;
  if (!(prefix >= 0 && prefix <= max)) return undefined;
  return { action, text, cidr: { address, prefix } };
}

const accessRules = () =>
  list(
    `a list of rules "allow|deny <IP>|<CIDR>|all", e.g. ["allow 10.0.0.0/8", "deny all"]`,
    parseAccessRule,
  );

/** true, false or "quick_deny_anonymous". */
function enableAuthn() {
  return z.unknown().transform((v, ctx): EnableAuthn => {
    if (v === true || v === false || v === "quick_deny_anonymous") return v;
    ctx.addIssue({
      code: "custom",
      message: `one of true, false, "quick_deny_anonymous"`,
      input: v,
    });
    return z.NEVER;
  });
}

/**
 * EMQX's rate: "N/s", "N/10s", "N/m", "N/5m", "N/h", a bare N (per second) or "infinity" (0).
 * Returns connections per second (a fraction for slow rates).
 */
function rate() {
  const unit = { s: 1, m: 60, h: 3600 } as const;
  return z.unknown().transform((v, ctx): number => {
    if (v === "infinity") return 0;
    if (typeof v === "number" && Number.isInteger(v) && v >= 0) return v;
    const m = typeof v === "string" ? /^(\d+)\/(\d*)(s|m|h)$/.exec(v.trim()) : null;
    const per = m ? Number(m[2] || 1) * unit[m[3] as keyof typeof unit] : 0;
    if (m && per > 0) return Number(m[1]) / per;
    ctx.addIssue({
      code: "custom",
      message: `a rate such as 1000 (per second), "1000/s", "100/10s", "60/m", or infinity`,
      input: v,
    });
    return z.NEVER;
  });
}

/** A size, or "infinity" (stored as 0). */
function sizeOrInfinity() {
  const sized = size(1, UNLIMITED);
  return z.unknown().transform((v, ctx): number => {
    if (v === "infinity") return 0;
    const r = sized.safeParse(v);
    if (r.success) return r.data;
    ctx.addIssue({
      code: "custom",
      message: `a size such as "64KB", "1MB" or a number of bytes, or infinity`,
      input: v,
    });
    return z.NEVER;
  });
}

/** Keys of every listener type (the shape; the mapping is common() below). */
const commonShape = {
  enable: bool().default(true),
  // Required: two listeners must not silently share the default port.
  bind: bind(),
  max_connections: int(1, 10_000_000, { infinity: true }).default(100_000),
  max_conn_rate: rate().default(0),
  backlog: int(1, 65535).default(1024),
  zone: z.string().regex(/^[A-Za-z0-9_-]+$/, { message: "a zone name" }).default("default"),
  enable_authn: enableAuthn().default(true),
  access_rules: accessRules().default([parseAccessRule("allow all")!]),
  proxy_protocol: bool().default(false),
  proxy_protocol_timeout: duration(1, MAX_TIMER_MS).default(3000),
  messages_rate: clientRate().default(null),
  bytes_rate: clientRate().default(null),
};

type CommonIn = {
  enable: boolean;
  bind: { bind: string; host: string; port: number };
  max_connections: number;
  max_conn_rate: number;
  backlog: number;
  zone: string;
  enable_authn: EnableAuthn;
  access_rules: AccessRule[];
  proxy_protocol: boolean;
  proxy_protocol_timeout: number;
  messages_rate: Rate | null;
  bytes_rate: Rate | null;
};

function common(l: CommonIn): ListenerCommonConfig {
  return {
    enable: l.enable,
    bind: l.bind.bind,
    host: l.bind.host,
    port: l.bind.port,
    // EMQX's "infinity" (stored as 0) is the largest bound instead: 0 would refuse everyone.
    maxConnections: l.max_connections || 10_000_000,
    maxConnRate: l.max_conn_rate,
    backlog: l.backlog,
    zone: l.zone,
    enableAuthn: l.enable_authn,
    accessRules: l.access_rules,
    proxyProtocol: l.proxy_protocol,
    proxyProtocolTimeout: l.proxy_protocol_timeout,
    messagesRate: l.messages_rate,
    bytesRate: l.bytes_rate,
  };
}

const TLS_VERSIONS = ["tlsv1.3", "tlsv1.2"] as const;

const path = () => z.string().min(1, { message: "a file path" });

export const sslOptions = z.strictObject({
  certfile: path(),
  keyfile: path(),
  cacertfile: z.string().default(""),
  password: z.string().default(""),
  verify: oneOf(["verify_none", "verify_peer"] as const).default("verify_none"),
  fail_if_no_peer_cert: bool().default(false),
  versions: list(
    `a list of "tlsv1.3", "tlsv1.2" (Deno's TLS has no older versions)`,
    (s) => TLS_VERSIONS.find((v) => v === s),
  ).default(["tlsv1.3", "tlsv1.2"]),
  // Deno's TLS stack (rustls) offers only AEAD suites with forward secrecy and cannot be told
  // to use fewer: a list would be silently ignored, so only the empty default is accepted.
  ciphers: list(
    `an empty list: Deno's TLS cannot restrict cipher suites (it offers only TLS 1.3 suites ` +
      `and ECDHE AEAD TLS 1.2 suites)`,
    () => undefined as string | undefined,
  ).default([]),
  handshake_timeout: duration(1, MAX_TIMER_MS).default(15_000),
}).superRefine((o, ctx) => {
  if (o.fail_if_no_peer_cert && o.verify !== "verify_peer") {
    ctx.addIssue({
      code: "custom",
      message: "verify must be verify_peer when fail_if_no_peer_cert is true",
      input: o.verify,
      path: ["verify"],
    });
  }
  if (o.verify === "verify_peer" && o.cacertfile === "") {
    ctx.addIssue({
      code: "custom",
      message: "a CA file to verify client certificates with (verify = verify_peer)",
      input: "",
      path: ["cacertfile"],
    });
  }
  if (o.versions.length === 0) {
    ctx.addIssue({ code: "custom", message: "at least one TLS version", path: ["versions"] });
  }
}).transform((o): SslOptionsConfig => ({
  certfile: o.certfile,
  keyfile: o.keyfile,
  cacertfile: o.cacertfile,
  password: o.password,
  verify: o.verify,
  failIfNoPeerCert: o.fail_if_no_peer_cert,
  versions: o.versions,
  ciphers: o.ciphers,
  handshakeTimeout: o.handshake_timeout,
}));

const lowerHeader = () =>
  z.string().regex(/^[A-Za-z0-9-]*$/, { message: 'an HTTP header name or ""' }).transform((
    s,
  ) => s.toLowerCase());

const websocket = z.strictObject({
  mqtt_path: z.string().regex(/^\/\S*$/, { message: `a path starting with "/"` }).default(
    "/mqtt",
  ),
  max_frame_size: sizeOrInfinity().default(0),
  fail_if_no_subprotocol: bool().default(true),
  supported_subprotocols: list("a list of subprotocol names", (s) => s || undefined).default([
    "mqtt",
    "mqtt-v3",
    "mqtt-v3.1.1",
    "mqtt-v5",
    "mqttv3.1",
    "mqttv5",
  ]),
  check_origin_enable: bool().default(false),
  allow_origin_absence: bool().default(true),
  check_origins: list('a list of origins such as "https://example.com"', (s) => s || undefined)
    .default(["http://localhost:18083", "http://127.0.0.1:18083"]),
  // EMQX trusts x-forwarded-for by default; any client could then choose its own address (and
  // pass IP-based ACLs), so Culex reads these headers only when they are named.
  proxy_address_header: lowerHeader().default(""),
  proxy_port_header: lowerHeader().default(""),
  auth_cookie_name: z.string().regex(/^[!#$%&'*+\-.^_`|~0-9A-Za-z]*$/, {
    message: 'a cookie name or ""',
  }).default(""),
}).transform((w): WebsocketConfig => ({
  mqttPath: w.mqtt_path,
  maxFrameSize: w.max_frame_size,
  failIfNoSubprotocol: w.fail_if_no_subprotocol,
  supportedSubprotocols: w.supported_subprotocols,
  checkOriginEnable: w.check_origin_enable,
  allowOriginAbsence: w.allow_origin_absence,
  checkOrigins: w.check_origins,
  proxyAddressHeader: w.proxy_address_header,
  proxyPortHeader: w.proxy_port_header,
  authCookieName: w.auth_cookie_name,
}));

const tcpListener = z.strictObject(commonShape).transform(common);

const sslListener = z.strictObject({ ...commonShape, ssl_options: sslOptions }).transform((
  l,
): SslListenerConfig => ({ ...common(l), sslOptions: l.ssl_options }));

const wsListener = z.strictObject({ ...commonShape, websocket: websocket.prefault({}) })
  .transform((l): WsListenerConfig => ({ ...common(l), websocket: l.websocket }));

const wssListener = z.strictObject({
  ...commonShape,
  websocket: websocket.prefault({}),
  ssl_options: sslOptions,
}).transform((l): WssListenerConfig => ({
  ...common(l),
  websocket: l.websocket,
  sslOptions: l.ssl_options,
}));

/** `listeners`: tcp.default on 1883 by default; ssl, ws and wss only where configured. */
export const listenersSchema = z.strictObject({
  tcp: z.record(listenerName, tcpListener).prefault({ default: { bind: "0.0.0.0:1883" } }),
  ssl: z.record(listenerName, sslListener).prefault({}),
  ws: z.record(listenerName, wsListener).prefault({}),
  wss: z.record(listenerName, wssListener).prefault({}),
}).transform((l): ListenersConfig => l);

/** `mqtt.peer_cert_as_username` / `mqtt.peer_cert_as_clientid` (TLS listeners only). */
export const peerCertAs = () =>
  oneOf(["disabled", "cn", "dn", "crt", "pem", "md5"] as const).default("disabled");
