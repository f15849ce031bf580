// KeyRelay key-status page. Reads the admin API with the token the user types; the token stays
// in this tab's sessionStorage, goes only in the Authorization header, and is never logged or put
// in a URL. Every value from the API reaches the DOM through textContent, never as markup.
(function () {
  "use strict";

  var TOKEN_SLOT = "keyrelay.adminToken";
  var REFRESH_MS = 5000;

  var state = { keys: null, usage: null, fetchedAt: 0, timer: null, busy: false };

  function $(id) { return document.getElementById(id); }

  // Builds an element; `text` goes in as text, never parsed as HTML.
  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function storedToken() {
    try { return sessionStorage.getItem(TOKEN_SLOT); } catch (e) { return null; }
  }

  function storeToken(token) {
    try {
      if (token) sessionStorage.setItem(TOKEN_SLOT, token); else sessionStorage.removeItem(TOKEN_SLOT);
    } catch (e) { /* storage refused: the token then lives only until the next refresh fails */ }
  }

  function showError(message) {
    var box = $("error");
    box.textContent = message || "";
    box.hidden = !message;
  }

  var noticeTimer = null;
  function showNotice(message) {
    var box = $("notice");
    box.textContent = message;
    box.hidden = false;
    clearTimeout(noticeTimer);
    noticeTimer = setTimeout(function () { box.hidden = true; }, 6000);
  }

  // A refused token: forget it and ask again.
  function signedOut(message) {
    storeToken(null);
    clearInterval(state.timer);
    state.timer = null;
    state.keys = state.usage = null;
    $("dashboard").hidden = true;
    $("clock").hidden = true;
    $("login").hidden = false;
    showError(message);
    $("token").focus();
  }

  function ApiError(status, message) {
    this.status = status;
    this.message = message;
  }

  function api(method, path) {
    var token = storedToken();
    if (!token) return Promise.reject(new ApiError(401, "no token"));
    return fetch(path, {
      method: method,
      headers: { "Authorization": "Bearer " + token, "Accept": "application/json" },
      cache: "no-store",
      credentials: "omit",
      referrerPolicy: "no-referrer"
    }).then(function (response) {
      return response.text().then(function (body) {
        var json = null;
        try { json = body ? JSON.parse(body) : null; } catch (e) { json = null; }
        if (!response.ok) {
          var detail = json && json.error && json.error.message ? json.error.message : response.statusText;
          throw new ApiError(response.status, detail);
        }
        return json;
      });
    }, function () {
      throw new ApiError(0, "the relay did not answer");
    });
  }

  function failed(error, what) {
    if (error && error.status === 401) {
      signedOut("The admin API refused the token (401 Unauthorized). Check the token, "
        + "and that the relay has admin_token set.");
      return;
    }
    var status = error && error.status ? " (HTTP " + error.status + ")" : "";
    showError(what + " failed" + status + ": " + (error && error.message ? error.message : "unknown error"));
  }

  function refresh() {
    if (state.busy) return Promise.resolve();
    state.busy = true;
    return Promise.all([api("GET", "/admin/keys"), api("GET", "/admin/state")]).then(function (replies) {
      state.keys = replies[0];
      state.usage = replies[1];
      state.fetchedAt = Date.now();
      showError(null);
      $("login").hidden = true;
      $("dashboard").hidden = false;
      $("clock").hidden = false;
      render();
    }, function (error) {
      failed(error, "Loading the keys");
    }).then(function () { state.busy = false; });
  }

  function start() {
    clearInterval(state.timer);
    state.timer = setInterval(function () {
      if (!document.hidden) refresh();
    }, REFRESH_MS);
    return refresh();
  }

  // ---- formatting ----

  function duration(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    if (h > 0) return h + "h " + (m < 10 ? "0" : "") + m + "m";
    if (m > 0) return m + "m " + (s < 10 ? "0" : "") + s + "s";
    return s + "s";
  }

  function untilText(iso) {
    var at = Date.parse(iso);
    if (isNaN(at)) return String(iso);
    return "until " + new Date(at).toLocaleString() + " (in " + duration((at - Date.now()) / 1000) + ")";
  }

  function number(value) {
    return typeof value === "number" ? value.toLocaleString() : "–";
  }

  function tickClock() {
    if (!state.usage) return;
    var elapsed = (Date.now() - state.fetchedAt) / 1000;
    var resets = state.usage.resets_in_s || {};
    $("reset-minute").textContent = duration((resets.minute || 0) - elapsed);
    $("reset-day").textContent = duration((resets.day || 0) - elapsed);
    $("updated").textContent = duration(elapsed) + " ago";
  }

  // ---- filters ----

  function filters() {
    return {
      model: $("filter-model").value,
      state: $("filter-state").value,
      text: $("filter-text").value.trim().toLowerCase()
    };
  }

  function textMatches(key, text) {
    if (!text) return true;
    var haystack = (key.fingerprint || "") + " " + (key.label || "");
    return haystack.toLowerCase().indexOf(text) !== -1;
  }

  // A per-model row state, in the key states the filter offers.
  function rowMatchesState(rowState, wanted) {
    if (!wanted) return true;
    if (wanted === "valid") return rowState === "available" || rowState === "full";
    return rowState === wanted;
  }

  function modelsOf(keyID) {
    var models = (state.usage && state.usage.models) || {};
    return Object.keys(models).filter(function (name) {
      return (models[name].keys || []).some(function (row) { return row.key_id === keyID; });
    });
  }

  // ---- rendering ----

  function render() {
    renderModelOptions();
    renderSummary();
    renderKeys();
    renderModels();
    tickClock();
  }

  function renderModelOptions() {
    var select = $("filter-model");
    var chosen = select.value;
    var names = Object.keys((state.usage && state.usage.models) || {}).sort();
    var current = Array.prototype.slice.call(select.options, 1).map(function (o) { return o.value; });
    if (current.join("\n") === names.join("\n")) return;
    while (select.options.length > 1) select.remove(1);
    names.forEach(function (name) {
      var option = el("option", null, name);
      option.value = name;
      select.appendChild(option);
    });
    select.value = names.indexOf(chosen) !== -1 ? chosen : "";
  }

  function renderSummary() {
    var box = $("summary");
    box.replaceChildren();
    var keys = state.keys || {};
    [["valid", keys.valid], ["exhausted", keys.exhausted], ["inactive", keys.inactive]].forEach(function (pair) {
      var chip = el("span", "chip");
      chip.appendChild(el("span", "badge", pair[0])).dataset.state = pair[0];
      chip.appendChild(document.createTextNode(" " + (pair[1] || []).length));
      box.appendChild(chip);
    });
    var total = (keys.keys || []).length;
    box.appendChild(el("span", "chip", total + (total === 1 ? " key" : " keys")));
  }

  function renderKeys() {
    var f = filters();
    var box = $("keys");
    box.replaceChildren();
    var shown = 0;
    ((state.keys && state.keys.keys) || []).forEach(function (key) {
      if (f.state && key.state !== f.state) return;
      if (!textMatches(key, f.text)) return;
      if (f.model && modelsOf(key.id).indexOf(f.model) === -1) return;
      box.appendChild(keyCard(key));
      shown += 1;
    });
    $("keys-empty").hidden = shown > 0;
  }

  function keyCard(key) {
    var card = el("article", "panel key");
    card.dataset.keyId = String(key.id);
    card.dataset.state = key.state;

    var head = el("div", "head");
    head.appendChild(el("h3", "mono", key.fingerprint));
    var badge = head.appendChild(el("span", "badge state", key.state));
    badge.dataset.state = key.state;
    card.appendChild(head);

    var facts = el("dl");
    function fact(name, value) {
      if (value === null || value === undefined || value === "") return;
      facts.appendChild(el("dt", null, name));
      facts.appendChild(el("dd", null, value));
    }
    fact("id", key.id);
    fact("label", key.label);
    fact("kind", key.kind + (key.paid ? " (paid)" : ""));
    fact("failures", key.failures);
    fact("last error", key.last_error);
    fact("deactivated", key.deactivation_reason);
    (key.exhausted_models || []).forEach(function (entry) {
      fact("exhausted", entry.model + " " + untilText(entry.until));
    });
    card.appendChild(facts);

    var actions = el("div", "actions");
    var reactivate = el("button", "reactivate", "Reactivate");
    reactivate.type = "button";
    reactivate.disabled = key.state === "valid";
    reactivate.title = key.state === "valid" ? "The key is in service" : "Put the key back in service";
    reactivate.addEventListener("click", function () { reactivateKey(key, reactivate); });
    var remove = el("button", "danger remove", "Remove");
    remove.type = "button";
    remove.addEventListener("click", function () { removeKey(key, remove); });
    actions.appendChild(reactivate);
    actions.appendChild(remove);
    card.appendChild(actions);
    return card;
  }

  function renderModels() {
    var f = filters();
    var box = $("models");
    box.replaceChildren();
    var labels = {};
    ((state.keys && state.keys.keys) || []).forEach(function (key) { labels[key.id] = key.label; });
    var models = (state.usage && state.usage.models) || {};
    var shown = 0;
    Object.keys(models).sort().forEach(function (name) {
      if (f.model && name !== f.model) return;
      var model = models[name];
      var rows = (model.keys || []).filter(function (row) {
        return rowMatchesState(row.state, f.state)
          && textMatches({ fingerprint: row.fingerprint, label: labels[row.key_id] }, f.text);
      });
      if (rows.length === 0) return;
      box.appendChild(modelSection(name, model, rows));
      shown += 1;
    });
    $("models-empty").hidden = shown > 0;
  }

  function modelSection(name, model, rows) {
    var section = el("section", "panel model");
    section.dataset.model = name;
    var head = el("div", "head");
    head.appendChild(el("h3", "mono", name));
    ["available", "full", "exhausted", "inactive"].forEach(function (kind) {
      if (model[kind]) head.appendChild(el("span", "muted small", model[kind] + " " + kind));
    });
    section.appendChild(head);
    rows.forEach(function (row) { section.appendChild(usageRow(row)); });
    return section;
  }

  function usageRow(row) {
    var line = el("div", "usage");
    line.dataset.keyId = String(row.key_id);
    line.appendChild(el("span", "mono", row.fingerprint));
    var badge = line.appendChild(el("span", "badge", row.state));
    badge.dataset.state = row.state;
    var limits = row.limits || {};
    line.appendChild(meter("RPM", row.rpm, limits.rpm));
    line.appendChild(meter("TPM", row.tpm, limits.tpm));
    line.appendChild(meter("RPD", row.rpd, limits.rpd));
    line.appendChild(el("span", "until muted small", row.exhausted_until ? untilText(row.exhausted_until) : ""));
    return line;
  }

  function meter(name, used, limit) {
    var box = el("div", "meter");
    box.dataset.meter = name.toLowerCase();
    var label = el("div", "label");
    label.appendChild(el("span", null, name));
    var of = typeof limit === "number" ? number(limit) : "no limit";
    label.appendChild(el("span", null, number(used) + " / " + of));
    box.appendChild(label);
    var track = el("div", "track");
    var fill = el("div", "fill");
    if (typeof limit === "number" && limit > 0) {
      var share = Math.min(1, (used || 0) / limit);
      // CSSOM, not a style attribute: allowed under the page's style-src 'self'.
      fill.style.width = (share * 100).toFixed(1) + "%";
      if (share >= 0.9) fill.classList.add("hot"); else if (share >= 0.7) fill.classList.add("warn");
    }
    track.appendChild(fill);
    box.appendChild(track);
    return box;
  }

  // ---- actions ----

  function reactivateKey(key, button) {
    button.disabled = true;
    api("POST", "/admin/keys/" + encodeURIComponent(key.id) + "/reactivate").then(function () {
      showNotice("Key " + key.fingerprint + " reactivated.");
      return refresh();
    }, function (error) {
      button.disabled = false;
      failed(error, "Reactivating " + key.fingerprint);
    });
  }

  function removeKey(key, button) {
    var question = "Remove key " + key.fingerprint + (key.label ? " (" + key.label + ")" : "")
      + "?\nIt stops serving at once on every instance; its history stays.";
    if (!window.confirm(question)) return;
    button.disabled = true;
    api("DELETE", "/admin/keys/" + encodeURIComponent(key.id)).then(function () {
      showNotice("Key " + key.fingerprint + " removed.");
      return refresh();
    }, function (error) {
      button.disabled = false;
      failed(error, "Removing " + key.fingerprint);
    });
  }

  // ---- wiring ----

  document.addEventListener("DOMContentLoaded", function () {
    $("login").addEventListener("submit", function (event) {
      event.preventDefault();
      var input = $("token");
      var token = input.value.trim();
      input.value = "";
      if (!token) return;
      storeToken(token);
      showError(null);
      start();
    });
    $("logout").addEventListener("click", function () {
      signedOut(null);
    });
    ["filter-model", "filter-state"].forEach(function (id) { $(id).addEventListener("change", render); });
    $("filter-text").addEventListener("input", render);
    setInterval(tickClock, 1000);
    if (storedToken()) start(); else $("token").focus();
  });
})();
