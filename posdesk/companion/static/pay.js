/* posdesk payment page: live tip totals, one submission per click, notice of a new invoice version.
   The page works without this script; the server recomputes every amount. */
(function () {
  "use strict";
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
  function money(minor) { return formatter.format(minor / scale); }

  function customMinor(text) {
    var cleaned = (text || "").replace(/[^0-9.,]/g, "").replace(",", ".");
    if (!cleaned) return 0;
    var value = Math.round(parseFloat(cleaned) * scale);
    return isFinite(value) && value > 0 ? value : 0;
  }

  var stale = "";  // the new amount due, once the cashier has sent a new version
  function update() {
    if (!form || !payButton) return;
    var chosen = form.querySelector("input[name=tip]:checked");
    var tip = 0, tooMuch = false;
    if (chosen && chosen.value === "custom") {
      tip = customMinor(form.querySelector("#tip-custom").value);
      tooMuch = tip > config.tipCap;
    } else if (chosen) {
      tip = parseInt(chosen.dataset.amount || "0", 10);
    }
    var error = document.getElementById("tip-error");
    if (error) {
      error.hidden = !tooMuch;
      error.textContent = config.capText.replace("{amount}", money(config.tipCap));
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
  function poll() {
    fetch(config.statusUrl, { headers: { Accept: "application/json" }, cache: "no-store", credentials: "same-origin" })
      .then(function (response) { return response.json(); })
      .then(function (status) {
        if (status.state === "paid" || status.state === "inactive") { window.location.reload(); return; }
        if (status.version !== config.version) {
          showChange(status.due_now_text);
          document.getElementById("version-text").textContent = config.updatedText.replace("{amount}", status.due_now_text);
          document.getElementById("version-banner").hidden = false;
          update();
        }
      })
      .catch(function () { /* offline for a moment: try again next time */ });
  }
  setInterval(poll, 3000);
})();
