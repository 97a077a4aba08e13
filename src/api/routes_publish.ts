/**
 * `POST /publish` and `POST /publish/bulk` (EMQX `emqx_mgmt_api_publish`): 200 `{id}` when at
 * least one subscriber matched, 202 `{reason_code: 16, message: "no_matching_subscribers"}`
 * when none did, 400 `{reason_code, message}` for a bad topic (144) or a payload over
 * mqtt.max_packet_size (151), 503 when dispatch failed. Note: these bodies use `reason_code`,
 * unlike the API's `{code, message}`. The message goes through `message.publish` on the shard
 * its topic hashes to, from `http_api`.
 *
 * @module
 */

import { z } from "zod";
import { decodeBase64 } from "../bytes.ts";
import { validateTopicName } from "../mqtt/mod.ts";
import type { BrokerControl, PublishRequest } from "../supervisor/broker_control.ts";
import { json } from "./_http.ts";
import { qos } from "./_schemas.ts";
import { type Route, route } from "./router.ts";

const TAG = "Publish";
const RC_NO_MATCHING_SUBSCRIBERS = 0x10;
const RC_UNSPECIFIED = 0x83;
const RC_TOPIC_NAME_INVALID = 0x90;
const RC_PACKET_TOO_LARGE = 0x97;

const message = z.object({
  topic: z.string(),
  payload: z.string().default(""),
  payload_encoding: z.enum(["plain", "base64"]).default("plain"),
  qos: qos.default(0),
  retain: z.boolean().default(false),
  /** Deprecated in EMQX 5.0.14, accepted and ignored. */
  clientid: z.string().optional(),
  properties: z.object({
    payload_format_indicator: z.union([z.literal(0), z.literal(1)]).optional(),
    message_expiry_interval: z.number().int().min(0).max(0xffff_ffff).optional(),
    response_topic: z.string().max(65535).optional(),
    correlation_data: z.string().max(65535).optional(),
    user_properties: z.record(z.string(), z.string()).optional(),
    content_type: z.string().max(65535).optional(),
  }).optional(),
});
type Message = z.output<typeof message>;

interface Failure {
  readonly reason_code: number;
  readonly message: string;
}

/** The request for BrokerControl, or why it is refused (EMQX's 400 bodies). */
function prepare(m: Message, opts: { maxTopicLevels: number; maxPacketSize: number }):
  | PublishRequest
  | Failure {
  try {
    validateTopicName(m.topic, opts.maxTopicLevels);
  } catch {
    return { reason_code: RC_TOPIC_NAME_INVALID, message: "topic_name_invalid" };
  }
  let size = new TextEncoder().encode(m.payload).length;
  if (m.payload_encoding === "base64") {
    try {
      size = decodeBase64(m.payload).length;
    } catch {
      return { reason_code: RC_UNSPECIFIED, message: "payload: not base64" };
    }
  }
  if (size + m.topic.length > opts.maxPacketSize) {
    return { reason_code: RC_PACKET_TOO_LARGE, message: "packet_too_large" };
  }
  const p = m.properties ?? {};
  return {
    topic: m.topic,
    payload: m.payload,
    encoding: m.payload_encoding,
    qos: m.qos,
    retain: m.retain,
    from: "http_api",
    ...(p.message_expiry_interval ? { message_expiry_interval: p.message_expiry_interval } : {}),
    properties: p,
  };
}

function messageId(): string {
  const b = crypto.getRandomValues(new Uint8Array(16));
  return [...b].map((x) => x.toString(16).padStart(2, "0")).join("");
}

function outcome(code: number): { status: number; body: unknown } {
  if (code === 0) return { status: 200, body: { id: messageId() } };
  if (code === RC_NO_MATCHING_SUBSCRIBERS) {
    return { status: 202, body: { reason_code: code, message: "no_matching_subscribers" } };
  }
  return { status: 503, body: { reason_code: code, message: "failed_to_dispatch" } };
}

/** The routes; see the file header. */
export function publishRoutes(
  control: BrokerControl,
  opts: { maxTopicLevels: number; maxPacketSize: number },
): Route[] {
  return [
    route<undefined, Message>({
      method: "POST",
      path: "/publish",
      tag: TAG,
      summary: "Publish a message",
      body: message,
      responses: {
        200: "{id}: delivered to at least one subscriber",
        202: "{reason_code: 16, message: no_matching_subscribers}",
        400: "{reason_code, message}",
        503: "{reason_code, message: failed_to_dispatch}",
      },
      async handle({ body }) {
        const req = prepare(body, opts);
        if ("reason_code" in req) return json(req, 400);
        const [code = RC_UNSPECIFIED] = await control.publish([req]);
        const o = outcome(code);
        return json(o.body, o.status);
      },
    }),
    route<undefined, Message[]>({
      method: "POST",
      path: "/publish/bulk",
      tag: TAG,
      summary: "Publish several messages",
      body: z.array(message).min(1).max(10_000),
      responses: {
        200: "[{id}]: every message delivered",
        202: "some had no matching subscribers",
        400: "one message is invalid: nothing published",
        503: "a dispatch failed",
      },
      async handle({ body }) {
        const reqs = body.map((m) => prepare(m, opts));
        const bad = reqs.find((r) => "reason_code" in r);
        if (bad) return json(bad, 400);
        const codes = await control.publish(reqs as PublishRequest[]);
        const out = codes.map(outcome);
        const status = out.some((o) => o.status === 503)
          ? 503
          : out.some((o) => o.status === 202)
          ? 202
          : 200;
        return json(out.map((o) => o.body), status);
      },
    }),
  ];
}
