// The pages' one script (admitted by a per-response CSP nonce): copy buttons. A button
// <button type="button" class="copy" data-copy="ID" hidden> copies the text of the element with that id. The
// buttons start hidden, so a browser without scripts shows the values (selectable) and no dead buttons.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  if (!navigator.clipboard) {
    return;
  }
  document.querySelectorAll("button.copy[data-copy]").forEach(function (button) {
    var source = document.getElementById(button.getAttribute("data-copy"));
    if (!source) {
      return;
    }
    var label = button.textContent;
    var what = (button.getAttribute("aria-label") || label).replace(/^Copy /, "");
    var status = button.parentNode.querySelector(".copy-status");
    button.hidden = false;
    button.addEventListener("click", function () {
      navigator.clipboard.writeText(source.textContent.trim()).then(function () {
        button.textContent = "Copied";
        if (status) {
          status.textContent = "Copied the " + what + " to the clipboard.";
        }
        setTimeout(function () { button.textContent = label; }, 2000);
      }, function () {
        if (status) {
          status.textContent = "Could not copy: select the text and copy it instead.";
        }
      });
    });
  });
});
