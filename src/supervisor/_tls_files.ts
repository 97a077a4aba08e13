/**
 * The TLS files a configuration names (listeners.ssl.*, listeners.wss.*, the dashboard's https
 * listener, cluster.ssl_options), checked readable before the node starts: a missing key file is
 * then a config error naming its key (the CLI exits 2 before the store opens or any port binds),
 * not a stack trace from the listener that reads it after other listeners already opened.
 * Private to src/supervisor/; owns nothing.
 */

import type { Config, SslOptionsConfig } from "../config/mod.ts";

/** Each TLS `ssl_options` in use, with its key as the operator wrote it. */
function tlsOptionsInUse(config: Config): [string, SslOptionsConfig][] {
  const found: [string, SslOptionsConfig][] = [];
  for (const kind of ["ssl", "wss"] as const) {
    for (const [name, l] of Object.entries(config.listeners[kind])) {
      if (l.enable) found.push([`listeners.${kind}.${name}.ssl_options`, l.sslOptions]);
    }
  }
  const https = config.dashboard.listeners.https;
  if (https.enable && https.sslOptions) {
    found.push(["dashboard.listeners.https.ssl_options", https.sslOptions]);
  }
  if (config.cluster.sslOptions) found.push(["cluster.ssl_options", config.cluster.sslOptions]);
  return found;
}

/** Throws an Error naming the key and the file when a TLS file in use cannot be read. */
export function checkTlsFiles(config: Config): void {
  for (const [key, o] of tlsOptionsInUse(config)) {
    const files: [string, string][] = [["certfile", o.certfile], ["keyfile", o.keyfile]];
    if (o.cacertfile !== "") files.push(["cacertfile", o.cacertfile]);
    for (const [field, path] of files) {
      try {
        // Read, not stat: a file without read permission must fail here too.
        Deno.readFileSync(path);
      } catch (err) {
        const why = err instanceof Error ? err.message : String(err);
        throw new Error(`${key}.${field}: cannot read "${path}": ${why}`);
      }
    }
  }
}
