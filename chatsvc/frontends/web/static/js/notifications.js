// Desktop notifications for mentions and private messages, while the tab is
// hidden. Permission is asked for only when the user clicks the button that
// says so; the page never asks by itself.

export class Notifier {
  constructor(button, { onShow = () => {} } = {}) {
    this.button = button;
    this.onShow = onShow;
    this.supported = "Notification" in window;
    button.addEventListener("click", () => this.ask());
    this.update();
  }

  get enabled() {
    return this.supported && Notification.permission === "granted";
  }

  update() {
    if (!this.supported) {
      this.button.hidden = true;
      return;
    }
    const state = Notification.permission;
    this.button.hidden = state === "granted";
    this.button.disabled = state === "denied";
    this.button.textContent = state === "denied" ? "Notifications blocked" : "Enable notifications";
  }

  async ask() {
    if (!this.supported) return;
    await Notification.requestPermission();
    this.update();
  }

  /** Tell the user `body` from `title`, if the tab is hidden and they allowed it. */
  notify(title, body, { tag, onClick } = {}) {
    if (!this.enabled || document.visibilityState === "visible") return null;
    const notification = new Notification(title, { body, tag });
    notification.addEventListener("click", () => {
      window.focus();
      onClick?.();
      notification.close();
    });
    this.onShow(notification);
    return notification;
  }
}
