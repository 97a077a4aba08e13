/**
 * The changes to dashboard admins that both the HTTP API (`POST /users`, `DELETE
 * /users/{username}`) and `culex ctl admins add|passwd|del` make, with one set of rules: user
 * names of 1-64 letters, digits or `_.@-`, EMQX's password rule (weakPassword), passwords only
 * ever stored hashed, the last administrator never removed, and every token of a removed admin
 * or of a changed password dropped. Each answers null when done or why not, as a code the caller
 * words in its own dialect (the API's 400 text, EMQX's `Error: username_not_found`).
 *
 * @module
 */

import type { ApiAuth } from "./auth.ts";
import { hashSecret, weakPassword } from "./_password.ts";

/** Why an admin change was refused. */
export interface AdminRefusal {
  readonly code:
    | "bad_username"
    | "weak_password"
    | "username_already_exists"
    | "username_not_found"
    | "last_administrator";
  /** The detail (for weak_password: which rule). */
  readonly message: string;
}

const USERNAME = /^[A-Za-z0-9_.@-]{1,64}$/;

/** Why `username` cannot name a new admin, or null. */
export function badUsername(username: string): string | null {
  if (username === "") return "Username cannot be empty";
  return USERNAME.test(username) ? null : "1-64 letters, digits or _.@-";
}

/** Adds an admin; null when added. */
export async function addAdmin(
  auth: ApiAuth,
  user: {
    username: string;
    password: string;
    role: "administrator" | "viewer";
    description: string;
  },
): Promise<AdminRefusal | null> {
  const bad = badUsername(user.username);
  if (bad) return { code: "bad_username", message: bad };
  const weak = weakPassword(user.password);
  if (weak) return { code: "weak_password", message: weak };
  if (await auth.admins.get(user.username)) {
    return { code: "username_already_exists", message: "already exists" };
  }
  await auth.admins.put({
    username: user.username,
    passwordHash: await hashSecret(user.password),
    role: user.role,
    description: user.description,
    mustChangePassword: false,
  });
  return null;
}

/** Sets an admin's password without asking for the old one (the shell is trusted). */
export async function resetAdminPassword(
  auth: ApiAuth,
  username: string,
  password: string,
): Promise<AdminRefusal | null> {
  const user = await auth.admins.get(username);
  if (!user) return { code: "username_not_found", message: "User not found" };
  const weak = weakPassword(password);
  if (weak) return { code: "weak_password", message: weak };
  await auth.setPassword(user, password);
  return null;
}

/** Removes an admin and its tokens; never the last administrator. */
export async function removeAdmin(auth: ApiAuth, username: string): Promise<AdminRefusal | null> {
  const all = await auth.admins.list();
  const user = all.find((u) => u.username === username);
  if (!user) return { code: "username_not_found", message: "User not found" };
  const admins = all.filter((u) => u.role === "administrator");
  if (user.role === "administrator" && admins.length === 1) {
    return { code: "last_administrator", message: "the last administrator cannot be removed" };
  }
  await auth.admins.delete(username);
  auth.forgetTokensOf(username);
  return null;
}
