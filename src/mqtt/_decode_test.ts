// The stateless decoder (_decode.ts, with _fast_decode.ts and _frame_check.ts behind
// PacketDecoder): every packet type a client sends decodes exactly as mqtt-packet's own parser
// would decode it alone; any byte string is decoded, left incomplete, or refused with one error,
// never thrown; and no amount of garbage on some decoders changes what a fresh decoder makes of
// valid bytes afterwards (issue #10: one malformed packet broke every later CONNECT on a shard).
import assert from "node:assert/strict";
import { type DecodeResult, PacketDecoder, type ProtocolVersion } from "./codec.ts";
import {
  plain,
  randomAck,
  randomClientPacket,
  randomConnect,
  randomEnd,
  randomSubscribe,
  reference,
  rng,
  wire,
} from "./_test_packets.ts";

const MAX = 1 << 20;
const fresh = (version: ProtocolVersion) =>
  new PacketDecoder({ maxPacketSize: MAX, protocolVersion: version });

for (const version of [3, 4, 5] as const) {
  Deno.test(`decodeFrame: CONNECT, SUBSCRIBE, UNSUBSCRIBE, acks with properties, DISCONNECT and AUTH match mqtt-packet (level ${version})`, () => {
    const r = rng(version * 31337);
    for (let i = 0; i < 3000; i++) {
      const makers = [randomConnect, randomSubscribe, randomEnd, randomAck];
      const make = makers[i % makers.length]!;
      const packet = make === randomAck ? randomAck(r, version, true) : make(r, version);
      const bytes = wire(packet, version);
      const decoder = fresh(version);
      const [res, extra] = decoder.push(bytes);
      assert.ok(res?.ok && extra === undefined, `packet ${i}: ${JSON.stringify(res)}`);
      // A CONNECT is read at its own level, whatever the decoder was set to.
      assert.deepEqual(plain(res.packet), plain(reference(bytes, version)), `packet ${i}`);
    }
  });
}

/** Checks the decoder contract on one result list: packets, then at most one final error. */
function assertWellFormed(results: DecodeResult[], decoder: PacketDecoder, what: string): void {
  const errors = results.filter((x) => !x.ok);
  assert.ok(errors.length <= 1, `${what}: more than one error`);
  if (errors.length === 1) {
    assert.equal(results[results.length - 1]!.ok, false, `${what}: an error before a packet`);
    assert.ok(decoder.dead, `${what}: an error left the decoder alive`);
    const code = (errors[0] as { reasonCode: number }).reasonCode;
    assert.ok([0x81, 0x82, 0x84, 0x95].includes(code), `${what}: reason 0x${code.toString(16)}`);
  }
}

/** One mutation of a valid byte string (bit flip, insert, delete, truncate, length lie). */
function mutate(r: () => number, b: Uint8Array): Uint8Array {
  const out = [...b];
  const at = Math.floor(r() * out.length);
  switch (Math.floor(r() * 6)) {
    case 0:
      out[at] = out[at]! ^ (1 << Math.floor(r() * 8));
      break;
    case 1:
      out.splice(at, 0, Math.floor(r() * 256));
      break;
    case 2:
      out.splice(at, 1);
      break;
    case 3:
      out.length = at;
      break;
    case 4:
      out[1] = Math.floor(r() * 256); // remaining length that lies
      break;
    default:
      out[0] = Math.floor(r() * 256); // any type and flags, reserved ones included
  }
  return new Uint8Array(out);
}

/** A valid stream (CONNECT first at level 4/5, then packets) and a hostile version of it. */
function streams(r: () => number, n: number): { bytes: Uint8Array; version: ProtocolVersion }[] {
  const out: { bytes: Uint8Array; version: ProtocolVersion }[] = [];
  for (let i = 0; i < n; i++) {
    const version = (r() < 0.5 ? 4 : 5) as ProtocolVersion;
    const parts = [wire(randomConnect(r, version), version)];
    for (let k = 0; k < 4; k++) parts.push(wire(randomClientPacket(r, version), version));
    const all = new Uint8Array(parts.reduce((s, p) => s + p.length, 0));
    let o = 0;
    for (const p of parts) (all.set(p, o), o += p.length);
    out.push({ bytes: all, version });
  }
  return out;
}

Deno.test("PacketDecoder.push() decodes, waits or refuses any byte string, in any chunking, and never throws", () => {
  const r = rng(424242);
  for (let i = 0; i < 4000; i++) {
    const version = (r() < 0.5 ? 4 : 5) as ProtocolVersion;
    const base = wire(randomClientPacket(r, version), version);
    let bytes = i % 4 === 0
      ? new Uint8Array(Array.from({ length: Math.floor(r() * 64) }, () => (r() * 256) | 0))
      : mutate(r, base);
    if (i % 3 === 0) bytes = mutate(r, bytes);
    const decoder = fresh(version);
    const results: DecodeResult[] = [];
    for (let pos = 0; pos < bytes.length;) {
      const take = 1 + Math.floor(r() * 16);
      results.push(...decoder.push(bytes.subarray(pos, pos + take)));
      pos += take;
    }
    assertWellFormed(results, decoder, `case ${i}`);
    if (decoder.dead) assert.deepEqual(decoder.push(base), [], `case ${i}: a dead decoder decoded`);
  }
});

Deno.test("PacketDecoder: after any garbage on other decoders, valid streams decode as in a fresh isolate [issue #10]", async () => {
  const corpus = streams(rng(777), 300);
  // The reference: the same corpus decoded by an isolate that has seen nothing else.
  const worker = new Worker(new URL("./_decode_isolate_worker.ts", import.meta.url), {
    type: "module",
  });
  const baseline = await new Promise<unknown[]>((resolve, reject) => {
    worker.onmessage = (e) => resolve(e.data);
    worker.onerror = (e) => reject(e.error ?? e.message);
    worker.postMessage({ streams: corpus });
  });
  // Garbage of every kind on many decoders of this isolate, interleaved with the valid streams.
  const r = rng(99);
  const got: unknown[] = [];
  for (const { bytes, version } of corpus) {
    for (let k = 0; k < 20; k++) {
      const v = (r() < 0.5 ? 4 : 5) as ProtocolVersion;
      fresh(v).push(mutate(r, mutate(r, wire(randomClientPacket(r, v), v))));
    }
    got.push(plain(fresh(version).push(bytes)));
  }
  assert.deepEqual(got, baseline);
});

// The three sequences of issue #10, each followed on a fresh decoder by a valid CONNECT and a
// clean DISCONNECT that must decode as such.
const CONNECT5 = [0x10, 0x10, 0, 4, 0x4d, 0x51, 0x54, 0x54, 5, 2, 0, 60, 0, 0, 3, 0x61, 0x62, 0x63];
const CONNECT4 = [0x10, 0x0f, 0, 4, 0x4d, 0x51, 0x54, 0x54, 4, 2, 0, 60, 0, 3, 0x61, 0x62, 0x64];
for (
  const [name, version, bad, code] of [
    ["DISCONNECT with reason 0xff", 5, [0xe0, 0x01, 0xff], 0x81],
    ["DISCONNECT with reason 0x01", 5, [0xe0, 0x01, 0x01], 0x81],
    ["CONNACK with bad flags from a 5.0 client", 5, [0x20, 0x02, 0xfe, 0x00], null],
    ["CONNACK with bad flags from a 3.1.1 client", 4, [0x20, 0x02, 0xfe, 0x00], null],
  ] as const
) {
  Deno.test(`PacketDecoder: ${name} is this connection's error alone [issue #10]`, () => {
    const d = fresh(version);
    const connect = version === 5 ? CONNECT5 : CONNECT4;
    const results = d.push(new Uint8Array([...connect, ...bad]));
    assert.equal(results[0]?.ok, true);
    if (code === null) {
      // A CONNACK is well formed but never a client's to send: the dispatcher refuses it (0x82).
      assert.equal(results[1]?.ok && results[1].packet.cmd, "connack");
    } else {
      assert.deepEqual(results[1] && !results[1].ok && results[1].reasonCode, code);
    }
    for (const v of [4, 5] as const) {
      const next = fresh(v).push(new Uint8Array([...(v === 5 ? CONNECT5 : CONNECT4), 0xe0, 0]));
      assert.equal(next.length, 2);
      assert.equal(next[0]?.ok && next[0].packet.cmd, "connect");
      assert.equal(next[1]?.ok && next[1].packet.cmd, "disconnect");
    }
  });
}
