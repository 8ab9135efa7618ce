// Progressive enhancement for the audit page. Everything works without it: filters submit
// as a plain GET form, Details links open the entry's own page.
(function () {
  "use strict";

  function localTimes() {
    document.querySelectorAll("time.when[datetime]").forEach(function (t) {
      var d = new Date(t.getAttribute("datetime"));
      if (!isNaN(d)) { t.textContent = d.toLocaleString(); }
    });
  }

  function relative(iso) {
    var secs = Math.round((Date.now() - new Date(iso).getTime()) / 1000);
    var future = secs < 0; secs = Math.abs(secs);
    if (secs < 45) { return "just now"; }
    var units = [[31536000, "year"], [2592000, "month"], [86400, "day"], [3600, "hour"], [60, "minute"]];
    for (var i = 0; i < units.length; i++) {
      if (secs >= units[i][0] || units[i][1] === "minute") {
        var n = Math.max(1, Math.floor(secs / units[i][0]));
        var label = n + " " + units[i][1] + (n === 1 ? "" : "s");
        return future ? "in " + label : label + " ago";
      }
    }
    return "";
  }

  function ages() {
    document.querySelectorAll("[data-age]").forEach(function (el) {
      el.textContent = relative(el.getAttribute("data-age"));
    });
  }

  function filters() {
    var form = document.getElementById("filters");
    if (!form) { return; }
    var range = form.elements.namedItem("range");
    var from = form.elements.namedItem("from");
    var to = form.elements.namedItem("to");
    form.addEventListener("submit", function () {
      // Keep URLs short and shareable: leave out empty fields.
      Array.prototype.forEach.call(form.elements, function (el) {
        if (el.name && el.type !== "checkbox" && el.value === "") { el.disabled = true; }
      });
    });
    form.querySelectorAll("[data-autosubmit]").forEach(function (el) {
      el.addEventListener("change", function () {
        // A preset and explicit dates cannot both apply: the last one chosen wins.
        if (el === range && range.value) { from.value = ""; to.value = ""; }
        if ((el === from || el === to) && el.value) { range.value = ""; }
        if (form.requestSubmit) { form.requestSubmit(); } else { form.submit(); }
      });
    });
  }

  // The timeline: a click on a bar follows its link; pressing on one bar and releasing on
  // another narrows the period to every bar in between.
  function timeline() {
    var svg = document.querySelector("#timeline svg");
    if (!svg) { return; }
    var bars = Array.prototype.slice.call(svg.querySelectorAll("a.bar"));
    var start = -1, end = -1, dragged = false;
    function mark() {
      bars.forEach(function (b, i) {
        var on = start >= 0 && i >= Math.min(start, end) && i <= Math.max(start, end);
        b.classList.toggle("selected", on);
      });
    }
    bars.forEach(function (b, i) {
      b.addEventListener("pointerdown", function (ev) {
        if (ev.button !== 0) { return; }
        start = end = i; dragged = false; mark();
        ev.preventDefault();
      });
      b.addEventListener("pointerenter", function () {
        if (start >= 0 && i !== end) { end = i; dragged = true; mark(); }
      });
      b.addEventListener("click", function (ev) { if (dragged) { ev.preventDefault(); } });
    });
    document.addEventListener("pointerup", function () {
      if (start < 0) { return; }
      var lo = Math.min(start, end), hi = Math.max(start, end);
      start = end = -1;
      if (!dragged || lo === hi) { mark(); return; }
      var base = svg.getAttribute("data-base");
      var query = (base ? base + "&" : "") +
        "from=" + encodeURIComponent(bars[lo].getAttribute("data-from")) +
        "&to=" + encodeURIComponent(bars[hi].getAttribute("data-to"));
      window.location.assign("/audit?" + query);
    });
  }

  function details() {
    document.querySelectorAll("a.details-toggle").forEach(function (a) {
      a.addEventListener("click", function (ev) {
        var row = document.getElementById(a.getAttribute("aria-controls"));
        if (!row) { return; }
        ev.preventDefault();
        var open = row.hidden;
        row.hidden = !open;
        a.setAttribute("aria-expanded", open ? "true" : "false");
        a.textContent = open ? "Hide" : "Details";
      });
    });
  }

  function copyButtons() {
    document.querySelectorAll("[data-copy]").forEach(function (b) {
      b.addEventListener("click", function () {
        var el = document.getElementById(b.getAttribute("data-copy"));
        if (el && navigator.clipboard) {
          navigator.clipboard.writeText(el.textContent).then(function () { b.textContent = "Copied"; });
        }
      });
    });
  }

  // The Actor box of a tenant with more actors than a list holds: as the admin types, the
  // server suggests the actors whose name, e-mail or id holds the text (most frequent first);
  // picking one applies it. Without the script the box still takes an id or e-mail.
  function actorSuggestions() {
    document.querySelectorAll("input[data-suggest]").forEach(function (input) {
      var list = document.getElementById(input.getAttribute("list"));
      if (!list) { return; }
      var timer = null, asked = "";
      input.addEventListener("input", function (ev) {
        if (ev.inputType === "insertReplacementText" || ev.inputType === undefined) {
          if (input.form.requestSubmit) { input.form.requestSubmit(); } else { input.form.submit(); }
          return;
        }
        clearTimeout(timer);
        timer = setTimeout(function () {
          var text = input.value.trim();
          if (!text || text === asked) { return; }
          asked = text;
          fetch(input.getAttribute("data-suggest") + "?q=" + encodeURIComponent(text),
                { credentials: "same-origin", headers: { Accept: "application/json" } })
            .then(function (r) { return r.ok ? r.json() : []; })
            .then(function (options) {
              if (input.value.trim() !== text) { return; } // typed on meanwhile
              list.textContent = "";
              options.forEach(function (o) {
                var opt = document.createElement("option");
                opt.value = o.value; opt.textContent = o.label;
                list.appendChild(opt);
              });
              list.setAttribute("data-for", text);
            })
            .catch(function () { asked = ""; });
        }, 150);
      });
    });
  }

  document.addEventListener("DOMContentLoaded", function () {
    localTimes(); ages(); filters(); details(); copyButtons(); timeline(); actorSuggestions();
    setInterval(ages, 60000);
  });
})();
