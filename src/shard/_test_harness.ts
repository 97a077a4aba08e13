/**
 * Test support (never imported by production code): one shard's real parts — composeServices
 * with a ManualClock — and Channels fed with real MQTT bytes, whose output is parsed back by
 * mqtt-packet's parser (one per connection, as a client would). No ring, socket or worker: time
 * moves only when a test advances the clock, so keepalive, will delay, session expiry and
 * delayed publish are tested without sleeping.
 *
 * @module
 */

import mqttPacket from "mqtt-packet";
import type { Packet } from "mqtt-packet";
import { Buffer } from "node:buffer";
import { loadConfig } from "../config/mod.ts";
import type { Config } from "../config/types.ts";
import { encodePacket, type ProtocolVersion } from "../mqtt/mod.ts";
import { Channel, type ChannelOutput } from "./channel.ts";
import { ManualClock } from "./clock.ts";
import { createCounts } from "../ipc/mod.ts";
import { concatBytes } from "../bytes.ts";
import { composeServices, type ShardServices } from "./shard_services.ts";

/** One test connection: its Channel and what the broker sent it. */
export interface TestConn {
  readonly channel: Channel;
  readonly received: Packet[];
  closed: boolean;
  paused: boolean;
  /** Sends a packet (encoded at `version`) as if it came from the socket. */
  send(packet: Packet): void;
}

/** How a TestShard is one of several: its index, their number, and where its records go. */
export interface TestPeers {
  readonly index: number;
  readonly count: number;
  send(shard: number, kind: number, payload: Uint8Array | readonly Uint8Array[]): void;
}

/** A shard's parts on a manual clock. */
export class TestShard implements ChannelOutput {
  readonly clock: ManualClock;
  readonly svc: ShardServices;
  readonly #conns = new Map<number, TestConn & { parser: ReturnType<typeof mqttPacket.parser> }>();
  #nextId = 1;

  /**
   * `peers` makes this shard one of `count`: records for other shards go to `send`, and a test
   * hands them over with `applyPeer` (TestShards below does both).
   */
  constructor(sets: string[] = [], start = 1_700_000_000_000, peers?: TestPeers) {
    const config: Config = loadConfig({ sets, env: {} });
    this.clock = new ManualClock(start);
    this.svc = composeServices({
      index: peers?.index ?? 0,
      count: peers?.count ?? 1,
      config,
      counts: createCounts(peers?.count ?? 1),
      clock: this.clock,
      wake: () => {},
      sendToShard: (shard, kind, payload) => peers?.send(shard, kind, payload),
      flushPeers: () => {},
      whenPeersCommitted: () => null,
      reportBan: () => {},
      toSupervisor: () => {},
      kick: (clientId) => {
        const ch = this.svc.registry.channelOf(clientId);
        ch?.disconnect(0x98, "kicked");
        return ch !== undefined;
      },
    });
  }

  /** Opens a connection (as ConnOpen would) speaking `version`. */
  open(version: ProtocolVersion, peer = "127.0.0.1:50000"): TestConn {
    const connId = this.#nextId++;
    const parser = mqttPacket.parser({ protocolVersion: version });
    const channel = new Channel(this, this.svc, {
      connId,
      peer,
      listener: "tcp:default",
      assignedClientId: "",
    });
    const conn = {
      channel,
      parser,
      received: [] as Packet[],
      closed: false,
      paused: false,
      send: (p: Packet) => channel.handleBytes(encodePacket(p, version)),
    };
    parser.on("packet", (p: Packet) => conn.received.push(p));
    this.#conns.set(connId, conn);
    return conn;
  }

  /** Runs what asynchronous work settled (the shard's pass does this). */
  async settle(): Promise<void> {
    await new Promise((r) => setTimeout(r, 0));
    this.svc.work.runSettled();
  }

  /** Moves time, then runs the shard's tick checks (keepalive, expiry, delayed wills). */
  tick(ms: number): void {
    this.clock.advance(ms);
    const now = this.clock.now();
    for (const c of this.#conns.values()) if (!c.closed) c.channel.checkKeepalive(now);
    this.svc.registry.sweep(now);
  }

  write(connId: number, bytes: Uint8Array): void {
    this.#conns.get(connId)?.parser.parse(Buffer.from(bytes));
  }

  close(connId: number): void {
    const c = this.#conns.get(connId);
    if (c) c.closed = true;
  }

  pauseInput(connId: number, on: boolean): void {
    const c = this.#conns.get(connId);
    if (c) c.paused = on;
  }

  released(_channel: Channel): void {}
}

/** A CONNECT packet for tests. */
export function connectOf(
  clientId: string,
  version: ProtocolVersion,
  extra: Record<string, unknown> = {},
): Packet {
  return {
    cmd: "connect",
    protocolId: version === 3 ? "MQIsdp" : "MQTT",
    protocolVersion: version,
    clean: true,
    keepalive: 60,
    clientId,
    ...extra,
  } as Packet;
}

/** A record between two TestShards, queued until the test hands it over. */
interface PeerRecord {
  readonly kind: number;
  readonly payload: Uint8Array;
}

/**
 * Several TestShards joined by FIFO queues instead of rings, so a test chooses when each
 * shard reads its peers' records: the interleavings a loaded machine produces, on purpose.
 */
export class TestShards {
  readonly shards: TestShard[];
  /** Keyed `from>to`. */
  readonly #queues = new Map<string, PeerRecord[]>();

  constructor(count: number, sets: string[] = []) {
    this.shards = Array.from({ length: count }, (_, index) =>
      new TestShard(sets, undefined, {
        index,
        count,
        send: (to, kind, payload) => {
          const bytes = payload instanceof Uint8Array ? payload.slice() : concatBytes(payload);
          this.#queue(index, to).push({ kind, payload: bytes });
        },
      }));
  }

  /** Records queued from one shard to another. */
  pending(from: number, to: number): number {
    return this.#queue(from, to).length;
  }

  /**
   * One pass of shard `to` over its peers, as Shard.#run does: every queued record from every
   * peer, then the retained queries read in the pass.
   */
  drainPeers(to: number): void {
    const broker = this.shards[to]?.svc.broker;
    if (!broker) throw new RangeError(`no shard ${to}`);
    for (let from = 0; from < this.shards.length; from++) {
      const queue = this.#queue(from, to);
      this.#queues.delete(`${from}>${to}`);
      for (const r of queue) broker.applyPeerRecord(from, r.kind, r.payload);
    }
    broker.answerQueries();
  }

  #queue(from: number, to: number): PeerRecord[] {
    const key = `${from}>${to}`;
    let q = this.#queues.get(key);
    if (!q) this.#queues.set(key, q = []);
    return q;
  }
}
