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

/** A shard's parts on a manual clock. */
export class TestShard implements ChannelOutput {
  readonly clock: ManualClock;
  readonly svc: ShardServices;
  readonly #conns = new Map<number, TestConn & { parser: ReturnType<typeof mqttPacket.parser> }>();
  #nextId = 1;

  constructor(sets: string[] = [], start = 1_700_000_000_000) {
    const config: Config = loadConfig({ sets, env: {} });
    this.clock = new ManualClock(start);
    this.svc = composeServices({
      index: 0,
      count: 1,
      config,
      counts: createCounts(1),
      clock: this.clock,
      wake: () => {},
      sendToShard: () => {},
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
