/* khoyte: numbers as people type and read them, shared by the data-entry, plan, IOC and
   epidemic pages. Vietnamese pages write 1.234,5 (dot for thousands, comma for decimals),
   English 1,234.5; the server takes the canonical form 1234.5. Also the CSRF token of the
   signed-in page and the one small DOM helper the pages' scripts share. */
(function () {
  "use strict";
  var khoyte = window.khoyte = window.khoyte || {};

  /* "1.234,5" (vi) or "1,234.5" (en) → "1234.5"; null when not a number. */
  khoyte.parseNumber = function (text, lang) {
    var s = text.replace(/[\s\u00a0]/g, "");
    if (lang === "en") { s = s.replace(/,/g, ""); } else { s = s.replace(/\./g, "").replace(",", "."); }
    return /^\d+(\.\d+)?$/.test(s) ? s.replace(/^0+(?=\d)/, "") : null;
  };

  /* A canonical number shown the page's way ("" for none). */
  khoyte.numberFormat = function (lang) {
    var nf = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { maximumFractionDigits: 4 });
    return function (v) { return v === null || v === undefined || v === "" ? "" : nf.format(Number(v)); };
  };

  /* A number of a twin shown the page's way, with at most `digits` decimals ("—" for none). */
  khoyte.formatter = function (lang, digits) {
    var nf = new Intl.NumberFormat(lang === "en" ? "en-US" : "vi-VN", { maximumFractionDigits: digits });
    return function (v) { return typeof v === "number" ? nf.format(v) : (v === null || v === undefined ? "—" : String(v)); };
  };

  /* An element with attributes and text (text, never HTML: values come from the data). */
  khoyte.el = function (tag, attrs, text) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { e.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) { e.textContent = text; }
    return e;
  };

  khoyte.csrf = function () {
    var input = document.querySelector("#logout-form input[name=csrf_token]");
    return input ? input.value : "";
  };
}());
