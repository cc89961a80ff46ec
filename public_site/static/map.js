/* Applies a page's figures to its stored map (public_site.maps.render_map writes them in
   the #map-figures JSON block): fill colours, dashes for hidden counts, tooltip texts, and
   the map's text label. A file, not an inline script: the pages' Content-Security-Policy
   runs only this site's files. */
(function () {
  "use strict";
  var block = document.getElementById("map-figures");
  if (!block) {
    return;
  }
  var figures = JSON.parse(block.textContent);
  var element = document.getElementById(figures.map);
  if (element) {
    element.setAttribute("aria-label", figures.label);
  }
  function style(feature) {
    var v = figures.areas[feature.properties.c];
    return {
      fillColor: v ? v.f : figures.empty,
      color: "#444444",
      weight: 1,
      fillOpacity: 0.75,
      dashArray: v && v.h ? "4 3" : null
    };
  }
  figures.layers.forEach(function (name) {
    // folium declares each layer as a global variable of the map's script.
    var layer = window[name];
    if (!layer) {
      return;
    }
    layer.options.style = style;
    layer.eachLayer(function (l) {
      var v = figures.areas[l.feature.properties.c];
      if (!v) {
        return;
      }
      // The tooltip is inserted as HTML: the text goes through textContent first.
      var e = document.createElement("span");
      e.textContent = v.t;
      l.feature.properties.t = e.innerHTML;
    });
    layer.setStyle(style);
  });
})();
