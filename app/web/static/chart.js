// The Key Result chart: uPlot over the JSON the server put in #chart-data.
(function () {
  "use strict";
  var COLORS = { value: "#0550ae", target: "#1a7f37", baseline: "#6e7781", expected: "#bf8700",
    forecast: "#8250df", checkin: "#0969da", revision: "#8250df", alert: "#cf222e" };

  function build(holder, d) {
    var stamps = d.points.t.slice();
    stamps.push(d.period.start, d.period.end);
    if (d.forecast) stamps.push(d.forecast.at_ts);
    var x = Array.from(new Set(stamps)).sort(function (a, b) { return a - b; });
    var at = new Map(x.map(function (t, i) { return [t, i]; }));
    function empty() { return x.map(function () { return null; }); }
    function line(pairs) {
      var s = empty();
      pairs.forEach(function (p) { s[at.get(p[0])] = p[1]; });
      return s;
    }
    var unit = d.unit ? " " + d.unit : "";
    function fmt(v) { return v == null ? "–" : +v.toPrecision(6) + unit; }
    var data = [x, line(d.points.t.map(function (t, i) { return [t, d.points.value[i]]; }))];
    var series = [{ label: "Time", value: function (u, v) { return v == null ? "–" : window.krtracker.formatTime(v); } },
      { label: "Value", stroke: COLORS.value, width: 2, spanGaps: true, value: function (u, v) { return fmt(v); },
        points: { show: d.points.t.length <= 60 } }];
    function add(label, values, stroke, dash) {
      data.push(values);
      series.push({ label: label, stroke: stroke, width: 1.5, dash: dash, spanGaps: true,
        points: { show: false }, value: function (u, v) { return fmt(v); } });
      return data.length - 1;
    }
    var start = d.period.start, end = d.period.end;
    if (d.band) {
      if (d.band[0] != null) add("Band low", line([[start, d.band[0]], [end, d.band[0]]]), COLORS.target, [6, 4]);
      if (d.band[1] != null) add("Band high", line([[start, d.band[1]], [end, d.band[1]]]), COLORS.target, [6, 4]);
    } else if (d.target != null) {
      add("Target", line([[start, d.target], [end, d.target]]), COLORS.target, [6, 4]);
    }
    if (d.baseline != null) add("Baseline", line([[start, d.baseline], [end, d.baseline]]), COLORS.baseline, [2, 3]);
    if (d.expected) add("Expected pace", line(d.expected), COLORS.expected, [8, 4]);
    var bands = [];
    if (d.forecast && d.points.t.length) {
      var n = d.points.t.length - 1, last = [d.points.t[n], d.points.value[n]];
      add("Forecast", line([last, [d.forecast.at_ts, d.forecast.value]]), COLORS.forecast, [4, 4]);
      var high = add("95% high", line([last, [d.forecast.at_ts, d.forecast.high]]), "rgba(130,80,223,0.35)", [2, 2]);
      var low = add("95% low", line([last, [d.forecast.at_ts, d.forecast.low]]), "rgba(130,80,223,0.35)", [2, 2]);
      bands.push({ series: [high, low], fill: "rgba(130,80,223,0.10)" });
    }
    var events = [];
    d.check_ins.forEach(function (c) {
      events.push({ t: c.t, color: COLORS.checkin, text: "Check-in " + Math.round(c.confidence * 100) + "% by " + (c.author || "anonymous") + (c.note ? ": " + c.note : "") });
    });
    d.revisions.forEach(function (r) {
      events.push({ t: r.t, color: COLORS.revision, text: "Revision: " + r.field + " " + (r.old || "–") + " → " + (r.new || "–") + (r.note ? " (" + r.note + ")" : "") });
    });
    d.alerts.forEach(function (a) {
      events.push({ t: a.t, color: COLORS.alert, text: "Alert " + a.type + (a.summary ? ": " + a.summary : "") });
    });
    var hover = document.getElementById("chart-hover");
    function drawEvents(u) {
      var ctx = u.ctx, top = u.bbox.top, height = u.bbox.height;
      ctx.save();
      ctx.setLineDash([]);
      ctx.lineWidth = 2 * devicePixelRatio;
      events.forEach(function (e) {
        var px = u.valToPos(e.t, "x", true);
        if (px < u.bbox.left || px > u.bbox.left + u.bbox.width) return;
        ctx.strokeStyle = e.color;
        ctx.beginPath(); ctx.moveTo(px, top + height); ctx.lineTo(px, top + height - 14 * devicePixelRatio); ctx.stroke();
        ctx.fillStyle = e.color;
        ctx.beginPath(); ctx.arc(px, top + height - 16 * devicePixelRatio, 3.5 * devicePixelRatio, 0, 2 * Math.PI); ctx.fill();
      });
      ctx.restore();
    }
    function showNear(u) {
      if (!hover || u.cursor.left == null || u.cursor.left < 0) return;
      var near = events.filter(function (e) { return Math.abs(u.valToPos(e.t, "x") - u.cursor.left) <= 6; });
      hover.textContent = near.map(function (e) { return window.krtracker.formatTime(e.t) + " · " + e.text; }).join(" | ");
    }
    var narrow = holder.clientWidth < 600;
    var options = {
      width: Math.max(holder.clientWidth, 200), height: narrow ? 240 : 320,
      series: series, bands: bands,
      scales: { x: { time: true } },
      axes: [{}, { size: 64, values: function (u, vals) { return vals.map(function (v) { return +v.toPrecision(4); }); } }],
      legend: { live: true },
      cursor: { drag: { x: true, y: false } },
      hooks: { draw: [drawEvents], setCursor: [showNear] }
    };
    performance.mark("krtracker-chart-start");
    var plot = new uPlot(options, data, holder);
    performance.mark("krtracker-chart-end");
    performance.measure("krtracker-chart", "krtracker-chart-start", "krtracker-chart-end");
    window.addEventListener("resize", function () {
      plot.setSize({ width: Math.max(holder.clientWidth, 200), height: options.height });
    });
    return plot;
  }

  function start() {
    var holder = document.getElementById("chart");
    var block = document.getElementById("chart-data");
    if (!holder || !block || typeof uPlot === "undefined") return;
    var d = JSON.parse(block.textContent);
    if (!d.points.t.length) return;
    window.krtracker.chart = build(holder, d);
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
