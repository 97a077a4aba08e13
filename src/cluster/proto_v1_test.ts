import assert from "node:assert/strict";
import { FrameDecoder, frameHeader } from "./proto_v1.ts";
import { nodeFrame } from "../../tests/_helpers/node_frame.ts";

/** Feeds `bytes` in reads of `size` through one reused buffer, as a socket read loop would. */
function feed(d: FrameDecoder, bytes: Uint8Array, size: number): [number, number[]][] {
  const got: [number, number[]][] = [];
  const read = new Uint8Array(size);
  for (let at = 0; at < bytes.length; at += size) {
    const n = Math.min(size, bytes.length - at);
    read.set(bytes.subarray(at, at + n));
    d.push(read.subarray(0, n), (type, payload) => got.push([type, [...payload]]));
    read.fill(0xee); // the read buffer is reused: the decoder must have kept copies
  }
  return got;
}

Deno.test("FrameDecoder: the same frames whatever the read boundaries, a large frame included", () => {
  const big = new Uint8Array(200_000).map((_, i) => i % 251);
  const frames = [
    nodeFrame(3, Uint8Array.of(1, 2, 3)),
    nodeFrame(7, big),
    nodeFrame(9, new Uint8Array(0)),
  ];
  const stream = new Uint8Array(frames.reduce((n, f) => n + f.length, 0));
  let at = 0;
  for (const f of frames) {
    stream.set(f, at);
    at += f.length;
  }
  const want: [number, number[]][] = [[3, [1, 2, 3]], [7, [...big]], [9, []]];
  for (const size of [1, 2, 3, 4, 5, 7, 4096, 65_536, stream.length]) {
    assert.deepEqual(feed(new FrameDecoder(300_000), stream, size), want, `reads of ${size}`);
  }
});

Deno.test("FrameDecoder: a length over the limit is refused when its header arrives", () => {
  const d = new FrameDecoder(4096);
  const head = frameHeader(1, 5000).subarray(0, 4);
  assert.throws(() => d.push(head, () => {}), /frame of 5001 bytes \(at most 4096\)/);
});
