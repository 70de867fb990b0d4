/*
 * Stand-in for the part of Stripe.js v3 that posdesk's payment page uses, for browser tests.
 *
 * Tests serve this file in place of https://js.stripe.com/v3 with Playwright's
 * page.route("https://js.stripe.com/**", ...) and tell it where the fake Stripe API runs:
 *
 *   page.add_init_script("window.__FAKE_STRIPE_BASE__ = 'http://127.0.0.1:PORT'")
 *
 * Implemented (same names, options and result shapes as Stripe.js):
 *   Stripe(publishableKey) -> stripe
 *   stripe.elements({mode, amount, currency, setupFutureUsage, ...} | {clientSecret}) -> elements
 *   elements.create("payment" | "card") -> element; element.mount(selectorOrNode), unmount(),
 *     destroy(), on("ready" | "change", cb), update(opts)
 *   elements.update({amount, ...}), elements.submit() -> {} | {error}, elements.fetchUpdates(),
 *   elements.getElement(type)
 *   stripe.confirmPayment({elements, clientSecret, confirmParams, redirect})
 *   stripe.confirmSetup({elements, clientSecret, confirmParams, redirect})
 *   stripe.confirmCardPayment(clientSecret, {payment_method}) (a saved card)
 *   stripe.handleNextAction({clientSecret})
 *   stripe.retrievePaymentIntent(clientSecret), stripe.retrieveSetupIntent(clientSecret)
 *
 * The Payment Element renders one text input, data-testid="stripe-card-number"; typed test card
 * numbers map to Stripe's test PaymentMethods (4242424242424242 -> pm_card_visa, ...). Confirming
 * posts to the fake's /_test/confirm. A 3-D Secure challenge is answered according to
 * window.__FAKE_STRIPE_3DS__: "succeed" (default), "fail", or "manual" (shows a dialog with
 * data-testid="stripe-3ds-complete" / "stripe-3ds-fail" buttons for the test to click).
 *
 * As in Stripe.js: with a deferred intent, elements.submit() must succeed before confirmPayment
 * (otherwise the promise rejects with an IntegrationError); without redirect: "if_required" a
 * successful confirmation navigates to return_url with payment_intent, payment_intent_client_secret
 * and redirect_status query parameters; errors resolve as {error: {type, code, message, ...}}.
 */
(function () {
  "use strict";

  var CARD_NUMBERS = {
    "4242424242424242": "pm_card_visa",
    "4000056655665556": "pm_card_visa_debit",
    "5555555555554444": "pm_card_mastercard",
    "378282246310005": "pm_card_amex",
    "4000000000000002": "pm_card_chargeDeclined",
    "4000000000009995": "pm_card_chargeDeclinedInsufficientFunds",
    "4000000000000069": "pm_card_chargeDeclinedExpiredCard",
    "4000000000000127": "pm_card_chargeDeclinedIncorrectCvc",
    // Stripe's names for these numbers: 3155 needs 3DS on session (and off session until set up),
    // 3184 always needs 3DS. Both show the challenge on the payment page.
    "4000002500003155": "pm_card_authenticationRequiredOnSetup",
    "4000002760003184": "pm_card_authenticationRequired",
    "4000000000003220": "pm_card_threeDSecure2Required",
    "4000008260003178": "pm_card_authenticationRequiredChargeDeclinedInsufficientFunds",
  };

  function IntegrationError(message) {
    var err = new Error(message);
    err.name = "IntegrationError";
    return err;
  }

  function baseUrl() {
    var base = window.__FAKE_STRIPE_BASE__;
    if (!base) {
      throw IntegrationError("Stripe.js stand-in: window.__FAKE_STRIPE_BASE__ is not set");
    }
    return String(base).replace(/\/+$/, "");
  }

  function call(method, path, body) {
    var options = { method: method, headers: {} };
    if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    return fetch(baseUrl() + path, options)
      .then(function (response) {
        return response.json();
      })
      .catch(function (exc) {
        return {
          error: { type: "api_connection_error", message: "Could not reach Stripe: " + exc },
        };
      });
  }

  function luhnValid(digits) {
    var sum = 0;
    for (var i = 0; i < digits.length; i++) {
      var d = Number(digits[digits.length - 1 - i]);
      if (i % 2 === 1) {
        d *= 2;
        if (d > 9) d -= 9;
      }
      sum += d;
    }
    return digits.length >= 12 && sum % 10 === 0;
  }

  function validationError(code, message) {
    return { type: "validation_error", code: code, message: message };
  }

  // ---------------------------------------------------------------- Elements

  function Element(group, type, options) {
    this._group = group;
    this._type = type;
    this._options = options || {};
    this._handlers = {};
    this._container = null;
    this._input = null;
    this._errorBox = null;
  }

  Element.prototype.mount = function (target) {
    var container = typeof target === "string" ? document.querySelector(target) : target;
    if (!container) {
      throw IntegrationError("The selector you specified (" + target + ") applies to no DOM elements.");
    }
    var self = this;
    container.innerHTML = "";
    var input = document.createElement("input");
    input.type = "text";
    input.name = "cardnumber";
    input.autocomplete = "cc-number";
    input.inputMode = "numeric";
    input.placeholder = "1234 1234 1234 1234";
    input.setAttribute("aria-label", "Card number");
    input.setAttribute("data-testid", "stripe-card-number");
    var errorBox = document.createElement("div");
    errorBox.setAttribute("role", "alert");
    errorBox.setAttribute("data-testid", "stripe-card-error");
    input.addEventListener("input", function () {
      errorBox.textContent = "";
      var digits = self._digits();
      self._emit("change", {
        elementType: self._type,
        empty: digits.length === 0,
        complete: Boolean(CARD_NUMBERS[digits]) || (digits.length >= 15 && luhnValid(digits)),
        value: { type: "card" },
      });
    });
    container.appendChild(input);
    container.appendChild(errorBox);
    this._container = container;
    this._input = input;
    this._errorBox = errorBox;
    setTimeout(function () {
      self._emit("ready", { elementType: self._type });
    }, 0);
    return this;
  };

  Element.prototype.unmount = function () {
    if (this._container) this._container.innerHTML = "";
    this._container = this._input = this._errorBox = null;
  };
  Element.prototype.destroy = Element.prototype.unmount;
  Element.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };
  Element.prototype.focus = function () {
    if (this._input) this._input.focus();
  };
  Element.prototype.on = function (name, handler) {
    (this._handlers[name] = this._handlers[name] || []).push(handler);
    return this;
  };
  Element.prototype.off = function (name, handler) {
    this._handlers[name] = (this._handlers[name] || []).filter(function (h) {
      return h !== handler;
    });
    return this;
  };
  Element.prototype._emit = function (name, event) {
    (this._handlers[name] || []).forEach(function (handler) {
      handler(event);
    });
  };
  Element.prototype._digits = function () {
    return this._input ? this._input.value.replace(/[\s-]/g, "") : "";
  };
  // The test PaymentMethod for the typed number, or a validation error.
  Element.prototype._paymentMethod = function () {
    var digits = this._digits();
    if (!digits) return { error: validationError("incomplete_number", "Your card number is incomplete.") };
    if (CARD_NUMBERS[digits]) return { paymentMethod: CARD_NUMBERS[digits] };
    if (!/^\d+$/.test(digits) || !luhnValid(digits)) {
      return { error: validationError("invalid_number", "Your card number is invalid.") };
    }
    // A real (non-test) card number in test mode: Stripe declines it.
    return {
      error: {
        type: "card_error",
        code: "card_declined",
        decline_code: "test_mode_live_card",
        message: "Your card was declined. Your request was in test mode, but used a non test card.",
      },
    };
  };
  Element.prototype._showError = function (error) {
    if (this._errorBox && error) this._errorBox.textContent = error.message;
  };

  function Elements(stripe, options) {
    this._stripe = stripe;
    this._options = Object.assign({}, options || {});
    this._elements = {};
    this._submitted = false;
  }

  Elements.prototype.create = function (type, options) {
    if (type !== "payment" && type !== "card") {
      throw IntegrationError("The Stripe.js stand-in only implements the payment element, not " + type);
    }
    if (this._elements[type]) {
      throw IntegrationError("Can only create one Element of type " + type + ".");
    }
    var element = new Element(this, type, options);
    this._elements[type] = element;
    return element;
  };
  Elements.prototype.getElement = function (type) {
    return this._elements[type] || null;
  };
  Elements.prototype.update = function (options) {
    Object.assign(this._options, options || {});
  };
  Elements.prototype.fetchUpdates = function () {
    return Promise.resolve({});
  };
  Elements.prototype._element = function () {
    return this._elements.payment || this._elements.card || null;
  };
  Elements.prototype._deferred = function () {
    return Boolean(this._options.mode) && !this._options.clientSecret;
  };
  // What the page told Elements about the payment; the fake checks it against the intent.
  Elements.prototype._intentConfig = function () {
    var o = this._options;
    return {
      mode: o.mode || null,
      amount: o.amount === undefined ? null : o.amount,
      currency: o.currency || null,
      setupFutureUsage: o.setupFutureUsage || null,
      captureMethod: o.captureMethod || null,
    };
  };
  Elements.prototype.submit = function () {
    var element = this._element();
    if (!element || !element._input) {
      return Promise.reject(IntegrationError("elements.submit(): no mounted Payment Element."));
    }
    var result = element._paymentMethod();
    if (result.error && result.error.type === "validation_error") {
      element._showError(result.error);
      this._submitted = false;
      return Promise.resolve({ error: result.error });
    }
    this._submitted = true;
    return Promise.resolve({});
  };

  // ---------------------------------------------------------------- 3-D Secure

  function challenge(intent) {
    var mode = window.__FAKE_STRIPE_3DS__ || "succeed";
    if (mode !== "manual") return Promise.resolve(mode !== "fail");
    return new Promise(function (resolve) {
      var dialog = document.createElement("div");
      dialog.setAttribute("data-testid", "stripe-3ds-dialog");
      dialog.setAttribute("role", "dialog");
      dialog.style.cssText =
        "position:fixed;inset:20%;background:#fff;border:2px solid #635bff;padding:1em;z-index:99999";
      dialog.innerHTML =
        "<p>Test 3D Secure challenge for " + intent.id + "</p>" +
        "<button type='button' data-testid='stripe-3ds-complete'>Complete</button> " +
        "<button type='button' data-testid='stripe-3ds-fail'>Fail</button>";
      dialog.querySelector("[data-testid=stripe-3ds-complete]").onclick = function () {
        dialog.remove();
        resolve(true);
      };
      dialog.querySelector("[data-testid=stripe-3ds-fail]").onclick = function () {
        dialog.remove();
        resolve(false);
      };
      document.body.appendChild(dialog);
    });
  }

  // Given a fake response ({payment_intent} | {setup_intent} | {error}), run 3DS if required and
  // resolve to Stripe.js's result shape ({paymentIntent} | {setupIntent} | {error}).
  function finish(response, clientSecret) {
    if (response.error) return Promise.resolve({ error: response.error });
    var intent = response.payment_intent || response.setup_intent;
    var key = response.payment_intent ? "paymentIntent" : "setupIntent";
    if (intent.status !== "requires_action") {
      var ok = {};
      ok[key] = intent;
      return Promise.resolve(ok);
    }
    return challenge(intent)
      .then(function (passed) {
        return call("POST", "/_test/complete_action", { client_secret: clientSecret, succeed: passed });
      })
      .then(function (after) {
        return finish(after, clientSecret);
      });
  }

  function redirectTo(returnUrl, intent, clientSecret) {
    var url = new URL(returnUrl, window.location.href);
    var prefix = intent.object === "setup_intent" ? "setup_intent" : "payment_intent";
    url.searchParams.set(prefix, intent.id);
    url.searchParams.set(prefix + "_client_secret", clientSecret);
    url.searchParams.set("redirect_status", intent.status === "succeeded" || intent.status === "processing"
      ? "succeeded" : "failed");
    window.location.assign(url.toString());
    return new Promise(function () {}); // the page is going away, as with Stripe.js
  }

  function confirmIntent(kind, options) {
    options = options || {};
    var elements = options.elements;
    var confirmParams = options.confirmParams || {};
    var clientSecret = options.clientSecret || (elements && elements._options.clientSecret);
    var name = kind === "payment" ? "confirmPayment" : "confirmSetup";
    if (!clientSecret) {
      return Promise.reject(IntegrationError("stripe." + name + "(): the `clientSecret` argument is required."));
    }
    if (options.redirect !== "if_required" && !confirmParams.return_url) {
      return Promise.reject(IntegrationError(
        "stripe." + name + "(): the `confirmParams.return_url` argument is required unless passing " +
        "`redirect: 'if_required'`"));
    }
    var paymentMethod = confirmParams.payment_method;
    var elementsConfig = null;
    if (!paymentMethod) {
      if (!elements || !elements._element()) {
        return Promise.reject(IntegrationError("stripe." + name + "(): `elements` is required."));
      }
      if (elements._deferred() && !elements._submitted) {
        return Promise.reject(IntegrationError(
          "elements.submit() must be called before stripe." + name + "(). Call elements.submit() as soon as " +
          "your customer presses pay, prior to any asynchronous work."));
      }
      var picked = elements._element()._paymentMethod();
      if (picked.error) {
        elements._element()._showError(picked.error);
        return Promise.resolve({ error: picked.error });
      }
      paymentMethod = picked.paymentMethod;
      if (elements._deferred()) elementsConfig = elements._intentConfig();
    }
    return call("POST", "/_test/confirm", {
      client_secret: clientSecret,
      payment_method: paymentMethod,
      return_url: confirmParams.return_url || null,
      elements: elementsConfig,
    })
      .then(function (response) {
        return finish(response, clientSecret);
      })
      .then(function (result) {
        var intent = result.paymentIntent || result.setupIntent;
        if (result.error && elements && elements._element()) elements._element()._showError(result.error);
        if (intent && options.redirect !== "if_required" && confirmParams.return_url) {
          return redirectTo(confirmParams.return_url, intent, clientSecret);
        }
        return result;
      });
  }

  function retrieve(clientSecret, key) {
    return call("GET", "/_test/intent?client_secret=" + encodeURIComponent(clientSecret)).then(function (r) {
      if (r.error) return { error: r.error };
      var out = {};
      out[key] = r.payment_intent || r.setup_intent;
      return out;
    });
  }

  // ---------------------------------------------------------------- Stripe()

  function StripeInstance(publishableKey, options) {
    if (typeof publishableKey !== "string" || publishableKey.indexOf("pk_") !== 0) {
      throw IntegrationError("Invalid value for Stripe(): apiKey should be a publishable key (pk_...).");
    }
    this._key = publishableKey;
    this._options = options || {};
  }

  StripeInstance.prototype.elements = function (options) {
    return new Elements(this, options);
  };
  StripeInstance.prototype.confirmPayment = function (options) {
    return confirmIntent("payment", options);
  };
  StripeInstance.prototype.confirmSetup = function (options) {
    return confirmIntent("setup", options);
  };
  StripeInstance.prototype.confirmCardPayment = function (clientSecret, data) {
    var pm = data && data.payment_method;
    if (typeof pm !== "string") {
      return Promise.reject(IntegrationError("confirmCardPayment stand-in: pass a saved payment_method id."));
    }
    return call("POST", "/_test/confirm", { client_secret: clientSecret, payment_method: pm }).then(function (r) {
      return finish(r, clientSecret);
    });
  };
  StripeInstance.prototype.handleNextAction = function (options) {
    var clientSecret = options && options.clientSecret;
    return call("GET", "/_test/intent?client_secret=" + encodeURIComponent(clientSecret)).then(function (r) {
      return finish(r, clientSecret);
    });
  };
  StripeInstance.prototype.retrievePaymentIntent = function (clientSecret) {
    return retrieve(clientSecret, "paymentIntent");
  };
  StripeInstance.prototype.retrieveSetupIntent = function (clientSecret) {
    return retrieve(clientSecret, "setupIntent");
  };

  window.Stripe = function (publishableKey, options) {
    return new StripeInstance(publishableKey, options);
  };
  window.Stripe.version = 3;
  window.Stripe.__fake__ = true;
})();
