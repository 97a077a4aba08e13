/**
 * LDAP connections (ldapts) for authentication and authorization. Private to src/auth/. Two
 * checkout pools per shard: search connections bound as the configured service account, and
 * bind connections used to check a user's password (a bind changes a connection's identity, so
 * one connection serves one request at a time). Values from clients enter filters and DNs only
 * escaped (RFC 4515 / RFC 4514, see _template.ts).
 */

import type { Client, Entry } from "ldapts";
import { CheckoutPool, poolPerShard } from "./_backend.ts";
import { hostPort } from "./_connectors.ts";
import type { LdapConnConfig } from "../config/types_auth.ts";

export class LdapConnector {
  readonly #search: CheckoutPool<Client>;
  readonly #bind: CheckoutPool<Client>;

  constructor(cfg: LdapConnConfig, shards?: number) {
    const { host, port } = hostPort(cfg.server, 389);
    const url = `ldap://${host.includes(":") ? `[${host}]` : host}:${port}`;
    const size = poolPerShard(cfg.poolSize, shards);
    const make = async (asService: boolean) => {
      const { Client } = await import("ldapts");
      const c = new Client({ url, timeout: cfg.queryTimeout, connectTimeout: cfg.queryTimeout });
      if (asService && cfg.username) {
        try {
          await c.bind(cfg.username, cfg.password);
        } catch (e) {
          await c.unbind().catch(() => {});
          throw e;
        }
      }
      return c;
    };
    const destroy = (c: Client) => c.unbind().catch(() => {});
    this.#search = new CheckoutPool(size, () => make(true), destroy);
    this.#bind = new CheckoutPool(size, () => make(false), destroy);
  }

  /** Entries under `baseDn` (subtree) matching `filter`, with `attributes`. */
  async search(baseDn: string, filter: string, attributes: string[]): Promise<Entry[]> {
    const c = await this.#search.acquire();
    let broken = false;
    try {
      const { searchEntries } = await c.search(baseDn, {
        scope: "sub",
        filter,
        attributes,
        sizeLimit: 100,
      });
      return searchEntries;
    } catch (e) {
      broken = !isLdapResultError(e);
      throw e;
    } finally {
      this.#search.release(c, broken);
    }
  }

  /** True when `dn` binds with `password`; false on invalid credentials; throws on other errors. */
  async checkBind(dn: string, password: string): Promise<boolean> {
    // An empty password would be an unauthenticated bind, which servers accept: never a match.
    if (password === "") return false;
    const c = await this.#bind.acquire();
    let broken = false;
    try {
      await c.bind(dn, password);
      return true;
    } catch (e) {
      if (isLdapResultError(e) && (e as { code?: number }).code === 49) return false;
      broken = !isLdapResultError(e);
      throw e;
    } finally {
      this.#bind.release(c, broken);
    }
  }

  async close(): Promise<void> {
    await Promise.all([this.#search.close(), this.#bind.close()]);
  }
}

/** ldapts result errors carry a numeric LDAP result code; transport errors do not. */
function isLdapResultError(e: unknown): boolean {
  return typeof (e as { code?: unknown })?.code === "number";
}

/** The first value of an attribute as text. */
export function attrText(entry: Entry, name: string): string | undefined {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const first = Array.isArray(v) ? v[0] : v;
  if (first === undefined) return undefined;
  return typeof first === "string" ? first : new TextDecoder().decode(first as Uint8Array);
}

/** Every value of an attribute as text. */
export function attrList(entry: Entry, name: string): string[] {
  const key = Object.keys(entry).find((k) => k.toLowerCase() === name.toLowerCase());
  const v = key === undefined ? undefined : entry[key];
  const list = v === undefined ? [] : Array.isArray(v) ? v : [v];
  return list.map((x) => (typeof x === "string" ? x : new TextDecoder().decode(x as Uint8Array)));
}
