/* The staff map of the queue: asks /staff/map/data for the visible box and draws the
   reports (one marker a report, coloured by status, linking to its page) and the groups of
   near reports (a number; a click zooms in). A file, not an inline script; texts go in
   through textContent, never as HTML. */
(function () {
  "use strict";
  var block = document.getElementById("map-config");
  var element = document.getElementById("queue-map");
  if (!block || !element || !window.L) {
    return;
  }
  var config = JSON.parse(block.textContent);
  var map = L.map(element, { preferCanvas: false }).setView(config.centre, 13);
  var layer = L.layerGroup().addTo(map);
  var notice = document.getElementById("map-truncated");
  var counter = document.getElementById("map-count");
  var pending = null;

  function marker(feature) {
    var p = feature.properties;
    var ll = [feature.geometry.coordinates[1], feature.geometry.coordinates[0]];
    if (p.count === 1) {
      var m = L.circleMarker(ll, {
        radius: 7, color: "#222222", weight: 1, fillOpacity: 0.9,
        fillColor: config.colours[p.status] || "#636363"
      });
      var link = document.createElement("a");
      link.href = config.report + p.id;
      link.textContent = "#" + p.id + " · " + (config.names[p.status] || p.status);
      m.bindPopup(link);
      m.options.reportId = p.id;
      return m;
    }
    var label = document.createElement("span");
    label.textContent = String(p.count);
    var icon = L.divIcon({ className: "cluster", html: label.outerHTML, iconSize: [34, 34] });
    var c = L.marker(ll, { icon: icon, title: p.count + " " + config.reports });
    c.on("click", function () { map.setView(ll, Math.min(map.getZoom() + 2, 19)); });
    return c;
  }

  function load() {
    var b = map.getBounds();
    var url = config.data + (config.data.indexOf("?") < 0 ? "?" : "&") + [
      "south=" + b.getSouth(), "west=" + b.getWest(), "north=" + b.getNorth(),
      "east=" + b.getEast(), "zoom=" + map.getZoom()
    ].join("&");
    if (pending) { pending.abort(); }
    pending = new AbortController();
    fetch(url, { credentials: "same-origin", signal: pending.signal })
      .then(function (r) { return r.json(); })
      .then(function (data) {
        layer.clearLayers();
        var total = 0;
        data.features.forEach(function (f) {
          total += f.properties.count;
          layer.addLayer(marker(f));
        });
        if (counter) { counter.textContent = String(total); }
        if (notice) { notice.hidden = !data.truncated; }
        element.setAttribute("data-loaded", String(data.features.length));
      })
      .catch(function () { /* a newer request replaced this one */ });
  }
  map.on("moveend", load);
  load();
}());
