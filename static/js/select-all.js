/* A grid's "select all on this page" box ticks or clears every row's box in its form. */
document.addEventListener("change", (evt) => {
  const all = evt.target.closest && evt.target.closest("[data-select-all]");
  if (!all) return;
  all.closest("form").querySelectorAll('input[type="checkbox"][name="item_id"]').forEach((box) => {
    box.checked = all.checked;
  });
});
