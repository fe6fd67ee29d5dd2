// Dashboards draw their ECharts the same way: every [data-chart] element gets the option its
// page's builder makes from one json_script block; redrawn after an HTMX swap (filters), resized
// with the window. `builders` maps a data-chart name to function(data) -> ECharts option.
window.dealercrmCharts = function (sourceId, builders) {
  function draw() {
    var source = document.getElementById(sourceId);
    if (!source || !window.echarts) return;
    var data = JSON.parse(source.textContent);
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var build = builders[el.dataset.chart];
      if (!build) return;
      var chart = echarts.getInstanceByDom(el) || echarts.init(el);
      chart.setOption(build(data), true);
    });
  }
  document.addEventListener("DOMContentLoaded", draw);
  document.body.addEventListener("htmx:afterSettle", draw);
  window.addEventListener("resize", function () {
    document.querySelectorAll("[data-chart]").forEach(function (el) {
      var chart = window.echarts && echarts.getInstanceByDom(el);
      if (chart) chart.resize();
    });
  });
};
