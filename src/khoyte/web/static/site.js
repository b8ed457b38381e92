/* khoyte, every page: small behaviours of the shared layout. No inline script anywhere (the
   Content-Security-Policy forbids it), so pages declare what they need with data- attributes. */
(function () {
  "use strict";
  // <button data-confirm="question">: ask before submitting its form
  document.addEventListener("submit", function (event) {
    var button = event.submitter;
    var question = button && button.getAttribute("data-confirm");
    if (question && !window.confirm(question)) {
      event.preventDefault();
    }
  });
  // <a data-back href="/fallback">: the previous page when there is one, else the link itself
  document.addEventListener("click", function (event) {
    var link = event.target instanceof Element ? event.target.closest("a[data-back]") : null;
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
}());
