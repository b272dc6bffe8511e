/* Small enhancements shared by the reviewer pages. Every page works without them (plain
   forms and links); they add conveniences: a procedures checklist remembered in this
   browser, the feedback form's "label required" rule, the reviewer's name, a file-size
   check before a long upload, and no double submission. */
(function () {
  "use strict";

  function store(name, value) {
    try {
      if (value === undefined) return window.localStorage.getItem(name);
      window.localStorage.setItem(name, value);
    } catch (e) { /* storage disabled: the page simply forgets */ }
    return null;
  }

  // Procedures checklist: ticks are the reader's own notes, kept per screening record.
  document.querySelectorAll("[data-checklist]").forEach(function (list) {
    var key = "ds-checklist:" + list.getAttribute("data-checklist");
    var done = [];
    try { done = JSON.parse(store(key) || "[]"); } catch (e) { done = []; }
    list.querySelectorAll("input[type=checkbox]").forEach(function (box) {
      var item = box.closest("li");
      box.checked = done.indexOf(box.getAttribute("data-name")) >= 0;
      item.classList.toggle("done", box.checked);
      box.addEventListener("change", function () {
        item.classList.toggle("done", box.checked);
        var names = [];
        list.querySelectorAll("input[type=checkbox]:checked").forEach(function (b) { names.push(b.getAttribute("data-name")); });
        store(key, JSON.stringify(names));
      });
    });
  });

  // Feedback: the correct label is required when disagreeing, or when the verdict was "review"
  // (the server checks the same rule; this only says so before the round trip).
  var fb = document.getElementById("feedback-form");
  if (fb) {
    var select = document.getElementById("fb-label");
    var reviewer = document.getElementById("fb-reviewer");
    var verdict = fb.getAttribute("data-verdict");
    var sync = function () {
      var no = fb.querySelector("input[name=agree][value=no]");
      // A review row asks "is it major?" with radios of its own: there is no select to require.
      if (select && no) select.required = no.checked || verdict === "review";
    };
    fb.querySelectorAll("input[name=agree]").forEach(function (r) { r.addEventListener("change", sync); });
    sync();
    if (reviewer && !reviewer.value) reviewer.value = store("ds-reviewer") || "";
    fb.addEventListener("submit", function () { if (reviewer) store("ds-reviewer", reviewer.value.trim()); });
  }

  // 研判意见书: the print button (no inline script under the pages' CSP).
  document.querySelectorAll("[data-print]").forEach(function (b) {
    b.addEventListener("click", function () { window.print(); });
  });

  // Upload: refuse an oversized file here rather than after minutes of uploading.
  var upload = document.getElementById("upload-form");
  if (upload) {
    var file = document.getElementById("file");
    var sizeError = document.getElementById("file-size-error");
    var max = parseInt(upload.getAttribute("data-max-bytes"), 10) || 0;
    file.addEventListener("change", function () {
      var f = file.files && file.files[0];
      var tooBig = f && max && f.size > max;
      var msg = tooBig ? "文件过大 (" + (f.size / 1048576).toFixed(1) + " MB), 上限 " + Math.round(max / 1048576) + " MB, 请拆分后上传。" : "";
      file.setCustomValidity(msg);
      sizeError.textContent = msg;
      sizeError.hidden = !tooBig;
      if (tooBig) file.setAttribute("aria-invalid", "true"); else file.removeAttribute("aria-invalid");
    });
  }

  // One submission per click: a slow upload or screening is not sent twice.
  document.querySelectorAll("form[method=post]").forEach(function (form) {
    form.addEventListener("submit", function () {
      var button = form.querySelector("button[type=submit]");
      if (!button || button.getAttribute("aria-disabled") === "true") return;
      window.setTimeout(function () {  // after the browser has taken the submission
        button.setAttribute("aria-disabled", "true");
        button.disabled = true;
        if (form.id === "upload-form") button.textContent = "上传中…";
        if (form.id === "screen-form") button.textContent = "研判中…";
      }, 0);
    });
  });

  // Coming back with the browser's back button: the form is usable again.
  window.addEventListener("pageshow", function (event) {
    if (!event.persisted) return;
    document.querySelectorAll("button[aria-disabled=true]").forEach(function (b) {
      b.disabled = false;
      b.removeAttribute("aria-disabled");
    });
  });

  // After a redirect to #result or #feedback, move focus there so screen readers start reading it.
  if (location.hash === "#result" || location.hash === "#feedback") {
    var target = document.getElementById(location.hash.slice(1));
    if (target) target.focus({ preventScroll: false });
  }
})();
