// The account panel: a guest registers its nickname (a password typed
// twice); an account holder changes its password or deletes the account.
// What the server refuses is shown beside the form that asked, in its words.

export class AccountPanel {
  constructor({ dialog, open, close, status, forms, state, hello, onRegister, onChangePassword, onUnregister }) {
    Object.assign(this, { dialog, open, close, status, forms, state, hello });
    open.addEventListener("click", () => this.show());
    close.addEventListener("click", () => this.dialog.close());
    const { register, password, unregister } = forms;
    register.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const { password: first, confirm } = register;
      if (!this.agreed(register, first.value, confirm.value)) return;
      this.send(register, () => onRegister(first.value), "Registered: from now on, signing on as this nickname asks for this password.");
    });
    password.form.addEventListener("submit", (event) => {
      event.preventDefault();
      const { old, password: next, confirm } = password;
      if (!old.value) {
        this.refuse(password, "Type your password now.", old);
        return;
      }
      if (!this.agreed(password, next.value, confirm.value)) return;
      this.send(password, () => onChangePassword(old.value, next.value), "Your password is changed.");
    });
    unregister.form.addEventListener("submit", (event) => {
      event.preventDefault();
      if (!unregister.confirm.checked) {
        this.refuse(unregister, "Tick the box to say you mean it.", unregister.confirm);
        return;
      }
      this.send(unregister, () => onUnregister(), "Your account is deleted: you are a guest now.");
    });
  }

  show() {
    for (const part of Object.values(this.forms)) {
      part.error.textContent = "";
      for (const input of part.form.querySelectorAll("input:not(.account-username)")) {
        if (input.type === "checkbox") input.checked = false;
        else input.value = "";
      }
    }
    this.status.textContent = "";
    this.draw();
    // For password managers: the account the passwords are of.
    for (const field of this.dialog.querySelectorAll(".account-username")) field.value = this.state.nick ?? "";
    if (!this.dialog.open) this.dialog.showModal();
    this.dialog.querySelector("form:not([hidden]) input:not(.account-username)")?.focus();
  }

  /** Which forms apply: a guest's registration, or an account holder's. */
  draw() {
    const account = this.state.account;
    const hello = this.hello();
    const { register, password, unregister } = this.forms;
    register.form.hidden = Boolean(account);
    password.form.hidden = !account;
    unregister.form.hidden = !account;
    register.nick.textContent = this.state.nick ?? "";
    const least = hello?.limits?.min_password;
    register.hint.textContent = least ? `At least ${least} characters.` : "";
    if (!account && hello && hello.registration === false) {
      register.form.hidden = true;
      this.status.textContent = `You are signed on as ${this.state.nick}, a guest. This server does not let users register themselves: ask its operators.`;
    } else {
      this.status.textContent = account
        ? `You are logged in to the account ${account}.`
        : `You are signed on as ${this.state.nick}, a guest: anyone may take this nickname when you leave.`;
    }
  }

  agreed(part, first, confirm) {
    if (!first) {
      this.refuse(part, "Type a password.", part.password);
      return false;
    }
    if (first !== confirm) {
      this.refuse(part, "The two passwords differ.", part.confirm);
      return false;
    }
    return true;
  }

  refuse(part, text, focus) {
    part.error.textContent = text;
    focus?.focus();
  }

  async send(part, request, done) {
    part.error.textContent = "";
    part.submit.disabled = true;
    try {
      await request();
      for (const input of part.form.querySelectorAll("input:not(.account-username)")) {
        if (input.type === "checkbox") input.checked = false;
        else input.value = "";
      }
      this.draw();
      this.status.textContent = done;
    } catch (error) {
      part.error.textContent = error.message;
      part.form.querySelector("input:not(.account-username)")?.focus();
    } finally {
      part.submit.disabled = false;
    }
  }
}
