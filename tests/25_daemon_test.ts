/**
 * `culex start --daemon`, `ping`, `pid`, `stop` as real processes: the daemon detaches and
 * returns once it answers, writes its pid file in node.data_dir and logs to log.file (shard
 * lines included, forwarded to the main isolate), rotated by size and bounded by
 * rotation_size x (rotation_count + 1); `stop` waits until it has stopped; `ping` of a stopped
 * node says so and exits 1; a second node on the same data directory stops before its store opens.
 */

import assert from "node:assert/strict";
import { culex } from "./_helpers/culex_cli.ts";

const ROTATION_SIZE = 1024;
const ROTATION_COUNT = 2;

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

async function pub(port: number, id: string): Promise<void> {
  const r = await new Deno.Command("mosquitto_pub", {
    args: ["-h", "127.0.0.1", "-p", String(port), "-i", id, "-t", "d/t", "-m", "x"],
    stdout: "null",
    stderr: "piped",
  }).output();
  assert.equal(r.code, 0, new TextDecoder().decode(r.stderr));
}

Deno.test("start --daemon, ping, pid, stop; the log file rotates within its bound", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "culex_daemon_" });
  const logPath = `${dataDir}/log/culex.log`;
  const sets = [
    "listeners.tcp.default.bind=127.0.0.1:0",
    "dashboard.listeners.http.bind=127.0.0.1:0",
    "log.level=debug",
    `log.file.path=${logPath}`,
    `log.file.rotation_size=${ROTATION_SIZE}`,
    `log.file.rotation_count=${ROTATION_COUNT}`,
  ];
  let pid = 0;
  try {
    const started = await culex(dataDir, ["start", "--daemon", "--shards", "2"], sets);
    assert.equal(started.code, 0, started.stderr);
    assert.equal(started.stdout, "Culex 0.1.0 is started successfully!\n");

    const ping = await culex(dataDir, ["ping"]);
    assert.deepEqual([ping.code, ping.stdout], [0, "pong\n"]);
    const pidOut = await culex(dataDir, ["pid"]);
    pid = Number(pidOut.stdout.trim());
    assert.equal(Deno.readTextFileSync(`${dataDir}/culex.pid`), `${pid}\n`);
    assert.ok(alive(pid));

    const twice = await culex(dataDir, ["start", "--daemon"], sets);
    assert.equal(twice.code, 1);
    assert.match(twice.stderr, /is already running/);
    // In the foreground too, and before it opens the shared store or any port.
    const second = await culex(dataDir, ["start", "--shards", "1"], [
      "listeners.tcp.default.bind=127.0.0.1:0",
      "dashboard.listeners.http.bind=127.0.0.1:0",
    ]);
    assert.notEqual(second.code, 0);
    const secondOut = second.stdout + second.stderr;
    assert.match(secondOut, /another node is running on /);
    assert.doesNotMatch(secondOut, /culex\.store: Store |listening on/);

    // Nothing went to a console: the port is in the log file's start-up line.
    const first = Deno.readTextFileSync(logPath);
    const port = Number(/Listener tcp:default listening on 127\.0\.0\.1:(\d+)/.exec(first)?.[1]);
    assert.ok(port > 0, first);
    for (let i = 0; i < 24; i++) await pub(port, `daemon-client-${i}`);

    const status = await culex(dataDir, ["ctl", "status"]);
    assert.equal(status.stdout, "Node 'culex@127.0.0.1' 0.1.0 is started\n");

    const stopped = await culex(dataDir, ["stop"]);
    assert.deepEqual([stopped.code, stopped.stdout], [0, "ok\n"]);
    // stop returns once the node closed its socket, its last step; the process ends right after.
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    assert.ok(!alive(pid), "the daemon exited");
    assert.throws(() => Deno.statSync(`${dataDir}/culex.pid`));

    const down = await culex(dataDir, ["ping"]);
    assert.equal(down.code, 1);
    assert.match(down.stderr, /^Node 'culex@127\.0\.0\.1' not responding to pings\.$/m);

    const files = [...Deno.readDirSync(`${dataDir}/log`)].map((e) => e.name).sort();
    assert.deepEqual(files, ["culex.log", "culex.log.1", "culex.log.2"]);
    let all = "";
    for (const f of files) {
      const size = Deno.statSync(`${dataDir}/log/${f}`).size;
      assert.ok(size <= ROTATION_SIZE, `${f} is ${size} bytes`);
      all += Deno.readTextFileSync(`${dataDir}/log/${f}`);
    }
    // Shard records reach the file through the main isolate; the newest are kept.
    assert.match(all, /DEBUG culex\.shard: Connected daemon-client-23 /);
    assert.match(all, /INFO culex\.supervisor: Supervisor stopped/);
  } finally {
    if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dataDir, { recursive: true });
  }
});
