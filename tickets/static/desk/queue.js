/* A unit's queue: refreshed on every event of the unit; a new or reopened ticket is
   announced with a notice and a short tone. */
(function () {
  "use strict";
  var root = document.querySelector("[data-live-socket]");
  if (!root || !window.MinhuLive) return;
  var notice = document.getElementById("queue-notice"), status = root.querySelector("[data-live-status]");
  var refresh = MinhuLive.refresher();
  var announce = { "ticket.dispatch": "data-new-ticket", "ticket.reopen": "data-reopened" };
  MinhuLive.connect({
    path: root.getAttribute("data-live-socket"), last: root.getAttribute("data-live-last"),
    onEvent: function (message) {
      refresh();
      if (announce[message.type]) {
        notice.textContent = root.getAttribute(announce[message.type]) + " " + message.number;
        notice.hidden = false;
        MinhuLive.beep();
      }
    },
    onResync: refresh,
    onStatus: function (value) { status.setAttribute("data-state", value); root.setAttribute("data-live", value); }
  });
})();
