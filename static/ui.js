// The design system's behaviour, for every page (deferred; no inline script under the CSP):
// theme buttons, the phone sidebar, dropdown menus, confirmation dialogs (hx-confirm and
// data-confirm, never the browser's confirm()), busy buttons that refuse a second click,
// toasts that close, and polls that never replace what someone is using.
"use strict";

const root = document.documentElement;

// -- theme: [data-theme-set=system|light|dark] ----------------------------------------------
function storedTheme() {
  try {
    return localStorage.getItem("theme") || "system";
  } catch {
    return "system";
  }
}

function showTheme(theme) {
  for (const button of document.querySelectorAll("[data-theme-set]")) {
    button.setAttribute("aria-pressed", String(button.dataset.themeSet === theme));
  }
}

function setTheme(theme) {
  try {
    if (theme === "system") localStorage.removeItem("theme");
    else localStorage.setItem("theme", theme);
  } catch {
    // Not remembered, but still applied to this page.
  }
  if (theme === "system") delete root.dataset.theme;
  else root.dataset.theme = theme;
  showTheme(theme);
}

// -- the sidebar on narrow screens --------------------------------------------------------
function sidebarToggle() {
  return document.querySelector("[data-sidebar-toggle]");
}

function openSidebar(open) {
  const toggle = sidebarToggle();
  const sidebar = document.getElementById("sidebar");
  if (!toggle || !sidebar) return;
  if (open) document.body.dataset.nav = "open";
  else delete document.body.dataset.nav;
  toggle.setAttribute("aria-expanded", String(open));
  if (open) {
    const current = sidebar.querySelector("[aria-current=page]") || sidebar.querySelector("a, summary");
    if (current) current.focus();
  } else if (sidebar.contains(document.activeElement)) {
    toggle.focus();
  }
}

// -- dropdown menus: <details class="dropdown"> ---------------------------------------------
function closeMenus(except) {
  for (const menu of document.querySelectorAll("details.dropdown[open]")) {
    if (menu !== except && !menu.contains(except)) menu.open = false;
  }
}

function menuItems(menu) {
  return [...menu.querySelectorAll(".menu a, .menu button:not(:disabled)")];
}

function moveInMenu(menu, step) {
  const items = menuItems(menu);
  if (!items.length) return;
  const at = items.indexOf(document.activeElement);
  const next = at === -1 ? (step > 0 ? 0 : items.length - 1) : (at + step + items.length) % items.length;
  items[next].focus();
}

// -- confirmation dialog ------------------------------------------------------------------
let confirmed = null; // what to do if the person confirms

function askToConfirm(source, question, proceed) {
  const dialog = document.getElementById("confirm-dialog");
  if (!dialog || typeof dialog.showModal !== "function") {
    return; // no dialog on this page: refuse rather than act unconfirmed
  }
  dialog.querySelector("[data-confirm-title]").textContent = source.dataset.confirmTitle || "Are you sure?";
  dialog.querySelector("[data-confirm-text]").textContent = question;
  const action = dialog.querySelector("[data-confirm-accept]");
  action.textContent = source.dataset.confirmAction || "Confirm";
  action.classList.toggle("btn-danger", source.dataset.confirmTone !== "primary");
  confirmed = proceed;
  dialog.returnValue = "";
  dialog.showModal();
  dialog.querySelector("[data-confirm-cancel]").focus();
}

function settleDialog(dialog) {
  const proceed = confirmed;
  confirmed = null;
  if (dialog.returnValue === "accept" && proceed) proceed();
}

// -- busy buttons -------------------------------------------------------------------------
function buttonsOf(element) {
  if (element.matches("form")) return [...element.querySelectorAll("button, input[type=submit]")];
  return element.matches("button, input[type=submit]") ? [element] : [];
}

function markBusy(element, busy) {
  element.toggleAttribute("data-busy", busy);
  if (busy) element.setAttribute("aria-busy", "true");
  else element.removeAttribute("aria-busy");
  for (const button of buttonsOf(element)) {
    if (busy && !button.disabled) {
      button.disabled = true;
      button.dataset.busyDisabled = "";
      if (button === element || button.type === "submit") button.setAttribute("aria-busy", "true");
    } else if (!busy && "busyDisabled" in button.dataset) {
      button.disabled = false;
      delete button.dataset.busyDisabled;
      button.removeAttribute("aria-busy");
    }
  }
}

// -- polls --------------------------------------------------------------------------------
function inUse(target) {
  const active = document.activeElement;
  if (active && active !== document.body && target.contains(active)) return true;
  return Boolean(target.querySelector("details[open], [data-busy]"));
}

function isPoll(detail) {
  const trigger = detail.elt.getAttribute("hx-trigger") || "";
  return trigger.startsWith("every") && detail.requestConfig && detail.requestConfig.verb === "get";
}

// -- wiring -------------------------------------------------------------------------------
document.addEventListener("click", (event) => {
  const target = event.target;
  const themeButton = target.closest("[data-theme-set]");
  if (themeButton) {
    setTheme(themeButton.dataset.themeSet);
    return;
  }
  const toggle = target.closest("[data-sidebar-toggle]");
  if (toggle) {
    openSidebar(document.body.dataset.nav !== "open");
    return;
  }
  if (target.closest("[data-sidebar-close]")) {
    openSidebar(false);
    return;
  }
  const close = target.closest("[data-toast-close]");
  if (close) {
    close.closest(".toast")?.remove();
    return;
  }
  closeMenus(target.closest("details.dropdown"));
});

document.addEventListener("toggle", (event) => {
  const menu = event.target;
  if (menu.matches?.("details.dropdown") && menu.open) closeMenus(menu);
}, true);

document.addEventListener("keydown", (event) => {
  const menu = event.target.closest?.("details.dropdown[open]");
  if (event.key === "Escape") {
    if (menu) {
      menu.open = false;
      menu.querySelector("summary").focus();
      event.preventDefault();
    } else if (document.body.dataset.nav === "open") {
      openSidebar(false);
    }
  } else if (menu && (event.key === "ArrowDown" || event.key === "ArrowUp")) {
    moveInMenu(menu, event.key === "ArrowDown" ? 1 : -1);
    event.preventDefault();
  }
});

// Plain forms: data-confirm asks first; a submitted form refuses a second submission.
document.addEventListener("submit", (event) => {
  const form = event.target;
  if (form.method === "dialog" || form.hasAttribute("hx-post") || form.hasAttribute("hx-get")) return;
  if (form.hasAttribute("data-busy")) {
    event.preventDefault();
    return;
  }
  if (form.dataset.confirm && !form.hasAttribute("data-confirmed")) {
    event.preventDefault();
    const submitter = event.submitter;
    askToConfirm(form, form.dataset.confirm, () => {
      form.setAttribute("data-confirmed", "");
      form.requestSubmit(submitter);
    });
    return;
  }
  form.removeAttribute("data-confirmed");
  // After this event the browser has read the form (a disabled button would not be sent).
  setTimeout(() => markBusy(form, true), 0);
});

// A page restored from the back/forward cache must not keep its buttons disabled.
window.addEventListener("pageshow", () => {
  for (const busy of document.querySelectorAll("form[data-busy]")) markBusy(busy, false);
});

document.addEventListener("htmx:confirm", (event) => {
  const question = event.detail.question;
  if (!question) return;
  event.preventDefault();
  const source = event.detail.elt.closest("[hx-confirm]") || event.detail.elt;
  askToConfirm(source, question, () => event.detail.issueRequest(true));
});

document.addEventListener("htmx:beforeRequest", (event) => {
  const element = event.detail.elt;
  if (element.hasAttribute("data-busy") && !isPoll(event.detail)) {
    event.preventDefault(); // a second click while the first request runs
    return;
  }
  if (!isPoll(event.detail)) markBusy(element, true);
});

document.addEventListener("htmx:afterRequest", (event) => {
  const element = event.detail.elt;
  if (element.isConnected && !isPoll(event.detail)) markBusy(element, false);
});

document.addEventListener("htmx:beforeSwap", (event) => {
  if (isPoll(event.detail) && inUse(event.detail.target)) event.detail.shouldSwap = false;
});

document.addEventListener("animationend", (event) => {
  if (event.animationName === "toast-life") event.target.remove();
});

document.addEventListener("DOMContentLoaded", () => {
  showTheme(storedTheme());
  const dialog = document.getElementById("confirm-dialog");
  if (dialog) dialog.addEventListener("close", () => settleDialog(dialog));
});
