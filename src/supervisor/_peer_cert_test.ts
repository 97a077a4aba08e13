/**
 * Unit tests of the client certificate facts (src/supervisor/_peer_cert.ts), judged against
 * openssl's own printing of the same certificate (RFC 2253 subject, MD5 fingerprint).
 */

import { strictEqual } from "node:assert/strict";
import { Buffer } from "node:buffer";
import { makeCerts } from "../../tests/_helpers/certs.ts";
import { peerCertAs, readPeerCert } from "./_peer_cert.ts";

async function openssl(args: string[]): Promise<string> {
  const out = await new Deno.Command("openssl", { args, stdout: "piped", stderr: "piped" })
    .output();
  return new TextDecoder().decode(out.stdout).trim();
}

Deno.test("readPeerCert() and peerCertAs() agree with openssl", async () => {
  const certs = await makeCerts("dev,42");
  try {
    const pem = await Deno.readTextFile(certs.clientCert);
    const b64 = pem.replace(/-----[^-]+-----/g, "").replace(/\s/g, "");
    const der = new Uint8Array(Buffer.from(b64, "base64"));
    const cert = readPeerCert(der)!;
    const subject = await openssl([
      "x509",
      "-in",
      certs.clientCert,
      "-noout",
      "-subject",
      "-nameopt",
      "RFC2253",
    ]);
    strictEqual(`subject=${cert.subject}`, subject);
    strictEqual(cert.commonName, "dev,42");
    strictEqual(peerCertAs("cn", cert), "dev,42");
    strictEqual(peerCertAs("dn", cert), cert.subject);
    const md5 = await openssl(["x509", "-in", certs.clientCert, "-noout", "-fingerprint", "-md5"]);
    strictEqual(peerCertAs("md5", cert), md5.split("=")[1]!.replaceAll(":", "").toLowerCase());
    strictEqual(peerCertAs("pem", cert), b64);
    strictEqual(peerCertAs("crt", cert).replace(/-----[^-]+-----/g, "").replace(/\s/g, ""), b64);
    strictEqual(peerCertAs("disabled", cert), "");
    strictEqual(peerCertAs("cn", null), "");
  } finally {
    await certs.remove();
  }
});
