/**
 * The log-in form and the password change form (forced while the default admin/public password
 * is set: EMQX-NAMES §7, enforced by the server too).
 *
 * @module
 */

import {
  ApiError,
  changePassword,
  currentUser,
  login,
  mustChangePassword,
  requirePasswordChange,
} from "../api.ts";
import { field, h } from "../dom.ts";

/** The rule EMQX applies to a new password: 8–64 characters of at least two kinds. */
function passwordProblem(pwd: string): string | null {
  if (pwd.length < 8 || pwd.length > 64) return "The password must have 8 to 64 characters.";
  const kinds = [/[a-z]/i, /[0-9]/, /[^a-z0-9]/i].filter((re) => re.test(pwd)).length;
  if (kinds < 2) return "Mix at least two of letters, digits and symbols.";
  return null;
}

/** Renders the log-in form. */
export function renderLogin(box: HTMLElement): void {
  const username = h("input", { name: "username", autocomplete: "username", value: "admin" });
  const password = h("input", {
    name: "password",
    type: "password",
    autocomplete: "current-password",
  });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card login", id: "login-form" },
    h("h1", null, "Culex Dashboard"),
    field("Username", username),
    field("Password", password),
    message,
    h("button", { type: "submit" }, "Log in"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    try {
      await login(username.value, password.value);
      location.hash = "#/overview";
    } catch (e) {
      if (e instanceof ApiError && e.status === 403) {
        requirePasswordChange();
        location.hash = "#/change-password";
        return;
      }
      message.textContent = e instanceof ApiError && e.status === 401
        ? "Wrong user name or password."
        : e instanceof Error
        ? e.message
        : String(e);
    }
  });
  box.replaceChildren(form);
  password.focus();
}

/** Renders the password change form. */
export function renderChangePassword(box: HTMLElement): void {
  const oldPwd = h("input", {
    name: "old_pwd",
    type: "password",
    autocomplete: "current-password",
  });
  const newPwd = h("input", { name: "new_pwd", type: "password", autocomplete: "new-password" });
  const again = h("input", {
    name: "new_pwd_again",
    type: "password",
    autocomplete: "new-password",
  });
  const message = h("p", { class: "error", role: "alert" });
  const form = h(
    "form",
    { class: "card login", id: "change-password-form" },
    h("h1", null, "Change password"),
    h(
      "p",
      null,
      `Choose a new password for ${currentUser() ?? ""}. `,
      mustChangePassword()
        ? "The default password must be changed before the dashboard can be used."
        : h("a", { href: "#/overview" }, "Back to the dashboard"),
    ),
    field("Current password", oldPwd),
    field("New password", newPwd),
    field("New password again", again),
    message,
    h("button", { type: "submit" }, "Change password"),
  );
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    message.textContent = "";
    const problem = newPwd.value !== again.value
      ? "The two new passwords differ."
      : passwordProblem(newPwd.value);
    if (problem) {
      message.textContent = problem;
      return;
    }
    try {
      await changePassword(oldPwd.value, newPwd.value);
      location.hash = "#/overview";
    } catch (e) {
      message.textContent = e instanceof Error ? e.message : String(e);
    }
  });
  box.replaceChildren(form);
  oldPwd.focus();
}
