// The sign-on form: a nickname, then a password if the nickname is
// registered. The password is sent in a WebSocket frame, never in a URL.

const ASK_PASSWORD = new Set(["password-required", "nickname-registered", "wrong-password"]);

export class SignOn {
  constructor({ screen, form, nick, passwordRow, password, account, status, error, submit, onSubmit }) {
    Object.assign(this, { screen, form, nick, passwordRow, password, account, status, error, submit, onSubmit });
    form.addEventListener("submit", (event) => {
      event.preventDefault();
      this.send();
    });
    nick.addEventListener("input", () => {
      if (!this.passwordRow.hidden && this.nick.value !== this.asked) this.forgetPassword();
    });
    this.asked = null;
    this.ready(false);
  }

  show(message = "") {
    this.screen.hidden = false;
    this.error.textContent = message;
    this.nick.focus();
  }

  hide() {
    this.screen.hidden = true;
    this.password.value = "";
  }

  ready(connected, text = connected ? "Choose a nickname." : "Connecting…") {
    this.status.textContent = text;
    this.submit.disabled = !connected;
  }

  forgetPassword() {
    this.passwordRow.hidden = true;
    this.password.value = "";
    this.asked = null;
  }

  async send() {
    const nick = this.nick.value.trim();
    if (!nick) {
      this.error.textContent = "Type a nickname.";
      this.nick.focus();
      return;
    }
    const password = this.passwordRow.hidden ? null : this.password.value;
    this.error.textContent = "";
    this.submit.disabled = true;
    try {
      await this.onSubmit(nick, password);
    } catch (error) {
      this.error.textContent = error.code === "banned" ? banned(error) : error.message;
      if (ASK_PASSWORD.has(error.code)) {
        this.asked = nick;
        this.account.textContent = nick;
        this.passwordRow.hidden = false;
        this.password.value = "";
        this.password.focus();
        if (error.code !== "wrong-password") this.error.textContent = `${nick} is registered: type its password.`;
      } else {
        this.nick.focus();
        this.nick.select();
      }
    } finally {
      this.submit.disabled = false;
    }
  }
}

/** A ban's refusal in words: why and for how long, as the server says it, as a sentence. */
function banned(error) {
  const text = error.message;
  return `${text.charAt(0).toUpperCase()}${text.slice(1)}.`;
}
