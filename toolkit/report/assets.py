"""The review page's style sheet and script, inlined into every page (a page must work from a file, offline).

The script keeps corrections in the browser's localStorage under one key per batch, so every page of a batch
shares them and a reload keeps them; it reads the records' exact paths from the page's JSON block, because an
HTML attribute would turn a carriage return in a file name into a newline.
"""

CSS = """
body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5em; color: #222; background: #fff; }
h1 { font-size: 1.4em; margin: 0 0 .3em; } h2 { font-size: 1.1em; margin: 1.2em 0 .4em; }
nav a, nav span { margin-right: .6em; }
.summary { display: flex; flex-wrap: wrap; gap: 2.5em; }
.summary table td { padding: 0 .6em 0 0; }
.bars td.bar { width: 180px; } .bars div { background: #4a7bd0; height: .9em; min-width: 1px; }
.controls { position: sticky; top: 0; background: #f4f4f4; padding: .5em; margin: 1em 0; border: 1px solid #ddd; }
.controls > * { margin-right: .8em; }
#gallery { border-collapse: collapse; }
#gallery th { text-align: left; background: #eee; cursor: pointer; user-select: none; padding: .3em .5em; }
#gallery th[aria-sort=ascending]::after { content: " \\25B2"; }
#gallery th[aria-sort=descending]::after { content: " \\25BC"; }
#gallery td { border-top: 1px solid #ddd; padding: .3em .5em; vertical-align: top; }
#gallery tr.error td { background: #fff0f0; }
#gallery td.pictures { white-space: nowrap; }
img.original { max-width: 96px; max-height: 96px; border: 1px solid #ccc; background: #fafafa; }
img.input { width: 56px; height: 56px; image-rendering: pixelated; margin-right: 2px; border: 1px solid #333; }
.placeholder { display: inline-block; width: 96px; height: 72px; background: #eee; color: #777; font-size: 11px;
  border: 1px dashed #aaa; overflow: hidden; padding: 2px; box-sizing: border-box; }
.path { max-width: 28em; word-break: break-all; font-family: monospace; font-size: 12px; }
.flag { display: inline-block; background: #ffe9b3; border-radius: 3px; padding: 0 .3em; margin: 0 .2em .2em 0; }
input.correction { width: 6em; } input.correction.bad { outline: 2px solid #d33; }
tr.corrected td { background: #effbef; }
"""

SCRIPT = r"""
(function () {
  "use strict";
  var batch = document.body.getAttribute("data-batch");
  var storeKey = "mnist-toolkit-review:" + batch;
  var records = JSON.parse(document.getElementById("records").textContent);
  var tbody = document.querySelector("#gallery tbody");
  var rows = Array.prototype.slice.call(tbody.querySelectorAll("tr.rec"));

  function load() {
    try { return JSON.parse(window.localStorage.getItem(storeKey) || "{}"); } catch (e) { return {}; }
  }
  function save(all) { window.localStorage.setItem(storeKey, JSON.stringify(all)); }
  function keyOf(i) { return JSON.stringify(records[i]); }
  function valid(row, value) {
    return row.getAttribute("data-multi") === "1" ? /^[0-9]+$/.test(value) : /^[0-9]$/.test(value);
  }
  function countCorrections() {
    document.getElementById("corrections").textContent = String(Object.keys(load()).length);
  }

  function applyFilter() {
    var kind = document.getElementById("filter").value;
    var digit = document.getElementById("digit").value;
    var text = document.getElementById("search").value.toLowerCase();
    var shown = 0;
    rows.forEach(function (row) {
      var kinds = " " + row.getAttribute("data-kinds") + " ";
      if (row.classList.contains("corrected")) { kinds += "corrected "; }
      var ok = (kind === "all" || kinds.indexOf(" " + kind + " ") >= 0) &&
        (digit === "" || row.getAttribute("data-digit") === digit) &&
        (text === "" || records[+row.getAttribute("data-i")][0].toLowerCase().indexOf(text) >= 0);
      row.hidden = !ok;
      if (ok) { shown += 1; }
    });
    document.getElementById("shown").textContent = String(shown);
  }

  function sortBy(th) {
    var key = th.getAttribute("data-key");
    var ascending = th.getAttribute("aria-sort") !== "ascending";
    document.querySelectorAll("#gallery th").forEach(function (h) { h.removeAttribute("aria-sort"); });
    th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var numeric = th.getAttribute("data-type") === "number";
    var value = function (row) {
      var v = row.getAttribute("data-" + key) || "";
      return numeric ? (v === "" ? -1 : parseFloat(v)) : v;
    };
    rows.sort(function (a, b) {
      var x = value(a), y = value(b);
      var order = x < y ? -1 : x > y ? 1 : (+a.getAttribute("data-i")) - (+b.getAttribute("data-i"));
      return ascending ? order : -order;
    });
    rows.forEach(function (row) { tbody.appendChild(row); });
  }

  function onInput(event) {
    var input = event.target;
    var row = input.closest("tr");
    var all = load();
    var key = keyOf(+row.getAttribute("data-i"));
    var value = input.value.trim();
    input.classList.remove("bad");
    if (value === "") { delete all[key]; row.classList.remove("corrected"); }
    else if (valid(row, value)) { all[key] = value; row.classList.add("corrected"); }
    else { input.classList.add("bad"); return; }
    save(all);
    countCorrections();
  }

  function csvField(text) {
    return /[",\r\n]/.test(text) ? '"' + text.replace(/"/g, '""') + '"' : text;
  }
  function download() {
    var all = load();
    var lines = ["path,frame,value"];
    Object.keys(all).sort().forEach(function (key) {
      var named = JSON.parse(key);
      lines.push([csvField(named[0]), String(named[1]), csvField(all[key])].join(","));
    });
    var blob = new Blob([lines.join("\r\n") + "\r\n"], { type: "text/csv" });
    var link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = "corrections.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
  }

  var stored = load();
  rows.forEach(function (row) {
    var value = stored[keyOf(+row.getAttribute("data-i"))];
    var input = row.querySelector("input.correction");
    if (value !== undefined) { input.value = value; row.classList.add("corrected"); }
    input.addEventListener("change", onInput);
    input.addEventListener("input", onInput);
  });
  document.querySelectorAll("#gallery th[data-key]").forEach(function (th) {
    th.addEventListener("click", function () { sortBy(th); });
  });
  ["filter", "digit"].forEach(function (id) {
    document.getElementById(id).addEventListener("change", applyFilter);
  });
  document.getElementById("search").addEventListener("input", applyFilter);
  document.getElementById("download").addEventListener("click", download);
  document.getElementById("clear").addEventListener("click", function () {
    save({});
    rows.forEach(function (row) {
      row.classList.remove("corrected");
      row.querySelector("input.correction").value = "";
    });
    countCorrections();
    applyFilter();
  });
  countCorrections();
  applyFilter();
})();
"""
