/**
 * Conformance probe cases after CONNECT (bench/conformance_diff.ts): PUBLISH and the QoS flows,
 * SUBSCRIBE/UNSUBSCRIBE filters and options, shared subscriptions, MQTT 5 properties, DISCONNECT
 * and AUTH, and malformed fixed headers.
 */

import {
  ack,
  BAD_UTF8,
  both,
  type Case,
  type Ctx,
  disconnect5,
  hello,
  NUL,
  p,
  pkt,
  type Prop,
  publish,
  type Step,
  subscribe,
  u16,
  unsubscribe,
  v5,
} from "./_conformance_wire.ts";

/** CONNECT, then the given packets on connection "a". */
export function after(x: Ctx, v: 4 | 5, ...packets: Uint8Array[]): Step[] {
  return [hello(x, v), ...packets.map((send) => ({ send }))];
}

/** Subscribes with one filter and options byte; the SUBACK is the answer compared. */
function sub1(name: string, filter: string | Uint8Array, opt = 1, spec = ""): Case[] {
  return both(name, spec, (x, v) => after(x, v, subscribe(v, 1, [[filter, opt]])));
}

/** A subscriber "s" on topic t (options opt) and a publisher "a", both connected. */
export function pubsub(x: Ctx, v: 4 | 5, t: string, opt = 1, subProps: Prop[] = []): Step[] {
  return [
    hello(x, v, {}, "s"),
    { c: "s", send: subscribe(v, 1, [[t, opt]], { props: subProps }) },
    hello(x, v),
  ];
}

const PUBLISH_CASES: Case[] = [
  ...both(
    "PUBLISH QoS 3",
    "[MQTT-3.3.1-4]",
    (x, v) => after(x, v, pkt(0x36, u16(1), u16(1), v === 5 ? [0] : [])),
  ),
  ...both(
    "PUBLISH QoS 0 with DUP",
    "[MQTT-3.3.1-2]",
    (x, v) => after(x, v, publish({ v, topic: "a/b", dup: true, payload: "x" })),
  ),
  ...both(
    "PUBLISH topic a/+",
    "[MQTT-3.3.2-2]",
    (x, v) => after(x, v, publish({ v, topic: "a/+", qos: 1, payload: "x" })),
  ),
  ...both(
    "PUBLISH topic a/#",
    "[MQTT-3.3.2-2]",
    (x, v) => after(x, v, publish({ v, topic: "a/#", qos: 1, payload: "x" })),
  ),
  ...both(
    "PUBLISH empty topic",
    "[MQTT-4.7.3-1]/[MQTT-3.3.2-1]",
    (x, v) => after(x, v, publish({ v, topic: "", qos: 1, payload: "x" })),
  ),
  ...both(
    "PUBLISH topic bad UTF-8",
    "[MQTT-1.5.3-1]",
    (x, v) => after(x, v, publish({ v, topic: BAD_UTF8, qos: 1 })),
  ),
  ...both(
    "PUBLISH topic U+0000",
    "[MQTT-1.5.3-2]",
    (x, v) => after(x, v, publish({ v, topic: NUL, qos: 1 })),
  ),
  ...both(
    "PUBLISH QoS 1 packet id 0",
    "[MQTT-2.3.1-1]/[MQTT-2.2.1-3]",
    (x, v) => after(x, v, publish({ v, topic: "a/b", qos: 1, id: 0 })),
  ),
  ...both(
    "PUBLISH QoS 2 packet id 0",
    "[MQTT-2.3.1-1]/[MQTT-2.2.1-3]",
    (x, v) => after(x, v, publish({ v, topic: "a/b", qos: 2, id: 0 })),
  ),
  ...both(
    "PUBLISH QoS 1 to $SYS/x",
    "[MQTT-4.7.2-1]",
    (x, v) => after(x, v, publish({ v, topic: "$SYS/x", qos: 1 })),
  ),
  ...both("QoS 2 flow, duplicate PUBLISH, PUBREL, PUBREL again", "[MQTT-4.3.3]", (x, v) =>
    after(
      x,
      v,
      publish({ v, topic: "a/q2", qos: 2, id: 7 }),
      publish({ v, topic: "a/q2", qos: 2, id: 7, dup: true }),
      ack(0x62, 7),
      ack(0x62, 7),
    )),
  ...both("PUBREL unknown id", "[MQTT-4.3.3-?] 0x92", (x, v) => after(x, v, ack(0x62, 99))),
  ...both("PUBREL with flags 0", "[MQTT-3.6.1-1]", (x, v) => after(x, v, ack(0x60, 1))),
  ...both("PUBACK with flags 1", "[MQTT-2.2.2-2]", (x, v) => after(x, v, ack(0x41, 1))),
  ...both("PUBACK unknown id", "", (x, v) => after(x, v, ack(0x40, 55))),
  ...both("PUBCOMP unknown id", "", (x, v) => after(x, v, ack(0x70, 55))),
  ...both("PUBACK remaining length 1", "malformed", (x, v) => after(x, v, pkt(0x40, [1]))),
  ...both("PINGREQ with flags 1", "[MQTT-2.2.2-2]", (x, v) => after(x, v, pkt(0xc1))),
  ...both("PINGREQ with a body byte", "malformed", (x, v) => after(x, v, pkt(0xc0, [0]))),
  ...both(
    "PINGREQ non-minimal length 80 00",
    "[MQTT-1.5.5-1] (5.0)",
    (x, v) => after(x, v, Uint8Array.from([0xc0, 0x80, 0x00])),
  ),
  ...both("packet type 0", "[MQTT-2.1.3]", (x, v) => after(x, v, pkt(0x00))),
  ...both(
    "AUTH packet (type 15)",
    "3.1.1: reserved; 5.0: no method",
    (x, v) => after(x, v, pkt(0xf0, [0x00], [0])),
  ),
  ...both("CONNACK from the client", "", (x, v) => after(x, v, pkt(0x20, [0, 0]))),
  ...both("DISCONNECT with flags 1", "[MQTT-2.2.2-2]", (x, v) => after(x, v, pkt(0xe1))),
  ...both("retained message then subscribe", "[MQTT-3.3.1-6]", (x, v) => {
    const t = `r/${x.id()}`;
    return [
      ...after(x, v, publish({ v, topic: t, qos: 1, retain: true, payload: "kept" })),
      hello(x, v, {}, "s"),
      { c: "s", send: subscribe(v, 1, [[t, 2]]) },
    ];
  }),
  ...both("overlapping subscriptions, one message", "[MQTT-3.3.5-1]", (x, v) => {
    const t = `o/${x.id()}`;
    return [
      hello(x, v, {}, "s"),
      { c: "s", send: subscribe(v, 1, [[`${t}/+`, 0], [`${t}/#`, 1]]) },
      hello(x, v),
      { send: publish({ v, topic: `${t}/x`, qos: 2, id: 3, payload: "m" }) },
    ];
  }),
];

const SUBSCRIBE_CASES: Case[] = [
  ...sub1("filter a/#/b", "a/#/b", 1, "[MQTT-4.7.1-2]"),
  ...sub1("filter a+", "a+", 1, "[MQTT-4.7.1-3]"),
  ...sub1("filter +a", "+a", 1, "[MQTT-4.7.1-3]"),
  ...sub1("filter a/b#", "a/b#", 1, "[MQTT-4.7.1-2]"),
  ...sub1("filter empty", "", 1, "[MQTT-4.7.3-1]"),
  ...sub1("filter bad UTF-8", BAD_UTF8, 1, "[MQTT-1.5.3-1]"),
  ...sub1("filter U+0000", NUL, 1, "[MQTT-1.5.3-2]"),
  ...sub1("filter # and + ok", "+/+/#", 2, ""),
  ...sub1("options QoS 3", "a/b", 3, "[MQTT-3.8.3-4]/malformed"),
  ...sub1("options reserved bit 2 (3.1.1) / no-local (5)", "a/b", 0x05, "[MQTT-3.8.3-4]"),
  ...sub1("options reserved bits 6-7", "a/b", 0xc1, "[MQTT-3.8.3-4]/[MQTT-3.8.3-5]"),
  ...both(
    "SUBSCRIBE flags 0x0",
    "[MQTT-3.8.1-1]",
    (x, v) => after(x, v, subscribe(v, 1, [["a", 0]], { first: 0x80 })),
  ),
  ...both("SUBSCRIBE no filters", "[MQTT-3.8.3-3]", (x, v) => after(x, v, subscribe(v, 1, []))),
  ...both(
    "SUBSCRIBE packet id 0",
    "[MQTT-2.3.1-1]",
    (x, v) => after(x, v, subscribe(v, 0, [["a", 0]])),
  ),
  ...both(
    "SUBSCRIBE 3 filters one bad",
    "[MQTT-3.9.3-1]",
    (x, v) => after(x, v, subscribe(v, 1, [["a", 0], ["a/#/b", 1], ["c", 2]])),
  ),
  ...sub1("$share/g/t", "$share/g/t", 1, "[MQTT-4.8.2-1]"),
  ...sub1("$share/g (no filter)", "$share/g", 1, "[MQTT-4.8.2-2]"),
  ...sub1("$share/g/ (empty filter)", "$share/g/", 1, "[MQTT-4.8.2-2]"),
  ...sub1("$share//t (empty name)", "$share//t", 1, "[MQTT-4.8.2-1]"),
  ...sub1("$share/g+/t", "$share/g+/t", 1, "[MQTT-4.8.2-2]"),
  ...sub1("$share/g#/t", "$share/g#/t", 1, "[MQTT-4.8.2-2]"),
  ...sub1("$share/g/a/#/b", "$share/g/a/#/b", 1, "[MQTT-4.7.1-2]"),
  ...sub1("$share alone", "$share", 1, ""),
  ...sub1("$shared/g/t (not shared)", "$shared/g/t", 1, ""),
  ...sub1("$queue/t", "$queue/t", 1, "EMQX extension"),
  ...sub1("no-local on shared", "$share/g/t", 0x05, "[MQTT-3.8.3-4] (5.0)"),
  ...sub1("retain handling 3", "a/b", 0x31, "[MQTT-3.8.3-?] 3.8.3.1 Protocol Error"),
  ...sub1("retain handling 2 + RAP", "a/b", 0x29, ""),
  v5(
    "subscription identifier 0",
    "3.8.2.1.2 Protocol Error",
    (x) => after(x, 5, subscribe(5, 1, [["a", 1]], { props: [p.vbi(0x0b, 0)] })),
  ),
  v5(
    "two subscription identifiers",
    "3.8.2.1.2 Protocol Error",
    (x) => after(x, 5, subscribe(5, 1, [["a", 1]], { props: [p.vbi(0x0b, 1), p.vbi(0x0b, 2)] })),
  ),
  v5("subscription identifier delivered", "[MQTT-3.3.4-3]", (x) => {
    const t = `si/${x.id()}`;
    return [...pubsub(x, 5, t, 1, [p.vbi(0x0b, 42)]), { send: publish({ v: 5, topic: t }) }];
  }),
  v5("no local drops own message", "[MQTT-3.8.3-3]", (x) => {
    const t = `nl/${x.id()}`;
    return [
      ...after(x, 5, subscribe(5, 1, [[t, 0x05]])),
      { send: publish({ v: 5, topic: t, payload: "own" }) },
    ];
  }),
  ...both(
    "UNSUBSCRIBE flags 0x0",
    "[MQTT-3.10.1-1]",
    (x, v) => after(x, v, unsubscribe(v, 1, ["a"], 0xa0)),
  ),
  ...both(
    "UNSUBSCRIBE no filters",
    "[MQTT-3.10.3-2]",
    (x, v) => after(x, v, unsubscribe(v, 1, [])),
  ),
  ...both(
    "UNSUBSCRIBE not subscribed",
    "[MQTT-3.10.4-5]",
    (x, v) => after(x, v, unsubscribe(v, 1, ["nope"])),
  ),
  ...both(
    "UNSUBSCRIBE a/#/b",
    "[MQTT-4.7.1-2]",
    (x, v) => after(x, v, unsubscribe(v, 1, ["a/#/b"])),
  ),
  ...both(
    "UNSUBSCRIBE packet id 0",
    "[MQTT-2.3.1-1]",
    (x, v) => after(x, v, unsubscribe(v, 0, ["a"])),
  ),
];

const V5_CASES: Case[] = [
  v5(
    "topic alias 0",
    "[MQTT-3.3.2-8] 0x94",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.u16(0x23, 0)] })),
  ),
  v5(
    "topic alias 65535 (over maximum)",
    "[MQTT-3.3.2-9] 0x94",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.u16(0x23, 65535)] })),
  ),
  v5(
    "unknown topic alias, empty topic",
    "[MQTT-3.3.4-?] 0x82",
    (x) => after(x, 5, publish({ v: 5, topic: "", qos: 1, props: [p.u16(0x23, 1)] })),
  ),
  v5("topic alias set then reused", "3.3.2.3.4", (x) => {
    const t = `ta/${x.id()}`;
    return [
      ...pubsub(x, 5, t),
      { send: publish({ v: 5, topic: t, qos: 1, id: 1, payload: "1", props: [p.u16(0x23, 1)] }) },
      { send: publish({ v: 5, topic: "", qos: 1, id: 2, payload: "2", props: [p.u16(0x23, 1)] }) },
    ];
  }),
  v5("payload format 1, bad UTF-8 payload", "[MQTT-3.3.2-?] 0x99", (x) =>
    after(
      x,
      5,
      publish({
        v: 5,
        topic: "a/b",
        qos: 1,
        payload: Uint8Array.from([0xff]),
        props: [p.u8(1, 1)],
      }),
    )),
  v5(
    "payload format 2",
    "3.3.2.3.2 Protocol Error",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.u8(1, 2)] })),
  ),
  v5(
    "duplicate payload format",
    "2.2.2.2 Protocol Error",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.u8(1, 0), p.u8(1, 0)] })),
  ),
  v5(
    "subscription identifier in client PUBLISH",
    "[MQTT-3.3.4-6]",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.vbi(0x0b, 1)] })),
  ),
  v5(
    "response topic with wildcard",
    "[MQTT-3.3.2-14]",
    (x) => after(x, 5, publish({ v: 5, topic: "a/b", qos: 1, props: [p.str(0x08, "r/#")] })),
  ),
  v5("properties pass through", "[MQTT-3.3.2-4,-15..-20]", (x) => {
    const t = `pp/${x.id()}`;
    return [...pubsub(x, 5, t), {
      send: publish({
        v: 5,
        topic: t,
        qos: 1,
        payload: "hi",
        props: [p.u8(1, 1), p.str(0x03, "text/plain"), p.str(0x08, "rsp/t"), p.str(0x09, "cd")],
      }),
    }];
  }),
  v5("message expiry on a retained message", "[MQTT-3.3.2-6]", (x) => {
    const t = `me/${x.id()}`;
    return [
      ...after(
        x,
        5,
        publish({ v: 5, topic: t, retain: true, payload: "e", props: [p.u32(2, 100)] }),
      ),
      { wait: 1100 },
      hello(x, 5, {}, "s"),
      { c: "s", send: subscribe(5, 1, [[t, 0]]) },
    ];
  }),
  v5("client maximum packet size 40: big message not sent", "[MQTT-3.1.2-24]", (x) => {
    const t = `mp/${x.id()}`;
    return [
      hello(x, 5, { props: [p.u32(0x27, 40)] }, "s"),
      { c: "s", send: subscribe(5, 1, [[t, 1]]) },
      hello(x, 5),
      { send: publish({ v: 5, topic: t, qos: 1, payload: "y".repeat(60) }) },
      { send: publish({ v: 5, topic: t, qos: 1, id: 2, payload: "small" }) },
    ];
  }),
  v5(
    "DISCONNECT session expiry after 0 in CONNECT",
    "[MQTT-3.14.2-?] 3.14.2.2.2",
    (x) => after(x, 5, disconnect5(0, [p.u32(0x11, 30)])),
  ),
  v5("DISCONNECT 0x04 sends the will", "[MQTT-3.14.4-3]", (x) => {
    const t = `dw/${x.id()}`;
    return [
      hello(x, 5, {}, "s"),
      { c: "s", send: subscribe(5, 1, [[t, 0]]) },
      hello(x, 5, { will: { topic: t, payload: "w4" } }),
      { send: disconnect5(4) },
    ];
  }),
  v5("DISCONNECT unknown reason 0x03", "3.14.2.1", (x) => after(x, 5, disconnect5(3))),
  v5(
    "AUTH without method after CONNECT",
    "[MQTT-4.12.0-?] Protocol Error",
    (x) => after(x, 5, pkt(0xf0, [0x19], [0])),
  ),
  v5("AUTH before CONNECT", "[MQTT-3.1.0-1]", () => [{ send: pkt(0xf0, [0x18], [0]) }]),
  v5(
    "PUBACK with reason and properties",
    "3.4.2",
    (x) => after(x, 5, pkt(0x40, u16(9), [0x10], [0])),
  ),
  v5("PUBREL reason 0x92", "3.6.2.1", (x) => after(x, 5, pkt(0x62, u16(9), [0x92], [0]))),
];

/** Every case after CONNECT. */
export const AFTER_CONNECT: Case[] = [
  ...PUBLISH_CASES,
  ...SUBSCRIBE_CASES,
  ...V5_CASES,
];
