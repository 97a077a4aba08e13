/**
 * Authorization sources that answer from memory, synchronously: `file` (acl.conf) and
 * `built_in_database` (rules per username, per client id and for all, EMQX's
 * emqx_authz_mnesia order). Owned by src/auth/. The file is read at creation and on reload();
 * nothing here does I/O on the message path.
 */

import { parseAclFile } from "../acl_file.ts";
import {
  type AclRule,
  compileRawRule,
  evaluate,
  type RawRule,
  rulesForClient,
} from "../acl_rule.ts";
import type { AuthzAction, AuthzClient, AuthzSource, SourceAnswer } from "../types.ts";

/** Reads an acl.conf; "" is the default shipped beside culex.yaml (embedded by deno compile). */
export function readAcl(path: string): string {
  return path === ""
    ? Deno.readTextFileSync(new URL("../../../config/acl.conf", import.meta.url))
    : Deno.readTextFileSync(path);
}

/** Per-client rule views kept by a file source; past it the oldest view is dropped. */
export const MAX_CLIENT_VIEWS = 50_000;

/**
 * The `file` source. Rules are evaluated through a per-client view (the rules whose `who`
 * covers that client, placeholders filled), so a request costs the client's few rules, not
 * the whole file.
 */
export class FileSource implements AuthzSource {
  readonly type = "file";
  readonly #path: string;
  #rules: readonly AclRule[];
  readonly #views = new Map<string, readonly AclRule[]>();

  /**
   * `rules` (acl.conf text) wins over `path` when not empty; path "" is the shipped
   * config/acl.conf (EMQX's default rules). Throws a SyntaxError naming the line.
   */
  constructor(path: string, rules = "") {
    this.#path = path;
    this.#rules = FileSource.#parse(
      rules !== "" ? rules : readAcl(path),
      path || "config/acl.conf",
    );
  }

  static #parse(text: string, path: string): AclRule[] {
    try {
      return parseAclFile(text);
    } catch (e) {
      if (e instanceof SyntaxError && path) throw new SyntaxError(`${path}: ${e.message}`);
      throw e;
    }
  }

  get rules(): readonly AclRule[] {
    return this.#rules;
  }

  /** Re-reads the file (or takes `text`); on error the old rules stay and the error is thrown. */
  reload(text?: string): void {
    this.#rules = FileSource.#parse(text ?? readAcl(this.#path), this.#path || "config/acl.conf");
    this.#views.clear();
  }

  authorize(client: AuthzClient, action: AuthzAction): SourceAnswer {
    const id = `${client.clientId}\0${client.username ?? "\u0001"}\0${client.peerhost}\0${
      client.certCommonName ?? ""
    }\0${client.zone}`;
    let view = this.#views.get(id);
    if (!view) {
      if (this.#views.size >= MAX_CLIENT_VIEWS) {
        const oldest = this.#views.keys().next().value;
        if (oldest !== undefined) this.#views.delete(oldest);
      }
      view = rulesForClient(this.#rules, client);
      this.#views.set(id, view);
    }
    return evaluate(view, client, action, action.topic.split("/"));
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

/**
 * Rules of the built-in database, kept in memory (the durable store will persist them). At most
 * `maxRules` per username or client id (EMQX `max_rules`).
 */
export class AclStore {
  /** Checked when rules are set; a reload may change it (rules already set stay). */
  maxRules: number;
  readonly #users = new Map<string, AclRule[]>();
  readonly #clients = new Map<string, AclRule[]>();
  #all: AclRule[] = [];
  /** The rules as given, for the HTTP API to show back (EMQX's shape). */
  readonly #raw = {
    username: new Map<string, readonly RawRule[]>(),
    clientid: new Map<string, readonly RawRule[]>(),
    all: new Map<string, readonly RawRule[]>(),
  };

  constructor(maxRules: number) {
    this.maxRules = maxRules;
  }

  /** Replaces the rules of one username / client id, or of everyone (`who` undefined). */
  set(kind: "username" | "clientid" | "all", who: string, raw: readonly RawRule[]): void {
    if (raw.length > this.maxRules) {
      throw new RangeError(
        `at most ${this.maxRules} rules per ${kind} (max_rules), got ${raw.length}`,
      );
    }
    const rules = raw.map((r) => compileRawRule(r));
    if (kind === "all") this.#all = rules;
    else (kind === "username" ? this.#users : this.#clients).set(who, rules);
    this.#raw[kind].set(kind === "all" ? "" : who, raw);
  }

  /** The rules of one username / client id (or of everyone) as given, or undefined. */
  rawRules(kind: "username" | "clientid" | "all", who: string): readonly RawRule[] | undefined {
    return this.#raw[kind].get(kind === "all" ? "" : who);
  }

  /** Every username / client id with rules, and their rules as given. */
  rawEntries(kind: "username" | "clientid"): IterableIterator<[string, readonly RawRule[]]> {
    return this.#raw[kind].entries();
  }

  delete(kind: "username" | "clientid" | "all", who: string): boolean {
    this.#raw[kind].delete(kind === "all" ? "" : who);
    if (kind === "all") {
      const had = this.#all.length > 0;
      this.#all = [];
      return had;
    }
    return (kind === "username" ? this.#users : this.#clients).delete(who);
  }

  rulesFor(client: AuthzClient): readonly (readonly AclRule[])[] {
    const out: (readonly AclRule[])[] = [];
    const u = client.username === undefined ? undefined : this.#users.get(client.username);
    if (u) out.push(u);
    const c = this.#clients.get(client.clientId);
    if (c) out.push(c);
    if (this.#all.length > 0) out.push(this.#all);
    return out;
  }
}

/** The `built_in_database` source over an AclStore. */
export class BuiltinSource implements AuthzSource {
  readonly type = "built_in_database";
  readonly store: AclStore;

  constructor(store: AclStore) {
    this.store = store;
  }

  authorize(client: AuthzClient, action: AuthzAction): SourceAnswer {
    const words = action.topic.split("/");
    for (const rules of this.store.rulesFor(client)) {
      const a = evaluate(rules, client, action, words);
      if (a !== "nomatch") return a;
    }
    return "nomatch";
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}
