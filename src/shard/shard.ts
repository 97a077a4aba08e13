/**
 * Shard: the I/O shell of one worker isolate. Drains its rings in passes (peers first, then the
 * results of asynchronous work, then the supervisor), turns records into Channel, Broker and
 * control calls, writes their output back as records, and runs the one-second tick (keepalive,
 * expiry, delayed wills, retries) on the shard's one Clock. The only code in src/shard/ that
 * calls the ring API; what the parts are and how they are wired lives in shard_services.ts.
 */

import { writeU32LE } from "../bytes.ts";
import type { Config } from "../config/types.ts";
import { startForceGc } from "../idle_gc.ts";
import {
  blockOnDoorbell,
  readDoorbell,
  RecordKind,
  ringDoorbell,
  RingReader,
  RingWriter,
  type ShardRings,
  waitDoorbell,
} from "../ipc/mod.ts";
import { ReasonCode } from "../mqtt/mod.ts";
import { kick } from "./_client_end.ts";
import { ClientRecords } from "./_client_records.ts";
import { PeerRings } from "./_peer_rings.ts";
import { loadShard } from "./_shard_load.ts";
import { runTick } from "./_shard_tick.ts";
import type { Channel, ChannelOutput } from "./channel.ts";
import { systemClock, type TimerHandle } from "./clock.ts";
import { PassClock } from "./_pass_clock.ts";
import type { ControlReply } from "./control.ts";
import { OutboundBatcher, outboundBatchLimit } from "./_outbound.ts";
import { composeServices, type ShardServices } from "./shard_services.ts";
import { StoreClient } from "../store/mod.ts";

/**
 * Supervisor records handled per pass. A record carries one socket read (up to 64 KiB, hundreds
 * of packets), so a small number keeps one pass short enough for timers and flushes to keep up.
 */
const CLIENT_BATCH = 32;
const TICK_MS = 1000;
/**
 * While traffic flows the loop blocks on its doorbell (Atomics.wait) instead of sleeping in the
 * event loop, and gives the event loop a turn at least this often (timers, control messages,
 * I/O of authentication backends are delayed by at most this).
 */
const YIELD_MS = 2;
/** After this long without work the loop sleeps in the event loop again (an idle shard costs nothing). */
const LINGER_MS = 20;

/** One shard; see the file header. */
export class Shard implements ChannelOutput {
  readonly index: number;
  readonly count: number;
  readonly svc: ShardServices;
  #rings: ShardRings;
  #fromSupervisor: RingReader;
  #toSupervisor: RingWriter;
  readonly #peers: PeerRings;
  readonly #channels = new Map<number, Channel>();
  readonly #clientRecords: ClientRecords;
  /** Records handled so far: the idle GC's measure of load. */
  #workDone = 0;
  #stopGc: () => void = () => {};
  readonly #outbound: OutboundBatcher;
  readonly #outboundHeader = new Uint8Array(8);
  #stopped = false;
  #tick: TimerHandle | undefined;
  /** performance.now() of the last pass that did work, and of the last event loop turn. */
  #lastWork = -Infinity;
  #lastYield = 0;

  /** The parts' clock: timer callbacks run in a pass, after the peer drains (_pass_clock.ts). */
  readonly #clock: PassClock;

  /** This shard's port to the store worker; null without one (tests of the shard alone). */
  readonly #store: StoreClient | null;

  constructor(init: {
    index: number;
    count: number;
    config: Config;
    rings: ShardRings;
    store?: MessagePort | null;
  }) {
    this.#store = init.store ? new StoreClient(init.store) : null;
    this.index = init.index;
    this.count = init.count;
    this.#rings = init.rings;
    this.#fromSupervisor = new RingReader(init.rings.fromSupervisor);
    this.#toSupervisor = new RingWriter(init.rings.toSupervisor, init.rings.supervisorDoorbell);
    // While output to the supervisor is parked, client input waits in its ring (whose fill
    // pauses the sockets): a fan-out cannot grow the parked output without bound. Relief wakes
    // the loop.
    this.#toSupervisor.onCongestion = (on) => {
      if (!on) ringDoorbell(this.#rings.doorbell);
    };
    // A full peer ring pauses this shard's client input until it drains (never drops).
    this.#peers = new PeerRings(init.rings, this.#fromSupervisor, (on) => {
      this.#toSupervisor.write(RecordKind.InputPause, Uint8Array.of(on ? 1 : 0));
    });
    // A batch is one whole ring record (a larger packet goes alone, in pieces): see _outbound.ts.
    const maxBatch = outboundBatchLimit(init.config.ipc.ringSize);
    this.#outbound = new OutboundBatcher((connId, parts, bytes) => {
      // The writer copies the parts before write() returns, so one header serves every batch.
      const h = this.#outboundHeader;
      writeU32LE(h, 0, connId);
      writeU32LE(h, 4, bytes); // FieldWriter.bytes layout: u32 length, then the bytes
      parts.unshift(h);
      this.#toSupervisor.write(RecordKind.ConnOutbound, parts);
    }, maxBatch);
    this.#clock = new PassClock(systemClock, () => ringDoorbell(this.#rings.doorbell));
    this.svc = composeServices({
      index: init.index,
      count: init.count,
      config: init.config,
      counts: init.rings.counts,
      clock: this.#clock,
      wake: () => ringDoorbell(this.#rings.doorbell),
      sendToShard: (shard, kind, payload) => this.#peers.send(shard, kind, payload),
      flushPeers: () => this.#peers.flush(),
      whenPeersCommitted: () => this.#peers.whenCommitted(),
      reportBan: (entry) => {
        this.#toSupervisor.write(
          RecordKind.Event,
          this.svc.fields.str(JSON.stringify({ type: "ban", entry })).finish(),
        );
      },
      kick: (clientId) => kick(this.svc, clientId),
      store: this.#store,
      toSupervisor: (kind, parts) => this.#toSupervisor.write(kind, parts),
    });
    this.#clientRecords = new ClientRecords({
      svc: this.svc,
      output: this,
      channels: this.#channels,
      reply: (id, reply) => this.#reply(id, reply),
    });
  }

  /** Loads this shard's partitions from the store (durable mode) before the first pass. */
  load(): Promise<void> {
    return loadShard(this.svc, () => this.#flushAll());
  }

  /** Runs the drain loop and the tick until shutdown. */
  start(): void {
    this.#armTick();
    this.#stopGc = startForceGc(
      this.svc.config.forceGc,
      () => this.#workDone,
      (m, p) => this.svc.log.debug(m, p),
      `shard ${this.index}`,
    );
    void this.#run();
  }

  /** Another shard was restarted: take its new rings, forget its routes, send it ours. */
  replacePeers(rings: ShardRings, rebuilt: number): void {
    this.#rings = rings;
    this.#peers.replace(rings);
    this.svc.broker.resetPeer(rebuilt);
  }

  /**
   * Ends every connection as a server shutdown (wills go out), flushes all rings and waits (at
   * most 3 s) for the store to answer this shard's last commits.
   */
  async shutdown(): Promise<void> {
    for (const ch of [...this.#channels.values()]) {
      ch.disconnect(ReasonCode.ServerShuttingDown, "shutdown");
    }
    this.#flushAll();
    this.#stopped = true;
    this.svc.clock.clearTimer(this.#tick);
    this.#stopGc();
    this.svc.delayed?.stop();
    this.svc.store?.flush(); // the last pass's writes (wills' retained messages) go first
    await this.svc.store?.drained(3000);
    this.#store?.close();
  }

  // ChannelOutput -------------------------------------------------------------------------

  write(connId: number, bytes: Uint8Array): void {
    this.#outbound.add(connId, bytes);
  }

  space(connId: number, size: number): Uint8Array {
    return this.#outbound.space(connId, size);
  }

  close(connId: number): void {
    this.#outbound.flushConnection(connId); // what was written goes out before the close
    const h = new Uint8Array(4);
    writeU32LE(h, 0, connId);
    this.#toSupervisor.write(RecordKind.ConnClose, h);
  }

  pauseInput(connId: number, on: boolean): void {
    const h = new Uint8Array(5);
    writeU32LE(h, 0, connId);
    h[4] = on ? 1 : 0;
    this.#toSupervisor.write(RecordKind.ConnPause, h);
  }

  released(channel: Channel): void {
    if (this.#channels.get(channel.connId) === channel) this.#channels.delete(channel.connId);
  }

  // ---------------------------------------------------------------------------------------

  async #run(): Promise<void> {
    while (!this.#stopped) {
      const seen = readDoorbell(this.#rings.doorbell);
      // Peers before clients: routes and retained writes committed before a client acted are
      // applied before that client's bytes are handled (ordering rules in DESIGN.md). A pass
      // takes from every ring only what was committed at one instant before its first drain
      // (a cut): a record committed later may be the answer to one committed on a ring
      // already drained (a PUBLISH after the SUBACK of a route that went in meanwhile, a
      // retained query after a store), and waits for the next pass, which applies its cause
      // first. A busy peer cannot starve us either.
      const clientsUntil = this.#peers.cut();
      let work = this.#peers.drain((from, kind, payload) =>
        this.#onPeerRecord(from, kind, payload)
      );
      // Answer queries last: after every peer ring's committed records were applied.
      this.svc.broker.answerQueries();
      // Timers that fired since the last pass: what they publish sees the routes of the cut.
      work += this.#clock.runDue();
      // Results of asynchronous work next: they were decided before the client bytes below.
      work += this.svc.work.runSettled();
      let clientRecords = 0;
      if (!this.#toSupervisor.congested) {
        clientRecords = this.#fromSupervisor.drain(
          (kind, payload) => this.#clientRecords.apply(kind, payload),
          CLIENT_BATCH,
          clientsUntil,
        );
        work += clientRecords;
      }
      this.#flushAll();
      this.#workDone += work;
      const now = performance.now();
      if (work > 0) this.#lastWork = now;
      if (clientRecords === CLIENT_BATCH || readDoorbell(this.#rings.doorbell) !== seen) {
        // More is waiting. A macrotask turn between passes: timers, control messages and the
        // ring writers' space notifications run while traffic keeps the rings busy.
        await this.#yield();
        continue;
      }
      // Everything committed before this pass was taken and nothing rang since: sleep now
      // rather than after one more, empty pass (at 5,000 paced messages a second nearly every
      // pass handles one message, and that pass was one more event loop turn per wake-up).
      if (now - this.#lastWork < LINGER_MS && this.#mayBlock()) {
        // Traffic: block on the doorbell (a cheap futex wake), yielding every YIELD_MS.
        const slice = YIELD_MS - (now - this.#lastYield);
        if (slice <= 0) await this.#yield();
        else blockOnDoorbell(this.#rings.doorbell, seen, slice);
      } else {
        // Quiet, or the event loop has work of ours to finish: sleep in it.
        await waitDoorbell(this.#rings.doorbell, seen);
        this.#lastYield = performance.now();
      }
    }
  }

  /** Reply: the answer to the supervisor's Request `id`. */
  #reply(id: number, reply: ControlReply): void {
    this.#toSupervisor.write(
      RecordKind.Reply,
      this.svc.fields.u32(id).u8(reply.ok ? 0 : 1).str(reply.body).finish(),
    );
  }

  /** One macrotask turn of the event loop: timers, messages, I/O and settled waits run. */
  async #yield(): Promise<void> {
    await new Promise((resolve) => setImmediate(resolve));
    this.#lastYield = performance.now();
  }

  /**
   * True when blocking the thread delays nothing but timers and control messages: no
   * asynchronous work is out and no store reply is awaited (both come through the event loop),
   * and no ring writer waits for space (its wake-up is an Atomics.waitAsync in this isolate).
   */
  #mayBlock(): boolean {
    return this.svc.work.inFlight === 0 && !this.#peers.congested &&
      !this.#toSupervisor.congested && (this.#store === null || this.#store.pending === 0);
  }

  /** Commits this pass's output: per-connection batches, then every ring. */
  #flushAll(): void {
    // The store's commit first: what waits on it answers in a later pass anyway.
    this.svc.store?.flush();
    this.#outbound.flush();
    this.#toSupervisor.flush();
    this.#peers.flush();
  }

  #onPeerRecord(from: number, kind: number, payload: Uint8Array): void {
    try {
      if (!this.svc.broker.applyPeerRecord(from, kind, payload)) {
        this.svc.log.error("Unknown record kind {kind} from shard {from}", { kind, from });
      }
    } catch (err) {
      this.svc.log.error("Peer record {kind} from shard {from} failed: {err}", {
        kind,
        from,
        err: String(err instanceof Error ? err.stack : err),
      });
    }
  }

  #armTick(): void {
    this.#tick = this.svc.clock.setTimer(TICK_MS, () => {
      if (this.#stopped) return;
      runTick(this.svc, this.#channels, this.svc.clock.now());
      this.#armTick();
      // Output of the tick (PINGs answered late, retries, DISCONNECTs) goes out now.
      this.#flushAll();
    });
  }
}
