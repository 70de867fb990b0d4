/* posdesk payment page: live tip totals, one submission per click, notice of a new invoice version.
   The page works without this script; the server recomputes every amount. */
(function () {
  "use strict";

  // The amount grammar of posdesk/core/amount_input.py, step for step; {minor, negative} or {error}.
  function readAmount(text, rules) {
    var spaces = rules.spaces, i;
    function strip(value) {
      var start = 0, end = value.length;
      while (start < end && spaces.indexOf(value.charAt(start)) >= 0) start++;
      while (end > start && spaces.indexOf(value.charAt(end - 1)) >= 0) end--;
      return value.slice(start, end);
    }
    var cleaned = String(text || "");
    for (i = 0; i < rules.symbols.length; i++) cleaned = cleaned.split(rules.symbols[i]).join("");
    cleaned = strip(cleaned);
    if (!cleaned) return { error: "empty" };
    var negative = false, first = cleaned.charAt(0);
    if (first === "-" || first === rules.minus) { negative = true; cleaned = cleaned.slice(1); }
    else if (first === "+") cleaned = cleaned.slice(1);
    if (spaces.indexOf(rules.group) >= 0) {
      for (i = 0; i < spaces.length; i++) cleaned = cleaned.split(spaces.charAt(i)).join(rules.group);
    }
    if (!cleaned || cleaned.split(rules.decimal).length > 2) return { error: "invalid" };
    for (i = 0; i < cleaned.length; i++) {
      var c = cleaned.charAt(i);
      if (!(c >= "0" && c <= "9") && c !== rules.group && c !== rules.decimal) return { error: "invalid" };
    }
    var point = cleaned.indexOf(rules.decimal);
    var whole = point < 0 ? cleaned : cleaned.slice(0, point);
    var fraction = point < 0 ? "" : cleaned.slice(point + 1);
    if (point >= 0 && !fraction) return { error: "invalid" };
    if (!whole && !fraction) return { error: "invalid" };
    if (whole) {
      var parts = whole.split(rules.group);
      if (parts.length > 1) {
        if (parts[0].length < 1 || parts[0].length > 3) return { error: "invalid" };
        for (i = 1; i < parts.length; i++) if (parts[i].length !== 3) return { error: "invalid" };
      }
    }
    if (fraction.indexOf(rules.group) >= 0) return { error: "invalid" };
    if (fraction.length > rules.exponent) return { error: "decimals" };
    while (fraction.length < rules.exponent) fraction += "0";
    var digits = whole.split(rules.group).join("") + fraction;
    if (digits.replace(/^0+/, "").length > rules.maxDigits) return { error: "large" };
    return { minor: parseInt(digits || "0", 10), negative: negative };
  }
  window.posdeskReadAmount = readAmount;
  document.documentElement.classList.add("js");

  // A link the terminal made while offline reaches the companion later. Its page cannot say so (an unknown
  // token must look like an expired one), so it checks quietly and opens the invoice once it exists.
  var inactive = document.querySelector("[data-testid=link-inactive]");
  if (inactive && /^\/pay\/[^\/]+$/.test(location.pathname)) {
    var waitingNote = document.querySelector("[data-testid=link-waiting]");
    if (waitingNote) waitingNote.hidden = false;
    var checks = 0;
    var timer = setInterval(function () {
      if (++checks > 200) { clearInterval(timer); if (waitingNote) waitingNote.hidden = true; return; }
      fetch(location.pathname + "/status", { cache: "no-store", credentials: "same-origin" })
        .then(function (answer) { if (answer.ok) { clearInterval(timer); location.reload(); } })
        .catch(function () { /* offline for a moment: the next check will tell */ });
    }, 3000);
  }

  // A refused payment comes back with what the client chose; its reason sits beside the part to fix.
  var problem = document.querySelector("[data-problem]");
  if (problem) {
    var fold = problem.closest("details");
    if (fold) fold.open = true;
    problem.scrollIntoView({ block: "center" });
    problem.focus({ preventScroll: true });
  }
  // The invoice's lines fold away on a phone (the Pay button comes first) and stand open on a wide screen.
  var details = document.getElementById("details");
  if (details && window.matchMedia("(min-width: 720px)").matches) details.open = true;

  document.querySelectorAll("[data-print]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () { window.print(); });
  });

  document.querySelectorAll("[data-autosubmit]").forEach(function (select) {
    select.addEventListener("change", function () { select.form.submit(); });
  });

  // One submission per form: a double click or a second Enter does nothing.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function (event) {
      if (form.dataset.busy) { event.preventDefault(); return; }
      form.dataset.busy = "1";
      var button = form.querySelector("#pay-button, [data-busy-label]");
      if (button && (!event.submitter || event.submitter === button || event.submitter.tabIndex === -1)) {
        setTimeout(function () { button.disabled = true; }, 0);
        button.classList.add("busy");
        if (button.dataset.busyLabel) button.textContent = button.dataset.busyLabel;
      }
    });
  });

  function wireCustomTip(scope) {
    var field = scope.querySelector("#custom-tip-field");
    var radio = scope.querySelector("#tip-custom-radio");
    if (!field || !radio) return;
    function sync() { field.classList.toggle("shown", radio.checked); }
    scope.querySelectorAll("input[name=tip]").forEach(function (r) { r.addEventListener("change", sync); });
    var input = scope.querySelector("#tip-custom");
    if (input) input.addEventListener("focus", function () { radio.checked = true; sync(); });
    sync();
  }
  var tipForm = document.getElementById("add-tip-form");
  if (tipForm) wireCustomTip(tipForm);

  var configElement = document.getElementById("pay-config");
  if (!configElement) return;
  var config = JSON.parse(configElement.textContent);
  var form = document.getElementById("pay-form");
  var payButton = document.getElementById("pay-button");
  var scale = Math.pow(10, config.exponent);
  var formatter = new Intl.NumberFormat(config.locale.replace("_", "-"), { style: "currency", currency: config.currency });
  // Amounts in the server's own format (its zero, "0,00 €", with the digits put in), so figures the script
  // writes look like those the server wrote; the browser's formatter only where the pattern is unusual.
  var rules = config.amountRules;
  var zeroText = rules.exponent ? "0" + rules.decimal + new Array(rules.exponent + 1).join("0") : "0";
  function money(minor) {
    if (!config.moneyTemplate || config.moneyTemplate.indexOf(zeroText) < 0 || minor < 0) return formatter.format(minor / scale);
    var digits = String(minor);
    while (digits.length <= rules.exponent) digits = "0" + digits;
    var whole = digits.slice(0, digits.length - rules.exponent), fraction = digits.slice(digits.length - rules.exponent);
    var grouped = whole.replace(/\B(?=(\d{3})+(?!\d))/g, rules.group);
    return config.moneyTemplate.replace(zeroText, rules.exponent ? grouped + rules.decimal + fraction : grouped);
  }

  // A typed custom tip, read by the server's grammar (posdesk/core/amount_input.py) with the rules it sent.
  function customTip(text) {
    var read = readAmount(text, config.amountRules);
    if (read.error === "empty") return { minor: 0, problem: "", empty: true };
    if (read.error) return { minor: 0, problem: config.amountMessages[read.error] };
    if (read.negative && read.minor > 0) return { minor: 0, problem: config.amountMessages.negative };
    if (read.minor > config.tipCap) {
      return { minor: read.minor, problem: config.capText.replace("{amount}", money(config.tipCap)) };
    }
    return { minor: read.minor, problem: "" };
  }

  var stale = "";  // the new amount due, once the cashier has sent a new version
  function update() {
    if (!form || !payButton) return;
    var chosen = form.querySelector("input[name=tip]:checked");
    var tip = 0, tooMuch = false, problemText = "";
    if (chosen && chosen.value === "custom") {
      var typed = customTip(form.querySelector("#tip-custom").value);
      problemText = typed.problem;
      tip = problemText ? 0 : typed.minor;
      tooMuch = !!problemText || !!typed.empty;  // Pay waits for an amount the server reads the same way
    } else if (chosen) {
      tip = parseInt(chosen.dataset.amount || "0", 10);
    }
    var error = document.getElementById("tip-error");
    if (error) {
      error.hidden = !problemText;
      error.textContent = problemText;
    }
    var tipCell = document.getElementById("sum-tip");
    if (tipCell) tipCell.textContent = money(tip);
    var total = config.due + tip;
    document.getElementById("sum-total").textContent = money(total);
    document.getElementById("total-line").hidden = tip === 0;
    // A visit with nothing due shows the card form only once a tip is chosen (or a problem is shown).
    form.classList.toggle("no-charge", total === 0 && !problem);
    if (!payButton.classList.contains("busy")) {
      payButton.textContent = stale ? config.changedLabel.replace("{amount}", stale)
        : total === 0 ? config.nothingLabel
        : (config.due === 0 ? config.payTipLabel : config.payLabel).replace("{amount}", money(total));
      payButton.disabled = !!stale || tooMuch || total === 0;
    }
  }

  // A new version: the amount at the top and the Pay button say what changed; the client reviews it first.
  function showChange(amountText) {
    var hero = document.getElementById("hero-amount");
    var label = document.getElementById("hero-label");
    if (label && !stale) label.textContent = config.newAmountLabel.replace("{amount}", hero.textContent);
    if (hero) hero.textContent = amountText;
    stale = amountText;
  }

  if (form) {
    wireCustomTip(form);
    form.addEventListener("change", update);
    form.addEventListener("input", update);
    // Saved card chosen: the new card's fields step aside.
    var newCard = document.getElementById("new-card");
    var cardRadios = form.querySelectorAll("input[name=card][type=radio]");
    function syncCards() {
      var picked = form.querySelector("input[name=card]:checked");
      if (newCard && cardRadios.length) newCard.classList.toggle("hidden", !picked || picked.value !== "new");
    }
    cardRadios.forEach(function (r) { r.addEventListener("change", syncCards); });
    syncCards();
    var number = form.querySelector("[data-card-number]");
    if (number) number.addEventListener("input", function () {
      var digits = number.value.replace(/\D/g, "").slice(0, 19);
      number.value = digits.replace(/(.{4})(?=.)/g, "$1 ");
    });
    var expiry = form.querySelector("[data-card-expiry]");
    if (expiry) expiry.addEventListener("input", function (event) {
      var digits = expiry.value.replace(/\D/g, "").slice(0, 4);
      if (event.inputType && event.inputType.indexOf("delete") === 0) return;
      expiry.value = digits.length > 2 ? digits.slice(0, 2) + " / " + digits.slice(2) : digits;
    });
    form.addEventListener("submit", function (event) {
      if (stale) { event.preventDefault(); delete form.dataset.busy; }
    }, true);
    update();
  }

  // The cashier may send a new version while this page is open: show it before anyone can pay.
  // Only a 200 answer (or the 404 of a link that closed) says anything; a rate limit or a server error
  // changes nothing on the page and the next check waits longer (3 s doubling to a minute).
  var pollDelay = 3000;
  function schedulePoll() { setTimeout(poll, pollDelay); }
  function poll() {
    fetch(config.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) {
        if (response.status !== 200 && response.status !== 404) throw new Error("status " + response.status);
        return response.json().then(function (status) { return { code: response.status, status: status }; });
      })
      .then(function (answer) {
        var status = answer.status || {};
        if (answer.code === 404 && status.state !== "inactive") throw new Error("not found");
        pollDelay = 3000;
        schedulePoll();
        // A submitted payment's answer is on its way: a reload now would cancel the client's confirmation.
        if (document.querySelector("form[data-busy]")) return;
        if (status.state === "paid" || status.state === "inactive") { window.location.reload(); return; }
        if (typeof status.version !== "number" || typeof status.due_now_text !== "string") return;
        if (status.version !== config.version) {
          showChange(status.due_now_text);
          document.getElementById("version-text").textContent = config.updatedText.replace("{amount}", status.due_now_text);
          document.getElementById("version-banner").hidden = false;
          update();
        }
      })
      .catch(function () { pollDelay = Math.min(pollDelay * 2, 60000); schedulePoll(); });
  }
  schedulePoll();
})();
