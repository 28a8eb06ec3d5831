/* CareLoop reporting dashboard: reads the reporting views (../api/v1/reports/*) and draws them with
 * Apache ECharts. No personal data exists in those views, so none can appear here.
 *
 * State lives in the URL (?period=YYYY-MM&org=G/S/P&lang=zh|en), so every screen can be linked and
 * the browser's back button walks back up a drill-down. While data loads <body data-state> is
 * "loading"; once every chart has finished drawing it is "ready" (or "error").
 *
 * The views need a bearer token. The page takes one from its URL fragment
 * (#access_token=…, as an OIDC provider or `careloop dev` hands it over; a fragment never reaches a
 * server log), keeps it in sessionStorage for this tab only, and sends it with every call; the
 * CSV / XLSX links download through fetch for the same reason.
 */
(function () {
  "use strict";

  var API = "../api/v1/reports/";
  var PASS_MARK = 96;
  var TREND_MONTHS = 6;
  var COLORS = {
    brand: "#2f6fdf", good: "#2e9d5b", warn: "#e49b1a", bad: "#d64541", grey: "#b3bac6",
    class1: "#d64541", class2: "#e49b1a", class3: "#8a94a6", line: "#1f2733",
  };
  var CHART_IDS = ["chart-trend", "chart-pareto", "chart-compliance", "chart-satisfaction", "chart-satisfaction-items"];

  var TEXT = {
    zh: {
      title: "客户服务质量看板", subtitle: "投诉 · 时限 · 满意度", period: "期间", org: "组织", export: "导出",
      "kpi.complaints": "本月投诉", "kpi.open": "未关闭", "kpi.overdue": "超期未办", "kpi.onTime": "时限达成率",
      "kpi.satisfaction": "满意度",
      "note.vsLast": "较上月", "note.openOf": "本月投诉中未关闭 · 已关闭 {closed}", "note.overdue": "当前已过时限仍未办结的案件",
      "note.onTime": "按时 {onTime} / 到期 {due}（全部时限）", "note.noneDue": "本月尚无到期时限",
      "note.satisfaction": "合格线 {mark}% · {n} 份问卷", "note.noSurveys": "本月无问卷",
      qualified: "达标", notQualified: "未达标", "class.short1": "一类", "class.short2": "二类", "class.short3": "三类",
      "chart.trend": "投诉趋势", "chart.trendHint": "近 6 个月，按类别", "chart.pareto": "排列图 · 投诉内容分类",
      "chart.compliance": "时限达成率", "chart.complianceHint": "本月受理案件的各项时限",
      "chart.satisfaction": "满意度", "pareto.hint": "{quarter} 季度 · 共 {n} 件",
      "satisfaction.hint": "各项满意率与 {mark}% 合格线",
      "series.complaints": "投诉数", "series.total": "合计", "series.cumulative": "累计占比",
      "series.onTime": "按时完成", "series.late": "超时完成", "series.overdue": "超期未办", "series.pending": "未到期",
      "series.rate": "满意率", "series.overall": "总体满意率", "series.passMark": "合格线", "series.vital": "主要问题 (80%)",
      noData: "暂无数据",
      "drill.units": "下级单位（{level}）", "drill.cases": "未关闭案件", "drill.hintUnits": "点击单位名称逐级查看",
      "drill.hintCases": "最早受理的在前；不含个人信息", "drill.direct": "（本级直属）", "drill.noCases": "没有未关闭的案件",
      "drill.noUnits": "本月没有下级单位的数据",
      "level.group": "集团", "level.subsidiary": "子公司", "level.project": "项目",
      "col.unit": "单位", "col.complaints": "投诉", "col.class1": "一类", "col.class2": "二类", "col.class3": "三类",
      "col.open": "未关闭", "col.overdue": "超期", "col.satisfaction": "满意度", "col.case": "案件编号", "col.kind": "类型",
      "col.category": "分类", "col.class": "类别", "col.department": "责任部门", "col.state": "状态",
      "col.received": "受理时间", "col.overdueDeadlines": "超期时限",
      "export.summary": "月度投诉汇总", "export.pareto": "排列图", "export.compliance": "时限达成率",
      "export.satisfaction": "满意度", "export.units": "下级单位", "export.cases": "未关闭案件", "export.trend": "投诉趋势",
      "footer.privacy": "本看板不含任何个人信息", updated: "数据更新于 {time}", error: "数据加载失败：{message}",
      noOrg: "该期间没有任何数据", signIn: "请先登录：用带访问令牌的看板链接打开（#access_token=…）",
      forbidden: "您无权查看该组织单位的报表",
    },
    en: {
      title: "Customer care quality", subtitle: "Complaints · deadlines · satisfaction", period: "Period", org: "Org unit",
      export: "Export",
      "kpi.complaints": "Complaints this month", "kpi.open": "Still open", "kpi.overdue": "Overdue now",
      "kpi.onTime": "Deadline compliance", "kpi.satisfaction": "Satisfaction",
      "note.vsLast": "vs last month", "note.openOf": "of this month's complaints · {closed} closed",
      "note.overdue": "open cases past a deadline", "note.onTime": "{onTime} on time of {due} due (all deadlines)",
      "note.noneDue": "no deadline fell due yet", "note.satisfaction": "pass mark {mark}% · {n} surveys",
      "note.noSurveys": "no surveys this month", qualified: "qualified", notQualified: "below the mark",
      "class.short1": "Class 1", "class.short2": "Class 2", "class.short3": "Class 3",
      "chart.trend": "Complaints trend", "chart.trendHint": "last 6 months, by class",
      "chart.pareto": "Pareto chart · complaint categories", "chart.compliance": "Deadline compliance",
      "chart.complianceHint": "every deadline of this month's cases", "chart.satisfaction": "Satisfaction",
      "pareto.hint": "{quarter} · {n} complaints", "satisfaction.hint": "item rates against the {mark}% mark",
      "series.complaints": "Complaints", "series.total": "Total", "series.cumulative": "Cumulative %",
      "series.onTime": "Met on time", "series.late": "Met late", "series.overdue": "Overdue", "series.pending": "Not yet due",
      "series.rate": "Satisfaction rate", "series.overall": "Overall satisfaction", "series.passMark": "Pass mark",
      "series.vital": "Vital few (80%)", noData: "No data",
      "drill.units": "Units below ({level})", "drill.cases": "Open cases", "drill.hintUnits": "click a unit to drill down",
      "drill.hintCases": "oldest first; no personal data", "drill.direct": "(recorded at this level)",
      "drill.noCases": "No open cases", "drill.noUnits": "No unit below has data this month",
      "level.group": "Group", "level.subsidiary": "Subsidiary", "level.project": "Project",
      "col.unit": "Unit", "col.complaints": "Complaints", "col.class1": "Class 1", "col.class2": "Class 2",
      "col.class3": "Class 3", "col.open": "Open", "col.overdue": "Overdue", "col.satisfaction": "Satisfaction",
      "col.case": "Case", "col.kind": "Kind", "col.category": "Category", "col.class": "Class",
      "col.department": "Department", "col.state": "State", "col.received": "Received", "col.overdueDeadlines": "Overdue deadlines",
      "export.summary": "Monthly summary", "export.pareto": "Pareto", "export.compliance": "Deadline compliance",
      "export.satisfaction": "Satisfaction", "export.units": "Org units", "export.cases": "Open cases", "export.trend": "Trend",
      "footer.privacy": "This dashboard holds no personal data", updated: "Updated {time}",
      error: "Could not load the data: {message}", noOrg: "No data for this period",
      signIn: "Sign in first: open the dashboard link that carries an access token (#access_token=…)",
      forbidden: "You may not see this org unit's reports",
    },
  };

  var state = { period: null, org: null, lang: "zh", data: null, labels: null, orgs: [] };
  var charts = {};
  var animate = !(window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches);

  // --- small helpers ---------------------------------------------------------------------------

  function t(key, values) {
    var text = TEXT[state.lang][key];
    if (text === undefined) text = TEXT.zh[key] !== undefined ? TEXT.zh[key] : key;
    return text.replace(/\{(\w+)\}/g, function (_, name) { return values && name in values ? values[name] : ""; });
  }
  function label(vocabulary, code) {
    var entry = state.labels && state.labels[vocabulary] && state.labels[vocabulary][String(code)];
    return entry ? entry[state.lang] : String(code);
  }
  function pct(value) { return value === null || value === undefined ? "–" : value.toFixed(2) + "%"; }
  function num(value) { return Number(value).toLocaleString(state.lang === "zh" ? "zh-CN" : "en-GB"); }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else if (k === "class") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (child) { node.appendChild(typeof child === "string" ? document.createTextNode(child) : child); });
    return node;
  }
  function levelOf(org) { return ["group", "subsidiary", "project"][org.split("/").length - 1]; }
  function quarterOf(period) { var p = period.split("-"); return p[0] + "-Q" + (Math.floor((Number(p[1]) - 1) / 3) + 1); }
  function previousMonth(period) {
    var p = period.split("-").map(Number);
    return p[1] === 1 ? (p[0] - 1) + "-12" : p[0] + "-" + String(p[1] - 1).padStart(2, "0");
  }
  function thisMonth() {
    var parts = new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" }).format(new Date());
    return parts.slice(0, 7);
  }
  function shanghaiTime(iso) {
    if (!iso) return "";
    var f = new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit", day: "2-digit",
      hour: "2-digit", minute: "2-digit" });
    return f.format(new Date(iso));
  }
  function query(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== null && params[k] !== undefined; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }
  var TOKEN_KEY = "careloop.token";
  function takeToken() {
    var fragment = new URLSearchParams(location.hash.replace(/^#/, ""));
    var given = fragment.get("access_token");
    if (given) {
      sessionStorage.setItem(TOKEN_KEY, given);
      history.replaceState(null, "", location.pathname + location.search);
    }
  }
  function authHeaders(accept) {
    var headers = { accept: accept };
    var token = sessionStorage.getItem(TOKEN_KEY);
    if (token) headers.authorization = "Bearer " + token;
    return headers;
  }
  function refusal(path, response) {
    if (response.status === 401) return new Error(t("signIn"));
    if (response.status === 403) return new Error(t("forbidden"));
    return new Error(path + ": HTTP " + response.status);
  }
  function urlFor(org) { return "?" + query({ period: state.period, org: org, lang: state.lang }); }

  async function getJSON(path, params) {
    var response = await fetch(API + path + "?" + query(params), { headers: authHeaders("application/json") });
    if (!response.ok) throw refusal(path, response);
    return response.json();
  }

  // --- loading -------------------------------------------------------------------------------

  function readUrl() {
    var params = new URLSearchParams(location.search);
    state.period = /^\d{4}-(0[1-9]|1[0-2])$/.test(params.get("period") || "") ? params.get("period") : thisMonth();
    state.org = (params.get("org") || "").replace(/^\/+|\/+$/g, "") || null;
    var lang = params.get("lang") || localStorage.getItem("careloop.lang") || "zh";
    state.lang = lang === "en" ? "en" : "zh";
  }
  function writeUrl(push) {
    var url = location.pathname + urlFor(state.org);
    if (push) history.pushState(null, "", url); else history.replaceState(null, "", url);
  }

  var loads = 0;

  async function load() {
    var mine = ++loads;  // a newer load (a quick second click) wins; an older one stops where it is
    document.body.dataset.state = "loading";
    showError(null);
    try {
      if (!state.labels) state.labels = await (await fetch("labels.json")).json();
      state.orgs = (await getJSON("org-paths", { period: state.period })).orgs;
      if (!state.org) state.org = state.orgs.filter(function (o) { return o.indexOf("/") < 0; })[0] || null;
      writeUrl(false);
      if (!state.org) {
        state.data = null;
        applyTexts();
        renderFilters();
        showError(t("noOrg"));
        document.body.dataset.state = "ready";
        return;
      }
      var view = { period: state.period, org: state.org };
      var project = levelOf(state.org) === "project";
      var results = await Promise.all([
        getJSON("monthly-summary", view),
        getJSON("pareto", { quarter: quarterOf(state.period), org: state.org }),
        getJSON("satisfaction", view),
        getJSON("trend", { until: state.period, months: TREND_MONTHS, org: state.org }),
        getJSON("org-units", view),
        project ? getJSON("open-cases", { org: state.org }) : Promise.resolve(null),
      ]);
      if (mine !== loads) return;
      state.data = { summary: results[0], pareto: results[1], satisfaction: results[2], trend: results[3],
        units: results[4], cases: results[5], loadedAt: new Date() };
      await render();
      if (mine === loads) document.body.dataset.state = "ready";
    } catch (error) {
      if (mine !== loads) return;
      showError(t("error", { message: error.message }));
      document.body.dataset.state = "error";
    }
  }

  function showError(message) {
    var banner = document.getElementById("banner");
    banner.hidden = !message;
    banner.textContent = message || "";
  }

  // --- rendering -----------------------------------------------------------------------------

  async function render() {
    applyTexts();
    renderFilters();
    renderBreadcrumb();
    renderKpis();
    renderExports();
    renderDrill();
    await drawCharts();
    document.getElementById("updated").textContent =
      t("updated", { time: state.data.loadedAt.toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB") });
  }

  function applyTexts() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = "CareLoop · " + t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    var toggle = document.getElementById("lang-toggle");
    toggle.textContent = state.lang === "zh" ? "EN" : "中文";
    toggle.setAttribute("aria-label", state.lang === "zh" ? "Switch to English" : "切换到中文");
    document.body.dataset.lang = state.lang;
    document.body.dataset.org = state.org || "";
    document.body.dataset.period = state.period;
  }

  function renderFilters() {
    document.getElementById("period").value = state.period;
    var select = document.getElementById("org");
    var orgs = state.orgs.slice();
    if (state.org && orgs.indexOf(state.org) < 0) orgs.unshift(state.org);
    select.replaceChildren.apply(select, orgs.map(function (org) {
      var depth = org.split("/").length - 1;
      return el("option", { value: org, text: "\u00a0\u00a0".repeat(depth) + org.split("/").pop() + "  · " + t("level." + levelOf(org)) });
    }));
    if (state.org) select.value = state.org;
  }

  function renderBreadcrumb() {
    var nav = document.getElementById("breadcrumb");
    var parts = state.org.split("/");
    var children = [];
    parts.forEach(function (code, i) {
      var path = parts.slice(0, i + 1).join("/");
      if (i) children.push(el("span", { class: "sep", text: "›" }));
      children.push(el("span", { class: "level", text: t("level." + levelOf(path)) }));
      children.push(i === parts.length - 1
        ? el("span", { class: "current", text: code })
        : el("a", { href: urlFor(path), "data-org": path, text: code }));
    });
    nav.replaceChildren.apply(nav, children);
  }

  function setKpi(name, value, note, status) {
    var card = document.querySelector('[data-kpi="' + name + '"]');
    card.querySelector(".value").textContent = value;
    var noteNode = card.querySelector(".note");
    noteNode.replaceChildren.apply(noteNode, [].concat(note));
    if (status) card.dataset.status = status; else delete card.dataset.status;
  }

  function renderKpis() {
    var d = state.data, s = d.summary;
    var months = d.trend.months;
    var last = months.length > 1 ? months[months.length - 2] : null;
    var classes = ["1", "2", "3"].map(function (c) { return t("class.short" + c) + " " + s.by_class[c]; }).join(" · ");
    var complaintsNote = [classes];
    if (last && last.period === previousMonth(state.period)) {
      var delta = s.complaints - last.complaints;
      complaintsNote.push(el("br"), el("span", { class: delta > 0 ? "up" : delta < 0 ? "down" : "",
        text: (delta > 0 ? "▲ " : delta < 0 ? "▼ " : "= ") + Math.abs(delta) + " " + t("note.vsLast") }));
    }
    setKpi("complaints", num(s.complaints), complaintsNote);
    setKpi("open", num(s.open), t("note.openOf", { closed: num(s.closed) }), s.open ? null : "good");
    var overdue = d.units.totals.overdue;
    setKpi("overdue", num(overdue), t("note.overdue"), overdue ? "bad" : "good");

    var onTime = 0, due = 0;
    Object.keys(s.deadlines).forEach(function (kind) {
      var k = s.deadlines[kind];
      onTime += k.met_on_time; due += k.met_on_time + k.met_late + k.overdue_open;
    });
    var rate = due ? Math.round(10000 * onTime / due) / 100 : null;
    // docs/domain.md sets no target rate for deadlines, so this card is not coloured good or bad
    setKpi("on-time", pct(rate), due ? t("note.onTime", { onTime: onTime, due: due }) : t("note.noneDue"),
      rate === null ? "neutral" : null);

    var sat = d.satisfaction;
    var satNote = sat.overall_rate === null ? [t("note.noSurveys")] : [
      t("note.satisfaction", { mark: PASS_MARK, n: num(sat.responses) }), " ",
      el("span", { class: "badge " + (sat.qualified ? "good" : "bad"), text: sat.qualified ? t("qualified") : t("notQualified") }),
    ];
    setKpi("satisfaction", pct(sat.overall_rate), satNote,
      sat.overall_rate === null ? "neutral" : sat.qualified ? "good" : "bad");
  }

  function renderExports() {
    var view = { period: state.period, org: state.org };
    var items = [
      ["export.summary", "monthly-summary", view],
      ["export.pareto", "pareto", { quarter: quarterOf(state.period), org: state.org }],
      ["export.compliance", "deadline-compliance", view],
      ["export.satisfaction", "satisfaction", view],
      ["export.trend", "trend", { until: state.period, months: TREND_MONTHS, org: state.org }],
      ["export.units", "org-units", view],
      ["export.cases", "open-cases", { org: state.org }],
    ];
    var menu = document.getElementById("export-menu");
    menu.replaceChildren.apply(menu, items.map(function (item) {
      var links = ["csv", "xlsx"].map(function (format) {
        return el("a", { href: API + item[1] + "?" + query(Object.assign({ format: format }, item[2])), download: "",
          "data-export": item[1] + "." + format, text: format.toUpperCase() });
      });
      return el("li", {}, [el("span", { text: t(item[0]) }), el("span", {}, links)]);
    }));
  }

  function renderDrill() {
    var units = document.getElementById("units"), cases = document.getElementById("cases");
    var project = levelOf(state.org) === "project";
    units.hidden = project;
    cases.hidden = !project;
    var title = document.getElementById("drill-title"), hint = document.getElementById("drill-hint");
    if (project) {
      title.textContent = t("drill.cases") + " · " + state.data.cases.count;
      hint.textContent = t("drill.hintCases");
      var rows = state.data.cases.cases.map(function (c) {
        var overdue = c.overdue.map(function (k) { return el("span", { class: "tag", text: label("deadline", k) }); });
        return el("tr", { "data-case": c.case_id }, [
          el("td", { title: c.case_id }, [el("code", { text: c.case_id.slice(0, 8) })]),
          el("td", { text: label("kind", c.kind) }),
          el("td", { text: c.category ? label("category", c.category) : "–" }),
          el("td", { text: c.complaint_class ? label("complaint_class", c.complaint_class) : "–" }),
          el("td", { text: c.lead_department ? label("department", c.lead_department) : "–" }),
          el("td", { text: c.state ? label("state", c.state) : "–" }),
          el("td", { text: shanghaiTime(c.received_at) }),
          el("td", {}, overdue.length ? overdue : [el("span", { class: "muted", text: "–" })]),
        ]);
      });
      if (!rows.length) rows = [el("tr", {}, [el("td", { colspan: "8", class: "empty", text: t("drill.noCases") })])];
      var body = cases.querySelector("tbody");
      body.replaceChildren.apply(body, rows);
      return;
    }
    var below = levelOf(state.org) === "group" ? "subsidiary" : "project";
    title.textContent = t("drill.units", { level: t("level." + below) });
    hint.textContent = t("drill.hintUnits");
    var unitRows = state.data.units.units.map(function (u) {
      var name = u.unit
        ? el("a", { href: urlFor(u.org), "data-org": u.org, text: u.unit })
        : el("span", { class: "muted", text: t("drill.direct") });
      var satisfaction = el("td", { class: "num" + (u.satisfaction_rate === null ? "" : u.qualified ? " good" : " bad"),
        text: pct(u.satisfaction_rate) });
      return el("tr", { "data-unit": u.org }, [
        el("td", {}, [name]),
        el("td", { class: "num", text: num(u.complaints) }),
        el("td", { class: "num", text: num(u.by_class["1"]) }),
        el("td", { class: "num", text: num(u.by_class["2"]) }),
        el("td", { class: "num", text: num(u.by_class["3"]) }),
        el("td", { class: "num", text: num(u.open) }),
        el("td", { class: "num" + (u.overdue ? " bad" : ""), text: num(u.overdue) }),
        satisfaction,
      ]);
    });
    if (!unitRows.length) unitRows = [el("tr", {}, [el("td", { colspan: "8", class: "empty", text: t("drill.noUnits") })])];
    var tbody = units.querySelector("tbody");
    tbody.replaceChildren.apply(tbody, unitRows);
  }

  // --- charts --------------------------------------------------------------------------------

  function chart(id) {
    var node = document.getElementById(id);
    var existing = echarts.getInstanceByDom(node);
    if (existing && existing.__careloopLang === state.lang) return existing;
    if (existing) existing.dispose();  // the locale (toolbox, aria texts) is fixed at init
    var instance = echarts.init(node, null, { renderer: "canvas", locale: state.lang === "zh" ? "ZH" : "EN" });
    instance.__careloopLang = state.lang;
    charts[id] = instance;
    return instance;
  }

  // Resolves once the chart has drawn the option (animations included), or after 3 s regardless.
  function draw(id, option) {
    var instance = chart(id);
    return new Promise(function (resolve) {
      var timer = setTimeout(done, 3000);
      function done() { clearTimeout(timer); instance.off("finished", done); resolve(); }
      instance.on("finished", done);
      instance.setOption(Object.assign({ animation: animate, aria: { enabled: true },
        textStyle: { fontFamily: getComputedStyle(document.documentElement).fontFamily } }, option), true);
    });
  }

  function noData(show) {
    return show ? { graphic: [{ type: "text", left: "center", top: "middle", silent: true,
      style: { text: t("noData"), fill: "#98a1b0", fontSize: 14 } }] } : {};
  }

  function saveAsImage(name) {
    return { right: 8, top: 0, feature: { saveAsImage: { name: name, pixelRatio: 2 } } };
  }

  function drawCharts() {
    return Promise.all([drawTrend(), drawPareto(), drawCompliance(), drawSatisfaction()]);
  }

  function drawTrend() {
    var months = state.data.trend.months;
    var classSeries = ["1", "2", "3"].map(function (c) {
      return { id: "class-" + c, name: label("complaint_class", c), type: "bar", stack: "classes", barMaxWidth: 34,
        itemStyle: { color: COLORS["class" + c] }, emphasis: { focus: "series" },
        data: months.map(function (m) { return m.by_class[c]; }) };
    });
    var total = { id: "total", name: t("series.total"), type: "line", symbolSize: 7, z: 5,
      itemStyle: { color: COLORS.line }, lineStyle: { width: 2 },
      label: { show: true, position: "top", fontWeight: 600 }, data: months.map(function (m) { return m.complaints; }) };
    var empty = months.every(function (m) { return !m.complaints; });
    return draw("chart-trend", Object.assign({
      tooltip: { trigger: "axis" }, legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 10 },
      toolbox: saveAsImage("complaints-trend"),
      grid: { left: 36, right: 16, top: 40, bottom: 28 },
      xAxis: { type: "category", data: months.map(function (m) { return m.period; }),
        axisLabel: { interval: 0, formatter: function (v) { return v === state.period ? "{current|" + v + "}" : v; },
          rich: { current: { fontWeight: 700, color: COLORS.brand } } } },
      yAxis: { type: "value", minInterval: 1 },
      series: classSeries.concat([total]),
    }, noData(empty)));
  }

  function drawPareto() {
    var pareto = state.data.pareto;
    var bars = pareto.categories;
    document.getElementById("pareto-hint").textContent = t("pareto.hint", { quarter: pareto.quarter, n: num(pareto.complaints) });
    // the "vital few": the categories up to and including the one that takes the total past 80 %
    var vital = 0;
    for (var i = 0; i < bars.length; i++) { vital = i + 1; if (bars[i].cumulative_share >= 80) break; }
    return draw("chart-pareto", Object.assign({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 10 },
      toolbox: saveAsImage("pareto"),
      grid: { left: 36, right: 46, top: 40, bottom: 56 },
      xAxis: { type: "category", data: bars.map(function (b) { return label("category", b.category); }),
        axisLabel: { interval: 0, rotate: bars.length > 4 ? 25 : 0, fontSize: 11 } },
      yAxis: [
        // the left axis ends at the total, so that each bar's top lines up with its share on the right
        { type: "value", minInterval: 1, max: Math.max(pareto.complaints, 1) },
        { type: "value", min: 0, max: 100, interval: 20, splitLine: { show: false },
          axisLabel: { formatter: "{value}%" } },
      ],
      series: [
        { id: "complaints", name: t("series.complaints"), type: "bar", barMaxWidth: 46,
          data: bars.map(function (b, i) {
            return { value: b.complaints, itemStyle: { color: i < vital ? COLORS.brand : "#9dbcf0" } };
          }),
          label: { show: true, position: "insideTop", color: "#fff", fontWeight: 600 } },
        { id: "cumulative", name: t("series.cumulative"), type: "line", yAxisIndex: 1, symbolSize: 7,
          itemStyle: { color: COLORS.warn }, lineStyle: { width: 2 },
          label: { show: true, formatter: "{c}%", fontSize: 11, position: "top" },
          data: bars.map(function (b) { return b.cumulative_share; }),
          markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: COLORS.grey },
            label: { formatter: "80%", position: "insideEndTop" }, data: [{ yAxis: 80 }] } },
      ],
    }, noData(!bars.length)));
  }

  function drawCompliance() {
    var deadlines = state.data.summary.deadlines;
    var kinds = Object.keys(deadlines);
    var parts = [["met_on_time", "series.onTime", COLORS.good], ["met_late", "series.late", COLORS.warn],
      ["overdue_open", "series.overdue", COLORS.bad], ["pending", "series.pending", COLORS.grey]];
    var rates = kinds.map(function (k) { return deadlines[k].on_time_rate; });
    return draw("chart-compliance", Object.assign({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" } },
      legend: { top: 0, left: 0, itemWidth: 12, itemHeight: 10 },
      toolbox: saveAsImage("deadline-compliance"),
      grid: { left: 8, right: 24, top: 40, bottom: 16, containLabel: true },
      xAxis: { type: "value", minInterval: 1 },
      yAxis: { type: "category", inverse: true, data: kinds.map(function (k) { return label("deadline", k); }),
        axisLabel: { formatter: function (value, index) {
          return "{name|" + value + "}\n{rate|" + pct(rates[index]) + "}";
        }, rich: { name: { fontSize: 12, lineHeight: 16 }, rate: { fontSize: 13, fontWeight: 700, lineHeight: 18, color: COLORS.line } } } },
      series: parts.map(function (p) {
        return { id: p[0], name: t(p[1]), type: "bar", stack: "deadline", barMaxWidth: 26, itemStyle: { color: p[2] },
          label: { show: true, formatter: function (x) { return x.value ? x.value : ""; } },
          data: kinds.map(function (k) { return deadlines[k][p[0]]; }) };
      }),
    }, noData(kinds.every(function (k) { return !deadlines[k].total; }))));
  }

  function drawSatisfaction() {
    var sat = state.data.satisfaction;
    document.getElementById("satisfaction-hint").textContent = t("satisfaction.hint", { mark: PASS_MARK });
    var overall = sat.overall_rate;
    var qualified = overall !== null && overall >= PASS_MARK;
    var gauge = draw("chart-satisfaction", {
      series: [{
        id: "overall", name: t("series.overall"), type: "gauge", min: 0, max: 100, splitNumber: 5, radius: "90%",
        center: ["50%", "56%"], startAngle: 210, endAngle: -30,
        // the scale: the qualified zone (96-100) in green
        axisLine: { lineStyle: { width: 12, color: [[PASS_MARK / 100, "#e6e9ef"], [1, COLORS.good]] } },
        progress: { show: overall !== null, width: 12, itemStyle: { color: qualified ? COLORS.good : COLORS.bad } },
        pointer: { show: overall !== null, icon: "triangle", length: "14%", width: 10, offsetCenter: [0, "-62%"],
          itemStyle: { color: qualified ? COLORS.good : COLORS.bad } },
        anchor: { show: false },
        axisTick: { show: false },
        splitLine: { distance: -12, length: 12, lineStyle: { color: "#fff", width: 2 } },
        axisLabel: { distance: 16, fontSize: 11, color: "#6b7483" },
        title: { offsetCenter: [0, "72%"], fontSize: 12, color: "#6b7483" },
        detail: { valueAnimation: animate, offsetCenter: [0, "12%"], fontSize: 28, fontWeight: 700,
          color: overall === null ? "#98a1b0" : qualified ? COLORS.good : COLORS.bad,
          formatter: function (v) { return overall === null ? "–" : v.toFixed(2) + "%"; } },
        data: [{ value: overall === null ? 0 : overall,
          name: t("series.passMark") + " " + PASS_MARK + "% · " + (overall === null ? t("note.noSurveys")
            : qualified ? t("qualified") : t("notQualified")) }],
      }],
    });
    var items = sat.items;
    var bars = draw("chart-satisfaction-items", Object.assign({
      tooltip: { trigger: "axis", axisPointer: { type: "shadow" }, valueFormatter: function (v) { return pct(v); } },
      grid: { left: 8, right: 64, top: 24, bottom: 20, containLabel: true },
      xAxis: { type: "value", min: 0, max: 100, axisLabel: { formatter: "{value}%" } },
      yAxis: { type: "category", inverse: true, data: items.map(function (i) { return i.item_id; }) },
      series: [{ id: "items", name: t("series.rate"), type: "bar", barMaxWidth: 18,
        data: items.map(function (i) {
          // against the exact rate, not the rounded one: 95.996 % is not 96 %
          var passes = 100 * i.satisfied >= PASS_MARK * (i.satisfied + i.dissatisfied);
          return { value: i.rate, itemStyle: { color: passes ? COLORS.good : COLORS.bad } };
        }),
        label: { show: true, position: "right", formatter: function (x) { return pct(x.value); }, fontSize: 11 },
        markLine: { silent: true, symbol: "none", lineStyle: { type: "dashed", color: COLORS.line },
          label: { formatter: PASS_MARK + "%", position: "start", color: COLORS.line }, data: [{ xAxis: PASS_MARK }] } }],
    }, noData(!items.length)));
    return Promise.all([gauge, bars]);
  }

  // --- interaction ---------------------------------------------------------------------------

  function navigate(org) {
    state.org = org;
    writeUrl(true);
    window.scrollTo(0, 0);
    load();
  }

  document.addEventListener("click", function (event) {
    var link = event.target.closest && event.target.closest("a[data-org]");
    if (!link || event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    navigate(link.dataset.org);
  });

  // Export links: a plain link cannot carry the token, so fetch the file and hand it to the browser.
  document.addEventListener("click", async function (event) {
    var link = event.target.closest && event.target.closest("a[data-export]");
    if (!link) return;
    event.preventDefault();
    try {
      var response = await fetch(link.href, { headers: authHeaders("*/*") });
      if (!response.ok) throw refusal(link.dataset.export, response);
      var url = URL.createObjectURL(await response.blob());
      var save = el("a", { href: url, download: link.dataset.export });
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    } catch (error) {
      showError(t("error", { message: error.message }));
    }
  });

  function init() {
    takeToken();
    readUrl();
    document.getElementById("period").addEventListener("change", function (event) {
      if (!event.target.value) return;
      state.period = event.target.value;
      writeUrl(true);
      load();
    });
    document.getElementById("org").addEventListener("change", function (event) { navigate(event.target.value); });
    document.getElementById("lang-toggle").addEventListener("click", async function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("careloop.lang", state.lang);
      writeUrl(false);
      if (!state.data) { applyTexts(); return; }
      document.body.dataset.state = "loading";
      await render();
      document.body.dataset.state = "ready";
    });
    window.addEventListener("popstate", function () { readUrl(); load(); });
    window.addEventListener("resize", function () {
      CHART_IDS.forEach(function (id) { if (charts[id]) charts[id].resize(); });
    });
    load();
  }

  init();
})();
