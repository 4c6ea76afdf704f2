// krtracker pages: show times in the viewer's zone (UTC stays in the title attribute).
(function () {
  "use strict";
  var format = new Intl.DateTimeFormat(undefined, {
    year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit"
  });

  function localise(root) {
    var times = (root || document).querySelectorAll("time[datetime]");
    for (var i = 0; i < times.length; i++) {
      var el = times[i];
      var when = new Date(el.getAttribute("datetime"));
      if (isNaN(when.getTime())) continue;
      if (el.hasAttribute("data-local")) el.textContent = format.format(when);
      else if (!el.getAttribute("title")) el.setAttribute("title", el.getAttribute("datetime"));
    }
  }

  window.krtracker = window.krtracker || {};
  window.krtracker.formatTime = function (seconds) { return format.format(new Date(seconds * 1000)); };
  document.addEventListener("DOMContentLoaded", function () {
    localise(document);
    // Filters apply as soon as they change (the Apply button stays for pages without script).
    var selects = document.querySelectorAll("form.filters select");
    for (var i = 0; i < selects.length; i++) {
      selects[i].addEventListener("change", function (event) { event.target.form.requestSubmit(); });
    }
  });
  // htmx swaps the overview's content in place; localise what it brought.
  document.addEventListener("htmx:afterSwap", function (event) { localise(event.target); });
})();
