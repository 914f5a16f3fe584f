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

  // Put a query into a field as if typed: the preview and the error clearing follow.
  function setQuery(input, value) {
    input.value = value;
    input.dispatchEvent(new Event("input", { bubbles: true }));
    input.focus();
  }

  form.addEventListener("click", function (event) {
    var button = event.target.closest("button");
    if (!button || !form.contains(button)) return;
    var input;
    if (button.hasAttribute("data-insert-category")) {
      // The category picker: cat:xx.YY added to its row's query.
      var select = document.getElementById(button.getAttribute("data-insert-category"));
      if (!select || !select.value) { if (select) select.focus(); return; }
      input = document.getElementById(select.getAttribute("data-category-for"));
      if (!input) return;
      var current = input.value.trim();
      setQuery(input, (current ? current + " AND " : "") + "cat:" + select.value);
      select.value = "";
    } else if (button.hasAttribute("data-example")) {
      // An example: into the first empty filter (or the last one when none is empty).
      var inputs = form.querySelectorAll('input[name$="-query"]');
      input = Array.prototype.find.call(inputs, function (i) { return !i.value.trim() && !/__prefix__/.test(i.name); });
      input = input || inputs[inputs.length - 1];
      if (input) setQuery(input, button.getAttribute("data-example"));
    } else if (button.hasAttribute("data-use-query")) {
      // A hint of the preview: its query replaces the one that matched nothing.
      var target = button.closest("[data-preview-for]");
      input = target && document.getElementById(target.getAttribute("data-preview-for"));
      if (input) setQuery(input, button.getAttribute("data-use-query"));
    }
  });

  // A field's error is stale once the field is edited: it goes (the server checks again on
  // submit), with its line in the summary at the top.
  function clearError(field) {
    var box = field.closest(".field.has-error");
    if (box) {
      box.classList.remove("has-error");
      var error = box.querySelector(".error");
      if (error) {
        Array.prototype.forEach.call(box.querySelectorAll("[aria-describedby]"), function (el) {
          var ids = el.getAttribute("aria-describedby").split(/\s+/).filter(function (id) { return id && id !== error.id; });
          if (ids.length) el.setAttribute("aria-describedby", ids.join(" "));
          else el.removeAttribute("aria-describedby");
        });
        error.remove();
      }
      field.removeAttribute("aria-invalid");
    }
    // "Add at least one filter" is stale once a query or a paper is written.
    if (field.value.trim() && (/-query$/.test(field.name) || field.name === "similar")) {
      Array.prototype.forEach.call(form.querySelectorAll("#filters > .error"), function (p) { p.remove(); });
      var stale = document.querySelector('#error-summary a[href="#filters"]');
      if (stale) stale.closest("li").remove();
    }
    var summary = document.getElementById("error-summary");
    if (summary && field.id) {
      var link = summary.querySelector('a[href="#' + CSS.escape(field.id) + '"]');
      if (link) link.closest("li").remove();
      if (!summary.querySelector("li")) summary.remove();
    }
  }

  form.addEventListener("input", function (event) {
    if (event.target.name) clearError(event.target);
  });
  form.addEventListener("change", function (event) {
    if (event.target.name) clearError(event.target);
  });

  // After a submit with errors, take keyboard and screen-reader focus to the summary.
  var summary = document.getElementById("error-summary");
  if (summary) summary.focus();
})();
