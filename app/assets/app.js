// nencds app: the print button, and focus on the card the app was opened from (so that
// keyboard users start there). Nothing else; the page works without it.
"use strict";
document.addEventListener("DOMContentLoaded", function () {
  var print = document.getElementById("print");
  if (print) {
    print.addEventListener("click", function () { window.print(); });
  }
  // Print the card details too.
  window.addEventListener("beforeprint", function () {
    document.querySelectorAll("details").forEach(function (d) { d.open = true; });
  });
  var focus = document.querySelector("article.card.focus");
  if (focus) {
    focus.focus({ preventScroll: false });
  }
});
