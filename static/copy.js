// Buttons for values shown once (a new webhook URL and secret): copy one, or dismiss them.
// One listener on the document, so buttons that htmx swaps in later work too. Served from
// /static because the Content-Security-Policy allows no inline script.
"use strict";

function selectText(element) {
  const range = document.createRange();
  range.selectNodeContents(element);
  const selection = window.getSelection();
  selection.removeAllRanges();
  selection.addRange(range);
}

async function copyFrom(button) {
  const source = document.getElementById(button.dataset.copy);
  if (!source) return;
  try {
    await navigator.clipboard.writeText(source.textContent);
    button.textContent = "Copied";
  } catch {
    // No clipboard access (a plain-http address other than localhost): select the text so
    // that Ctrl+C / Cmd+C copies it.
    selectText(source);
    button.textContent = "Selected: press Ctrl+C";
  }
}

document.addEventListener("click", (event) => {
  const copy = event.target.closest("[data-copy]");
  if (copy) {
    copyFrom(copy);
    return;
  }
  const dismiss = event.target.closest("[data-dismiss]");
  const shown = dismiss && document.getElementById(dismiss.dataset.dismiss);
  if (shown) {
    // Keep the element (empty and hidden): the next secret is swapped into its place.
    shown.replaceChildren();
    shown.hidden = true;
  }
});
