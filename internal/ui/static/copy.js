// Copy buttons: progressive enhancement only; every value is also
// selectable text. Loaded from /ui/static (the CSP allows no inline script).
"use strict";
document.addEventListener("click", function (ev) {
  var btn = ev.target.closest ? ev.target.closest("button.copy") : null;
  if (!btn) return;
  var el = document.getElementById(btn.getAttribute("data-copy-from"));
  if (!el) return;
  var text = el.value !== undefined && el.tagName === "INPUT" ? el.value : el.textContent;
  var done = function () {
    var old = btn.textContent;
    btn.textContent = "Copied";
    setTimeout(function () { btn.textContent = old; }, 1500);
  };
  if (navigator.clipboard && window.isSecureContext) {
    navigator.clipboard.writeText(text).then(done, function () {});
  } else {
    var range = document.createRange();
    range.selectNodeContents(el);
    var sel = window.getSelection();
    sel.removeAllRanges();
    sel.addRange(range);
    if (el.select) el.select();
    try { document.execCommand("copy"); done(); } catch (e) {}
  }
});
