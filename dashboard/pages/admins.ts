/**
 * Dashboard users (EMQX's `/users` page): list (GET /users), add (POST /users), change a
 * password (POST /users/{username}/change_pwd with the old one; one's own password logs in
 * again with the new one, as the change form does) and delete (DELETE /users/{username}).
 *
 * @module
 */

import { call, changePassword, currentUser, seg } from "../api.ts";
import { confirmButton, field, h, replace, show } from "../dom.ts";
import { type ListView, listView } from "../list.ts";

interface Admin {
  username: string;
  role?: string;
  description?: string;
}

function passwordInput(name: string): HTMLInputElement {
  return h("input", { name, type: "password", required: true, autocomplete: "new-password" });
}

/** Renders the user list, the form to add one and the password form. */
export function renderAdmins(main: HTMLElement): void {
  const users = h("select", { name: "pwd_user", id: "pwd-user" });
  const list: ListView = listView<Admin>({
    load: async () => {
      const data = await call<Admin[]>("GET", "/users");
      const me = currentUser();
      replace(
        users,
        data.map((u) =>
          h("option", { value: u.username, selected: u.username === me }, u.username)
        ),
      );
      return { data, meta: {} };
    },
    empty: "No users.",
    columns: [
      { title: "User name", cell: (u) => u.username },
      { title: "Role", cell: (u) => show(u.role) },
      { title: "Description", cell: (u) => show(u.description) },
      {
        title: "",
        cell: (u) =>
          u.username === currentUser() ? "(you)" : confirmButton("Delete", async () => {
            await call("DELETE", `/users/${seg(u.username)}`);
            await list.reload();
          }),
      },
    ],
  });

  const username = h("input", {
    name: "username",
    required: true,
    placeholder: "1-64 of A-Z a-z 0-9 _.@-",
  });
  const password = passwordInput("password");
  const role = h(
    "select",
    { name: "role" },
    h("option", { value: "administrator" }, "administrator"),
    h("option", { value: "viewer" }, "viewer (read only)"),
  );
  const description = h("input", { name: "description", placeholder: "optional" });
  const addMessage = h("span", { class: "error", role: "alert" });
  const addForm = h(
    "form",
    { class: "toolbar", id: "admin-form" },
    field("User name", username),
    field("Password", password),
    field("Role", role),
    field("Description", description),
    h("button", { type: "submit" }, "Add user"),
    addMessage,
  );
  addForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    addMessage.textContent = "";
    try {
      await call("POST", "/users", {
        body: {
          username: username.value.trim(),
          password: password.value,
          role: role.value,
          description: description.value,
        },
      });
      username.value = "";
      password.value = "";
      description.value = "";
      await list.reload(true);
    } catch (e) {
      addMessage.textContent = e instanceof Error ? e.message : String(e);
    }
  });

  const oldPwd = passwordInput("admin_old_pwd");
  const newPwd = passwordInput("admin_new_pwd");
  const pwdMessage = h("span", { class: "error", role: "alert" });
  const pwdDone = h("span", { class: "notice", id: "admin-pwd-done" });
  const pwdForm = h(
    "form",
    { class: "toolbar", id: "admin-pwd-form" },
    field("User", users),
    field("Old password", oldPwd),
    field("New password", newPwd),
    h("button", { type: "submit" }, "Change password"),
    pwdMessage,
    pwdDone,
  );
  pwdForm.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    pwdMessage.textContent = "";
    pwdDone.textContent = "";
    const who = users.value;
    try {
      // The server drops every token of that user: one's own session logs in again.
      if (who === currentUser()) await changePassword(oldPwd.value, newPwd.value);
      else {
        await call("POST", `/users/${seg(who)}/change_pwd`, {
          body: { old_pwd: oldPwd.value, new_pwd: newPwd.value },
        });
      }
      oldPwd.value = "";
      newPwd.value = "";
      pwdDone.textContent = `Password of ${who} changed.`;
    } catch (e) {
      pwdMessage.textContent = e instanceof Error ? e.message : String(e);
    }
  });

  replace(
    main,
    h("h2", null, "Users"),
    addForm,
    list.el,
    h("h3", null, "Change a password"),
    pwdForm,
  );
  void list.reload(true);
}
