/**
 * Conformance probe cases (bench/conformance_diff.ts): raw packet sequences at the edges an MQTT
 * conformance suite checks, each with the normative statement it is about. This file: CONNECT and the
 * session it opens; _conformance_cases2.ts: everything after CONNECT.
 */

import {
  BAD_UTF8,
  both,
  type Case,
  concat,
  connect,
  hello,
  NUL,
  p,
  pkt,
  subscribe,
  v5,
} from "./_conformance_wire.ts";

/** Cases about CONNECT and the session it opens. */
export const CONNECT_CASES: Case[] = [
  ...both("plain CONNECT", "", (x, v) => [hello(x, v)]),
  ...both("protocol name MQTX", "[MQTT-3.1.2-1]", (x, v) => [hello(x, v, { name: "MQTX" })]),
  ...both("protocol level 6", "[MQTT-3.1.2-2]", (x, v) => [hello(x, v, { level: 6 })]),
  ...both("protocol level 0", "[MQTT-3.1.2-2]", (x, v) => [hello(x, v, { level: 0 })]),
  ...both("name MQTT with level 3", "[MQTT-3.1.2-2]", (x, v) => [hello(x, v, { level: 3 })]),
  ...both("MQIsdp with level 4", "[MQTT-3.1.2-1]", (x, v) => [hello(x, v, { name: "MQIsdp" })]),
  ...both("connect flags reserved bit 0", "[MQTT-3.1.2-3]", (x, v) => [
    hello(x, v, { flags: 0x03 }),
  ]),
  ...both("CONNECT fixed header flags 0x1", "[MQTT-2.2.2-2]", (x, v) => [
    hello(x, v, { first: 0x11 }),
  ]),
  ...both("empty client id, clean 0", "[MQTT-3.1.3-8]", (_x, v) => [
    { v, send: connect({ v, id: "", clean: false }) },
  ]),
  ...both("empty client id, clean 1", "[MQTT-3.1.3-6]", (_x, v) => [
    { v, send: connect({ v, id: "" }) },
  ]),
  ...both("client id bad UTF-8", "[MQTT-1.5.3-1]", (_x, v) => [
    { v, send: connect({ v, id: BAD_UTF8 }) },
  ]),
  ...both("client id with U+0000", "[MQTT-1.5.3-2]", (_x, v) => [
    { v, send: connect({ v, id: NUL }) },
  ]),
  ...both("client id 100 chars with punctuation", "[MQTT-3.1.3-5]", (x, v) => [
    { v, send: connect({ v, id: `${x.id()}-_.:/${"x".repeat(80)}` }) },
  ]),
  ...both("will flag 0, will QoS 1", "[MQTT-3.1.2-13]/[MQTT-3.1.2-11]", (x, v) => [
    hello(x, v, { flags: 0x02 | 0x08 }),
  ]),
  ...both("will flag 0, will retain 1", "[MQTT-3.1.2-15]/[MQTT-3.1.2-13]", (x, v) => [
    hello(x, v, { flags: 0x02 | 0x20 }),
  ]),
  ...both("will QoS 3", "[MQTT-3.1.2-14]/[MQTT-3.1.2-12]", (x, v) => [
    hello(x, v, { will: { topic: "w/t", payload: "x", qos: 3 } }),
  ]),
  ...both("will QoS 2 retain 1", "", (x, v) => [
    hello(x, v, { will: { topic: "w/t", payload: "x", qos: 2, retain: true } }),
  ]),
  ...both("will topic with wildcard", "[MQTT-3.1.3-11]/[MQTT-3.3.2-2]", (x, v) => [
    hello(x, v, { will: { topic: "w/+", payload: "x" } }),
  ]),
  ...both("will topic bad UTF-8", "[MQTT-1.5.3-1]", (x, v) => [
    hello(x, v, { will: { topic: BAD_UTF8, payload: "x" } }),
  ]),
  ...both("will topic empty", "[MQTT-4.7.3-1]", (x, v) => [
    hello(x, v, { will: { topic: "", payload: "x" } }),
  ]),
  ...both("password without username", "[MQTT-3.1.2-22] (3.1.1 only)", (x, v) => [
    hello(x, v, { pass: "secret" }),
  ]),
  ...both("username flag, no username bytes", "[MQTT-3.1.2-19]", (x, v) => [
    hello(x, v, { flags: 0x82 }),
  ]),
  ...both("username bad UTF-8", "[MQTT-1.5.3-1]", (x, v) => [hello(x, v, { user: BAD_UTF8 })]),
  ...both("CONNECT with trailing garbage", "[MQTT-3.1.0]/malformed", (x, v) => [
    { v, send: pkt(0x10, connect({ v, id: x.id() }).subarray(2), [1, 2, 3]) },
  ]),
  ...both("second CONNECT", "[MQTT-3.1.0-2]", (x, v) => [hello(x, v), hello(x, v)]),
  ...both("PINGREQ before CONNECT", "[MQTT-3.1.0-1]", (_x, v) => [
    { v, send: Uint8Array.from([0xc0, 0]) },
  ]),
  ...both("SUBSCRIBE before CONNECT", "[MQTT-3.1.0-1]", (_x, v) => [
    { v, send: subscribe(v, 1, [["a", 0]]) },
  ]),
  ...both("CONNECT remaining length 5 bytes", "[MQTT-2.2.3]/[MQTT-1.5.5]", (_x, v) => [
    { v, send: Uint8Array.from([0x10, 0x80, 0x80, 0x80, 0x80, 0x01]) },
  ]),
  ...both("CONNECT non-minimal remaining length", "[MQTT-1.5.5-1] (5.0)", (x, v) => {
    const c = connect({ v, id: x.id() });
    return [{ v, send: concat([[0x10, (c[1] ?? 0) | 0x80, 0x00], c.subarray(2)]) }];
  }),
  ...both("clean 0 reconnect shows session present", "[MQTT-3.2.2-2]", (x, v) => {
    const id = x.id();
    const props = v === 5 ? [p.u32(0x11, 60)] : [];
    return [
      { v, send: connect({ v, id, clean: false, props }) },
      { drop: true },
      { v, send: connect({ v, id, clean: false, props }) },
      { c: "b", drop: true },
    ];
  }),
  ...both("clean 1 after clean 0 shows no session", "[MQTT-3.2.2-1]", (x, v) => {
    const id = x.id();
    const props = v === 5 ? [p.u32(0x11, 60)] : [];
    return [
      { v, send: connect({ v, id, clean: false, props }) },
      { drop: true },
      { v, send: connect({ v, id, props }) },
    ];
  }),
  ...both("takeover by the same client id", "[MQTT-3.1.4-2]", (x, v) => {
    const id = x.id();
    return [{ v, send: connect({ v, id }) }, { c: "b", v, send: connect({ v, id }) }];
  }),
  v5("receive maximum 0", "[MQTT-3.1.2-?] Protocol Error", (x) => [
    hello(x, 5, { props: [p.u16(0x21, 0)] }),
  ]),
  v5("maximum packet size 0", "Protocol Error 3.1.2.11.4", (x) => [
    hello(x, 5, { props: [p.u32(0x27, 0)] }),
  ]),
  v5("duplicate session expiry", "Protocol Error 3.1.2.11.2", (x) => [
    hello(x, 5, { props: [p.u32(0x11, 10), p.u32(0x11, 20)] }),
  ]),
  v5("request problem information 2", "Protocol Error 3.1.2.11.7", (x) => [
    hello(x, 5, { props: [p.u8(0x17, 2)] }),
  ]),
  v5("request response information 2", "Protocol Error 3.1.2.11.6", (x) => [
    hello(x, 5, { props: [p.u8(0x19, 2)] }),
  ]),
  v5("request response information 1", "[MQTT-3.2.2-?] 3.2.2.3.15", (x) => [
    hello(x, 5, { props: [p.u8(0x19, 1)] }),
  ]),
  v5("auth data without method", "Protocol Error 3.1.2.11.10", (x) => [
    hello(x, 5, { props: [p.str(0x16, "d")] }),
  ]),
  v5("unknown auth method", "[MQTT-3.1.4-?] 0x8C", (x) => [
    hello(x, 5, { props: [p.str(0x15, "NOPE-1")] }),
  ]),
  v5("topic alias property in CONNECT", "malformed 2.2.2.2", (x) => [
    hello(x, 5, { props: [p.u16(0x23, 1)] }),
  ]),
  v5("unknown property 0x7f in CONNECT", "malformed 2.2.2.2", (x) => [
    hello(x, 5, { props: [p.u8(0x7f, 1)] }),
  ]),
  v5("session expiry max + topic alias max 5 + user property", "", (x) => [
    hello(x, 5, {
      props: [p.u32(0x11, 0xffffffff), p.u16(0x22, 5), p.pair(0x26, "k", "v")],
    }),
  ]),
  v5("will payload format 1 with bad UTF-8 will payload", "[MQTT-3.1.3-?] 3.1.3.2.3", (x) => [
    hello(x, 5, {
      will: { topic: "w/t", payload: Uint8Array.from([0xff, 0xfe]), props: [p.u8(0x01, 1)] },
    }),
  ]),
  v5("will property subscription id (not allowed)", "malformed 2.2.2.2", (x) => [
    hello(x, 5, { will: { topic: "w/t", payload: "x", props: [p.vbi(0x0b, 1)] } }),
  ]),
  v5("empty client id, clean start 0, session expiry 60", "[MQTT-3.1.3-6]/3.2.2.3.7", () => [
    { v: 5, send: connect({ v: 5, id: "", clean: false, props: [p.u32(0x11, 60)] }) },
  ]),
  ...both("will published on abnormal close", "[MQTT-3.1.2-8]", (x, v) => {
    const t = `w/${x.id()}`;
    return [
      hello(x, v, {}, "s"),
      { c: "s", send: subscribe(v, 1, [[t, 1]]) },
      hello(x, v, { will: { topic: t, payload: "gone", qos: 1 } }),
      { drop: true },
      { c: "s", wait: 300 },
    ];
  }),
  v5("will delay longer than session expiry", "[MQTT-3.1.3-9]/3.1.2.11.2", (x) => {
    const t = `w/${x.id()}`;
    return [
      hello(x, 5, {}, "s"),
      { c: "s", send: subscribe(5, 1, [[t, 1]]) },
      hello(x, 5, {
        props: [p.u32(0x11, 1)],
        will: { topic: t, payload: "late", props: [p.u32(0x18, 30)] },
      }),
      { drop: true },
      { c: "s", wait: 3500 },
    ];
  }),
];
