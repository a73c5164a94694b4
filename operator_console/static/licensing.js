/* Licence and billing pages, from a file (the Content-Security-Policy runs no inline script):
   the contract form shows only the terms of the model chosen in its <select id="f-model">
   (fieldsets id="fs-<model>" with class "terms"). Without JavaScript every fieldset shows and
   the server reads only the chosen model's fields. */
(function () {
  "use strict";
  function sync(select) {
    document.querySelectorAll("fieldset.terms").forEach(function (fs) {
      fs.hidden = fs.id !== "fs-" + select.value;
    });
  }
  document.addEventListener("DOMContentLoaded", function () {
    var select = document.getElementById("f-model");
    if (!select) { return; }
    sync(select);
    select.addEventListener("change", function () { sync(select); });
  });
})();
