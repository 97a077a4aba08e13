import assert from "node:assert/strict";
import { encodeAnnouncement, MAX_SKEW_MS, readAnnouncement } from "./mcast.ts";

const now = 1_800_000_000_000;
const a = { cluster: "c", node: "a@10.0.0.1", address: "10.0.0.1:4370", at: now };
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const bytes = (s: string) => new TextEncoder().encode(s);

Deno.test("readAnnouncement() takes a signed announcement of its cluster", () => {
  assert.deepEqual(readAnnouncement(encodeAnnouncement(a, "k"), "k", "c", now + 1000), a);
});

Deno.test("readAnnouncement() refuses unsigned, wrongly signed, altered and malformed ones", () => {
  const [magic, body, sig] = text(encodeAnnouncement(a, "k")).split("\n");
  assert.equal(readAnnouncement(bytes(`${magic}\n${body}`), "k", "c", now), "unsigned");
  assert.equal(readAnnouncement(encodeAnnouncement(a, "other"), "k", "c", now), "wrong signature");
  const altered = body!.replace("10.0.0.1:4370", "10.6.6.6:4370");
  assert.equal(
    readAnnouncement(bytes(`${magic}\n${altered}\n${sig}`), "k", "c", now),
    "wrong signature",
  );
  assert.equal(readAnnouncement(bytes(`${magic}\n${body}\nzz`), "k", "c", now), "wrong signature");
  assert.equal(readAnnouncement(bytes("hello"), "k", "c", now), "malformed");
});

Deno.test("readAnnouncement() refuses stale ones and, quietly, other clusters'", () => {
  const signed = encodeAnnouncement(a, "k");
  assert.equal(readAnnouncement(signed, "k", "c", now + MAX_SKEW_MS + 1), "stale");
  assert.equal(readAnnouncement(signed, "k", "d", now), "other cluster");
});
