/**
 * Test-only worker for _decode_test.ts: decodes a corpus of byte streams, one fresh PacketDecoder
 * each, in an isolate that has decoded nothing else, and posts the results back. The test
 * compares them with the same corpus decoded in its own isolate after a flood of garbage.
 *
 * @module
 */

import { PacketDecoder, type ProtocolVersion } from "./codec.ts";
import { plain } from "./_test_packets.ts";

interface Job {
  streams: { bytes: Uint8Array; version: ProtocolVersion }[];
}

self.onmessage = (e: MessageEvent<Job>) => {
  const results = e.data.streams.map(({ bytes, version }) =>
    plain(new PacketDecoder({ maxPacketSize: 1 << 20, protocolVersion: version }).push(bytes))
  );
  self.postMessage(results);
  self.close();
};
