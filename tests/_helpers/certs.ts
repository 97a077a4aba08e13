/**
 * Test helper: a throw-away PKI made with the `openssl` command in a temp dir: a CA, a server
 * leaf for localhost/127.0.0.1 (CA:FALSE, which Deno's TLS requires), a second server leaf from
 * the same key (for certificate reload), a client certificate, and a second CA with a client
 * certificate of its own (the "wrong CA" cases). Owns the temp dir; remove() deletes it.
 */

/** Paths of the files made by makeCerts(), plus file contents tests often need. */
export interface TestCerts {
  readonly dir: string;
  readonly caFile: string;
  readonly serverCert: string;
  readonly serverKey: string;
  /** Same key, another serial: what a SIGHUP reload swaps in. */
  readonly serverCert2: string;
  readonly clientCert: string;
  readonly clientKey: string;
  /** Subject of clientCert: /C=SE/O=Culex Tests/CN=<clientCn>. */
  readonly clientCn: string;
  readonly otherCaFile: string;
  readonly otherClientCert: string;
  readonly otherClientKey: string;
  /** PEM text of caFile. */
  readonly ca: string;
  remove(): Promise<void>;
}

async function openssl(dir: string, args: string[]): Promise<void> {
  const out = await new Deno.Command("openssl", {
    args,
    cwd: dir,
    stdout: "piped",
    stderr: "piped",
  })
    .output();
  if (!out.success) {
    throw new Error(`openssl ${args.join(" ")}: ${new TextDecoder().decode(out.stderr)}`);
  }
}

async function makeCa(dir: string, name: string, cn: string): Promise<void> {
  await openssl(dir, [
    "req",
    "-x509",
    "-newkey",
    "rsa:2048",
    "-nodes",
    "-keyout",
    `${name}.key`,
    "-out",
    `${name}.pem`,
    "-days",
    "2",
    "-subj",
    `/CN=${cn}`,
    "-addext",
    "basicConstraints=critical,CA:TRUE",
    "-addext",
    "keyUsage=critical,keyCertSign,cRLSign",
  ]);
}

async function makeLeaf(
  dir: string,
  o: { ca: string; key: string; out: string; subj: string; ext: string; newKey: boolean },
): Promise<void> {
  await Deno.writeTextFile(`${dir}/${o.out}.ext`, o.ext);
  const keyArgs = o.newKey ? ["-newkey", "rsa:2048", "-nodes", "-keyout", o.key] : ["-key", o.key];
  await openssl(dir, ["req", "-new", ...keyArgs, "-out", `${o.out}.csr`, "-subj", o.subj]);
  await openssl(dir, [
    "x509",
    "-req",
    "-in",
    `${o.out}.csr`,
    "-CA",
    `${o.ca}.pem`,
    "-CAkey",
    `${o.ca}.key`,
    "-CAcreateserial",
    "-out",
    `${o.out}.pem`,
    "-days",
    "2",
    "-extfile",
    `${o.out}.ext`,
  ]);
}

const SERVER_EXT = "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" +
  "extendedKeyUsage=serverAuth\n";
const CLIENT_EXT = "basicConstraints=CA:FALSE\nextendedKeyUsage=clientAuth\n";

/** Makes the PKI described in the file header (a few hundred ms of RSA key generation). */
export async function makeCerts(clientCn = "device-42"): Promise<TestCerts> {
  const dir = await Deno.makeTempDir({ prefix: "culex_test_certs_" });
  await makeCa(dir, "ca", "Culex Test CA");
  await makeCa(dir, "other-ca", "Other Test CA");
  await makeLeaf(dir, {
    ca: "ca",
    key: "server.key",
    out: "server",
    subj: "/CN=localhost",
    ext: SERVER_EXT,
    newKey: true,
  });
  await makeLeaf(dir, {
    ca: "ca",
    key: "server.key",
    out: "server2",
    subj: "/CN=localhost",
    ext: SERVER_EXT,
    newKey: false,
  });
  await makeLeaf(dir, {
    ca: "ca",
    key: "client.key",
    out: "client",
    subj: `/C=SE/O=Culex Tests/CN=${clientCn}`,
    ext: CLIENT_EXT,
    newKey: true,
  });
  await makeLeaf(dir, {
    ca: "other-ca",
    key: "other-client.key",
    out: "other-client",
    subj: "/CN=intruder",
    ext: CLIENT_EXT,
    newKey: true,
  });
  return {
    dir,
    caFile: `${dir}/ca.pem`,
    serverCert: `${dir}/server.pem`,
    serverKey: `${dir}/server.key`,
    serverCert2: `${dir}/server2.pem`,
    clientCert: `${dir}/client.pem`,
    clientKey: `${dir}/client.key`,
    clientCn,
    otherCaFile: `${dir}/other-ca.pem`,
    otherClientCert: `${dir}/other-client.pem`,
    otherClientKey: `${dir}/other-client.key`,
    ca: await Deno.readTextFile(`${dir}/ca.pem`),
    remove: () => Deno.remove(dir, { recursive: true }),
  };
}

/**
 * A leaf for cluster nodes in `certs`'s directory, signed by `certs`'s CA (or the other CA with
 * `otherCa`): CA:FALSE, 127.0.0.1/localhost, usable both to serve and to dial (serverAuth and
 * clientAuth), as a node's `cluster.ssl_options` certificate is. Returns its cert and key paths.
 */
export async function makeNodeCert(
  certs: TestCerts,
  name: string,
  otherCa = false,
): Promise<{ cert: string; key: string }> {
  await makeLeaf(certs.dir, {
    ca: otherCa ? "other-ca" : "ca",
    key: `${name}.key`,
    out: name,
    subj: `/CN=${name}`,
    ext: "basicConstraints=CA:FALSE\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n" +
      "extendedKeyUsage=serverAuth,clientAuth\n",
    newKey: true,
  });
  return { cert: `${certs.dir}/${name}.pem`, key: `${certs.dir}/${name}.key` };
}
