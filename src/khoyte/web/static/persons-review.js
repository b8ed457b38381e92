// The person-matching queue from the keyboard: S same person, D different people, J/K move.
(function () {
  "use strict";
  var items = Array.prototype.slice.call(document.querySelectorAll(".review-item"));
  if (!items.length) return;
  var at = 0;
  function focus(i) {
    at = Math.max(0, Math.min(items.length - 1, i));
    items.forEach(function (el, k) { el.classList.toggle("current", k === at); });
    items[at].focus();
    items[at].scrollIntoView({ block: "nearest" });
  }
  document.addEventListener("keydown", function (ev) {
    if (ev.ctrlKey || ev.metaKey || ev.altKey) return;
    var tag = (ev.target && ev.target.tagName) || "";
    if (tag === "INPUT" || tag === "TEXTAREA" || tag === "SELECT") return;
    var key = ev.key.toLowerCase();
    if (key === "j") { focus(at + 1); ev.preventDefault(); }
    else if (key === "k") { focus(at - 1); ev.preventDefault(); }
    else if (key === "s" || key === "d") {
      var button = items[at].querySelector(key === "s" ? "button.same" : "button.distinct");
      if (button) { button.click(); ev.preventDefault(); }
    }
  });
  focus(0);
})();
