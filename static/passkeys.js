// Passkeys: a button with data-options and data-verify runs one WebAuthn ceremony. It asks
// the server for options (POST data-options), hands them to the browser (create for
// data-kind="create", else get), posts the answer to data-verify and follows the redirect
// the server sends back. Errors go to the element named by data-error (or #passkey-error).
(() => {
  const decode = (text) => {
    const base64 = text.replace(/-/g, "+").replace(/_/g, "/");
    const padded = base64 + "=".repeat((4 - (base64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0)).buffer;
  };
  const encode = (buffer) => {
    const bytes = String.fromCharCode(...new Uint8Array(buffer));
    return btoa(bytes).replace(/\+/g, "-").replace(/\//g, "_").replace(/=+$/, "");
  };

  const creationOptions = (options) => {
    options.challenge = decode(options.challenge);
    options.user.id = decode(options.user.id);
    (options.excludeCredentials || []).forEach((c) => (c.id = decode(c.id)));
    return options;
  };
  const requestOptions = (options) => {
    options.challenge = decode(options.challenge);
    (options.allowCredentials || []).forEach((c) => (c.id = decode(c.id)));
    return options;
  };

  const answer = (credential) => {
    const r = credential.response;
    const response = { clientDataJSON: encode(r.clientDataJSON) };
    if (r.attestationObject) {
      response.attestationObject = encode(r.attestationObject);
      response.transports = r.getTransports ? r.getTransports() : [];
    } else {
      response.authenticatorData = encode(r.authenticatorData);
      response.signature = encode(r.signature);
      response.userHandle = r.userHandle ? encode(r.userHandle) : null;
    }
    return {
      id: credential.id,
      rawId: encode(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
      authenticatorAttachment: credential.authenticatorAttachment,
    };
  };

  const post = async (url, csrf, body) => {
    const reply = await fetch(url, {
      method: "POST",
      credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
      body: JSON.stringify(body),
    });
    let data = {};
    try {
      data = await reply.json();
    } catch (_) {
      data = {};
    }
    if (!reply.ok) throw new Error(data.error || "The server refused the passkey.");
    return data;
  };

  // A redirect to this very page plus a #fragment is only a scroll for the browser: reload
  // so the page shows what just changed (a new passkey under Account).
  const go = (url) => {
    const target = new URL(url, window.location.href);
    const here = window.location;
    if (target.pathname === here.pathname && target.search === here.search) {
      here.hash = target.hash;
      here.reload();
    } else {
      here.assign(target.href);
    }
  };

  const run = async (button) => {
    const error = document.getElementById(button.dataset.error || "passkey-error");
    if (error) error.textContent = "";
    try {
      const options = await post(button.dataset.options, button.dataset.csrf, {});
      const credential =
        button.dataset.kind === "create"
          ? await navigator.credentials.create({ publicKey: creationOptions(options) })
          : await navigator.credentials.get({ publicKey: requestOptions(options) });
      const name = document.getElementById("passkey-name");
      const done = await post(button.dataset.verify, button.dataset.csrf, {
        credential: answer(credential),
        name: name ? name.value : "",
      });
      go(done.redirect || "/");
    } catch (e) {
      if (error) error.textContent = e.message || String(e);
    }
  };

  document.addEventListener("click", (event) => {
    const button = event.target.closest("button[data-options][data-verify]");
    if (!button) return;
    event.preventDefault();
    run(button);
  });
})();
