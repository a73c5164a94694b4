/* The simulated phone's conversation refreshes by itself, newest at the bottom, and a tapped
   example fills the text box (a file, not inline script: the Content-Security-Policy runs no
   inline script). Without JavaScript the page works the same through its links and forms. */
(function () {
  "use strict";
  var thread = document.getElementById("thread");
  var text = document.getElementById("text");
  function toBottom() {
    if (thread) { thread.scrollTop = thread.scrollHeight; }
  }
  toBottom();
  Array.prototype.forEach.call(document.querySelectorAll("a.example"), function (link) {
    link.addEventListener("click", function (event) {
      if (!text) { return; }
      event.preventDefault();
      text.value = link.getAttribute("data-text");
      text.focus();
    });
  });
  if (!thread || !thread.getAttribute("data-src")) { return; }
  var shown = thread.innerHTML;
  function refresh() {
    if (document.visibilityState === "hidden") { return; }
    fetch(thread.getAttribute("data-src"), {headers: {"Accept": "text/html"}, cache: "no-store"})
      .then(function (answer) { return answer.ok ? answer.text() : null; })
      .then(function (html) {
        if (html !== null && html !== shown) {
          shown = html;
          thread.innerHTML = html;
          toBottom();
        }
      })
      .catch(function () { /* the next round tries again */ });
  }
  window.setInterval(refresh, 1500);
})();
