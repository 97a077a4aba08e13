/**
 * JoinedFile: the nodes this node joined with `ctl cluster join`, kept in
 * `<node.data_dir>/cluster_joined.json` so that a restarted node dials them again (EMQX keeps
 * membership in Mnesia). `cluster leave` empties it, `cluster force-leave` removes one node.
 * A missing or unreadable file is an empty list (logged when unreadable). Owns the file.
 */

import { join } from "node:path";
import { readStateList, writeStateList } from "./_state_file.ts";

/** A joined node (Cluster's Target). */
interface Target {
  readonly address: string;
  readonly name?: string;
}

/** Nodes kept at most (a join adds one). */
const MAX_JOINED = 256;

/** See the file header. */
export class JoinedFile {
  readonly #path: string;
  #targets: Target[] = [];

  constructor(dataDir: string) {
    this.#path = join(dataDir, "cluster_joined.json");
  }

  /** The targets kept by an earlier run. */
  load(): Target[] {
    this.#targets = readStateList(this.#path, "joined").filter((t): t is Target =>
      typeof t === "object" && t !== null && "address" in t && typeof t.address === "string" &&
      (!("name" in t) || t.name === undefined || typeof t.name === "string")
    ).slice(0, MAX_JOINED);
    return [...this.#targets];
  }

  add(t: Target): void {
    this.#targets = [...this.#targets.filter((x) => x.address !== t.address), t]
      .slice(-MAX_JOINED);
    this.#save();
  }

  /** Forgets the node named `node`. */
  remove(node: string): void {
    const before = this.#targets.length;
    this.#targets = this.#targets.filter((t) => t.name !== node);
    if (this.#targets.length !== before) this.#save();
  }

  clear(): void {
    this.#targets = [];
    this.#save();
  }

  #save(): void {
    writeStateList(this.#path, "joined", this.#targets);
  }
}
