/**
 * Conformance probe cases (bench/conformance_diff.ts): delivery rules a conformance suite checks
 * end to end (keepalive, wills, QoS downgrade, overlapping and repeated subscriptions, `$` topics,
 * retained messages, Retain As Published, Request Problem Information) and MQTT 3.1 client ids.
 */

import { after, pubsub } from "./_conformance_cases2.ts";
import {
  ack,
  both,
  type Case,
  connect,
  hello,
  p,
  pkt,
  publish,
  subscribe,
  unsubscribe,
  v5,
} from "./_conformance_wire.ts";

/** Cases about what is delivered, and MQTT 3.1. */
export const DELIVERY_CASES: Case[] = [
  ...both("keepalive 1 s, then silence", "[MQTT-3.1.2-24]/[MQTT-3.1.2-22]", (x, v) => [
    hello(x, v, { keepalive: 1 }),
    { wait: 2500 },
  ]),
  ...both("keepalive 0 and 65535", "3.1.2.10", (x, v) => [
    hello(x, v, { keepalive: 0 }),
    hello(x, v, { keepalive: 65535 }, "b"),
  ]),
  ...both("DISCONNECT discards the will", "[MQTT-3.1.2-10]/[MQTT-3.14.4-3]", (x, v) => {
    const t = `dd/${x.id()}`;
    return [
      hello(x, v, {}, "s"),
      { c: "s", send: subscribe(v, 1, [[t, 0]]) },
      hello(x, v, { will: { topic: t, payload: "no" } }),
      { send: pkt(0xe0, v === 5 ? [0] : []) },
      { c: "s", wait: 300 },
    ];
  }),
  ...both("QoS downgrade to the subscription's QoS 0", "[MQTT-3.8.4-8]", (x, v) => {
    const t = `qd/${x.id()}`;
    return [...pubsub(x, v, t, 0), { send: publish({ v, topic: t, qos: 1, payload: "d" }) }];
  }),
  ...both("same filter twice: one subscription", "[MQTT-3.8.4-3]", (x, v) => {
    const t = `sf/${x.id()}`;
    return [
      ...pubsub(x, v, t, 1),
      { c: "s", send: subscribe(v, 2, [[t, 0]]) },
      { send: publish({ v, topic: t, qos: 1, payload: "once" }) },
    ];
  }),
  ...both("# and +/y do not match $x/y", "[MQTT-4.7.2-1]", (x, v) => {
    const t = `$x${x.id()}/y`;
    return [
      hello(x, v, {}, "s"),
      { c: "s", send: subscribe(v, 1, [["#", 0], ["+/y", 0]]) },
      hello(x, v),
      { send: publish({ v, topic: t, payload: "dollar" }) },
      { c: "s", send: unsubscribe(v, 2, ["#", "+/y"]) },
    ];
  }),
  ...both("topic names /, a//b and a/ are valid", "4.7.1.1", (x, v) =>
    after(
      x,
      v,
      publish({ v, topic: "/", qos: 1, id: 1 }),
      publish({ v, topic: "a//b", qos: 1, id: 2 }),
      publish({ v, topic: "a/", qos: 1, id: 3 }),
    )),
  v5("retain as published on live delivery", "[MQTT-3.3.1-12]/[MQTT-3.3.1-13]", (x) => {
    const t = `rap/${x.id()}`;
    return [
      hello(x, 5, {}, "s"),
      { c: "s", send: subscribe(5, 1, [[t, 0x08], [`${t}/#`, 0x00]]) },
      hello(x, 5),
      { send: publish({ v: 5, topic: t, retain: true, payload: "r" }) },
      { send: publish({ v: 5, topic: `${t}/z`, retain: true, payload: "z" }) },
      { send: publish({ v: 5, topic: t, retain: true }) },
      { send: publish({ v: 5, topic: `${t}/z`, retain: true }) },
    ];
  }),
  v5("request problem information 0: no reason string", "[MQTT-3.1.2-29]", (x) => [
    hello(x, 5, { props: [p.u8(0x17, 0)] }),
    { send: publish({ v: 5, topic: "$SYS/x", qos: 1 }) },
    { send: subscribe(5, 1, [["a/#/b", 1]]) },
  ]),
  v5("request problem information 1 (default)", "3.1.2.11.7", (x) => [
    hello(x, 5),
    { send: publish({ v: 5, topic: "$SYS/x", qos: 1 }) },
    { send: subscribe(5, 1, [["a/#/b", 1]]) },
  ]),
  ...both(
    "empty retained message clears the retained one",
    "[MQTT-3.3.1-10]/[MQTT-3.3.1-11]",
    (x, v) => {
      const t = `rc/${x.id()}`;
      return [
        ...after(x, v, publish({ v, topic: t, retain: true, payload: "old" })),
        { send: publish({ v, topic: t, retain: true }) },
        hello(x, v, {}, "s"),
        { c: "s", send: subscribe(v, 1, [[t, 0]]) },
      ];
    },
  ),
  ...both(
    "PUBLISH to a topic name $share/g/t",
    "4.8.2",
    (x, v) => after(x, v, publish({ v, topic: "$share/g/t", qos: 1 })),
  ),
  ...both(
    "UNSUBSCRIBE $share/g/t after SUBSCRIBE",
    "[MQTT-3.10.4-1]",
    (x, v) => after(x, v, subscribe(v, 1, [["$share/g/u", 1]]), unsubscribe(v, 2, ["$share/g/u"])),
  ),
  v5(
    "subscription identifier 268435455",
    "3.8.2.1.2",
    (x) => after(x, 5, subscribe(5, 1, [["a", 1]], { props: [p.vbi(0x0b, 268435455)] })),
  ),
  ...both("PUBREC for an unknown id", "3.6.2.1 0x92", (x, v) => after(x, v, ack(0x50, 77))),
  ...both("outgoing QoS 2: PUBREC twice, then PUBCOMP", "[MQTT-4.3.3-?]", (x, v) => {
    const t = `o2/${x.id()}`;
    return [
      ...pubsub(x, v, t, 2),
      { send: publish({ v, topic: t, qos: 2, id: 5, payload: "q2" }) },
      { send: ack(0x62, 5) },
      { c: "s", send: ack(0x50, 1) },
      { c: "s", send: ack(0x50, 1) },
      { c: "s", send: ack(0x70, 1) },
    ];
  }),
  v5(
    "clean start 0 with session expiry 0: no session after reconnect",
    "[MQTT-3.1.2-?] 3.1.2.11.2",
    (x) => {
      const id = x.id();
      return [
        { v: 5, send: connect({ v: 5, id, clean: false }) },
        { drop: true },
        { v: 5, send: connect({ v: 5, id, clean: false }) },
      ];
    },
  ),
  v5("queued message expires while offline", "[MQTT-3.3.2-5]", (x) => {
    const id = x.id();
    const t = `qe/${id}`;
    const session = [p.u32(0x11, 60)];
    return [
      { c: "s", v: 5, send: connect({ v: 5, id, clean: false, props: session }) },
      { c: "s", send: subscribe(5, 1, [[t, 1]]) },
      { c: "s", drop: true },
      hello(x, 5),
      { send: publish({ v: 5, topic: t, qos: 1, id: 1, payload: "short", props: [p.u32(2, 1)] }) },
      { send: publish({ v: 5, topic: t, qos: 1, id: 2, payload: "long", props: [p.u32(2, 100)] }) },
      { wait: 2200 },
      { c: "s", v: 5, send: connect({ v: 5, id, clean: false, props: session }) },
    ];
  }),
  {
    name: "MQTT 3.1: client id of 24 characters",
    v: 4,
    spec: "3.1 3.1: 1-23 characters (CONNACK 2)",
    steps: (x) => [{ send: connect({ v: 3, id: `${x.id()}${"x".repeat(24)}`.slice(-24) }) }],
  },
  {
    name: "MQTT 3.1: empty client id",
    v: 4,
    spec: "3.1 3.1: 1-23 characters (CONNACK 2)",
    steps: () => [{ send: connect({ v: 3, id: "" }) }],
  },
  {
    name: "MQTT 3.1: CONNECT and PINGREQ",
    v: 4,
    spec: "",
    steps: (x) => [{ send: connect({ v: 3, id: x.id() }) }, { send: pkt(0xc0) }],
  },
];
