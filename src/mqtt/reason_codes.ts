/**
 * MQTT 5 reason codes (MQTT 5.0 section 2.4, table 2-6), their spec names, and the mapping of a
 * v5 CONNACK reason onto the MQTT 3.1/3.1.1 CONNACK return codes (section 3.2.2.3 of 3.1.1).
 * Pure constants and lookups: owns no state, imports nothing.
 *
 * @module
 */

/**
 * Every MQTT 5 reason code by name. 0x00 has three names because the spec gives it three
 * meanings (Success, Normal disconnection, Granted QoS 0).
 *
 * @example
 * ```ts
 * import { ReasonCode } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(ReasonCode.PacketTooLarge === 0x95);
 * ```
 */
export const ReasonCode = {
  Success: 0x00,
  NormalDisconnection: 0x00,
  GrantedQoS0: 0x00,
  GrantedQoS1: 0x01,
  GrantedQoS2: 0x02,
  DisconnectWithWillMessage: 0x04,
  NoMatchingSubscribers: 0x10,
  NoSubscriptionExisted: 0x11,
  ContinueAuthentication: 0x18,
  ReAuthenticate: 0x19,
  UnspecifiedError: 0x80,
  MalformedPacket: 0x81,
  ProtocolError: 0x82,
  ImplementationSpecificError: 0x83,
  UnsupportedProtocolVersion: 0x84,
  ClientIdentifierNotValid: 0x85,
  BadUserNameOrPassword: 0x86,
  NotAuthorized: 0x87,
  ServerUnavailable: 0x88,
  ServerBusy: 0x89,
  Banned: 0x8A,
  ServerShuttingDown: 0x8B,
  BadAuthenticationMethod: 0x8C,
  KeepAliveTimeout: 0x8D,
  SessionTakenOver: 0x8E,
  TopicFilterInvalid: 0x8F,
  TopicNameInvalid: 0x90,
  PacketIdentifierInUse: 0x91,
  PacketIdentifierNotFound: 0x92,
  ReceiveMaximumExceeded: 0x93,
  TopicAliasInvalid: 0x94,
  PacketTooLarge: 0x95,
  MessageRateTooHigh: 0x96,
  QuotaExceeded: 0x97,
  AdministrativeAction: 0x98,
  PayloadFormatInvalid: 0x99,
  RetainNotSupported: 0x9A,
  QoSNotSupported: 0x9B,
  UseAnotherServer: 0x9C,
  ServerMoved: 0x9D,
  SharedSubscriptionsNotSupported: 0x9E,
  ConnectionRateExceeded: 0x9F,
  MaximumConnectTime: 0xA0,
  SubscriptionIdentifiersNotSupported: 0xA1,
  WildcardSubscriptionsNotSupported: 0xA2,
} as const;

/** Any value of {@linkcode ReasonCode}. */
export type ReasonCodeValue = typeof ReasonCode[keyof typeof ReasonCode];

/**
 * MQTT 3.1/3.1.1 CONNACK return codes (3.1.1 section 3.2.2.3).
 *
 * @example
 * ```ts
 * import { ConnackReturnCodeV3 } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(ConnackReturnCodeV3.NotAuthorized === 5);
 * ```
 */
export const ConnackReturnCodeV3 = {
  Accepted: 0,
  UnacceptableProtocolVersion: 1,
  IdentifierRejected: 2,
  ServerUnavailable: 3,
  BadUserNameOrPassword: 4,
  NotAuthorized: 5,
} as const;

// Spec names (table 2-6). 0x00 reads "Success": the packet type decides which meaning applies.
const NAMES: ReadonlyMap<number, string> = new Map([
  [0x00, "Success"],
  [0x01, "Granted QoS 1"],
  [0x02, "Granted QoS 2"],
  [0x04, "Disconnect with Will Message"],
  [0x10, "No matching subscribers"],
  [0x11, "No subscription existed"],
  [0x18, "Continue authentication"],
  [0x19, "Re-authenticate"],
  [0x80, "Unspecified error"],
  [0x81, "Malformed Packet"],
  [0x82, "Protocol Error"],
  [0x83, "Implementation specific error"],
  [0x84, "Unsupported Protocol Version"],
  [0x85, "Client Identifier not valid"],
  [0x86, "Bad User Name or Password"],
  [0x87, "Not authorized"],
  [0x88, "Server unavailable"],
  [0x89, "Server busy"],
  [0x8A, "Banned"],
  [0x8B, "Server shutting down"],
  [0x8C, "Bad authentication method"],
  [0x8D, "Keep Alive timeout"],
  [0x8E, "Session taken over"],
  [0x8F, "Topic Filter invalid"],
  [0x90, "Topic Name invalid"],
  [0x91, "Packet Identifier in use"],
  [0x92, "Packet Identifier not found"],
  [0x93, "Receive Maximum exceeded"],
  [0x94, "Topic Alias invalid"],
  [0x95, "Packet too large"],
  [0x96, "Message rate too high"],
  [0x97, "Quota exceeded"],
  [0x98, "Administrative action"],
  [0x99, "Payload format invalid"],
  [0x9A, "Retain not supported"],
  [0x9B, "QoS not supported"],
  [0x9C, "Use another server"],
  [0x9D, "Server moved"],
  [0x9E, "Shared Subscriptions not supported"],
  [0x9F, "Connection rate exceeded"],
  [0xA0, "Maximum connect time"],
  [0xA1, "Subscription Identifiers not supported"],
  [0xA2, "Wildcard Subscriptions not supported"],
]);

/**
 * The spec name of a reason code, for logs and reason strings; unknown codes read
 * `Unknown reason code 0xNN`.
 *
 * @example
 * ```ts
 * import { reasonName } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(reasonName(0x8E) === "Session taken over");
 * ```
 */
export function reasonName(code: number): string {
  return NAMES.get(code) ??
    `Unknown reason code 0x${code.toString(16).toUpperCase().padStart(2, "0")}`;
}

/** True when `code` is a defined MQTT 5 reason code. */
export function isReasonCode(code: number): boolean {
  return NAMES.has(code);
}

// EMQX's emqx_reason_codes:compat(connack, _) table. Codes it leaves undefined (0x95, 0x99,
// 0x9A, 0x9B, ...) fall back to "server unavailable": 3.1.1 has no closer answer.
const CONNACK_V3: ReadonlyMap<number, number> = new Map([
  [0x00, ConnackReturnCodeV3.Accepted],
  [0x80, ConnackReturnCodeV3.UnacceptableProtocolVersion],
  [0x81, ConnackReturnCodeV3.UnacceptableProtocolVersion],
  [0x82, ConnackReturnCodeV3.UnacceptableProtocolVersion],
  [0x83, ConnackReturnCodeV3.UnacceptableProtocolVersion],
  [0x84, ConnackReturnCodeV3.UnacceptableProtocolVersion],
  [0x85, ConnackReturnCodeV3.IdentifierRejected],
  [0x86, ConnackReturnCodeV3.BadUserNameOrPassword],
  [0x87, ConnackReturnCodeV3.NotAuthorized],
  [0x88, ConnackReturnCodeV3.ServerUnavailable],
  [0x89, ConnackReturnCodeV3.ServerUnavailable],
  [0x8A, ConnackReturnCodeV3.NotAuthorized],
  [0x8B, ConnackReturnCodeV3.ServerUnavailable],
  [0x8C, ConnackReturnCodeV3.NotAuthorized],
  [0x90, ConnackReturnCodeV3.ServerUnavailable],
  [0x97, ConnackReturnCodeV3.ServerUnavailable],
  [0x9C, ConnackReturnCodeV3.ServerUnavailable],
  [0x9D, ConnackReturnCodeV3.ServerUnavailable],
  [0x9F, ConnackReturnCodeV3.ServerUnavailable],
]);

/**
 * Maps a v5 CONNACK reason code to the 3.1/3.1.1 CONNACK return code, as EMQX does
 * (0x80..0x84 → 1, 0x85 → 2, 0x86 → 4, 0x87/0x8A/0x8C → 5, server-side failures → 3).
 *
 * @example
 * ```ts
 * import { connackReturnCodeV3, ReasonCode } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(connackReturnCodeV3(ReasonCode.BadUserNameOrPassword) === 4);
 * assert.ok(connackReturnCodeV3(ReasonCode.UnsupportedProtocolVersion) === 1);
 * ```
 */
export function connackReturnCodeV3(v5code: number): number {
  return CONNACK_V3.get(v5code) ?? ConnackReturnCodeV3.ServerUnavailable;
}

/**
 * Maps a v5 SUBACK reason code to a 3.1.1 SUBACK return code: a granted QoS stays, any failure
 * becomes 0x80 (3.1.1 section 3.9.3).
 *
 * @example
 * ```ts
 * import { subackReturnCodeV3 } from "./reason_codes.ts";
 * import assert from "node:assert/strict";
 * assert.ok(subackReturnCodeV3(0x8F) === 0x80 && subackReturnCodeV3(1) === 1);
 * ```
 */
export function subackReturnCodeV3(v5code: number): number {
  return v5code <= 2 ? v5code : 0x80;
}
