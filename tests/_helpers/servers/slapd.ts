/**
 * Test helper: a real OpenLDAP slapd (Debian packages slapd, ldap-utils' schema files) with a
 * temp slapd.conf, an mdb database under dc=example,dc=com loaded with slapadd, and an
 * mqttUser schema (isSuperuser, mqttPublishTopic, mqttSubscriptionTopic, mqttPubSubTopic, as
 * EMQX's LDAP integration uses), on a free 127.0.0.1 port. Owns that server only.
 */

import { freePort, run, type ServerProcess, spawn, waitForPort } from "./_proc.ts";

export const LDAP_BASE = "dc=example,dc=com";
export const LDAP_ADMIN = `cn=admin,${LDAP_BASE}`;
export const LDAP_ADMIN_PW = "admin-pw";

const MQTT_SCHEMA = `
attributetype ( 1.3.6.1.4.1.55555.1.1 NAME 'isSuperuser' EQUALITY booleanMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.7 SINGLE-VALUE )
attributetype ( 1.3.6.1.4.1.55555.1.2 NAME 'mqttPublishTopic' EQUALITY caseExactMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.55555.1.3 NAME 'mqttSubscriptionTopic' EQUALITY caseExactMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
attributetype ( 1.3.6.1.4.1.55555.1.4 NAME 'mqttPubSubTopic' EQUALITY caseExactMatch
  SYNTAX 1.3.6.1.4.1.1466.115.121.1.15 )
objectclass ( 1.3.6.1.4.1.55555.2.1 NAME 'mqttUser' AUXILIARY
  MAY ( isSuperuser $ mqttPublishTopic $ mqttSubscriptionTopic $ mqttPubSubTopic ) )
`;

export interface LdapServer {
  readonly port: number;
  readonly server: string;
  readonly process: ServerProcess;
  stop(): Promise<void>;
}

/** Loads `ldif` (after the base and ou=users entries) with slapadd, then starts slapd. */
export async function startSlapd(ldif: string): Promise<LdapServer> {
  const dir = await Deno.makeTempDir({ prefix: "culex-slapd-" });
  await Deno.mkdir(`${dir}/db`);
  await Deno.writeTextFile(`${dir}/mqtt.schema`, MQTT_SCHEMA);
  const conf = `${dir}/slapd.conf`;
  await Deno.writeTextFile(
    conf,
    [
      "include /etc/ldap/schema/core.schema",
      "include /etc/ldap/schema/cosine.schema",
      "include /etc/ldap/schema/inetorgperson.schema",
      `include ${dir}/mqtt.schema`,
      "modulepath /usr/lib/ldap",
      "moduleload back_mdb",
      `pidfile ${dir}/slapd.pid`,
      "database mdb",
      `suffix "${LDAP_BASE}"`,
      `rootdn "${LDAP_ADMIN}"`,
      `rootpw ${LDAP_ADMIN_PW}`,
      `directory ${dir}/db`,
      "maxsize 10485760",
      "",
    ].join("\n"),
  );
  const base =
    `dn: ${LDAP_BASE}\nobjectClass: dcObject\nobjectClass: organization\ndc: example\no: Example\n\n` +
    `dn: ou=users,${LDAP_BASE}\nobjectClass: organizationalUnit\nou: users\n\n`;
  await Deno.writeTextFile(`${dir}/data.ldif`, base + ldif);
  await run("slapadd", ["-f", conf, "-l", `${dir}/data.ldif`]);
  const port = freePort();
  const p = spawn("slapd", ["-f", conf, "-h", `ldap://127.0.0.1:${port}/`, "-d", "0"]);
  await waitForPort(port, 20_000, p.logs);
  return {
    port,
    server: `127.0.0.1:${port}`,
    process: p,
    async stop() {
      await p.stop();
      await Deno.remove(dir, { recursive: true }).catch(() => {});
    },
  };
}
