/**
 * Integration suite 30 (bad input on the cluster port, issue 15): two real nodes A and B linked
 * on 127.0.0.1, and a test that talks to A's cluster port as anyone could: seeded random junk,
 * truncated, wrong-version and out-of-order hellos, huge length prefixes, more silent connections
 * than A lets wait for a handshake (from one address, and from many 127.0.0.x addresses), and a
 * slow-byte sender. Each is answered by closing that connection (with a REFUSE frame naming why,
 * when A got far enough to send one), the refusals are logged once per source and minute, and
 * after each a real MQTT client (npm:mqtt) on A still
 * receives what a client on B publishes, over a link that never went down. Last, a fake node "z"
 * that A dials (it is in A's seeds) proves the cookie, then sends a malformed frame: A closes
 * that link with the reason logged and redials it; then a frame of an unknown type, the same;
 * and A–B carries on.
 *
 * Set CULEX_FUZZ_SEED to replay a run's junk (its seed is printed). What is sent on the cluster
 * port and how A's answer is read: tests/_helpers/cluster_wire.ts.
 */

import assert from "node:assert/strict";
import type { MqttClient } from "mqtt";
import { closeAll, runTag } from "./_helpers/clients.ts";
import {
  addNode,
  type ClusterNode,
  countOf,
  crossNodeDelivery,
  freePorts,
  seedOf,
  waitLog,
  waitUp,
} from "./_helpers/cluster.ts";
import { Rng, seedFromEnv } from "./_helpers/fuzz/prng.ts";
import { FieldReader, FieldWriter } from "../src/ipc/mod.ts";
import { Frame, FrameDecoder, PRE_AUTH_MAX_FRAME, proof } from "../src/cluster/proto_v1.ts";
import { MAX_HANDSHAKES, MAX_HANDSHAKES_PER_HOST } from "../src/cluster/links.ts";
import { nodeFrame } from "./_helpers/node_frame.ts";
import { type Answer, answerOf, hello, send, silent } from "./_helpers/cluster_wire.ts";

const COOKIE = "test-cookie-29";
const Z_NAME = "z@127.0.0.1";

Deno.test({ name: "30 cluster: the cluster port under bad input" }, async (t) => {
  const tag = runTag();
  const seed = seedFromEnv();
  console.log(`30 cluster fuzz: CULEX_FUZZ_SEED=${seed}`);
  const [pa, pb, pz] = freePorts(3) as [number, number, number];
  const nodes: ClusterNode[] = [];
  const clients: MqttClient[] = [];
  // The fake node z: A dials it (A's seeds name it). Until the last step every dial is closed
  // at once; then zHandshake() takes the next one and proves the cookie as z.
  const zListener = Deno.listen({ hostname: "127.0.0.1", port: pz });
  let zWanted = false;
  const zWaiting: ((conn: Deno.TcpConn) => void)[] = [];
  const zQueue: Deno.TcpConn[] = [];
  const zAccepting = (async () => {
    try {
      for await (const conn of zListener) {
        if (!zWanted) conn.close();
        else if (zWaiting.length > 0) zWaiting.shift()!(conn);
        else zQueue.push(conn);
      }
    } catch { /* closed at the end */ }
  })();
  const nextZ = (): Promise<Deno.TcpConn> =>
    zQueue.length > 0
      ? Promise.resolve(zQueue.shift()!)
      : new Promise((resolve) => zWaiting.push(resolve));
  /** Takes connections to z until one is from `dialler`, and runs the handshake as z on it. */
  const zHandshake = async (dialler: string): Promise<Deno.TcpConn> => {
    for (let tries = 0; tries < 20; tries++) {
      const conn = await nextZ();
      const nonce = crypto.getRandomValues(new Uint8Array(32));
      await conn.write(hello(Z_NAME, nonce)).catch(() => 0);
      const decoder = new FrameDecoder(1 << 20);
      const buf = new Uint8Array(64 * 1024);
      let peer: string | null = null;
      for (let reads = 0; reads < 100 && peer === null; reads++) {
        const n = await conn.read(buf).catch(() => null);
        if (n === null) break;
        decoder.push(buf.subarray(0, n), (type, payload) => {
          if (type !== Frame.Hello || peer !== null) return;
          const r = new FieldReader(payload);
          r.u8();
          r.str();
          const node = r.str();
          const mine = proof(COOKIE, nonce, r.bytes().slice(), Z_NAME, node);
          peer = node;
          void conn.write(nodeFrame(Frame.Auth, new FieldWriter().bytes(mine).finish())).catch(() =>
            0
          );
        });
      }
      if (peer === dialler) return conn;
      conn.close();
    }
    throw new Error(`${dialler} never dialled z`);
  };
  try {
    const a = await addNode(nodes, {
      short: "a",
      clusterPort: pa,
      seeds: [`${Z_NAME}:${pz}`],
      shards: 1,
    });
    const b = await addNode(nodes, { short: "b", clusterPort: pb, seeds: [seedOf(a)], shards: 1 });
    await waitUp(a, [b.name]);
    await waitUp(b, [a.name]);

    let round = 0;
    /** A client on A still gets what B publishes, and the A–B link never went down. */
    const linkCarries = async () => {
      round++;
      const ids = { pub: `p30f${round}${tag}`, sub: `s30f${round}${tag}` };
      const got = await crossNodeDelivery(b, a, `t30f/${tag}/${round}`, `m${round}`, ids, clients);
      assert.deepEqual(got, [`m${round}`]);
      assert.equal(countOf(a.broker.logs(), `node ${b.name} is down`), 0, "A–B stayed up");
      assert.equal(countOf(b.broker.logs(), `node ${a.name} is down`), 0, "B–A stayed up");
    };
    const refusalsLogged = () =>
      countOf(a.broker.logs(), "Cluster: refused the link from 127.0.0.1");

    await t.step("seeded random junk closes each connection, logged once per source", async () => {
      const rng = new Rng(seed);
      // In batches below MAX_HANDSHAKES_PER_HOST, so that A reads every one (not turns it away).
      const answers: Answer[] = [];
      for (let batch = 0; batch < 5; batch++) {
        answers.push(
          ...await Promise.all(
            Array.from(
              { length: MAX_HANDSHAKES_PER_HOST },
              () => send(pa, rng.bytes(rng.int(1, 3000))),
            ),
          ),
        );
      }
      assert.ok(answers.every((x) => x.closed), "A closed every junk connection");
      assert.ok(answers.filter((x) => x.refusal !== null).length > 0, "A refused with a reason");
      // 40 refusals from one address: logged once (twice if a minute boundary fell in between).
      await waitLog(a, "Cluster: refused the link from 127.0.0.1");
      assert.ok(refusalsLogged() <= 2, `refusals logged ${refusalsLogged()} times`);
      await linkCarries();
    });

    await t.step("truncated, wrong-version, other-cluster and out-of-order hellos", async () => {
      const nonce = new Uint8Array(32).fill(7);
      const good = hello("x@127.0.0.1", nonce);
      const truncatedBody = nodeFrame(Frame.Hello, good.subarray(5, 12));
      const cases: [Uint8Array, string][] = [
        [hello("x@127.0.0.1", nonce, 2), "protocol 2"],
        [hello("x@127.0.0.1", nonce, 1, "other"), 'cluster "other"'],
        // Unproven names reach the log quoted and escaped, never as raw line breaks.
        [hello("x@127.0.0.1", nonce, 1, "a\nforged line"), 'cluster "a\\nforged line"'],
        [hello("no-at-sign", nonce), 'node name "no-at-sign"'],
        [hello(`x@${"h".repeat(300)}`, nonce), 'is not "name@host"'],
        [hello("x@127.0.0.1", new Uint8Array(5)), "bad nonce"],
        [truncatedBody, "bad frame"],
        [nodeFrame(Frame.Auth, new FieldWriter().bytes(new Uint8Array(32)).finish()), "frame 2"],
        [nodeFrame(Frame.Publish, new Uint8Array(10)), "frame 20"],
        [nodeFrame(99, new Uint8Array(0)), "frame 99"],
      ];
      for (const [bytes, reason] of cases) {
        const answer = await send(pa, bytes);
        assert.ok(answer.closed, `closed after ${reason}`);
        assert.ok(answer.refusal?.includes(reason), `REFUSE "${answer.refusal}" names ${reason}`);
      }
      // A hello whose body never comes: the frame is waited for, then the link closed.
      const partial = await send(pa, good.subarray(0, good.length - 3));
      assert.ok(partial.closed, "a partial hello is closed");
      await linkCarries();
    });

    await t.step("huge length prefixes are refused before any body arrives", async () => {
      for (const len of [0xffff_ffff, 1 << 20, PRE_AUTH_MAX_FRAME + 1]) {
        const header = new Uint8Array(5);
        new DataView(header.buffer).setUint32(0, len, true);
        header[4] = Frame.Hello;
        const answer = await send(pa, header);
        assert.ok(answer.closed, `closed after a length of ${len}`);
        // Before authentication a frame is small (PRE_AUTH_MAX_FRAME), whatever max_packet_size.
        assert.ok(
          answer.refusal?.includes(`at most ${PRE_AUTH_MAX_FRAME}`),
          `REFUSE "${answer.refusal}" for ${len}`,
        );
      }
      await linkCarries();
    });

    await t.step(
      "more silent connections than MAX_HANDSHAKES_PER_HOST from one address",
      async () => {
        const extra = 4;
        const answers = await Promise.all(
          Array.from({ length: MAX_HANDSHAKES_PER_HOST + extra }, () => silent("127.0.0.2", pa)),
        );
        assert.ok(answers.every((x) => x.closed), "every silent connection was closed");
        // Those beyond the bound were closed before A said anything (no HELLO).
        const turnedAway = answers.filter((x) => x.bytes === 0).length;
        assert.ok(turnedAway >= extra, `${turnedAway} turned away at once (at least ${extra})`);
        await waitLog(a, "handshakes in progress already");
        await linkCarries();
      },
    );

    await t.step("more silent connections than MAX_HANDSHAKES from many addresses", async () => {
      // 127.0.0.10 .. : no address over its own bound, together over the node's.
      const hosts = Math.ceil(MAX_HANDSHAKES / MAX_HANDSHAKES_PER_HOST) + 2;
      const extra = hosts * MAX_HANDSHAKES_PER_HOST - MAX_HANDSHAKES;
      const answers = await Promise.all(
        Array.from(
          { length: hosts * MAX_HANDSHAKES_PER_HOST },
          (_, i) => silent(`127.0.0.${10 + (i % hosts)}`, pa),
        ),
      );
      assert.ok(answers.every((x) => x.closed), "every silent connection was closed");
      const turnedAway = answers.filter((x) => x.bytes === 0).length;
      assert.ok(turnedAway >= extra, `${turnedAway} turned away at once (at least ${extra})`);
      await linkCarries();
    });

    await t.step("a slow-byte sender is closed at the handshake deadline", async () => {
      // A HELLO of ~1 KiB sent a byte each 100 ms would take ~100 s: A closes it long before.
      const slow = hello(`slow${"x".repeat(1000)}@127.0.0.1`, new Uint8Array(32).fill(3));
      const conn = await Deno.connect({ hostname: "127.0.0.1", port: pa });
      const answer = answerOf(conn);
      let sent = 0;
      let done = false;
      void answer.then(() => done = true);
      while (!done && sent < slow.length) {
        const n = await conn.write(slow.subarray(sent, sent + 1)).catch(() => 0);
        if (n === 0) break;
        sent++;
        await new Promise((r) => setTimeout(r, 100));
      }
      const got = await answer;
      assert.ok(got.closed, "the slow sender was closed");
      assert.ok(sent < slow.length, `closed before its hello was complete (${sent} bytes)`);
      assert.ok(got.refusal?.includes("no handshake within"), `REFUSE "${got.refusal}"`);
      await linkCarries();
    });

    await t.step(
      "a proven peer's malformed frame closes its link, which is redialled",
      async () => {
        // z@127.0.0.1 is in A's seeds; until now the test closed A's dials to it at once.
        zWanted = true;
        const first = await zHandshake(a.name);
        await waitLog(a, `node ${Z_NAME} is up`);
        // A RouteAdd that claims a billion filters and carries none: its reader runs past the end.
        await first.write(nodeFrame(Frame.RouteAdd, new FieldWriter().u32(1e9).finish()));
        const answer = await answerOf(first);
        assert.ok(answer.closed, "A closed z's link");
        await waitLog(a, `node ${Z_NAME} is down: bad frame`);
        // A dials z again (with backoff, as after any link loss), and the link comes back.
        const second = await zHandshake(a.name);
        await waitLog(a, `node ${Z_NAME} is up`, 15_000, 2);
        // An unknown frame type after the handshake closes the link too, with its reason.
        await second.write(nodeFrame(97, new Uint8Array(3)));
        assert.ok((await answerOf(second)).closed, "A closed z's second link");
        await waitLog(a, `node ${Z_NAME} is down: unknown frame type 97`);
        zWanted = false;
        await linkCarries();
      },
    );
  } finally {
    await closeAll(clients);
    await Promise.all(nodes.map((n) => n.broker.stop()));
    zListener.close();
    await zAccepting;
    for (const c of zQueue) c.close();
  }
});
