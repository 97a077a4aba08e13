// The hand-written hot-path decoder and ack encoder must give exactly what mqtt-packet gives:
// random packets are encoded by mqtt-packet, then decoded both by PacketDecoder (fast path) and
// by a plain mqtt-packet parser, and the objects compared; acks are encoded both ways.
import assert from "node:assert/strict";
import type { Packet } from "mqtt-packet";
import { encodePacket, PacketDecoder } from "./codec.ts";
import { plain, randomAck, randomPublish, reference, rng, wire } from "./_test_packets.ts";

for (const version of [3, 4, 5] as const) {
  Deno.test(`fast decode: PUBLISH, acks and PINGREQ match mqtt-packet (MQTT level ${version})`, () => {
    const r = rng(version * 7919);
    for (let i = 0; i < 2000; i++) {
      const packet = i % 3 === 0 ? randomAck(r, version) : randomPublish(r, version);
      const bytes = wire(packet, version);
      const decoder = new PacketDecoder({ maxPacketSize: 1 << 20, protocolVersion: version });
      const [res] = decoder.push(bytes);
      assert.ok(res?.ok, `packet ${i}: ${JSON.stringify(res)}`);
      assert.deepEqual(plain(res.packet), plain(reference(bytes, version)), `packet ${i}`);
    }
    const ping = new PacketDecoder({ maxPacketSize: 10, protocolVersion: version });
    const [res] = ping.push(new Uint8Array([0xc0, 0x00]));
    assert.ok(res?.ok);
    assert.deepEqual(plain(res.packet), plain(reference(new Uint8Array([0xc0, 0]), version)));
  });

  Deno.test(`fast encode: acks and PINGRESP are byte for byte mqtt-packet's (level ${version})`, () => {
    const r = rng(version * 104729);
    const cases: Packet[] = [{ cmd: "pingresp" }];
    for (let i = 0; i < 500; i++) cases.push(randomAck(r, version));
    if (version === 5) {
      cases.push({ cmd: "puback", messageId: 7 } as Packet); // no reason code given
    }
    for (const packet of cases) {
      const want = wire(packet, version);
      assert.deepEqual([...encodePacket(packet, version)], [...want], JSON.stringify(packet));
    }
  });
}
