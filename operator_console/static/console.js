/* Small behaviours of the console's pages, from a file rather than inline script (the
   Content-Security-Policy runs no inline script, handler attribute or javascript: URL):
   - <select data-autosubmit> submits its form when changed, after emptying the fields named
     in data-clear (choosing another hospital forgets the department chosen before);
   - <a data-back> goes back in the browser's history when there is some, else follows its link.
   Every form still works without JavaScript through its own submit button. */
(function () {
  "use strict";
  document.addEventListener("change", function (event) {
    var select = event.target;
    if (!select.matches || !select.matches("select[data-autosubmit]") || !select.form) { return; }
    (select.getAttribute("data-clear") || "").split(" ").forEach(function (name) {
      var field = name && select.form.elements[name];
      if (field) { field.value = ""; }
    });
    select.form.submit();
  });
  document.addEventListener("click", function (event) {
    var link = event.target.closest ? event.target.closest("a[data-back]") : null;
    if (link && window.history.length > 1) {
      event.preventDefault();
      window.history.back();
    }
  });
})();
