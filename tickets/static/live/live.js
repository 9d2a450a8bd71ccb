/* Live pages: a socket that reconnects by itself and resumes after the last event it saw,
   parts of the page fetched again when something happens, deadlines counting down.
   A page opts in with data-live-socket (the socket path) and data-live-last (the newest
   event id when it was rendered) on one element, and data-live-part on what may change. */
(function () {
  "use strict";
  var PING_EVERY = 25000, BACKOFF_FIRST = 1000, BACKOFF_MAX = 30000;
  // Refusals that retrying cannot cure: no access, no such unit or ticket.
  var FINAL = { 4401: true, 4403: true, 4404: true };

  function connect(options) {
    var last = Number(options.last) || 0, attempt = 0, first = true, pinger = null;
    function status(state, code) { if (options.onStatus) options.onStatus(state, code); }
    function open() {
      var scheme = location.protocol === "https:" ? "wss://" : "ws://";
      var socket = new WebSocket(scheme + location.host + options.path + "?last=" + last);
      socket.onopen = function () {
        pinger = setInterval(function () {
          if (socket.readyState === 1) socket.send('{"type":"ping"}');
        }, PING_EVERY);
      };
      socket.onmessage = function (event) {
        var message;
        try { message = JSON.parse(event.data); } catch (error) { return; }
        if (typeof message.id === "number" && message.id > last) last = message.id;
        if (message.type === "socket.ready") {
          attempt = 0;
          status("live");
          // After a reconnect, or a replay cut short, the page reads its state again.
          if ((!first || !message.complete) && options.onResync) options.onResync();
          first = false;
        } else if (message.type === "socket.resync") {
          // A live message was lost on the way: what the page shows may be stale.
          if (options.onResync) options.onResync();
        } else if (message.type === "presence") {
          if (options.onPresence) options.onPresence(message);
        } else if (message.type !== "pong" && options.onEvent) {
          options.onEvent(message);
        }
      };
      socket.onclose = function (event) {
        clearInterval(pinger);
        if (FINAL[event.code]) { status("refused", event.code); return; }
        status("reconnecting");
        var delay = Math.min(BACKOFF_MAX, BACKOFF_FIRST * Math.pow(2, attempt++));
        setTimeout(open, delay * (0.5 + Math.random() / 2));
      };
    }
    open();
  }

  // Fetch the page again (at most one fetch at a time, a burst of events folded into one
  // fetch `wait` ms after its first) and swap each data-live-part for its fresh copy.
  function refresher(after, wait) {
    var timer = null, busy = false, again = false;
    function run() {
      timer = null;
      if (busy) { again = true; return; }
      busy = true;
      fetch(location.href, { credentials: "same-origin", headers: { "X-Requested-With": "fetch" } })
        .then(function (response) { return response.ok ? response.text() : null; })
        .then(function (html) {
          if (html === null) return;
          var fresh = new DOMParser().parseFromString(html, "text/html");
          document.querySelectorAll("[data-live-part]").forEach(function (part) {
            var copy = fresh.querySelector('[data-live-part="' + part.getAttribute("data-live-part") + '"]');
            if (copy) part.innerHTML = copy.innerHTML;
          });
          countdown();
          if (after) after();
        })
        .catch(function () { /* the next event or reconnect tries again */ })
        .then(function () {
          busy = false;
          if (again) { again = false; run(); }
        });
    }
    return function () { if (!timer) timer = setTimeout(run, wait || 150); };
  }

  function clock(seconds) {
    var h = Math.floor(seconds / 3600), m = Math.floor(seconds % 3600 / 60), s = seconds % 60;
    return (h ? h + ":" : "") + (h && m < 10 ? "0" : "") + m + ":" + (s < 10 ? "0" : "") + s;
  }

  // Every <time data-due=ISO data-warn=ISO> shows the time left, or how long overdue.
  function countdown() {
    var now = Date.now(), words = (document.querySelector("[data-live-left]") || document.documentElement).dataset;
    document.querySelectorAll("[data-due]").forEach(function (element) {
      var due = Date.parse(element.getAttribute("data-due")), warn = Date.parse(element.getAttribute("data-warn") || "");
      if (isNaN(due)) return;
      var left = Math.round((due - now) / 1000);
      element.textContent = (left < 0 ? (words.liveOver || "overdue") : (words.liveLeft || "left")) + " " + clock(Math.abs(left));
      element.classList.toggle("due-over", left < 0);
      element.classList.toggle("due-warn", left >= 0 && !isNaN(warn) && now >= warn);
    });
  }

  function beep() {
    try {
      var Context = window.AudioContext || window.webkitAudioContext;
      var audio = beep.context || (beep.context = new Context());
      var tone = audio.createOscillator(), volume = audio.createGain();
      tone.frequency.value = 880;
      volume.gain.value = 0.08;
      tone.connect(volume);
      volume.connect(audio.destination);
      tone.start();
      tone.stop(audio.currentTime + 0.3);
    } catch (error) { /* no sound: the notice still shows */ }
  }

  window.MinhuLive = { connect: connect, refresher: refresher, countdown: countdown, beep: beep };

  document.addEventListener("DOMContentLoaded", function () {
    countdown();
    setInterval(countdown, 1000);
    var root = document.querySelector("[data-live-socket]");
    if (!root || root.hasAttribute("data-live-manual")) return;
    // Pages without their own script: refresh the live parts on every event.
    var refresh = refresher(), state = root.querySelector("[data-live-status]");
    connect({
      path: root.getAttribute("data-live-socket"), last: root.getAttribute("data-live-last"),
      onEvent: refresh, onResync: refresh,
      onStatus: function (value) { if (state) state.setAttribute("data-state", value); root.setAttribute("data-live", value); }
    });
  });
})();
