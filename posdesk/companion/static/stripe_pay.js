/* posdesk payment page, Stripe: the Payment Element (deferred intent) for a new card, 3-D Secure for a
   saved card, and saving a card without paying. The server decides the amount: the element's amount
   only mirrors the total shown, and the intent's amount comes from the companion. */
(function () {
  "use strict";
  if (typeof window.Stripe !== "function") return;

  function post(url, form, extra) {
    var body = new FormData(form);
    Object.keys(extra || {}).forEach(function (k) { body.set(k, extra[k]); });
    return fetch(url, { method: "POST", body: body, credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json().then(function (j) { j.httpStatus = r.status; return j; }); });
  }

  // -- 3-D Secure for a saved card (the authenticate page) --------------------------------------------
  var action = document.getElementById("stripe-action");
  if (action) {
    var actionForm = action.closest("form");
    var stripeForAction = window.Stripe(action.dataset.publishableKey);
    fetch(action.dataset.secretUrl, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (r) { return r.json(); })
      .then(function (j) { return j.client_secret ? stripeForAction.handleNextAction({ clientSecret: j.client_secret }) : null; })
      .catch(function () { return null; })
      .then(function () { actionForm.requestSubmit(actionForm.querySelector("[name=outcome]")); });  // the server asks Stripe
    return;
  }

  // -- a new card on the payment page ----------------------------------------------------------------
  var configElement = document.getElementById("stripe-config");
  var form = document.getElementById("pay-form");
  if (!configElement || !form) return;
  var config = JSON.parse(configElement.textContent);
  var errorBox = document.getElementById("stripe-error");
  var payButton = document.getElementById("pay-button");
  var saveBox = document.getElementById("save-card");
  var stripe = window.Stripe(config.publishableKey, { locale: config.locale });

  function tipMinor() {
    var chosen = form.querySelector("input[name=tip]:checked");
    if (!chosen) return 0;
    if (chosen.value !== "custom") return parseInt(chosen.dataset.amount || "0", 10);
    // The page's one amount grammar (pay.js), read as the server reads it; what it refuses adds nothing.
    var read = window.posdeskReadAmount ? window.posdeskReadAmount(form.querySelector("#tip-custom").value, config.amountRules) : {};
    return read.error || read.negative || !read.minor ? 0 : read.minor;
  }
  function saving() { return Boolean(saveBox && saveBox.checked); }
  function intentOptions() {
    // Stripe counts some currencies finer than the store does (COP 50,000 is 5000000 at Stripe).
    var amount = (config.due + tipMinor()) * (config.gatewayScale || 1);
    return { amount: Math.max(amount, 1), setupFutureUsage: saving() ? "off_session" : null };
  }

  // Cards only, as the intent allows (allowed_payment_method_types): no wallet or bank the Dashboard enables.
  var elements = stripe.elements(Object.assign({ mode: "payment", currency: config.currency, locale: config.locale, paymentMethodTypes: ["card"] }, intentOptions()));
  var element = elements.create("payment", { layout: "tabs" });
  element.mount("#stripe-payment-element");
  // The element's amount and saving choice follow the tip and the checkbox (what Stripe shows in wallets).
  function follow() { elements.update(intentOptions()); }
  form.addEventListener("change", follow);
  form.addEventListener("input", follow);

  function newCardChosen() {
    var picked = form.querySelector("input[name=card]:checked") || form.querySelector("input[name=card]");
    return !picked || picked.value === "new";
  }
  function showError(message) {
    errorBox.textContent = message;
    errorBox.hidden = !message;
  }
  function ready() {
    delete form.dataset.busy;
    if (payButton) { payButton.disabled = false; payButton.classList.remove("busy"); }
  }

  function pay() {
    showError("");
    return elements.submit().then(function (submitted) {
      if (submitted.error) { throw submitted.error; }
      return post(config.intentUrl, form);
    }).then(function (intent) {
      if (intent.error) {
        if (intent.httpStatus === 409) { window.location.reload(); }
        throw { message: intent.error };
      }
      elements.update({ amount: intent.amount, setupFutureUsage: intent.setup_future_usage });
      return stripe.confirmPayment({
        elements: elements,
        clientSecret: intent.client_secret,
        confirmParams: { return_url: new URL(intent.return_url, window.location.href).toString() },
        redirect: "if_required",
      }).then(function (result) {
        // Whatever Stripe.js says, the server asks Stripe itself and records it (a decline ends this attempt).
        return post(intent.sync_url, form).then(function (synced) {
          if (result.error) { throw result.error; }
          if (synced.next) { window.location.assign(synced.next); return; }
          throw { message: synced.message || synced.error || config.failedText };
        });
      });
    }).catch(function (error) {
      showError((error && error.message) || config.unavailableText);
      ready();
    });
  }

  form.addEventListener("submit", function (event) {
    if (event.defaultPrevented) return;  // pay.js refused it: a newer version of the invoice is waiting
    var submitter = event.submitter;
    if (submitter && submitter.hasAttribute("formaction")) return;  // saved-card actions post normally
    if (!newCardChosen()) return;  // "Use" a saved card: the server confirms it
    event.preventDefault();
    if (form.dataset.busy) return;  // one payment per click
    form.dataset.busy = "1";
    if (payButton) { payButton.disabled = true; payButton.classList.add("busy"); }
    pay();
  }, true);

  // -- saving a card without paying (known clients) ---------------------------------------------------
  var saveOnly = document.getElementById("stripe-save-only");
  if (saveOnly) {
    saveOnly.hidden = false;
    saveOnly.addEventListener("click", function () {
      if (form.dataset.busy) return;
      form.dataset.busy = "1";
      showError("");
      elements.update({ mode: "setup", setupFutureUsage: null });
      elements.submit().then(function (submitted) {
        if (submitted.error) { throw submitted.error; }
        return post(config.setupUrl, form);
      }).then(function (setup) {
        if (setup.error) { throw { message: setup.error }; }
        return stripe.confirmSetup({
          elements: elements,
          clientSecret: setup.client_secret,
          confirmParams: { return_url: window.location.href },
          redirect: "if_required",
        }).then(function (result) {
          if (result.error) { throw result.error; }
          return post(setup.done_url, form);
        });
      }).then(function (done) {
        if (done.error) { throw { message: done.error }; }
        window.location.assign(done.next);
      }).catch(function (error) {
        elements.update(Object.assign({ mode: "payment" }, intentOptions()));
        showError((error && error.message) || config.unavailableText);
        ready();
      });
    });
  }
})();
