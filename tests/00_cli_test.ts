/**
 * Integration suite 00: the CLI (main.ts) as a subprocess: help, version, that a bad
 * configuration exits 2 naming the key (and line) before any port opens, and that a deprecated
 * key is accepted with one warning. Owns only the
 * processes and temp files it creates; judges the broker from its exit code, output and port.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { VERSION } from "../src/version.ts";

const REPO = new URL("../", import.meta.url);
const MAIN = new URL("main.ts", REPO).pathname;
const TIMEOUT_MS = 30_000;
const LISTENING = /Listener tcp:default listening on [\d.]+:(\d+)/;

interface Run {
  code: number;
  stdout: string;
  stderr: string;
}

/** Runs `deno run -A main.ts ...args` to completion (killed after 30 s). */
async function culex(args: string[]): Promise<Run> {
  const out = await new Deno.Command(Deno.execPath(), {
    args: ["run", "-A", MAIN, ...args],
    cwd: REPO.pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, stdout: dec.decode(out.stdout), stderr: dec.decode(out.stderr) };
}

/** A loopback port that was free a moment ago. */
function freePort(): number {
  const l = Deno.listen({ hostname: "127.0.0.1", port: 0 });
  const port = (l.addr as Deno.NetAddr).port;
  l.close();
  return port;
}

/** True if something accepts a TCP connection on 127.0.0.1:port right now. */
async function accepts(port: number): Promise<boolean> {
  try {
    const conn = await Deno.connect({ hostname: "127.0.0.1", port });
    conn.close();
    return true;
  } catch {
    return false;
  }
}

Deno.test("00 cli: --help exits 0 and lists the commands", async () => {
  const r = await culex(["--help"]);
  assertEquals(r.code, 0, `exit code; stderr: ${r.stderr}`);
  assert(/^\s+start\b/m.test(r.stdout), `help lists start:\n${r.stdout}`);
  assert(/^\s+version\b/m.test(r.stdout), `help lists version:\n${r.stdout}`);

  const s = await culex(["start", "--help"]);
  assertEquals(s.code, 0, `start --help exit code; stderr: ${s.stderr}`);
  for (const flag of ["--config", "--shards", "--node-name", "--set"]) {
    assert(s.stdout.includes(flag), `start --help lists ${flag}:\n${s.stdout}`);
  }
  assertEquals((await culex(["version", "-h"])).code, 0, "version -h exit code");
});

Deno.test("00 cli: version prints the Culex and Deno versions", async () => {
  const r = await culex(["version"]);
  assertEquals(r.code, 0, `exit code; stderr: ${r.stderr}`);
  assert(r.stdout.startsWith(`culex ${VERSION}\n`), `version output:\n${r.stdout}`);
  assert(r.stdout.includes(`deno ${Deno.version.deno}`), `deno version:\n${r.stdout}`);
});

Deno.test("00 cli: an unknown command or flag prints usage on stderr and exits 2", async () => {
  for (const args of [["bogus"], ["start", "--bogus"], ["version", "extra"], []]) {
    const r = await culex(args);
    assertEquals(r.code, 2, `exit code of ${JSON.stringify(args)}`);
    assert(r.stderr.includes("Usage"), `usage on stderr for ${JSON.stringify(args)}:\n${r.stderr}`);
  }
});

Deno.test("00 cli: start --set with a bad value exits 2 naming the key, without listening", async () => {
  const port = freePort();
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--set",
      `listeners.tcp.default.bind=127.0.0.1:${port}`,
      "--set",
      "mqtt.max_inflight=abc",
    ],
    cwd: REPO.pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).spawn();
  const output = child.output();
  // Probe the port for as long as the process lives: a broker that opened it would answer.
  let exited = false;
  let listened = false;
  output.finally(() => exited = true);
  while (!exited) {
    if (await accepts(port)) listened = true;
    await new Promise((r) => setTimeout(r, 25));
  }
  const out = await output;
  const stderr = new TextDecoder().decode(out.stderr);
  const stdout = new TextDecoder().decode(out.stdout);
  assertEquals(out.code, 2, `exit code; stderr: ${stderr}`);
  assert(stderr.includes("mqtt.max_inflight"), `stderr names the key:\n${stderr}`);
  assert(stderr.includes("flag --set"), `stderr names the source:\n${stderr}`);
  assert(!listened, `port ${port} accepted a connection`);
  assert(!LISTENING.test(stdout + stderr), `no listening line:\n${stdout}${stderr}`);
});

Deno.test("00 cli: start --config with an unknown key exits 2 naming key and line", async () => {
  const file = await Deno.makeTempFile({ suffix: ".yaml" });
  try {
    await Deno.writeTextFile(file, "mqtt:\n  max_inflight: 16\n  max_inflihgt: 32\n");
    const r = await culex(["start", "--config", file]);
    assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert(r.stderr.includes("mqtt.max_inflihgt"), `stderr names the key:\n${r.stderr}`);
    assert(r.stderr.includes(`${file} line 3`), `stderr names file and line 3:\n${r.stderr}`);
  } finally {
    await Deno.remove(file);
  }
});

Deno.test("00 cli: start with an ACL file that does not parse exits 2 naming key, file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const acl = `${dir}/acl.conf`;
    await Deno.writeTextFile(
      acl,
      `{allow, all, subscribe, ["a/#"]}.\n{allow, all, publish ["b"]}.\n`,
    );
    const file = `${dir}/culex.yaml`;
    await Deno.writeTextFile(
      file,
      `authorization:\n  sources:\n    - {type: file, path: "${acl}"}\n`,
    );
    const r = await culex([
      "start",
      "--config",
      file,
      "--set",
      "listeners.tcp.default.bind=127.0.0.1:0",
      "--set",
      "dashboard.listeners.http.bind=127.0.0.1:0",
    ]);
    assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert(
      r.stderr.includes(`Invalid config: authorization.sources.0.path: ${acl}: acl.conf line 2:`),
      `stderr names the key, file and line:\n${r.stderr}`,
    );
    assert(!/Uncaught/.test(r.stderr), `no uncaught error in a worker:\n${r.stderr}`);
    assert(!LISTENING.test(r.stdout + r.stderr), `no listening line:\n${r.stdout}${r.stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

Deno.test("00 cli: start with a bootstrap CSV that does not parse exits 2 naming key, file and line", async () => {
  const dir = await Deno.makeTempDir();
  try {
    const csv = `${dir}/users.csv`;
    await Deno.writeTextFile(csv, "name,pw\nu1,p1\n");
    const file = `${dir}/culex.yaml`;
    await Deno.writeTextFile(
      file,
      `authentication:\n  - {mechanism: password_based, backend: built_in_database, ` +
        `bootstrap_file: "${csv}"}\n`,
    );
    const r = await culex([
      "start",
      "--config",
      file,
      "--set",
      "listeners.tcp.default.bind=127.0.0.1:0",
    ]);
    assertEquals(r.code, 2, `exit code; stderr: ${r.stderr}`);
    assert(
      r.stderr.includes(`Invalid config: authentication.0.bootstrap_file: ${csv} line 1:`),
      `stderr names the key, file and line:\n${r.stderr}`,
    );
    assert(!/Uncaught/.test(r.stderr), `no uncaught error in a worker:\n${r.stderr}`);
  } finally {
    await Deno.remove(dir, { recursive: true });
  }
});

/** Starts the broker with `extra` args, checks it listens, stops it with SIGTERM; its logs. */
async function startAndStop(extra: string[]): Promise<string> {
  const child = new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      MAIN,
      "start",
      "--shards",
      "1",
      "--set",
      "listeners.tcp.default.bind=127.0.0.1:0",
      "--set",
      "dashboard.listeners.http.bind=127.0.0.1:0",
      ...extra,
    ],
    cwd: REPO.pathname,
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(TIMEOUT_MS),
  }).spawn();
  let logs = "";
  let port = -1;
  const found = Promise.withResolvers<void>();
  const collect = async (stream: ReadableStream<Uint8Array>) => {
    for await (const chunk of stream.pipeThrough(new TextDecoderStream())) {
      logs += chunk;
      const m = LISTENING.exec(logs);
      if (m && port < 0) {
        port = Number(m[1]);
        found.resolve();
      }
    }
  };
  const readers = Promise.all([collect(child.stdout), collect(child.stderr)]);
  const status = child.status;
  await Promise.race([found.promise, status]);
  assert(port > 0, `broker announced its port; logs:\n${logs}`);
  assert(await accepts(port), `broker accepts on ${port}; logs:\n${logs}`);
  child.kill("SIGTERM");
  const { code } = await status;
  await readers;
  assertEquals(code, 0, `exit code after SIGTERM; logs:\n${logs}`);
  return logs;
}

Deno.test("00 cli: start listens, and exits 0 on SIGTERM", async () => {
  await startAndStop([]);
});

Deno.test("00 cli: the deprecated retainer.max_retained_messages starts with one warning", async () => {
  const logs = await startAndStop(["--set", "retainer.max_retained_messages=5"]);
  const warned = logs.split("\n").filter((l) =>
    /WARNING .*retainer\.max_retained_messages is deprecated: use retainer\.backend\.max_retained_messages/
      .test(l)
  );
  assertEquals(warned.length, 1, `one warning; logs:\n${logs}`);
  const quiet = await startAndStop([]);
  assert(!/deprecated/.test(quiet), `no warning without the old key; logs:\n${quiet}`);
});
