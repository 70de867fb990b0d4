/* Cloud9's hosted card form on the payment page: take the card token the frame posts back.
   Only a message from Cloud9's own frame, at the origin the companion named, is read; the token is
   a hint the companion confirms with Cloud9 before charging it. */
(function () {
  "use strict";
  var box = document.getElementById("c9-card");
  var frame = document.getElementById("c9-frame");
  if (!box || !frame) return;
  var token = document.getElementById("c9-token");
  var status = document.getElementById("c9-status");
  var error = document.getElementById("c9-error");

  window.addEventListener("message", function (event) {
    if (event.origin !== box.dataset.origin || event.source !== frame.contentWindow) return;
    var data = event.data;
    if (typeof data === "string") {
      try { data = JSON.parse(data); } catch (e) { return; }
    }
    if (!data || typeof data !== "object") return;
    if (data.CallbackContext && data.CallbackContext !== box.dataset.ref) return;
    if (String(data.Status).toLowerCase() === "success" && /^[0-9A-Fa-f]{32}$/.test(data.CardToken || "")) {
      token.value = data.CardToken;
      var card = (data.Brand || "Card") + " \u2022\u2022\u2022\u2022 " + String(data.AccountNum || "").slice(-4);
      status.textContent = box.dataset.readyText.replace("{card}", card);
      status.dataset.ready = "1";
      error.hidden = true;
    } else {
      token.value = "";
      error.textContent = data.ResponseText || box.dataset.failedText;
      error.hidden = false;
    }
  });

  // The frame's Seed is good for five minutes: say so (with a way to get a fresh one) before it lapses.
  var expiresIn = parseInt(box.dataset.expiresIn || "0", 10);
  if (expiresIn > 0) {
    setTimeout(function () {
      if (!token.value) document.getElementById("c9-expired").hidden = false;
    }, Math.max(0, expiresIn - 20000));
  }
})();
