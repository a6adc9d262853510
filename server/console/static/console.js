// 邻里控制台: the sign-in poll, sortable tables and the charts. No inline scripts (CSP
// script-src 'self'); chart data comes from the page's JSON block, also shown as tables.
"use strict";

(function () {
  function poll() {
    var qr = document.getElementById("qr");
    var status = document.getElementById("login-status");
    if (!qr || !status) return;
    var ticket = qr.getAttribute("data-ticket");
    var busyUntil = 0;
    var timer = window.setInterval(function () {
      if (Date.now() < busyUntil) return;
      fetch("/console/login/poll?ticket=" + encodeURIComponent(ticket), { credentials: "same-origin" })
        .then(function (r) {
          // Too many requests from this office's address: wait as told, then poll again.
          if (r.status === 429) {
            busyUntil = Date.now() + 1000 * (parseInt(r.headers.get("Retry-After"), 10) || 5);
            return { status: "waiting" };
          }
          if (!r.ok) throw new Error("poll " + r.status);
          return r.json();
        })
        .then(function (body) {
          if (body.status === "signed_in") {
            window.clearInterval(timer);
            status.textContent = "已确认，正在进入…";
            window.location.assign("/console/");
          } else if (body.status === "expired") {
            window.clearInterval(timer);
            status.textContent = "二维码已过期，请点击「刷新二维码」。";
          }
        })
        .catch(function () {
          window.clearInterval(timer);
          status.textContent = "二维码已失效，请点击「刷新二维码」。";
        });
    }, 1500);
  }

  function sortable() {
    var tables = document.querySelectorAll("table.sortable");
    Array.prototype.forEach.call(tables, function (table) {
      var buttons = table.querySelectorAll("thead button[data-sort]");
      Array.prototype.forEach.call(buttons, function (button, index) {
        button.addEventListener("click", function () {
          var th = button.parentNode;
          var ascending = th.getAttribute("aria-sort") !== "ascending";
          Array.prototype.forEach.call(table.querySelectorAll("thead th"), function (h) {
            h.removeAttribute("aria-sort");
          });
          th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
          var body = table.tBodies[0];
          var rows = Array.prototype.slice.call(body.rows);
          var numeric = button.getAttribute("data-sort") === "number";
          var key = function (row) {
            var cell = row.cells[index];
            if (!cell) return "";
            var v = cell.getAttribute("data-value");
            return numeric ? parseFloat(v === null ? cell.textContent : v) || 0 : cell.textContent.trim();
          };
          rows.sort(function (a, b) {
            var x = key(a), y = key(b);
            var c = numeric ? x - y : String(x).localeCompare(String(y), "zh-CN");
            return ascending ? c : -c;
          });
          rows.forEach(function (r) { body.appendChild(r); });
        });
      });
    });
  }

  function charts() {
    var block = document.getElementById("chart-data");
    if (!block || !window.echarts) return;
    var data = JSON.parse(block.textContent);
    var target = document.getElementById("chart-target");
    if (target) {
      var bar = window.echarts.init(target, null, { renderer: "svg" });
      var rows = data.communities;
      var names = rows.map(function (c) { return c.name; });
      // Above county level the rows are areas: their communities meeting the target and short of it.
      var series = data.by_area ? [
        { name: "达标社区", type: "bar", stack: "n", itemStyle: { color: "#2e7d32" },
          data: rows.map(function (c) { return c.meeting; }) },
        { name: "未达标社区", type: "bar", stack: "n", itemStyle: { color: "#c0392b" },
          data: rows.map(function (c) { return c.short; }) }
      ] : [
        { name: "组织数", type: "bar",
          data: rows.map(function (c) {
            return { value: c.organizations, itemStyle: { color: c.shortfall > 0 ? "#c0392b" : "#2e7d32" } };
          }) },
        { name: "目标", type: "line", step: "middle", symbol: "none", lineStyle: { type: "dashed", color: "#555" },
          data: rows.map(function (c) { return c.target; }) }
      ];
      bar.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: series.map(function (s) { return s.name; }) },
        grid: { left: 48, right: 24, bottom: 64, top: 40 },
        xAxis: { type: "category", data: names, axisLabel: { interval: 0, rotate: rows.length > 6 ? 30 : 0 } },
        yAxis: { type: "value", minInterval: 1 },
        series: series
      });
      window.addEventListener("resize", function () { bar.resize(); });
    }
    var monthly = document.getElementById("chart-monthly");
    if (monthly) {
      var line = window.echarts.init(monthly, null, { renderer: "svg" });
      var pick = function (k) { return data.monthly.map(function (m) { return m[k]; }); };
      line.setOption({
        animation: false,
        tooltip: { trigger: "axis" },
        legend: { data: ["活动场次", "参与居民", "时长（小时）", "到场率"] },
        grid: { left: 48, right: 56, bottom: 40, top: 40 },
        xAxis: { type: "category", data: pick("month") },
        yAxis: [{ type: "value" }, { type: "value", min: 0, max: 1, axisLabel: { formatter: function (v) { return Math.round(v * 100) + "%"; } } }],
        series: [
          { name: "活动场次", type: "line", data: pick("activities") },
          { name: "参与居民", type: "line", data: pick("participants") },
          { name: "时长（小时）", type: "line", data: pick("hours") },
          { name: "到场率", type: "line", yAxisIndex: 1, data: pick("rate") }
        ]
      });
      window.addEventListener("resize", function () { line.resize(); });
    }
  }

  document.addEventListener("DOMContentLoaded", function () {
    poll();
    sortable();
    charts();
  });
})();
