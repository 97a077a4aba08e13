/**
 * Integration suite 19 (TLS configuration): TLS listener settings that Culex refuses name their
 * key — restricted ciphers and fail_if_no_peer_cert without verify_peer exit 2, a missing
 * certificate file exits 1 before anything listens. Working TLS listeners: 19_tls_test.ts.
 *
 * Certificates are made by the test with openssl; no broker keeps running.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { makeCerts } from "./_helpers/certs.ts";

Deno.test("19 TLS configuration errors name the key", async (t) => {
  const certs = await makeCerts();
  try {
    await t.step("ciphers cannot be restricted: exit 2 naming the key", async () => {
      const r = await run([
        "--set",
        `listeners.ssl.x.bind=127.0.0.1:0`,
        "--set",
        `listeners.ssl.x.ssl_options.certfile=${certs.serverCert}`,
        "--set",
        `listeners.ssl.x.ssl_options.keyfile=${certs.serverKey}`,
        "--set",
        "listeners.ssl.x.ssl_options.ciphers=ECDHE-RSA-AES128-GCM-SHA256",
      ]);
      assertEquals(r.code, 2, `exit code; output: ${r.out}`);
      assert(r.out.includes("listeners.ssl.x.ssl_options.ciphers"), r.out);
    });
    await t.step("fail_if_no_peer_cert needs verify_peer", async () => {
      const r = await run([
        "--set",
        `listeners.ssl.x.bind=127.0.0.1:0`,
        "--set",
        `listeners.ssl.x.ssl_options.certfile=${certs.serverCert}`,
        "--set",
        `listeners.ssl.x.ssl_options.keyfile=${certs.serverKey}`,
        "--set",
        "listeners.ssl.x.ssl_options.fail_if_no_peer_cert=true",
      ]);
      assertEquals(r.code, 2, `exit code; output: ${r.out}`);
      assert(r.out.includes("verify must be verify_peer when fail_if_no_peer_cert is true"), r.out);
    });
    await t.step("a missing certificate file stops the start, naming the key", async () => {
      const r = await run([
        "--set",
        `listeners.ssl.x.bind=127.0.0.1:0`,
        "--set",
        `listeners.ssl.x.ssl_options.certfile=${certs.dir}/missing.pem`,
        "--set",
        `listeners.ssl.x.ssl_options.keyfile=${certs.serverKey}`,
      ]);
      assertEquals(r.code, 1, `exit code; output: ${r.out}`);
      assert(r.out.includes("listeners.ssl.x.ssl_options.certfile"), r.out);
      assert(!r.out.includes("listening on"), "nothing listened");
    });
  } finally {
    await certs.remove();
  }
});

/** Runs `main.ts start` with extra args that make it fail before listening. */
async function run(args: string[]): Promise<{ code: number; out: string }> {
  const main = new URL("../main.ts", import.meta.url).pathname;
  const out = await new Deno.Command(Deno.execPath(), {
    args: [
      "run",
      "-A",
      main,
      "start",
      "--set",
      "listeners.tcp.default.bind=127.0.0.1:0",
      "--set",
      "dashboard.listeners.http.bind=127.0.0.1:0",
      ...args,
    ],
    env: { NO_COLOR: "1" },
    stdin: "null",
    stdout: "piped",
    stderr: "piped",
    signal: AbortSignal.timeout(30_000),
  }).output();
  const dec = new TextDecoder();
  return { code: out.code, out: dec.decode(out.stdout) + dec.decode(out.stderr) };
}
