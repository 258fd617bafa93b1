// Merchant console: progressive enhancement only; every page works without this file.
// - [data-live]: a fleet table kept current from Server-Sent Events (no reload).
// - [data-job]: a job's progress bar polled until done (exports, reconciliation).
"use strict";
(function () {
  function text(el, value) { if (el && el.textContent !== value) el.textContent = value; }

  function liveTable(table) {
    if (!window.EventSource) return;
    var status = document.getElementById(table.getAttribute("data-live-status"));
    var source = new EventSource(table.getAttribute("data-live"));
    source.addEventListener("fleet", function (ev) {
      var rows = JSON.parse(ev.data);
      rows.forEach(function (row) {
        var tr = table.querySelector('tr[data-key="' + CSS.escape(row.key) + '"]');
        if (!tr) { location.reload(); return; }  // a new kiosk: take the server's row
        Object.keys(row.cells).forEach(function (name) {
          var cell = tr.querySelector('[data-cell="' + name + '"]');
          if (cell) {
            text(cell, row.cells[name]);
            if (name === "state") cell.className = "badge st-" + row.state;
          }
        });
      });
      var count = document.getElementById("online-count");
      if (count) {
        var online = rows.filter(function (r) { return r.state === "online"; }).length;
        text(count, online + " / " + rows.length);
      }
      if (status) { text(status, status.getAttribute("data-on")); status.className = "live"; }
    });
    source.addEventListener("end", function () { source.close(); });
    source.onerror = function () {
      if (status) { text(status, status.getAttribute("data-off")); status.className = "muted"; }
    };
  }

  function jobProgress(box) {
    var url = box.getAttribute("data-job");
    var bar = box.querySelector("progress");
    var label = box.querySelector("[data-progress-text]");
    function poll() {
      fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" })
        .then(function (r) { return r.json(); })
        .then(function (job) {
          if (bar) { bar.max = Math.max(job.total, 1); bar.value = job.done; }
          text(label, job.done + " / " + job.total);
          if (job.status === "running") setTimeout(poll, 700);
          else location.reload();
        })
        .catch(function () { setTimeout(poll, 2000); });
    }
    poll();
  }

  document.addEventListener("DOMContentLoaded", function () {
    document.querySelectorAll("table[data-live]").forEach(liveTable);
    document.querySelectorAll("[data-job]").forEach(jobProgress);
  });
})();
