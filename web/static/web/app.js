// Small enhancements only: every page works without this file.
(function () {
  "use strict";
  var summary = document.querySelector(".govuk-error-summary");
  if (summary) {
    summary.focus();
  }
  document.querySelectorAll("[data-copy-target]").forEach(function (button) {
    button.hidden = false;
    button.addEventListener("click", function () {
      var source = document.getElementById(button.getAttribute("data-copy-target"));
      if (!source || !navigator.clipboard) {
        return;
      }
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        var status = document.getElementById(button.getAttribute("data-copy-status"));
        if (status) {
          status.textContent = "Link copied";
        }
      });
    });
  });
})();
