/* The public statistics page: draws each chart from the page's JSON (#stats-data) with
   Chart.js, served from the site itself. Every chart's figures are also in a table on
   the page, which is what shows, and what screen readers read, without this script. */
(function () {
  "use strict";

  var source = document.getElementById("stats-data");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var palette = ["#1f5fa8", "#d9822b", "#2e8540", "#b42318", "#6b4fa1", "#0f7b8a", "#8a6d00", "#c2185b",
                 "#455a64", "#7cb342", "#5d4037", "#00897b"];
  var still = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function draw(id, type, series, percent) {
    var canvas = document.getElementById(id);
    if (!canvas || !series.length) {
      return;
    }
    new window.Chart(canvas, {
      type: type,
      data: {
        labels: data.weeks,
        datasets: series.map(function (item, index) {
          var colour = palette[index % palette.length];
          return { label: item.label, data: item.data, backgroundColor: colour, borderColor: colour,
                   spanGaps: true, tension: 0.2 };
        })
      },
      options: {
        responsive: true,
        maintainAspectRatio: false,
        animation: still ? false : undefined,
        interaction: { mode: "index", intersect: false },
        plugins: { legend: { position: "bottom", labels: { boxWidth: 12 } } },
        scales: {
          x: { stacked: type === "bar" },
          y: { stacked: type === "bar", beginAtZero: true, max: percent ? 100 : undefined,
               ticks: percent ? { callback: function (value) { return value + "%"; } } : { precision: 0 } }
        }
      }
    });
  }

  draw("chart-category", "bar", data.byCategory, false);
  draw("chart-district", "bar", data.byDistrict, false);
  draw("chart-rates", "line", data.rates, true);
})();
