/**
 * Stand-in shard for the supervisor tests (supervisor_test.ts, supervisor_flow_test.ts, listener_ws_test.ts): a Web Worker speaking the ring protocol of src/ipc with
 * no MQTT. Echoes ConnInbound bytes back as ConnOutbound; bytes containing "close" → ConnClose,
 * "crash" → the worker throws, "pause" → InputPause on, "stall" → a 500 ms busy wait (a slow shard), "big" → a 10.5 MB reply first. Reports
 * ConnOpen, ConnClosed and ConnCongested on the BroadcastChannel named by its URL's `channel` as
 * `{ index, text }`; `{ cmd: "resume", index }` posted there by the test → InputPause off (a
 * paused shard's sockets are not read, so "resume" cannot come in as bytes).
 */

import {
  FieldReader,
  FieldWriter,
  readDoorbell,
  RecordKind,
  RingReader,
  RingWriter,
  type ShardRings,
  waitDoorbell,
} from "../ipc/mod.ts";

type Control =
  | { type: "init"; index: number; rings: ShardRings }
  | { type: "peers" }
  | { type: "shutdown" };

/** The worker global, typed narrowly so this file checks with the main program's libs. */
const port = self as unknown as {
  onmessage: ((e: MessageEvent<Control>) => void) | null;
  postMessage(message: unknown): void;
};

/** Size and count of the records of a "big" reply (supervisor_test.ts expects these). */
const BIG_CHUNK = 3000;
const BIG_COUNT = 3500;

let reader: RingReader;
let writer: RingWriter;
let rings: ShardRings;
let stopped = false;
let index = -1;
const fw = new FieldWriter();
const dec = new TextDecoder();
// The channel named in the worker's URL (echoShard() in _echo_shard_test_util.ts): one per
// supervisor, so parallel test modules in one process do not hear each other.
const events = new BroadcastChannel(
  new URL(import.meta.url).searchParams.get("channel") ?? "echo-events",
);
events.onmessage = (e: MessageEvent<{ cmd?: string; index?: number }>) => {
  if (e.data.cmd === "resume" && e.data.index === index && writer) {
    writer.write(RecordKind.InputPause, Uint8Array.of(0));
  }
};

function report(text: string): void {
  events.postMessage({ index, text });
}

function onRecord(kind: number, payload: Uint8Array): void {
  const r = new FieldReader(payload);
  if (kind === RecordKind.ConnOpen) {
    const id = r.u32();
    const listener = r.str();
    r.str(); // peer
    const assigned = r.str();
    report(`open ${id} ${listener} ${assigned}`);
  } else if (kind === RecordKind.ConnInbound) {
    const id = r.u32();
    const bytes = r.bytes();
    const text = dec.decode(bytes);
    if (text.includes("crash")) {
      setTimeout(() => {
        throw new Error("echo shard crash");
      }, 0);
    }
    if (text.includes("pause")) {
      writer.write(RecordKind.InputPause, Uint8Array.of(1));
    }
    if (text.includes("stall")) {
      const end = Date.now() + 500;
      while (Date.now() < end) { /* a slow shard */ }
    }
    if (text.includes("big")) {
      const chunk = new Uint8Array(BIG_CHUNK).fill(0x61);
      for (let i = 0; i < BIG_COUNT; i++) {
        writer.write(RecordKind.ConnOutbound, fw.u32(id).bytes(chunk).finish());
      }
    }
    writer.write(RecordKind.ConnOutbound, fw.u32(id).bytes(bytes).finish());
    if (text.includes("close")) writer.write(RecordKind.ConnClose, fw.u32(id).finish());
  } else if (kind === RecordKind.ConnClosed) {
    const id = r.u32();
    report(`closed ${id} ${r.str()}`);
  } else if (kind === RecordKind.ConnCongested) {
    const id = r.u32();
    report(`congested ${id} ${r.u8()}`);
  }
}

async function run(): Promise<void> {
  while (!stopped) {
    const seen = readDoorbell(rings.doorbell);
    if (reader.drain(onRecord) === 0) await waitDoorbell(rings.doorbell, seen);
  }
}

port.onmessage = (e: MessageEvent<Control>) => {
  const msg = e.data;
  if (msg.type === "init") {
    index = msg.index;
    rings = msg.rings;
    reader = new RingReader(rings.fromSupervisor);
    writer = new RingWriter(rings.toSupervisor, rings.supervisorDoorbell);
    void run();
    port.postMessage({ type: "ready" });
  } else if (msg.type === "shutdown") {
    stopped = true;
    writer.flush();
    events.close();
    port.postMessage({ type: "shutdown-done" });
  }
};
