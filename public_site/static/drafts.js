/* Reports kept on the phone while offline, sent when the network is back.
   Shared by the page (report.js) and the service worker (sw.js): one IndexedDB store,
   one way of sending. Each draft carries its Idempotency-Key from the first try, so a
   retry after a lost answer gives back the same report instead of a second one. */
(function (scope) {
  "use strict";
  var DB_NAME = "lanterne-drafts";
  var STORE = "drafts";

  function open() {
    return new Promise(function (resolve, reject) {
      var request = indexedDB.open(DB_NAME, 1);
      request.onupgradeneeded = function () {
        request.result.createObjectStore(STORE, { keyPath: "key" });
      };
      request.onsuccess = function () { resolve(request.result); };
      request.onerror = function () { reject(request.error); };
    });
  }

  function run(mode, action) {
    return open().then(function (db) {
      return new Promise(function (resolve, reject) {
        var tx = db.transaction(STORE, mode);
        var result = action(tx.objectStore(STORE));
        tx.oncomplete = function () { db.close(); resolve(result && result.result); };
        tx.onerror = function () { db.close(); reject(tx.error); };
      });
    });
  }

  function save(draft) { return run("readwrite", function (s) { return s.put(draft); }); }
  function remove(key) { return run("readwrite", function (s) { return s.delete(key); }); }
  function all() { return run("readonly", function (s) { return s.getAll(); }); }

  var sending = null;

  /* Send every draft once; resolve with the reports filed ({key, tracking_id}) and the
     drafts refused ({key, message}). A network failure leaves the draft for next time. */
  function sendAll(apiUrl) {
    if (sending) { return sending; }
    sending = all().then(function (drafts) {
      var filed = [], refused = [];
      return drafts.reduce(function (chain, draft) {
        return chain.then(function () {
          var body = new FormData();
          Object.keys(draft.fields).forEach(function (name) {
            if (draft.fields[name] !== "") { body.append(name, draft.fields[name]); }
          });
          if (draft.photo) { body.append("photo", draft.photo, draft.photoName || "photo.jpg"); }
          return fetch(apiUrl, {
            method: "POST", body: body, headers: { "Idempotency-Key": draft.key },
            credentials: "omit"
          }).then(function (response) {
            if (response.status === 201) {
              return response.json().then(function (answer) {
                filed.push({ key: draft.key, tracking_id: answer.tracking_id });
                return remove(draft.key);
              });
            }
            if (response.status === 429 || response.status >= 500) { return null; }
            return response.json().catch(function () { return {}; }).then(function (answer) {
              refused.push({ key: draft.key, message: answer.message || "", fields: draft.fields });
              return remove(draft.key);
            });
          }, function () { return null; /* still offline: kept */ });
        });
      }, Promise.resolve()).then(function () { return { filed: filed, refused: refused }; });
    });
    var done = function () { sending = null; };
    sending.then(done, done);
    return sending;
  }

  scope.LanterneDrafts = { save: save, remove: remove, all: all, sendAll: sendAll };
})(typeof self !== "undefined" ? self : this);
