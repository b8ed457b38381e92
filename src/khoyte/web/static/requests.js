/* The report requests page (/requests): a unit's answer (a file and/or a JSON data set) is a
   multipart form sent to the API's answer path with the page's CSRF token in the X-CSRF-Token
   header (the CSRF guard reads the token from urlencoded forms only). On success the page
   reloads on the answered request; on failure the form says why, in the page's language. */
"use strict";
(function () {
  const lang = document.documentElement.lang === "en" ? "en" : "vi";
  for (const form of document.querySelectorAll("form.answer-form")) {
    form.addEventListener("submit", async function (ev) {
      ev.preventDefault();
      const status = form.querySelector(".status");
      const button = form.querySelector("button[type=submit]");
      const body = new FormData(form);
      const file = form.querySelector("input[type=file]");
      const data = form.querySelector("textarea[name=data]");
      if (!file.files.length) body.delete("file");
      if (!data.value.trim()) body.delete("data");
      if (!file.files.length && !data.value.trim()) {
        status.className = "status error";
        status.textContent = status.dataset.empty;
        return;
      }
      const token = body.get("csrf_token");
      body.delete("csrf_token");
      button.disabled = true;
      try {
        const res = await fetch(form.getAttribute("action"), {
          method: "POST", body: body, credentials: "same-origin",
          headers: { "X-CSRF-Token": token, Accept: "application/json" },
        });
        if (res.ok) {
          window.location.assign(form.dataset.done);
          return;
        }
        let message = String(res.status);
        try {
          const err = (await res.json()).error;
          message = lang === "en" ? err.message_en : err.message_vi;
        } catch (e) { /* not our error shape: the status will do */ }
        status.className = "status error";
        status.textContent = status.dataset.failed + ": " + message;
      } catch (e) {
        status.className = "status error";
        status.textContent = status.dataset.failed + ".";
      }
      button.disabled = false;
    });
  }
})();
