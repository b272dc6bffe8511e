/* 批量筛查 job page: polls the job's status, then draws the summary (stat cards and small
   SVG bar charts drawn here, no chart library) and the sortable, filterable results table
   with a drill-down per row. All data goes into the page through textContent, never as HTML. */
(function () {
  "use strict";

  var root = document.getElementById("job");
  if (!root) return;
  var STATUS_ZH = { queued: "排队中", running: "筛查中", done: "已完成", failed: "失败" };
  var VERDICT_ORDER = { review: 0, error: 1, major: 2, not_major: 3 };
  var VERDICT_ZH = { major: "纳入", review: "待人工研判", not_major: "不纳入", error: "输入错误" };
  var PAGE_SIZE = 50;
  var SVG = "http://www.w3.org/2000/svg";

  function el(tag, attrs, text) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }
  function svg(tag, attrs, text) {
    var node = document.createElementNS(SVG, tag);
    Object.keys(attrs || {}).forEach(function (k) { node.setAttribute(k, attrs[k]); });
    if (text !== undefined) node.textContent = String(text);
    return node;
  }
  var DECISION_ZH = { adopt: "采纳", reject: "不采纳", pending: "待定", undecided: "未决定" };
  var DECISION_ORDER = { undecided: 0, pending: 1, adopt: 2, reject: 3 };
  var jobUrl = "/ui/batch/" + root.getAttribute("data-job");
  function csrf() {
    var input = document.querySelector("input[name='csrf_token']");
    return input ? input.value : "";
  }
  function pct(v) { return v === null || v === undefined ? "—" : (v * 100).toFixed(1) + "%"; }
  function fail(message) {
    var box = document.getElementById("job-error");
    box.textContent = message;
    box.hidden = false;
  }
  function getJSON(url) {
    return fetch(url, { credentials: "same-origin", headers: { Accept: "application/json" } }).then(function (r) {
      if (r.status === 401) {  // the session ended: sign in again and come back here
        window.location.href = "/ui/signin?next=" + encodeURIComponent(window.location.pathname);
        throw new Error("signed out");
      }
      return r.json().then(function (body) {
        if (!r.ok) throw new Error(body.message_zh || ("HTTP " + r.status));
        return body;
      });
    });
  }

  // -- progress ------------------------------------------------------------------------------
  var bar = document.getElementById("job-progress");
  var delay = 400;
  function showStatus(job) {
    bar.max = job.total_rows || 1;
    bar.value = job.done_rows;
    bar.textContent = job.percent + "%";
    document.getElementById("done-rows").textContent = job.done_rows;
    document.getElementById("percent").textContent = job.percent;
    var status = document.getElementById("job-status");
    status.textContent = STATUS_ZH[job.status] || job.status;
    status.className = "status status-" + job.status;
    root.setAttribute("data-status", job.status);
  }
  function poll() {
    getJSON(root.getAttribute("data-status-url")).then(function (job) {
      showStatus(job);
      if (job.status === "done") {
        document.getElementById("downloads").hidden = false;
        document.getElementById("catalogue-hint").hidden = false;
        loadRows();
      } else if (job.status === "failed") {
        fail((job.error && job.error.message_zh) || "任务失败");
      } else {
        delay = Math.min(delay * 1.3, 3000);  // quick for small files, gentle on long ones
        window.setTimeout(poll, delay);
      }
    }).catch(function (e) {
      if (e.message !== "signed out") { fail("无法获取任务状态: " + e.message + " (稍后自动重试)"); window.setTimeout(poll, 3000); }
    });
  }

  // -- summary -----------------------------------------------------------------------------------
  function statCards(summary) {
    var list = document.getElementById("stat-cards");
    list.textContent = "";
    var cards = [{ cls: "total", label: "总行数", n: summary.total }];
    summary.verdicts.forEach(function (v) { cards.push({ cls: v.key, label: v.label, n: v.count }); });
    cards.push({ cls: "dup", label: "重复事项", n: summary.duplicates });
    cards.push({ cls: "dup", label: "疑似重复 (近似标题)", n: summary.near_duplicates });
    (summary.decisions || []).forEach(function (d) { cards.push({ cls: "decision-" + d.key, label: "决定: " + d.label, n: d.count }); });
    cards.forEach(function (c) {
      var li = el("li", { "class": c.cls });
      li.appendChild(el("span", { "class": "n" }, c.n));
      li.appendChild(el("span", { "class": "muted" }, c.label));
      list.appendChild(li);
    });
  }

  // A horizontal bar chart: one row per item, the label left, the count right of its bar.
  function barChart(containerId, items, barClass) {
    var box = document.getElementById(containerId);
    box.textContent = "";
    if (!items.length) { box.appendChild(el("p", { "class": "muted" }, "无")); return; }
    var rowH = 26, labelW = 132, barMax = 180, width = labelW + barMax + 48;
    var height = items.length * rowH + 8;
    var max = Math.max.apply(null, items.map(function (d) { return d.count; })) || 1;
    var chart = svg("svg", { viewBox: "0 0 " + width + " " + height, role: "img",
      "aria-labelledby": containerId + "-title " + containerId + "-desc" });
    chart.appendChild(svg("desc", { id: containerId + "-desc" },
      items.map(function (d) { return d.label + " " + d.count; }).join("; ")));
    items.forEach(function (d, i) {
      var y = 4 + i * rowH;
      var label = d.label.length > 10 ? d.label.slice(0, 9) + "…" : d.label;
      var g = svg("g", {});
      g.appendChild(svg("title", {}, d.label + ": " + d.count));
      g.appendChild(svg("text", { x: labelW - 8, y: y + rowH / 2 + 4, "text-anchor": "end" }, label));
      var w = d.count ? Math.max(2, Math.round(barMax * d.count / max)) : 0;
      g.appendChild(svg("rect", { x: labelW, y: y + 4, width: w, height: rowH - 8, rx: 3, "class": barClass(d) }));
      g.appendChild(svg("text", { x: labelW + w + 6, y: y + rowH / 2 + 4, "class": "value" }, d.count));
      chart.appendChild(g);
    });
    box.appendChild(chart);
  }

  // -- the results table ----------------------------------------------------------------------------
  var state = { rows: [], sort: "verdict", dir: 1, page: 0, open: {} };
  var body = document.getElementById("results-body");
  var filters = { q: document.getElementById("f-q"), verdict: document.getElementById("f-verdict"),
    category: document.getElementById("f-category"), unit: document.getElementById("f-unit"),
    dup: document.getElementById("f-dup"), decision: document.getElementById("f-decision") };

  function fillSelect(select, values) {
    values.forEach(function (v) { select.appendChild(el("option", { value: v.value }, v.label)); });
  }
  function compare(a, b) {
    var k = state.sort, x, y;
    if (k === "verdict") { x = VERDICT_ORDER[a.verdict]; y = VERDICT_ORDER[b.verdict]; }
    else if (k === "decision") { x = DECISION_ORDER[a.decision]; y = DECISION_ORDER[b.decision]; }
    else if (k === "row" || k === "probability") { x = a[k] === null ? -1 : a[k]; y = b[k] === null ? -1 : b[k]; }
    else { x = a[k] || ""; y = b[k] || ""; var c = x.localeCompare(y, "zh-CN"); if (c) return c * state.dir; return a.row - b.row; }
    if (x !== y) return (x < y ? -1 : 1) * state.dir;
    return a.row - b.row;
  }
  function visibleRows() {
    var q = filters.q.value.trim().toLowerCase();
    return state.rows.filter(function (r) {
      if (filters.verdict.value && r.verdict !== filters.verdict.value) return false;
      if (filters.category.value && r.category !== filters.category.value) return false;
      if (filters.unit.value && (r.unit || "(未填承办单位)") !== filters.unit.value) return false;
      if (filters.dup.checked && !r.dup && !r.near.length) return false;
      if (filters.decision.value && r.decision !== filters.decision.value) return false;
      if (q && (r.title + " " + r.unit + " " + r.seq).toLowerCase().indexOf(q) < 0) return false;
      return true;
    }).sort(compare);
  }
  function detailRow(r) {
    var tr = el("tr", { "class": "detail", id: "detail-" + r.row });
    var td = el("td", { colspan: "9" });
    if (r.error) td.appendChild(el("p", { "class": "alert" }, r.error));
    if (r.exclusion) td.appendChild(el("p", {}, "排除事项: " + r.exclusion));
    if (r.reasons.length) {
      td.appendChild(el("p", {}, "理由:"));
      var ul = el("ul");
      r.reasons.forEach(function (t) { ul.appendChild(el("li", {}, t)); });
      td.appendChild(ul);
    }
    if (r.procedures.length) td.appendChild(el("p", {}, "须履行程序: " + r.procedures.join("、")));
    if (r.dup) td.appendChild(el("p", {}, "重复: " + r.dup));
    if (r.planned) td.appendChild(el("p", {}, "计划决策时间: " + r.planned));
    r.warnings.forEach(function (w) { td.appendChild(el("p", { "class": "muted" }, "提示: " + w)); });
    if (r.near.length) {
      td.appendChild(el("p", {}, "疑似重复 (近似标题):"));
      var nl = el("ul", { "class": "near-list" });
      r.near.forEach(function (n) {
        var li = el("li", {}, "第" + n.row + "行 " + n.title + (n.unit ? " · " + n.unit : "") + (n.planned ? " · " + n.planned : ""));
        if (n.date_conflict) li.appendChild(el("strong", { "class": "conflict" }, " 计划时间不一致"));
        nl.appendChild(li);
      });
      td.appendChild(nl);
    }
    td.appendChild(decisionBox(r));
    var links = el("p", { "class": "actions" });
    links.appendChild(el("a", { href: jobUrl + "/rows/" + r.row, "class": "btn btn-small" },
      r.verdict === "error" ? "更正该行并重新筛查 →" : "逐条研判 (可更正字段) →"));
    links.appendChild(el("a", { href: "/ui/screenings/" + r.id }, "完整研判与审核意见 →"));
    td.appendChild(links);
    tr.appendChild(td);
    return tr;
  }
  // The row's decision and a small form to change it (the same service as PATCH …/rows/{row}).
  function decisionBox(r) {
    var box = el("div", { "class": "decision-box" });
    var said = "当前决定: " + r.decision_zh;
    if (r.decided_by) said += " · " + r.decided_by + " · " + r.decided_at;
    if (r.decision_reason) said += " · 理由: " + r.decision_reason;
    box.appendChild(el("p", { "class": "decision-now" }, said));
    var form = el("form", { "class": "decide-form", "aria-label": "第" + r.row + "行的决定" });
    var reasonId = "reason-" + r.row;
    form.appendChild(el("label", { "for": reasonId }, "理由 (可选)"));
    var reason = el("input", { type: "text", id: reasonId, maxlength: "500" });
    form.appendChild(reason);
    var note = el("span", { role: "status", "class": "muted" });
    ["adopt", "reject", "pending"].forEach(function (d) {
      if (d === "adopt" && r.verdict === "error") return;  // a row that was not screened cannot be adopted
      var b = el("button", { type: "button", "class": "btn btn-small" + (d === "adopt" ? " btn-primary" : ""),
        "data-decision": d }, DECISION_ZH[d]);
      b.addEventListener("click", function () {
        var data = new URLSearchParams();
        data.set("csrf_token", csrf());
        data.set("decision", d);
        data.set("reason", reason.value);
        note.textContent = "保存中…";
        fetch(jobUrl + "/rows/" + r.row + "/decision.json", { method: "POST", credentials: "same-origin", body: data,
          headers: { Accept: "application/json" } }).then(function (resp) {
          return resp.json().then(function (body) {
            if (!resp.ok) throw new Error(body.message_zh || ("HTTP " + resp.status));
            Object.keys(body).forEach(function (k) { r[k] = body[k]; });
            render();
            var again = document.querySelector("#detail-" + r.row + " .decision-now");
            if (again) again.focus();
          });
        }).catch(function (e) { note.textContent = "未保存: " + e.message; });
      });
      form.appendChild(b);
    });
    form.appendChild(note);
    box.appendChild(form);
    return box;
  }
  function render() {
    var rows = visibleRows();
    var pages = Math.max(1, Math.ceil(rows.length / PAGE_SIZE));
    state.page = Math.min(state.page, pages - 1);
    body.textContent = "";
    rows.slice(state.page * PAGE_SIZE, (state.page + 1) * PAGE_SIZE).forEach(function (r) {
      var tr = el("tr", { "class": "row-" + r.verdict, "data-row": r.row });
      tr.appendChild(el("td", { "class": "num" }, r.row));
      tr.appendChild(el("td", { "class": "opt seq-cell" }, r.seq));
      tr.appendChild(el("td", { "class": "title-cell" }, r.title));
      tr.appendChild(el("td", { "class": "opt" }, r.unit));
      var v = el("td");
      v.appendChild(el("span", { "class": "badge badge-" + r.verdict }, r.verdict_zh));
      tr.appendChild(v);
      tr.appendChild(el("td", { "class": "num opt" }, pct(r.probability)));
      var dcell = el("td", { "class": "decision-cell" });
      var who = r.decided_by ? r.decided_by + " · " + r.decided_at + (r.decision_reason ? " · 理由: " + r.decision_reason : "") : "";
      dcell.appendChild(el("span", { "class": "badge decision-" + r.decision, title: who }, r.decision_zh));
      // who and when in the cell (the reason too in the tooltip and in 详情)
      if (who) dcell.appendChild(el("span", { "class": "who-line opt", title: who }, r.decided_by + " · " + r.decided_at.slice(5)));
      tr.appendChild(dcell);
      tr.appendChild(el("td", { "class": "opt" }, r.category || "—"));
      tr.appendChild(el("td", { "class": "opt" }, r.tier || "—"));
      var dup = el("td", { "class": "opt" }, r.dup || "");
      if (r.near.length) dup.appendChild(el("span", { "class": r.date_conflict ? "conflict" : "muted" },
        (r.dup ? " " : "") + "近似" + r.near.length + (r.date_conflict ? " (时间不一致)" : "")));
      tr.appendChild(dup);
      var cell = el("td");
      var open = !!state.open[r.row];
      var button = el("button", { type: "button", "class": "btn btn-small btn-quiet", "aria-expanded": String(open),
        "aria-controls": "detail-" + r.row }, "详情");
      button.appendChild(el("span", { "class": "visually-hidden" }, " 第" + r.row + "行"));
      button.addEventListener("click", function () {
        state.open[r.row] = !state.open[r.row];
        render();
        var again = body.querySelector("tr[data-row='" + r.row + "'] button");
        if (again) again.focus();
      });
      cell.appendChild(button);
      tr.appendChild(cell);
      body.appendChild(tr);
      if (open) body.appendChild(detailRow(r));
    });
    document.getElementById("row-count").textContent = "显示 " + rows.length + " 行 (共 " + state.rows.length + " 行)";
    document.getElementById("page-info").textContent = "第 " + (state.page + 1) + " / " + pages + " 页";
    document.getElementById("page-prev").disabled = state.page === 0;
    document.getElementById("page-next").disabled = state.page >= pages - 1;
  }
  function setupTable() {
    document.querySelectorAll("#results-table th[data-sort]").forEach(function (th) {
      var button = el("button", { type: "button" }, th.textContent);
      th.textContent = "";
      th.appendChild(button);
      button.addEventListener("click", function () {
        var key = th.getAttribute("data-sort");
        state.dir = state.sort === key ? -state.dir : 1;
        state.sort = key;
        document.querySelectorAll("#results-table th[data-sort]").forEach(function (other) { other.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", state.dir === 1 ? "ascending" : "descending");
        state.page = 0;
        render();
      });
    });
    // Re-render only when a filter really changed: the search box also fires "change" when it
    // loses focus, and re-rendering then would swap the row a click is landing on.
    var last = "";
    var onFilter = function () {
      var now = [filters.q.value, filters.verdict.value, filters.category.value, filters.unit.value,
        filters.dup.checked, filters.decision.value].join("\u0000");
      if (now === last) return;
      last = now;
      state.page = 0;
      render();
    };
    ["input", "change"].forEach(function (evt) {
      document.getElementById("row-filters").addEventListener(evt, onFilter);
    });
    // The filters apply as one types; Enter must not reload the page.
    document.getElementById("row-filters").addEventListener("submit", function (e) { e.preventDefault(); });
    document.getElementById("page-prev").addEventListener("click", function () { state.page -= 1; render(); });
    document.getElementById("page-next").addEventListener("click", function () { state.page += 1; render(); });
  }

  function loadRows() {
    getJSON(root.getAttribute("data-rows-url")).then(function (data) {
      var s = data.summary;
      statCards(s);
      var colour = function (d) { return "bar-" + d.key; };
      barChart("chart-verdicts", s.verdicts.map(function (v) { return { key: v.key, label: v.label, count: v.count }; }), colour);
      barChart("chart-categories", s.categories, function () { return "bar-plain"; });
      barChart("chart-units", s.units, function () { return "bar-plain"; });
      document.getElementById("summary").hidden = false;

      state.rows = data.rows;
      fillSelect(filters.verdict, s.verdicts.filter(function (v) { return v.count; })
        .map(function (v) { return { value: v.key, label: VERDICT_ZH[v.key] + " (" + v.count + ")" }; }));
      var cats = {}, units = {};
      data.rows.forEach(function (r) {
        if (r.category) cats[r.category] = (cats[r.category] || 0) + 1;
        var u = r.unit || "(未填承办单位)";
        units[u] = (units[u] || 0) + 1;
      });
      var byCount = function (counts) {
        return Object.keys(counts).sort(function (a, b) { return counts[b] - counts[a] || a.localeCompare(b, "zh-CN"); })
          .map(function (k) { return { value: k, label: k + " (" + counts[k] + ")" }; });
      };
      fillSelect(filters.category, byCount(cats));
      fillSelect(filters.decision, (s.decisions || []).filter(function (d) { return d.count; })
        .map(function (d) { return { value: d.key, label: d.label + " (" + d.count + ")" }; }));
      fillSelect(filters.unit, byCount(units));
      setupTable();
      render();
      document.getElementById("rows").hidden = false;
    }).catch(function (e) { if (e.message !== "signed out") fail("无法读取结果: " + e.message); });
  }

  var initial = root.getAttribute("data-status");
  if (initial === "done") { loadRows(); } else if (initial !== "failed") { poll(); }
})();
