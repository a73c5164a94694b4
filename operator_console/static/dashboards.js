/* Draws every dashboard chart: each element with data-chart names the <script type="application/json">
   holding its ECharts option. The tables below the charts carry the same numbers without JavaScript. */
(function () {
  "use strict";
  // JSON cannot carry functions: a value formatter arrives as a template such as "{value}%".
  function withFormatters(node) {
    if (Array.isArray(node)) { node.forEach(withFormatters); return node; }
    if (node && typeof node === "object") {
      Object.keys(node).forEach(function (key) {
        var value = node[key];
        if (key === "valueFormatter" && typeof value === "string") {
          node[key] = function (v) { return v === null || v === undefined ? "—" : value.replace("{value}", v); };
        } else {
          withFormatters(value);
        }
      });
    }
    return node;
  }
  function draw() {
    if (!window.echarts) { return; }
    var charts = [];
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var source = document.getElementById(el.getAttribute("data-chart"));
      if (!source) { return; }
      var option = withFormatters(JSON.parse(source.textContent));
      var chart = window.echarts.init(el, null, { renderer: "canvas" });
      chart.setOption(option);
      el.setAttribute("data-drawn", "1");
      charts.push(chart);
    });
    var resize = function () { charts.forEach(function (c) { c.resize(); }); };
    if (window.ResizeObserver) {
      var observer = new ResizeObserver(resize);
      document.querySelectorAll("[data-chart]").forEach(function (el) { observer.observe(el); });
    } else {
      window.addEventListener("resize", resize);
    }
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", draw);
  } else {
    draw();
  }
})();
