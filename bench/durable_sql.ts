/**
 * The store worker's SQL for durable fan-in QoS 1, alone in one isolate (issue 13): per turn,
 * K new `outgoing` rows of one session, the rows 32 behind moved into the window (one ranged
 * `UPDATE`), the rows 64 behind deleted (one ranged `DELETE`), in one transaction, as the
 * fan-in into one persistent subscriber with a window of 32 does.
 *
 *   deno run -A bench/durable_sql.ts [rows per turn=32] [wal_autocheckpoint=10000] [rows per INSERT=32] [NORMAL|FULL]
 *
 * Prints wall µs per message split by step, and this thread's CPU µs per message
 * (/proc/thread-self/stat). Compare `32 1000 1` (SQLite's default checkpoint, one INSERT per
 * row: the store before the fan-in round 2) with `32 10000 32` (now). Uses the `outgoing` table
 * of schema version 1 in a temporary file.
 */

import { DatabaseSync } from "node:sqlite";

const K = Number(Deno.args[0] ?? 32);
const CHECKPOINT = Number(Deno.args[1] ?? 10_000);
const MULTI = Number(Deno.args[2] ?? 32);
const SYNC = Deno.args[3] ?? "NORMAL";
const N = 200_000;

const dir = Deno.makeTempDirSync({ prefix: "culex_durable_sql_" });
const db = new DatabaseSync(`${dir}/x.db`);
db.exec("PRAGMA journal_mode = WAL");
db.exec(`PRAGMA synchronous = ${SYNC}`);
db.exec(`PRAGMA wal_autocheckpoint = ${CHECKPOINT}`);
db.exec("PRAGMA cache_size = -8192");
db.exec(`CREATE TABLE outgoing (sid INTEGER NOT NULL, seq INTEGER NOT NULL,
  phase INTEGER NOT NULL, packet_id INTEGER NOT NULL, qos INTEGER NOT NULL,
  retain INTEGER NOT NULL, sub_ids TEXT NOT NULL, shared TEXT NOT NULL, msg_id INTEGER,
  body BLOB, PRIMARY KEY (sid, seq))`);
const row = "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?)";
const insert = (n: number) =>
  db.prepare(
    "INSERT INTO outgoing (sid, seq, phase, packet_id, qos, retain, sub_ids, shared, msg_id, " +
      `body) VALUES ${new Array(n).fill(row).join(", ")}`,
  );
const inserts = new Map<number, ReturnType<typeof insert>>();
const sent = db.prepare(
  "UPDATE outgoing SET phase = 1, packet_id = seq + ? WHERE sid = ? AND seq BETWEEN ? AND ?",
);
const del = db.prepare("DELETE FROM outgoing WHERE sid = ? AND seq BETWEEN ? AND ?");
const body = new Uint8Array(110).fill(7);
const sid = 5 * 2 ** 32 + 1;

function cpuMs(): number {
  const f = Deno.readTextFileSync("/proc/thread-self/stat").split(") ")[1]!.split(" ");
  return (Number(f[11]) + Number(f[12])) * 10;
}

let seq = 0, sentTo = 0, deletedTo = 0;
const t = { begin: 0, insert: 0, sent: 0, delete: 0, commit: 0 };
const cpu0 = cpuMs();
const t0 = performance.now();
while (seq < N) {
  let a = performance.now(), b = a;
  const lap = (k: keyof typeof t) => (b = performance.now(), t[k] += b - a, a = b);
  db.exec("BEGIN IMMEDIATE");
  lap("begin");
  for (let left = K; left > 0;) {
    const n = Math.min(left, MULTI);
    const params: (number | string | Uint8Array | null)[] = [];
    for (let i = 0; i < n; i++) params.push(sid, ++seq, 0, 0, 1, 0, "", "", null, body);
    let stmt = inserts.get(n);
    if (!stmt) inserts.set(n, stmt = insert(n));
    stmt.run(...params);
    left -= n;
  }
  lap("insert");
  if (seq - 32 > sentTo) sent.run(1, sid, sentTo + 1, sentTo = seq - 32);
  lap("sent");
  if (seq - 64 > deletedTo) del.run(sid, deletedTo + 1, deletedTo = seq - 64);
  lap("delete");
  db.exec("COMMIT");
  lap("commit");
}
const wall = performance.now() - t0;
const us = (ms: number) => (ms * 1000 / seq).toFixed(2);
console.log(
  `K=${K} checkpoint=${CHECKPOINT} rows/INSERT=${MULTI} ${SYNC}: wall ${us(wall)} µs/msg ` +
    `(begin ${us(t.begin)}, insert ${us(t.insert)}, sent ${us(t.sent)}, delete ${
      us(t.delete)
    }, commit ${us(t.commit)}), CPU ${us(cpuMs() - cpu0)} µs/msg`,
);
db.close();
Deno.removeSync(dir, { recursive: true });
