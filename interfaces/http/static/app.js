// etablera: a little progressive enhancement. Every page works without it.
"use strict";
(function () {
  // Show a conditional field (data-when-field / data-when-values) only when the field it
  // depends on has one of the values; a hidden one is disabled, so it is not submitted.
  function applyWhen(form) {
    form.querySelectorAll("[data-when-field]").forEach(function (box) {
      var selector = document.getElementById(box.getAttribute("data-when-field"));
      if (!selector) return;
      var wanted = box.getAttribute("data-when-values").split(" ");
      var on = wanted.indexOf(selector.value) >= 0;
      box.hidden = !on;
      box.querySelectorAll("input, select, textarea").forEach(function (el) { el.disabled = !on; });
    });
  }
  document.querySelectorAll("form").forEach(function (form) {
    if (!form.querySelector("[data-when-field]")) return;
    applyWhen(form);
    form.addEventListener("change", function () { applyWhen(form); });
  });
  // Move focus to the first error summary so a screen reader announces it.
  var summary = document.querySelector(".error-summary");
  if (summary) {
    var details = summary.closest("details");
    if (details) details.open = true;
    summary.focus();
  }
})();
