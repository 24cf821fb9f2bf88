// Applies the remembered theme before the page paints (loaded in <head>, not deferred; the
// CSP allows no inline script). "light" or "dark" overrides the system; nothing stored, or
// "system", follows it. static/ui.js has the buttons that change it.
"use strict";
(function () {
  let theme = null;
  try {
    theme = localStorage.getItem("theme");
  } catch {
    // Storage blocked (a strict privacy setting): follow the system.
  }
  if (theme === "light" || theme === "dark") document.documentElement.dataset.theme = theme;
})();
