/* The kiosk receipt's Print button prints the page (as a file, not inline script: the
   Content-Security-Policy runs no inline script). Without JavaScript the browser's own print
   command prints the same page. */
(function () {
  "use strict";
  var button = document.getElementById("print");
  if (button) {
    button.addEventListener("click", function () { window.print(); });
  }
})();
