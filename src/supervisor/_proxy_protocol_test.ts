/** Unit tests of the PROXY protocol parser (src/supervisor/_proxy_protocol.ts). */

import { deepStrictEqual as assertEquals } from "node:assert/strict";
import { parseProxyHeader } from "./_proxy_protocol.ts";

const enc = new TextEncoder();

function v2(fam: number, addr: number[], cmd = 0x21): Uint8Array {
  const sig = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];
  return Uint8Array.from([...sig, cmd, fam, addr.length >> 8, addr.length & 0xff, ...addr, 0x10]);
}

Deno.test("parseProxyHeader() reads v1 TCP4, TCP6 and UNKNOWN lines", () => {
  const line = "PROXY TCP4 192.0.2.7 10.0.0.1 40000 1883\r\n";
  assertEquals(parseProxyHeader(enc.encode(line + "\x10")), {
    kind: "done",
    source: "192.0.2.7:40000",
    consumed: line.length,
  });
  assertEquals(parseProxyHeader(enc.encode(line.slice(0, 20))), { kind: "need-more" });
  assertEquals(parseProxyHeader(enc.encode("PROXY TCP6 2001:db8::1 ::1 5 6\r\n")).kind, "done");
  assertEquals(parseProxyHeader(enc.encode("PROXY UNKNOWN\r\n")), {
    kind: "done",
    source: null,
    consumed: 15,
  });
  assertEquals(parseProxyHeader(enc.encode("PROXY TCP4 ::1 ::1 5 6\r\n")).kind, "invalid");
  assertEquals(parseProxyHeader(enc.encode("\x10\x0c\x00\x04MQTT")).kind, "invalid");
  assertEquals(parseProxyHeader(enc.encode("PROXY " + "x".repeat(120))).kind, "invalid");
});

Deno.test("parseProxyHeader() reads v2 IPv4, IPv6 and LOCAL headers", () => {
  const four = v2(0x11, [198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0x07, 0x5b]);
  assertEquals(parseProxyHeader(four), {
    kind: "done",
    source: "198.51.100.9:40000",
    consumed: 28,
  });
  assertEquals(parseProxyHeader(four.subarray(0, 20)), { kind: "need-more" });
  const six = v2(0x21, [
    0x20,
    0x01,
    0x0d,
    0xb8,
    ...Array(11).fill(0),
    1,
    ...Array(16).fill(0),
    0,
    80,
    0,
    81,
  ]);
  assertEquals(parseProxyHeader(six), { kind: "done", source: "[2001:db8::1]:80", consumed: 52 });
  assertEquals(parseProxyHeader(v2(0x00, [], 0x20)), { kind: "done", source: null, consumed: 16 });
  assertEquals(parseProxyHeader(v2(0x11, [1, 2], 0x21)).kind, "invalid");
});

/** PP2_TYPE_SSL with client flags, verify result and a CN sub-TLV. */
function sslTlv(cn: string, client = 0x07, verify = 0): number[] {
  const name = [...new TextEncoder().encode(cn)];
  const sub = [0x22, 0, name.length, ...name];
  const value = [client, 0, 0, 0, verify, ...sub];
  return [0x20, value.length >> 8, value.length & 0xff, ...value];
}

Deno.test("parseProxyHeader() reads the client certificate CN of a v2 SSL TLV", () => {
  const addr = [198, 51, 100, 9, 127, 0, 0, 1, 0x9c, 0x40, 0x07, 0x5b];
  const crc = [0x03, 0, 4, 1, 2, 3, 4]; // another TLV first (PP2_TYPE_CRC32C)
  const r = parseProxyHeader(v2(0x11, [...addr, ...crc, ...sslTlv("lb-device-7")]));
  assertEquals(r.kind === "done" && r.sslCn, "lb-device-7");
  const unverified = parseProxyHeader(v2(0x11, [...addr, ...sslTlv("x", 0x07, 1)]));
  assertEquals(unverified.kind === "done" && unverified.sslCn, undefined);
  const noCert = parseProxyHeader(v2(0x11, [...addr, ...sslTlv("x", 0x01)]));
  assertEquals(noCert.kind === "done" && noCert.sslCn, undefined);
  const cut = parseProxyHeader(v2(0x11, [...addr, 0x20, 0, 50, 1]));
  assertEquals(cut.kind === "done" && cut.sslCn, undefined);
});
