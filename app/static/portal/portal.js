/* Sportello self-service: small enhancements; every page works without them. */
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function ready() {
    // Navigation: collapsed behind a disclosure button on narrow screens (CSS decides when).
    var toggle = document.querySelector(".menu-toggle");
    if (toggle) {
      toggle.hidden = false;
      toggle.addEventListener("click", function () {
        var open = toggle.getAttribute("aria-expanded") === "true";
        toggle.setAttribute("aria-expanded", open ? "false" : "true");
      });
    }
    // Error summary: focused when the page loads, its links move focus to their field.
    var summary = document.querySelector("[data-error-summary]");
    if (summary) {
      if (document.activeElement !== summary) summary.focus();
      summary.addEventListener("click", function (event) {
        var link = event.target.closest("a[href^='#']");
        if (!link) return;
        var field = document.getElementById(link.getAttribute("href").slice(1));
        if (!field) return;
        event.preventDefault();
        var label = document.querySelector("label[for='" + field.id + "']");
        var legend = field.closest("fieldset") && field.closest("fieldset").querySelector("legend");
        (label || legend || field).scrollIntoView();
        field.focus({preventScroll: true});
      });
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", ready);
  else ready();
})();
