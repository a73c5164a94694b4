// Inside WeChat: open WeChat Pay's own sheet with the signed parameters the page carries
// (#jsapi-params), then go to the payment result page whatever the member chose.
(function () {
  var holder = document.getElementById("jsapi");
  var params = document.getElementById("jsapi-params");
  if (!holder || !params) return;
  var done = holder.getAttribute("data-done");
  function pay() {
    window.WeixinJSBridge.invoke("getBrandWCPayRequest", JSON.parse(params.textContent), function () {
      window.location.href = done;
    });
  }
  if (typeof window.WeixinJSBridge === "undefined") {
    document.addEventListener("WeixinJSBridgeReady", pay, false);
  } else {
    pay();
  }
})();
