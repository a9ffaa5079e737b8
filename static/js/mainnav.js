// The main menu on a phone is one row that scrolls sideways: bring the current screen's entry
// into view, so the menu shows where you are (the entries after it are a swipe away).
(function () {
  "use strict";
  function showCurrent() {
    var nav = document.querySelector(".mainnav");
    var here = nav && nav.querySelector('[aria-current="page"]');
    if (!here || nav.scrollWidth <= nav.clientWidth) return;
    nav.scrollLeft = here.offsetLeft - nav.offsetLeft - (nav.clientWidth - here.offsetWidth) / 2;
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", showCurrent);
  else showCurrent();
})();
