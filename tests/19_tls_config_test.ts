/**
 * Integration suite 19 (TLS configuration): TLS listener settings that Culex refuses name their
 * key — restricted ciphers and fail_if_no_peer_cert without verify_peer exit 2, a missing
 * certificate file exits 1 before anything listens. Working TLS listeners: 19_tls_test.ts.
 *
 * Certificates are made by the test with openssl; no broker keeps running.
 */

import { assert, assertEquals } from "./_helpers/assert.ts";
import { makeCerts } from "./_helpers/certs.ts";
import { startExpectingExit } from "./_helpers/culex_cli.ts";

/** Starts with an ssl listener "x" on port 0 whose `ssl_options` are `options` (key → value). */
function startWithSsl(options: Record<string, string>): Promise<{ code: number; out: string }> {
  return startExpectingExit([
    "--set",
    "listeners.ssl.x.bind=127.0.0.1:0",
    ...Object.entries(options).flatMap((
      [k, v],
    ) => ["--set", `listeners.ssl.x.ssl_options.${k}=${v}`]),
  ]);
}

Deno.test("19 TLS configuration errors name the key", async (t) => {
  const certs = await makeCerts();
  const serverCert = { certfile: certs.serverCert, keyfile: certs.serverKey };
  try {
    await t.step("ciphers cannot be restricted: exit 2 naming the key", async () => {
      const r = await startWithSsl({ ...serverCert, ciphers: "ECDHE-RSA-AES128-GCM-SHA256" });
      assertEquals(r.code, 2, `exit code; output: ${r.out}`);
      assert(r.out.includes("listeners.ssl.x.ssl_options.ciphers"), r.out);
    });
    await t.step("fail_if_no_peer_cert needs verify_peer", async () => {
      const r = await startWithSsl({ ...serverCert, fail_if_no_peer_cert: "true" });
      assertEquals(r.code, 2, `exit code; output: ${r.out}`);
      assert(r.out.includes("verify must be verify_peer when fail_if_no_peer_cert is true"), r.out);
    });
    await t.step(
      "a missing certificate file is a config error naming the key (exit 2)",
      async () => {
        const r = await startWithSsl({
          certfile: `${certs.dir}/missing.pem`,
          keyfile: certs.serverKey,
        });
        // Checked before the store opens or any listener binds: no listener's stack trace.
        assertEquals(r.code, 2, `exit code; output: ${r.out}`);
        assert(r.out.includes("Invalid config: listeners.ssl.x.ssl_options.certfile"), r.out);
        assert(!/\n\s+at /.test(r.out), `no stack trace: ${r.out}`);
        assert(!r.out.includes("listening on"), "nothing listened");
      },
    );
  } finally {
    await certs.remove();
  }
});
