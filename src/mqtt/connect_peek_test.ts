import assert from "node:assert/strict";
import { asBuffer, encodePacket, type IConnectPacket } from "./codec.ts";
import { peekConnect } from "./connect_peek.ts";

function connect(over: Partial<IConnectPacket>): Uint8Array {
  const base: IConnectPacket = {
    cmd: "connect",
    clientId: "client-1",
    protocolId: "MQTT",
    protocolVersion: 4,
    clean: true,
    keepalive: 60,
  };
  return encodePacket({ ...base, ...over }, over.protocolVersion ?? 4);
}

Deno.test("peekConnect() reads the client id of an MQTT 3.1 CONNECT", () => {
  const b = connect({ protocolId: "MQIsdp", protocolVersion: 3, clientId: "old-one" });
  assert.deepEqual(peekConnect(b, 1024), {
    kind: "ok",
    clientId: "old-one",
    packetLength: b.length,
  });
});

Deno.test("peekConnect() reads the client id of an MQTT 3.1.1 CONNECT with will and credentials", () => {
  const b = connect({
    clientId: "dev/42",
    username: "u",
    password: asBuffer(new Uint8Array([1])),
    will: { topic: "w", payload: "bye", qos: 1, retain: false },
  });
  assert.deepEqual(peekConnect(b, 1024), {
    kind: "ok",
    clientId: "dev/42",
    packetLength: b.length,
  });
});

Deno.test("peekConnect() skips MQTT 5 properties to reach the client id", () => {
  const b = connect({
    protocolVersion: 5,
    clientId: "v5-ü",
    properties: {
      sessionExpiryInterval: 3600,
      receiveMaximum: 20,
      userProperties: { a: "b".repeat(200) }, // properties longer than 127 bytes: 2-byte length
      authenticationMethod: "SCRAM",
    },
  });
  assert.deepEqual(peekConnect(b, 1024), { kind: "ok", clientId: "v5-ü", packetLength: b.length });
});

Deno.test("peekConnect() returns ok with an empty id when the client sent none", () => {
  const b = connect({ clientId: "" });
  assert.deepEqual(peekConnect(b, 1024), { kind: "ok", clientId: "", packetLength: b.length });
});

Deno.test("peekConnect() returns need-more for every strict prefix", () => {
  const b = connect({ protocolVersion: 5, properties: { sessionExpiryInterval: 1 } });
  for (let i = 0; i < b.length; i++) {
    assert.deepEqual(peekConnect(b.subarray(0, i), 1024), { kind: "need-more" }, `prefix ${i}`);
  }
});

Deno.test("peekConnect() reports the CONNECT length when more packets follow it", () => {
  const b = connect({});
  const both = new Uint8Array(b.length + 2);
  both.set(b);
  both.set([0xc0, 0], b.length);
  assert.deepEqual(peekConnect(both, 1024), {
    kind: "ok",
    clientId: "client-1",
    packetLength: b.length,
  });
});

Deno.test("peekConnect() returns ok with an empty id for an unknown protocol name or level", () => {
  const b = connect({});
  const level6 = b.slice();
  level6[8] = 6; // protocol level byte after 0x10, len, 0x00 0x04 "MQTT"
  assert.deepEqual(peekConnect(level6, 1024), { kind: "ok", clientId: "", packetLength: b.length });
  const named = b.slice();
  named[7] = 0x58; // "MQTX"
  assert.equal(peekConnect(named, 1024).kind, "ok");
  assert.equal((peekConnect(named, 1024) as { clientId: string }).clientId, "");
});

Deno.test("peekConnect() returns invalid for garbage, other packets and bad lengths", () => {
  const cases: [string, Uint8Array, number][] = [
    ["http", new TextEncoder().encode("GET /mqtt HTTP/1.1\r\n"), 1024],
    ["publish first", new Uint8Array([0x30, 2, 0, 0]), 1024],
    ["connect flags", new Uint8Array([0x11, 0]), 1024],
    ["5-byte length", new Uint8Array([0x10, 0xff, 0xff, 0xff, 0xff, 0x01]), 2 ** 30],
    ["non-minimal", new Uint8Array([0x10, 0x80, 0x00]), 1024],
    ["too large", new Uint8Array([0x10, 0xd0, 0x0f]), 1000],
    ["empty body", new Uint8Array([0x10, 0]), 1024],
    ["short name", new Uint8Array([0x10, 3, 0, 4, 0x4d]), 1024],
    [
      "id past end",
      new Uint8Array([0x10, 12, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 9]),
      1024,
    ],
    [
      "bad utf-8 id",
      new Uint8Array([0x10, 13, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 1, 0xff]),
      1024,
    ],
  ];
  for (const [name, bytes, max] of cases) {
    assert.equal(peekConnect(bytes, max).kind, "invalid", name);
  }
});

Deno.test("peekConnect() never throws on random input", () => {
  let seed = 7;
  const rand = () => (seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32;
  for (let n = 0; n < 20_000; n++) {
    const bytes = new Uint8Array(1 + Math.floor(rand() * 40));
    for (let i = 0; i < bytes.length; i++) bytes[i] = Math.floor(rand() * 256);
    bytes[0] = 0x10;
    const r = peekConnect(bytes, 64);
    assert.ok(r.kind === "ok" || r.kind === "invalid" || r.kind === "need-more");
  }
});
