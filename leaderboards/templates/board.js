"use strict";
// Sortable tables: the first click on a metric puts the best value on top (its direction comes
// from the schema's lower_is_better), the next click reverses. Missing values always sort last.
function sortTable(table, th, index) {
  const numeric = th.dataset.type === "number";
  const lowerIsBetter = th.dataset.lowerIsBetter === "true";
  const current = th.getAttribute("aria-sort");
  let dir;
  if (current === "ascending") dir = "descending";
  else if (current === "descending") dir = "ascending";
  else if (numeric) dir = lowerIsBetter ? "ascending" : "descending";
  else dir = "ascending";
  table.querySelectorAll("thead th").forEach((h) => h.setAttribute("aria-sort", "none"));
  th.setAttribute("aria-sort", dir);
  const sign = dir === "ascending" ? 1 : -1;
  const body = table.tBodies[0];
  const rows = Array.from(body.rows);
  rows.sort((a, b) => {
    const x = a.cells[index].dataset.sort;
    const y = b.cells[index].dataset.sort;
    const xMissing = x === undefined || x === "";
    const yMissing = y === undefined || y === "";
    if (xMissing || yMissing) return xMissing === yMissing ? 0 : (xMissing ? 1 : -1);
    if (numeric) return sign * (parseFloat(x) - parseFloat(y));
    return sign * x.localeCompare(y);
  });
  rows.forEach((row) => body.appendChild(row));
}
document.querySelectorAll("table.sortable").forEach((table) => {
  table.querySelectorAll("thead th").forEach((th, index) => {
    const button = th.querySelector("button");
    if (button) button.addEventListener("click", () => sortTable(table, th, index));
  });
});
// Contrast picker: one radio group per base model shows that contrast's heatmap and effects table.
document.querySelectorAll("section.family").forEach((family) => {
  family.querySelectorAll(".contrast-picker input[type=radio]").forEach((radio) => {
    radio.addEventListener("change", () => {
      family.querySelectorAll("div.view").forEach((view) => {
        view.hidden = view.dataset.view !== radio.value;
      });
    });
  });
});
