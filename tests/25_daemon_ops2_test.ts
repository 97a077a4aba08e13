/**
 * Under `culex start --daemon` (console off, `log.file` on) the store worker's records reach
 * `log.file` like the shards': the worker formats them and the main isolate, the file's only
 * writer, writes them. A corrupt store file makes the worker log its own line at open
 * (src/store/store.ts, "moved aside to"), beside the supervisor's ("moved aside as").
 */

import assert from "node:assert/strict";
import { culex } from "./_helpers/culex_cli.ts";

function alive(pid: number): boolean {
  try {
    Deno.statSync(`/proc/${pid}`);
    return true;
  } catch {
    return false;
  }
}

Deno.test("start --daemon: the store worker's lines are in log.file", async () => {
  const dataDir = await Deno.makeTempDir({ prefix: "culex_daemon_ops2_" });
  const logPath = `${dataDir}/log/culex.log`;
  // Garbage where the SQLite header should be: the worker moves it aside and says so.
  const junk = new Uint8Array(8192);
  crypto.getRandomValues(junk);
  await Deno.writeFile(`${dataDir}/culex.db`, junk);
  const sets = [
    "listeners.tcp.default.bind=127.0.0.1:0",
    "dashboard.listeners.http.bind=127.0.0.1:0",
    `log.file.path=${logPath}`,
  ];
  let pid = 0;
  try {
    const started = await culex(dataDir, ["start", "--daemon"], sets);
    assert.equal(started.code, 0, started.stderr);
    pid = Number((await culex(dataDir, ["pid"])).stdout.trim());
    const stopped = await culex(dataDir, ["stop"]);
    assert.deepEqual([stopped.code, stopped.stdout], [0, "ok\n"], stopped.stderr);
    for (let i = 0; i < 100 && alive(pid); i++) await new Promise((r) => setTimeout(r, 50));
    const text = Deno.readTextFileSync(logPath);
    // The store worker's own line (its isolate), and the supervisor's about the same event.
    assert.match(
      text,
      /ERROR culex\.store: Store \S+culex\.db was corrupt \(.*\); moved aside to /,
    );
    assert.match(
      text,
      /ERROR culex\.store: Store file \S+culex\.db was corrupt .*: moved aside as /,
    );
    assert.match(text, /INFO culex\.supervisor: Supervisor stopped/);
  } finally {
    if (pid > 0 && alive(pid)) Deno.kill(pid, "SIGKILL");
    await Deno.remove(dataDir, { recursive: true });
  }
});
