/* The main menu on a phone is one row that scrolls sideways: bring the current screen's entry
   into view, so the menu shows where you are (the entries after it are a swipe away). */
const nav = document.querySelector(".mainnav");
const here = nav && nav.querySelector('[aria-current="page"]');
if (here && nav.scrollWidth > nav.clientWidth) {
  nav.scrollLeft = here.offsetLeft - nav.offsetLeft - (nav.clientWidth - here.offsetWidth) / 2;
}
