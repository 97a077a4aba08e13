/**
 * ApiKeys: EMQX's API keys (`/api_key`), used with HTTP Basic `api_key:api_secret`. The secret
 * is shown once, at creation, and kept only as a SHA-256 digest (it is 32 random bytes, so a
 * fast digest is enough), compared in constant time. `api_key.bootstrap_file` adds keys at
 * start (`api_key:api_secret[:role]` per line). Kept in memory, at most `api_key.max_keys`.
 *
 * @module
 */

import type { ApiKeyConfig } from "../config/types.ts";
import { digest, randomText, sameText } from "./_password.ts";

/** One key as GET /api_key shows it (no secret). */
export interface ApiKeyInfo {
  name: string;
  api_key: string;
  expired_at: string;
  created_at: string;
  desc: string;
  enable: boolean;
  expired: boolean;
  role: "administrator" | "viewer";
}

interface KeyEntry {
  name: string;
  apiKey: string;
  secretDigest: string;
  /** Epoch ms; Infinity = never ("infinity"). */
  expiresAt: number;
  createdAt: number;
  desc: string;
  enable: boolean;
  role: "administrator" | "viewer";
}

/** Fields of POST/PUT /api_key. */
export interface ApiKeyInput {
  readonly expired_at?: number | undefined;
  readonly desc?: string | undefined;
  readonly enable?: boolean | undefined;
  readonly role?: "administrator" | "viewer" | undefined;
}

/** See the file header. */
export class ApiKeys {
  readonly #cfg: ApiKeyConfig;
  readonly #now: () => number;
  readonly #byName = new Map<string, KeyEntry>();

  constructor(cfg: ApiKeyConfig, now: () => number) {
    this.#cfg = cfg;
    this.#now = now;
  }

  /** Loads api_key.bootstrap_file; a bad line is an error naming the file and line. */
  async bootstrap(): Promise<void> {
    const file = this.#cfg.bootstrapFile;
    if (file === "") return;
    const lines = (await Deno.readTextFile(file)).split("\n");
    for (const [i, raw] of lines.entries()) {
      const line = raw.trim();
      if (line === "" || line.startsWith("#")) continue;
      const [key, secret, role = "administrator"] = line.split(":");
      if (!key || !secret || (role !== "administrator" && role !== "viewer")) {
        throw new SyntaxError(
          `${file}:${i + 1}: expected "api_key:api_secret[:administrator|viewer]"`,
        );
      }
      const name = `bootstrap_${key}`;
      if (this.#byName.has(name)) continue;
      this.#checkRoom();
      this.#byName.set(name, {
        name,
        apiKey: key,
        secretDigest: await digest(secret),
        expiresAt: Infinity,
        createdAt: this.#now(),
        desc: "bootstrap file",
        enable: true,
        role,
      });
    }
  }

  list(): ApiKeyInfo[] {
    return [...this.#byName.values()].map((k) => this.#info(k));
  }

  get(name: string): ApiKeyInfo | null {
    const k = this.#byName.get(name);
    return k ? this.#info(k) : null;
  }

  /** Creates a key; the answer is the only time the secret is shown. Null if the name exists. */
  async create(
    name: string,
    input: ApiKeyInput,
  ): Promise<(ApiKeyInfo & { api_secret: string }) | null> {
    if (this.#byName.has(name)) return null;
    this.#checkRoom();
    const secret = randomText(32);
    const k: KeyEntry = {
      name,
      apiKey: randomText(12),
      secretDigest: await digest(secret),
      expiresAt: input.expired_at === undefined ? Infinity : input.expired_at * 1000,
      createdAt: this.#now(),
      desc: input.desc ?? "",
      enable: input.enable ?? true,
      role: input.role ?? "administrator",
    };
    this.#byName.set(name, k);
    return { ...this.#info(k), api_secret: secret };
  }

  update(name: string, input: ApiKeyInput): ApiKeyInfo | null {
    const k = this.#byName.get(name);
    if (!k) return null;
    if (input.expired_at !== undefined) k.expiresAt = input.expired_at * 1000;
    if (input.desc !== undefined) k.desc = input.desc;
    if (input.enable !== undefined) k.enable = input.enable;
    if (input.role !== undefined) k.role = input.role;
    return this.#info(k);
  }

  delete(name: string): boolean {
    return this.#byName.delete(name);
  }

  /** The enabled, unexpired key whose secret matches, or null. */
  async check(apiKey: string, secret: string): Promise<KeyEntry | null> {
    const d = await digest(secret);
    let found: KeyEntry | null = null;
    // Every key is compared, so the time does not depend on which one matches.
    for (const k of this.#byName.values()) {
      const match = sameText(k.apiKey, apiKey) && sameText(k.secretDigest, d);
      if (match) found = k;
    }
    if (!found || !found.enable || found.expiresAt <= this.#now()) return null;
    return found;
  }

  #checkRoom(): void {
    if (this.#byName.size >= this.#cfg.maxKeys) {
      throw new RangeError(`at most ${this.#cfg.maxKeys} API keys (api_key.max_keys)`);
    }
  }

  #info(k: KeyEntry): ApiKeyInfo {
    return {
      name: k.name,
      api_key: k.apiKey,
      expired_at: k.expiresAt === Infinity ? "infinity" : new Date(k.expiresAt).toISOString(),
      created_at: new Date(k.createdAt).toISOString(),
      desc: k.desc,
      enable: k.enable,
      expired: k.expiresAt <= this.#now(),
      role: k.role,
    };
  }
}
