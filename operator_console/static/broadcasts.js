/* Broadcasts: the notice's length as it is typed, with the SMS messages it takes (a file of its
   own: the Content-Security-Policy runs no inline script). The server counts again on preview. */
(function () {
  "use strict";
  function init() {
    var text = document.getElementById("f-text");
    var out = document.getElementById("text-count");
    if (!text || !out) { return; }
    var segment = parseInt(text.getAttribute("data-segment"), 10) || 70;
    var max = parseInt(text.getAttribute("maxlength"), 10) || 300;
    var zh = (document.documentElement.lang || "").indexOf("zh") === 0;
    function update() {
      var n = Array.from(text.value).length;
      var sms = Math.max(1, Math.ceil(n / segment));
      out.textContent = zh
        ? "已输入 " + n + " / " + max + " 字；短信每条 " + segment + " 字，约 " + sms + " 条（另加平台签名和患者称呼）。"
        : n + " / " + max + " characters; about " + sms + " SMS of " + segment + " characters (plus the signature and the patient's name).";
      out.setAttribute("data-count", String(n));
      out.setAttribute("data-sms", String(sms));
    }
    text.addEventListener("input", update);
    update();
  }
  if (document.readyState === "loading") { document.addEventListener("DOMContentLoaded", init); } else { init(); }
})();
