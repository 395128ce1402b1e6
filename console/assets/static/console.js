// The admin console's live updates: the page's live part is fetched again
// and replaced, every 2 s while a generation starts or drains, every 10 s
// otherwise. Without this script the page still works (and refreshes itself
// while a drain runs). Also: a confirmation for forms that ask for one, and
// buttons that say they are working while an action runs.
(function () {
  "use strict";
  var live = document.getElementById("live");
  var timer = 0;
  var failures = 0;

  function busy() {
    var d = live && live.querySelector("[data-busy]");
    return d && d.getAttribute("data-busy") === "true";
  }

  function schedule() {
    clearTimeout(timer);
    var wait = busy() ? 2000 : 10000;
    timer = setTimeout(update, Math.min(wait * (1 + failures), 60000));
  }

  function update() {
    if (document.hidden) { schedule(); return; }
    fetch(live.getAttribute("data-live"), { credentials: "same-origin", cache: "no-store" })
      .then(function (r) {
        if (!r.ok) { throw new Error("status " + r.status); }
        return r.text();
      })
      .then(function (html) {
        failures = 0;
        if (!document.querySelector("form.working")) { live.innerHTML = html; }
        schedule();
      })
      .catch(function () { failures++; schedule(); });
  }

  document.addEventListener("submit", function (e) {
    var f = e.target;
    var ask = f.getAttribute("data-confirm");
    if (ask && !window.confirm(ask)) { e.preventDefault(); return; }
    f.classList.add("working");
    var b = f.querySelector("button");
    if (b) {
      // Disabled after the submission has been taken, not before.
      setTimeout(function () {
        b.disabled = true;
        if (f.getAttribute("data-busy")) { b.textContent = f.getAttribute("data-busy"); }
      }, 0);
    }
  });

  document.addEventListener("visibilitychange", function () {
    if (!document.hidden && live) { update(); }
  });

  if (live && window.fetch) { schedule(); }
})();
