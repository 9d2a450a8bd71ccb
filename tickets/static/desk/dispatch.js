/* The dispatch desk: open a ticket beside the queue, act on it through the staff API,
   and keep the queue, counters and units on duty live (live.js). */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-socket]");
  if (!root || !window.MinhuLive) return;
  var panel = document.getElementById("desk-panel"), notice = document.getElementById("desk-notice");
  var language = document.documentElement.lang || "zh-hans";

  function openNumber() {
    var article = panel.querySelector(".desk-ticket");
    return article ? article.getAttribute("data-number") : null;
  }

  function markSelected() {
    var number = openNumber();
    root.querySelectorAll(".desk-queue tr[data-number]").forEach(function (row) {
      row.classList.toggle("selected", row.getAttribute("data-number") === number);
    });
  }

  function loadPanel(number) {
    return fetch(root.getAttribute("data-panel-url").replace("NUMBER", encodeURIComponent(number)),
                 { credentials: "same-origin" })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (html) {
        if (html !== null) panel.innerHTML = html;
        markSelected();
      });
  }

  // The centre hears every event in the city: at most one queue refresh a second.
  var refresh = MinhuLive.refresher(markSelected, 1000);

  function busyEditing() {
    var active = document.activeElement;
    return active && panel.contains(active) && (active.value || "") !== "" && active.tagName !== "BUTTON";
  }

  root.addEventListener("click", function (event) {
    var link = event.target.closest("a.desk-open");
    if (!link) return;
    event.preventDefault();
    history.replaceState(null, "", "?ticket=" + encodeURIComponent(link.getAttribute("data-number")));
    loadPanel(link.getAttribute("data-number"));
  });

  function act(action, body) {
    var article = panel.querySelector(".desk-ticket"), error = article.querySelector(".desk-error");
    var token = article.querySelector("input[name=csrfmiddlewaretoken]").value;
    error.hidden = true;
    article.setAttribute("aria-busy", "true");
    return fetch(article.getAttribute("data-api") + action + "/", {
      method: "POST", credentials: "same-origin",
      headers: { "Content-Type": "application/json", "X-CSRFToken": token, "Accept-Language": language },
      body: JSON.stringify(body)
    }).then(function (response) {
      return response.json().then(function (data) { return { ok: response.ok, data: data }; });
    }).then(function (result) {
      article.removeAttribute("aria-busy");
      if (!result.ok) {
        var fields = result.data.fields ? Object.keys(result.data.fields).map(function (k) {
          return result.data.fields[k].join(" ");
        }).join(" ") : "";
        error.textContent = (result.data.detail || "") + (fields ? " " + fields : "");
        error.hidden = false;
        return;
      }
      notice.textContent = result.data.number + " → " + result.data.state + (result.data.unit ? " (" + result.data.unit + ")" : "");
      loadPanel(result.data.number);
      refresh();
    }).catch(function () {
      article.removeAttribute("aria-busy");
      error.textContent = root.getAttribute("data-offline") || "Network error: try again.";
      error.hidden = false;
    });
  }

  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-action]");
    if (!button) return;
    if (button.getAttribute("data-action") === "dispatch") {
      // A suggested unit goes with the category chosen in the panel (the suggested one, if any).
      var category = panel.querySelector("select[name=category]");
      act("dispatch", { unit: button.getAttribute("data-unit"), category: category ? category.value : undefined });
    }
    else act(button.getAttribute("data-action"), {});
  });

  panel.addEventListener("submit", function (event) {
    var form = event.target.closest("form[data-action]");
    if (!form) return;
    event.preventDefault();
    var action = form.getAttribute("data-action"), data = new FormData(form), body = {};
    if (action === "dispatch") body = { unit: data.get("unit"), final: data.get("final") === "1", category: data.get("category") };
    else if (action === "reject") body = { reason: data.get("reason") };
    else if (action === "merge") body = { into: data.get("into") };
    act(action, body);
  });

  // "Merge into this" beside a likely original: the same merge as the form's.
  panel.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-merge-into]");
    if (button) act("merge", { into: button.getAttribute("data-merge-into") });
  });

  var status = root.querySelector("[data-live-status]");
  MinhuLive.connect({
    path: root.getAttribute("data-live-socket"), last: root.getAttribute("data-live-last"),
    onEvent: function (message) {
      refresh();
      if (message.number === openNumber() && !busyEditing()) loadPanel(message.number);
    },
    onPresence: refresh,
    onResync: function () {
      refresh();
      if (openNumber() && !busyEditing()) loadPanel(openNumber());
    },
    onStatus: function (value) { status.setAttribute("data-state", value); root.setAttribute("data-live", value); }
  });
})();
