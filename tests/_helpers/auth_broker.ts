/**
 * Test helper for the broker-level security suites (19_auth_broker, 19_auth_limits; the CONNACK
 * code for 24_api_security too): a YAML config with the files it names in a temp dir, the
 * CONNACK code a client gets, and the users file both 19 suites use. Owns only the temp dirs it
 * makes (the caller removes them).
 */

import mqtt from "mqtt";

/** The hooks wiring is in (src/shard/security.ts); kept as a switch for the `ignore` flags. */
export const WIRING = false;

/** Writes a YAML config (and the files it names) into a temp dir. */
export async function configDir(
  yaml: string,
  files: Record<string, string> = {},
): Promise<{ dir: string; file: string }> {
  const dir = await Deno.makeTempDir({ prefix: "culex-authcfg-" });
  for (const [name, text] of Object.entries(files)) {
    await Deno.writeTextFile(`${dir}/${name}`, text);
  }
  const file = `${dir}/culex.yaml`;
  await Deno.writeTextFile(file, yaml.replaceAll("$DIR", dir));
  return { dir, file };
}

/** Connects and resolves to the CONNACK reason code (0 = accepted), closing the client. */
export async function connackCode(url: string, opts: mqtt.IClientOptions): Promise<number> {
  const c = mqtt.connect(url, { reconnectPeriod: 0, connectTimeout: 5000, ...opts });
  try {
    return await new Promise<number>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error("no CONNACK")), 8000);
      c.once("connect", (p) => (clearTimeout(t), resolve(p.reasonCode ?? p.returnCode ?? 0)));
      c.once(
        "error",
        (e) => (clearTimeout(t), resolve(Number((e as { code?: number }).code ?? -1))),
      );
    });
  } finally {
    c.end(true);
  }
}
/** Built-in users file: alice (not superuser) and root (superuser). */
export const USERS_CSV = "user_id,password,is_superuser\nalice,alice-pw,false\nroot,root-pw,true\n";
