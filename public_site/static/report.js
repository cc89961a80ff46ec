/* The report form, better with JavaScript: the phone's position and a pin to drag, street
   names as one types, category suggestions, open reports nearby to follow instead, and a
   draft kept while offline. Without it the form is a plain POST and works the same. */
(function () {
  "use strict";
  var form = document.getElementById("report-form");
  if (!form) { return; }
  var T = JSON.parse(document.getElementById("report-texts").textContent);
  var data = form.dataset;
  var lang = data.lang;
  var $ = function (id) { return document.getElementById(id); };
  var lat = $("lat"), lon = $("lon"), select = $("service_code"), status = $("draft-status");
  var map = null, marker = null;

  Array.prototype.forEach.call(document.querySelectorAll(".js-only"), function (el) {
    el.hidden = false;
  });

  if ("serviceWorker" in navigator && data.sw) {
    navigator.serviceWorker.register(data.sw, { scope: "/" }).catch(function () {});
  }

  function debounce(fn, ms) {
    var timer = null;
    return function () {
      clearTimeout(timer);
      timer = setTimeout(fn, ms);
    };
  }

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function trackingUrl(id) {
    return "/suivi/" + encodeURIComponent(id) + (lang === "en" ? "?lang=en" : "");
  }

  /* --- the map: Leaflet, loaded from this site only when a position is wanted --- */
  function loadLeaflet() {
    if (window.L) { return Promise.resolve(window.L); }
    return new Promise(function (resolve, reject) {
      var css = el("link", { rel: "stylesheet", href: data.leafletCss });
      document.head.appendChild(css);
      var script = el("script", { src: data.leaflet });
      script.onload = function () { resolve(window.L); };
      script.onerror = reject;
      document.head.appendChild(script);
    });
  }

  function setPosition(latitude, longitude, moveMap) {
    lat.value = latitude.toFixed(6);
    lon.value = longitude.toFixed(6);
    showPin(latitude, longitude, moveMap);
    lookNearby();
  }

  function showPin(latitude, longitude, moveMap) {
    loadLeaflet().then(function (L) {
      var box = $("pin-map");
      box.hidden = false;
      $("pin-help").hidden = false;
      if (!map) {
        map = L.map(box, { zoomControl: true }).setView([latitude, longitude], 17);
        if (data.tiles) { L.tileLayer(data.tiles, { maxZoom: 19 }).addTo(map); }
        L.Icon.Default.imagePath = data.leaflet.replace(/leaflet\.js$/, "images/");
        marker = L.marker([latitude, longitude], { draggable: true, autoPan: true }).addTo(map);
        marker.on("dragend", function () {
          var p = marker.getLatLng();
          lat.value = p.lat.toFixed(6);
          lon.value = p.lng.toFixed(6);
          lookNearby();
        });
      } else {
        map.invalidateSize();  // it may have been hidden meanwhile
        marker.setLatLng([latitude, longitude]);
        if (moveMap) { map.setView([latitude, longitude], 17); }
      }
    }).catch(function () {});
  }

  $("locate").addEventListener("click", function () {
    var says = $("locate-status");
    if (!navigator.geolocation) { says.textContent = T.no_fix; return; }
    says.textContent = T.locating;
    navigator.geolocation.getCurrentPosition(function (fix) {
      says.textContent = T.located;
      setPosition(fix.coords.latitude, fix.coords.longitude, true);
    }, function () {
      says.textContent = T.no_fix;
      $("address").focus();
    }, { enableHighAccuracy: true, timeout: 15000, maximumAge: 60000 });
  });

  /* --- street names while typing an address --- */
  var streets = {};
  var address = $("address");
  address.addEventListener("input", debounce(function () {
    var q = address.value.trim();
    var picked = streets[q];
    if (picked) { setPosition(picked.lat, picked.lon, true); return; }
    if (q.length < 3 || !navigator.onLine) { return; }
    fetch(data.streets + "?limit=8&q=" + encodeURIComponent(q)).then(function (r) {
      return r.ok ? r.json() : [];
    }).then(function (rows) {
      var list = $("street-list");
      list.textContent = "";
      streets = {};
      rows.forEach(function (s) {
        streets[s.name] = s;
        list.appendChild(el("option", { value: s.name }));
      });
      var exact = streets[address.value.trim()];
      if (exact) { setPosition(exact.lat, exact.lon, true); }
    }).catch(function () {});
  }, 250));

  /* --- category suggestions while typing the description --- */
  var description = $("description");
  var box = $("suggestions");
  var names = {};
  Array.prototype.forEach.call(select.options, function (o) { names[o.value] = o.textContent; });
  var lastText = "";
  description.addEventListener("input", debounce(function () {
    var text = description.value.trim();
    if (text.length < 8 || text === lastText || !navigator.onLine) { return; }
    lastText = text;
    fetch(data.classify, {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ text: text })
    }).then(function (r) {
      if (!r.ok) { throw new Error(String(r.status)); }
      return r.json();
    }).then(function (answer) {
      var chips = box.querySelector(".chips");
      chips.textContent = "";
      (answer.top || []).forEach(function (c) {
        if (!names[c.service_code] || c.confidence < 0.05) { return; }
        var chip = el("button", { type: "button", "class": "chip", "data-code": c.service_code },
          names[c.service_code]);
        chip.addEventListener("click", function () {
          select.value = c.service_code;
          lookNearby();
        });
        chips.appendChild(chip);
      });
      box.hidden = !chips.childNodes.length;
    }).catch(function () {
      box.hidden = true;
    });
  }, 600));
  select.addEventListener("change", lookNearby);

  /* --- open reports nearby: follow one instead of filing the same again --- */
  function lookNearby() {
    var section = $("nearby");
    var code = select.value;
    var option = select.selectedOptions[0];
    if (!lat.value || !lon.value || !code || (option && option.dataset.aboutPeople)) {
      section.hidden = true;
      return;
    }
    var query = "?lat=" + lat.value + "&lon=" + lon.value + "&service_code=" +
      encodeURIComponent(code) + "&lang=" + lang;
    fetch(data.nearby + query).then(function (r) { return r.ok ? r.json() : []; })
      .then(function (rows) {
        var list = section.querySelector(".nearby-list");
        list.textContent = "";
        rows.forEach(function (row) { list.appendChild(nearbyItem(row)); });
        section.hidden = !rows.length;
      }).catch(function () { section.hidden = true; });
  }

  function nearbyItem(row) {
    var item = el("li", { "class": "nearby-item" });
    var when = new Date(row.created_at).toLocaleDateString(lang === "en" ? "en-GB" : "fr-FR");
    item.appendChild(el("strong", {}, row.service_name));
    item.appendChild(el("span", { "class": "small" },
      " · " + row.distance_m + " " + T.distance + " · " + T.reported + " " + when +
      " · " + T.followers + " " + row.followers));
    if (row.description_excerpt) {
      item.appendChild(el("p", { "class": "excerpt" }, row.description_excerpt));
    }
    var button = el("button", { type: "button", "class": "secondary follow" },
      T.follow + " / " + T.plus_one);
    button.addEventListener("click", function () {
      var email = $("contact_email").value.trim();
      var consent = $("contact_consent_notifications").checked && !!email;
      var body = { consent: consent, language: lang };
      if (consent) { body.email = email; }
      button.disabled = true;
      fetch(data.api + "/" + encodeURIComponent(row.tracking_id) + "/follow", {
        method: "POST", headers: { "Content-Type": "application/json" },
        body: JSON.stringify(body)
      }).then(function (r) {
        return r.json().then(function (answer) { return { ok: r.status === 201, answer: answer }; });
      }).then(function (result) {
        var says = el("p", { "class": "notice", role: "status" });
        if (result.ok) {
          says.textContent = T.followed + " " + T.followers + " " + result.answer.followers + ". ";
          says.appendChild(el("a", { href: trackingUrl(row.tracking_id) }, T.see));
          button.replaceWith(says);
        } else {
          says.textContent = result.answer.message || "";
          button.disabled = false;
          item.appendChild(says);
        }
      }).catch(function () { button.disabled = false; });
    });
    item.appendChild(button);
    return item;
  }

  /* --- sending: the form as it is, or a draft kept while offline --- */
  function fields() {
    var out = {};
    ["description", "service_code", "address", "lat", "lon", "contact_email",
      "contact_phone"].forEach(function (name) { out[name] = form.elements[name].value.trim(); });
    if ($("contact_consent_notifications").checked) { out.contact_consent_notifications = "true"; }
    out.language = lang;
    return out;
  }

  function say(text, link) {
    status.hidden = false;
    status.textContent = text;
    status.scrollIntoView({ block: "center" });
    if (link) {
      status.appendChild(document.createTextNode(" "));
      status.appendChild(el("a", { href: link, "class": "track-link" }, T.track));
    }
  }

  function sendDrafts() {
    if (!navigator.onLine) { return; }
    window.LanterneDrafts.sendAll(data.api).then(function (result) {
      result.filed.forEach(function (f) { say(T.sent, trackingUrl(f.tracking_id)); });
      result.refused.forEach(function (r) {
        Object.keys(r.fields).forEach(function (name) {
          if (form.elements[name] && form.elements[name].type !== "checkbox") {
            form.elements[name].value = r.fields[name];
          }
        });
        say(r.message);
      });
    }).catch(function () {});
  }

  function keepDraft() {
    var photo = $("photo").files[0] || null;
    var draft = {
      key: (self.crypto && crypto.randomUUID) ? crypto.randomUUID() :
        String(Date.now()) + Math.random().toString(16).slice(2),
      fields: fields(), photo: photo, photoName: photo ? photo.name : null,
      created: new Date().toISOString()
    };
    return window.LanterneDrafts.save(draft).then(function () {
      say(T.saved_offline);
      form.reset();
      lat.value = ""; lon.value = "";
      // The next report starts afresh: no pin, no position, no duplicates of this one.
      $("pin-map").hidden = true;
      $("pin-help").hidden = true;
      $("locate-status").textContent = "";
      $("nearby").hidden = true;
      box.hidden = true;
      if (navigator.serviceWorker && navigator.serviceWorker.ready) {
        navigator.serviceWorker.ready.then(function (reg) {
          return reg.sync && reg.sync.register("lanterne-drafts");
        }).catch(function () {});
      }
    });
  }

  form.addEventListener("submit", function (event) {
    if (navigator.onLine || !window.indexedDB || !description.value.trim()) { return; }
    // Offline: the plain POST would fail and lose what was typed; keep it on the phone.
    event.preventDefault();
    keepDraft().catch(function () { form.submit(); });
  });

  window.addEventListener("online", sendDrafts);
  sendDrafts();
})();
