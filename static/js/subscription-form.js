// The sign-up and preferences forms: the time zone from the browser, "add another
// filter" without a round trip, and a live preview of what each filter would match.
// Everything here is an enhancement: the forms work the same with JavaScript off.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  var form = document.querySelector("form[data-preview-url]");
  if (!form) return;
  var previewUrl = form.getAttribute("data-preview-url");
  var DELAY_MS = 350;

  // Time zone: only when the page offers to fill it in (a fresh sign-up form).
  var zone = form.querySelector("select[data-timezone-autofill]");
  if (zone && window.Intl && Intl.DateTimeFormat) {
    var browserZone = Intl.DateTimeFormat().resolvedOptions().timeZone;
    if (browserZone && zone.querySelector('option[value="' + CSS.escape(browserZone) + '"]')) {
      zone.value = browserZone;
    }
  }

  // Add another filter: copy the empty row template with the next index.
  var rows = form.querySelector("[data-filter-rows]");
  var template = document.getElementById("filter-row-template");
  var total = form.querySelector('input[name$="-TOTAL_FORMS"]');
  var maxRows = parseInt(form.querySelector('input[name$="-MAX_NUM_FORMS"]').value, 10);
  var addButton = form.querySelector("[data-add-filter]");

  function updateAddButton() {
    if (addButton) addButton.disabled = parseInt(total.value, 10) >= maxRows;
  }

  if (addButton && rows && template && total) {
    addButton.addEventListener("click", function (event) {
      event.preventDefault();
      var index = parseInt(total.value, 10);
      if (index >= maxRows) return;
      var html = template.innerHTML.replace(/__prefix__/g, String(index));
      var holder = document.createElement("div");
      holder.innerHTML = html;
      var row = holder.firstElementChild;
      row.querySelector("[data-row-number]").textContent = String(index + 1);
      rows.appendChild(row);
      total.value = String(index + 1);
      updateAddButton();
      var first = row.querySelector("input");
      if (first) first.focus();
    });
    updateAddButton();
  }

  // Live preview: debounced per filter row; a newer request cancels the older one.
  var timers = new WeakMap();
  var pending = new WeakMap();

  function previewTarget(input) {
    return form.querySelector('[data-preview-for="' + input.id + '"]');
  }

  // The row's live region: it hears the count ("12 papers matched in the last 7 days")
  // or the query's error, not the lists of days and titles, on every pause in typing.
  function announce(input, text) {
    var status = form.querySelector('[data-preview-status-for="' + input.id + '"]');
    if (status && status.textContent !== text) status.textContent = text;
  }

  function summaryOf(target) {
    var line = target.querySelector(".preview-summary, .preview-error");
    return line ? line.textContent.replace(/\s+/g, " ").trim() : target.textContent.trim();
  }

  function showPreview(input, quiet) {
    var target = previewTarget(input);
    if (!target) return;
    var query = input.value.trim();
    var previous = pending.get(input);
    if (previous) previous.abort();
    if (!query) {
      target.innerHTML = "";
      if (!quiet) announce(input, "");
      return;
    }
    var controller = new AbortController();
    pending.set(input, controller);
    target.setAttribute("aria-busy", "true");
    // A query ("q") or the papers pasted as "similar to" ("similar").
    var param = target.getAttribute("data-preview-param") || "q";
    fetch(previewUrl + "?" + param + "=" + encodeURIComponent(query), {
      signal: controller.signal,
      headers: { "Accept": "text/html" },
      credentials: "same-origin"
    })
      .then(function (response) { return response.text(); })
      .then(function (html) {
        // The fragment comes from our own server, rendered with every text escaped.
        target.innerHTML = html;
        target.removeAttribute("aria-busy");
        if (!quiet) announce(input, summaryOf(target));
      })
      .catch(function (error) {
        if (error.name !== "AbortError") {
          target.textContent = "The preview is not available right now.";
          target.removeAttribute("aria-busy");
          if (!quiet) announce(input, target.textContent);
        }
      });
  }

  form.addEventListener("input", function (event) {
    var input = event.target;
    if (!input.name || !(/-query$/.test(input.name) || input.name === "similar")) return;
    clearTimeout(timers.get(input));
    timers.set(input, setTimeout(function () { showPreview(input); }, DELAY_MS));
  });

  // Filters already filled in (the preferences page, a form sent back with errors).
  Array.prototype.forEach.call(form.querySelectorAll('input[name$="-query"], textarea[name="similar"]'), function (input) {
    if (input.value.trim() && previewTarget(input) && !previewTarget(input).innerHTML.trim()) {
      showPreview(input, true);  // shown, not read out: nobody typed
    }
  });

  // After a submit with errors, take keyboard and screen-reader focus to the summary.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
