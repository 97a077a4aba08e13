/**
 * Routes of the dashboard's admins (EMQX `emqx_dashboard_api`): `POST /login`, `POST /logout`,
 * `POST /users/{username}/change_pwd`, and `GET|POST /users`, `DELETE /users/{username}`.
 * A token of the seeded admin with the default password may only change that password or log
 * out (Culex enforces on the server what EMQX asks only in the browser).
 *
 * @module
 */

import { getLogger } from "@logtape/logtape";
import { z } from "zod";
import { VERSION } from "../version.ts";
import { ApiError, badRequest, json, noContent } from "./_http.ts";
import { weakPassword } from "./_password.ts";
import type { ApiAuth } from "./auth.ts";
import { type Route, route } from "./router.ts";
import { addAdmin, removeAdmin } from "./admin_ops.ts";

const TAG = "Dashboard";
const log = getLogger(["culex", "api"]);
const username = z.string().min(1).max(64);
const role = z.enum(["administrator", "viewer"]);

/** The routes; see the file header. */
export function loginRoutes(auth: ApiAuth): Route[] {
  return [
    route<undefined, { username: string; password: string }>({
      method: "POST",
      path: "/login",
      tag: TAG,
      summary: "Log in as a dashboard admin: a bearer token",
      access: "public",
      body: z.object({ username, password: z.string().max(1024) }),
      responses: { 200: "token, role, version", 401: "BAD_USERNAME_OR_PWD" },
      async handle({ body, remote }) {
        let login;
        try {
          login = await auth.login(body.username, body.password);
        } catch (err) {
          // An audit line: who tried from where (never the password).
          log.warning("Dashboard login of {username} from {remote} refused: {reason}", {
            username: body.username,
            remote,
            reason: (err as Error).message,
          });
          throw err;
        }
        const { token, user } = login;
        log.info("Dashboard login of {username} from {remote}", {
          username: user.username,
          remote,
        });
        return json({
          token,
          version: VERSION,
          license: { edition: "opensource" },
          role: user.role,
          // Culex's addition: the dashboard shows the change form when true.
          password_change_required: user.mustChangePassword,
        });
      },
    }),
    route<undefined, { username?: string | undefined }>({
      method: "POST",
      path: "/logout",
      tag: TAG,
      summary: "Log out: the token stops working",
      access: "token",
      duringPasswordChange: true,
      body: z.object({ username: username.optional() }).optional().transform((b) => b ?? {}),
      responses: { 204: "logged out" },
      handle({ who }) {
        if (who.token) auth.logout(who.token);
        return noContent();
      },
    }),
    route<undefined, { old_pwd: string; new_pwd: string }>({
      method: "POST",
      path: "/users/{username}/change_pwd",
      tag: TAG,
      summary: "Change an admin's password (logs every token of that admin out)",
      duringPasswordChange: true,
      body: z.object({ old_pwd: z.string().max(1024), new_pwd: z.string().max(1024) }),
      responses: { 204: "changed", 400: "BAD_REQUEST", 404: "USER_NOT_FOUND" },
      async handle({ params, body, who }) {
        const name = params.username ?? "";
        if (who.kind === "token" && who.name !== name && who.role !== "administrator") {
          throw new ApiError(403, "UNAUTHORIZED_ROLE", "Unauthorized Role");
        }
        if (who.mustChangePassword && who.name !== name) {
          throw new ApiError(403, "PASSWORD_CHANGE_REQUIRED", "Change your own password first");
        }
        const user = await auth.admins.get(name);
        if (!user) throw new ApiError(404, "USER_NOT_FOUND", "User not found");
        const weak = weakPassword(body.new_pwd);
        if (weak) throw badRequest(`new_pwd: ${weak}`);
        if (body.new_pwd === body.old_pwd) {
          throw badRequest("new_pwd: The new password must differ from the old one");
        }
        try {
          await auth.login(name, body.old_pwd);
        } catch {
          throw badRequest("old_pwd: The old password is incorrect");
        }
        await auth.setPassword(user, body.new_pwd);
        return noContent();
      },
    }),
    route({
      method: "GET",
      path: "/users",
      tag: TAG,
      summary: "List dashboard admins",
      access: "token",
      responses: { 200: "[{username, role, description}]" },
      async handle() {
        const list = await auth.admins.list();
        return json(list.map((u) => ({
          username: u.username,
          role: u.role,
          description: u.description,
          backend: "local",
        })));
      },
    }),
    route<
      undefined,
      { username: string; password: string; role: "administrator" | "viewer"; description: string }
    >({
      method: "POST",
      path: "/users",
      tag: TAG,
      summary: "Add a dashboard admin",
      access: "token",
      body: z.object({
        username: z.string().regex(/^[A-Za-z0-9_.@-]{1,64}$/, {
          message: "1-64 letters, digits or _.@-",
        }),
        password: z.string().max(1024),
        role: role.default("administrator"),
        description: z.string().max(256).default(""),
      }),
      responses: { 200: "the user", 400: "BAD_REQUEST" },
      async handle({ body }) {
        const refused = await addAdmin(auth, body);
        if (refused?.code === "username_already_exists") {
          throw badRequest("username: already exists");
        }
        if (refused?.code === "weak_password") throw badRequest(`password: ${refused.message}`);
        if (refused) throw badRequest(`username: ${refused.message}`);
        return json({ username: body.username, role: body.role, description: body.description });
      },
    }),
    route({
      method: "DELETE",
      path: "/users/{username}",
      tag: TAG,
      summary: "Remove a dashboard admin (not the last administrator)",
      access: "token",
      responses: { 204: "removed", 404: "USER_NOT_FOUND" },
      async handle({ params }) {
        const refused = await removeAdmin(auth, params.username ?? "");
        if (refused?.code === "username_not_found") {
          throw new ApiError(404, "USER_NOT_FOUND", "User not found");
        }
        if (refused) throw badRequest(`username: ${refused.message}`);
        return noContent();
      },
    }),
  ];
}
