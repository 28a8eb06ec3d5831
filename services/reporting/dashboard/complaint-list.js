/* CareLoop complaint list (客诉清单): every complaint of a month under an org unit, from
 * ../api/v1/reports/complaint-list, filterable, downloadable as XLSX. No personal data exists in that
 * view, so none can appear here.
 *
 * State lives in the URL (?period=YYYY-MM&org=G/S/P&complaint_class=&category=&department=&state=&lang=),
 * so a filtered list can be linked. <body data-state> is "loading", then "ready" (or "error"). The
 * token comes as on the dashboard: from the URL fragment (#access_token=…) into sessionStorage.
 */
(function () {
  "use strict";

  var API = "../api/v1/reports/";
  var TOKEN_KEY = "careloop.token";
  var FILTERS = ["complaint_class", "category", "department", "state"];

  var TEXT = {
    zh: {
      title: "客诉清单", subtitle: "每件投诉的时限、纠正措施、效果验证、顾客认可、回访与发布", period: "期间", org: "组织",
      "class": "投诉类别", category: "投诉内容分类", department: "责任部门", state: "状态", xlsx: "导出 XLSX",
      back: "返回看板", hint: "按单位、受理时间排序；不含个人信息", privacy: "本页不含任何个人信息", all: "全部",
      listTitle: "{period} · {org} · 共 {n} 件", none: "没有符合条件的投诉", updated: "数据更新于 {time}",
      error: "数据加载失败：{message}", signIn: "请先登录：用带访问令牌的链接打开（#access_token=…）",
      forbidden: "您无权查看该组织单位的报表", notApplicable: "不适用", notVerified: "未验证", notPublished: "未发布",
      allOnTime: "全部按时", running: "进行中，未超时", missed: "有超时：",
      "col.case": "案件编号", "col.org": "单位", "col.received": "受理时间", "col.class": "类别", "col.category": "分类",
      "col.validity": "有效性", "col.important": "重要投诉", "col.department": "责任部门", "col.state": "状态",
      "col.deadlines": "时限达成", "col.corrective": "纠正措施状态", "col.action": "纠正措施", "col.verification": "效果验证",
      "col.acceptance": "顾客认可", "col.visit": "回访", "col.publication": "发布", "col.closed": "关闭时间",
      deadlineSuffix: "时限",
    },
    en: {
      title: "Complaint list", subtitle: "Each complaint's deadlines, corrective action, verification, acceptance, "
        + "return visit and publication", period: "Period", org: "Org unit", "class": "Class", category: "Category",
      department: "Department", state: "State", xlsx: "Export XLSX", back: "Back to the dashboard",
      hint: "by org unit, then by time received; no personal data", privacy: "This page holds no personal data",
      all: "All", listTitle: "{period} · {org} · {n} complaints", none: "No complaint matches", updated: "Updated {time}",
      error: "Could not load the data: {message}",
      signIn: "Sign in first: open the link that carries an access token (#access_token=…)",
      forbidden: "You may not see this org unit's reports", notApplicable: "n/a", notVerified: "Not verified",
      notPublished: "Not published", allOnTime: "All on time", running: "Running, none missed", missed: "Missed: ",
      "col.case": "Case", "col.org": "Unit", "col.received": "Received", "col.class": "Class", "col.category": "Category",
      "col.validity": "Validity", "col.important": "Important", "col.department": "Department", "col.state": "State",
      "col.deadlines": "Deadlines", "col.corrective": "Corrective action", "col.action": "Action",
      "col.verification": "Verification", "col.acceptance": "Customer", "col.visit": "Return visit",
      "col.publication": "Published", "col.closed": "Closed", deadlineSuffix: "",
    },
  };

  var state = { period: null, org: null, lang: "zh", filters: {}, labels: null, orgs: [], view: null };

  function t(key, values) {
    var text = TEXT[state.lang][key];
    if (text === undefined) text = TEXT.zh[key] !== undefined ? TEXT.zh[key] : key;
    return text.replace(/\{(\w+)\}/g, function (_, name) { return values && name in values ? values[name] : ""; });
  }
  function label(vocabulary, code) {
    if (code === null || code === undefined || code === "") return "";
    var entry = state.labels && state.labels[vocabulary] && state.labels[vocabulary][String(code)];
    return entry ? entry[state.lang] : String(code);
  }
  function el(tag, attrs, children) {
    var node = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") node.textContent = attrs[k]; else if (k === "class") node.className = attrs[k]; else node.setAttribute(k, attrs[k]);
    });
    (children || []).forEach(function (child) { node.appendChild(typeof child === "string" ? document.createTextNode(child) : child); });
    return node;
  }
  function shanghaiTime(iso) {
    if (!iso) return "";
    return new Intl.DateTimeFormat("sv-SE", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit",
      day: "2-digit", hour: "2-digit", minute: "2-digit" }).format(new Date(iso));
  }
  function thisMonth() {
    return new Intl.DateTimeFormat("en-CA", { timeZone: "Asia/Shanghai", year: "numeric", month: "2-digit" })
      .format(new Date()).slice(0, 7);
  }
  function query(params) {
    return Object.keys(params).filter(function (k) { return params[k] !== null && params[k] !== undefined && params[k] !== ""; })
      .map(function (k) { return encodeURIComponent(k) + "=" + encodeURIComponent(params[k]); }).join("&");
  }
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
  function viewParams() {
    var params = { period: state.period, org: state.org };
    FILTERS.forEach(function (f) { params[f] = state.filters[f] || null; });
    return params;
  }
  async function getJSON(path, params) {
    var response = await fetch(API + path + "?" + query(params), { headers: authHeaders("application/json") });
    if (!response.ok) throw refusal(path, response);
    return response.json();
  }
  function showError(message) {
    var banner = document.getElementById("banner");
    banner.hidden = !message;
    banner.textContent = message || "";
  }

  function readUrl() {
    var params = new URLSearchParams(location.search);
    state.period = /^\d{4}-(0[1-9]|1[0-2])$/.test(params.get("period") || "") ? params.get("period") : thisMonth();
    state.org = (params.get("org") || "").replace(/^\/+|\/+$/g, "") || null;
    FILTERS.forEach(function (f) { state.filters[f] = params.get(f) || null; });
    var lang = params.get("lang") || localStorage.getItem("careloop.lang") || "zh";
    state.lang = lang === "en" ? "en" : "zh";
  }
  function writeUrl() {
    history.replaceState(null, "", location.pathname + "?" + query(Object.assign(viewParams(), { lang: state.lang })));
  }

  var loads = 0;
  async function load() {
    var mine = ++loads;
    document.body.dataset.state = "loading";
    showError(null);
    try {
      if (!state.labels) state.labels = await (await fetch("labels.json")).json();
      state.orgs = (await getJSON("org-paths", { period: state.period })).orgs;
      if (!state.org) state.org = state.orgs.filter(function (o) { return o.indexOf("/") < 0; })[0] || null;
      writeUrl();
      applyTexts();
      renderFilters();
      if (!state.org) { state.view = null; renderTable(); document.body.dataset.state = "ready"; return; }
      var view = await getJSON("complaint-list", viewParams());
      if (mine !== loads) return;
      state.view = view;
      renderTable();
      document.getElementById("updated").textContent =
        t("updated", { time: new Date().toLocaleTimeString(state.lang === "zh" ? "zh-CN" : "en-GB") });
      document.body.dataset.state = "ready";
    } catch (error) {
      if (mine !== loads) return;
      showError(t("error", { message: error.message }));
      document.body.dataset.state = "error";
    }
  }

  function applyTexts() {
    document.documentElement.lang = state.lang === "zh" ? "zh-CN" : "en";
    document.title = "CareLoop · " + t("title");
    document.querySelectorAll("[data-i18n]").forEach(function (node) { node.textContent = t(node.dataset.i18n); });
    var toggle = document.getElementById("lang-toggle");
    toggle.textContent = state.lang === "zh" ? "EN" : "中文";
    document.body.dataset.lang = state.lang;
    document.getElementById("back").href = "./?" + query({ period: state.period, org: state.org, lang: state.lang });
  }

  function options(select, entries, selected) {
    select.replaceChildren.apply(select, entries.map(function (entry) {
      return el("option", { value: entry[0], text: entry[1] });
    }));
    select.value = selected || "";
  }
  function renderFilters() {
    document.getElementById("period").value = state.period;
    var orgs = state.orgs.slice();
    if (state.org && orgs.indexOf(state.org) < 0) orgs.unshift(state.org);
    options(document.getElementById("org"), orgs.map(function (o) {
      return [o, "\u00a0\u00a0".repeat(o.split("/").length - 1) + o.split("/").pop()];
    }), state.org);
    FILTERS.forEach(function (f) {
      var select = document.getElementById(f);
      var codes = Object.keys(state.labels[select.dataset.vocabulary] || {});
      options(select, [["", t("all")]].concat(codes.map(function (c) { return [c, label(select.dataset.vocabulary, c)]; })),
        state.filters[f]);
    });
  }

  function deadlineSummary(x) {
    if (x.deadlines_missed.length) {
      return t("missed") + x.deadlines_missed.map(function (k) { return label("deadline", k); }).join(state.lang === "zh" ? "、" : ", ");
    }
    var kinds = Object.keys(x.deadlines);
    if (!kinds.length) return "";
    return kinds.every(function (k) { return x.deadlines[k] === "on_time" || x.deadlines[k] === "stopped"; })
      ? t("allOnTime") : t("running");
  }
  function validity(x) {
    if (x.valid === null || x.valid === undefined) return "";
    return x.valid || x.complaint_class === 1 ? label("validity", String(x.valid)) : t("notApplicable");
  }
  var TONE = { missed: "bad", late: "warn", on_time: "good", ineffective: "bad", missing: "warn",
    awaiting_verification: "warn", effective: "good", not_needed: "good", rejected: "bad", required: "warn" };

  function renderTable() {
    var table = document.getElementById("complaints");
    var kinds = state.view ? state.view.deadline_kinds : [];
    var heads = ["col.case", "col.org", "col.received", "col.class", "col.category", "col.validity", "col.important",
      "col.department", "col.state"].map(function (k) { return t(k); })
      .concat(kinds.map(function (k) {
        var name = label("deadline", k);
        return /(时限|期限)$/.test(name) ? name : name + t("deadlineSuffix");
      }))
      .concat(["col.deadlines", "col.corrective", "col.action", "col.verification", "col.acceptance", "col.visit",
        "col.publication", "col.closed"].map(function (k) { return t(k); }));
    var headRow = table.querySelector("thead tr");
    headRow.replaceChildren.apply(headRow, heads.map(function (h) { return el("th", { text: h }); }));
    var complaints = state.view ? state.view.complaints : [];
    document.getElementById("list-title").textContent = state.view
      ? t("listTitle", { period: state.period, org: state.org, n: state.view.count }) : t("none");
    var body = table.querySelector("tbody");
    if (!complaints.length) {
      body.replaceChildren(el("tr", {}, [el("td", { colspan: String(heads.length), class: "empty", text: t("none") })]));
      return;
    }
    body.replaceChildren.apply(body, complaints.map(function (x) {
      function cell(text, tone, cls) {
        var attrs = { text: text || "" };
        if (tone) attrs["data-tone"] = tone;
        if (cls) attrs.class = cls;
        return el("td", attrs);
      }
      var verification = x.corrective_verified_at ? label("verification", String(x.corrective_effective))
        : t("notVerified");
      return el("tr", { "data-case": x.case_id }, [
        cell(x.case_id.slice(0, 8)), cell(x.org), cell(shanghaiTime(x.received_at)),
        cell(label("complaint_class", x.complaint_class)), cell(label("category", x.category)), cell(validity(x)),
        cell(label("yes_no", String(Boolean(x.important)))), cell(label("department", x.lead_department)),
        cell(label("state", x.state)),
      ].concat(kinds.map(function (k) {
        var outcome = x.deadlines[k];
        return outcome ? cell(label("deadline_outcome", outcome), TONE[outcome]) : cell(t("notApplicable"));
      })).concat([
        cell(deadlineSummary(x), x.deadlines_missed.length ? "bad" : null),
        cell(label("corrective_status", x.corrective_action_status), TONE[x.corrective_action_status]),
        cell(x.corrective_description, null, "text"), cell(verification),
        cell(label("acceptance", x.customer_acceptance), TONE[x.customer_acceptance]),
        cell(label("return_visit", x.return_visit), TONE[x.return_visit]),
        cell(x.published ? label("publication_basis", x.publication_basis) : t("notPublished")),
        cell(shanghaiTime(x.closed_at)),
      ]));
    }));
  }

  async function download(event) {
    event.preventDefault();
    try {
      var path = "complaint-list";
      var response = await fetch(API + path + "?" + query(Object.assign(viewParams(), { format: "xlsx" })),
        { headers: authHeaders("*/*") });
      if (!response.ok) throw refusal(path, response);
      var url = URL.createObjectURL(await response.blob());
      var save = el("a", { href: url, download: "careloop-complaint-list-" + state.period + ".xlsx" });
      document.body.appendChild(save);
      save.click();
      save.remove();
      setTimeout(function () { URL.revokeObjectURL(url); }, 10000);
    } catch (error) {
      showError(t("error", { message: error.message }));
    }
  }

  function init() {
    takeToken();
    readUrl();
    document.getElementById("period").addEventListener("change", function (event) {
      if (!event.target.value) return;
      state.period = event.target.value;
      load();
    });
    document.getElementById("org").addEventListener("change", function (event) { state.org = event.target.value; load(); });
    FILTERS.forEach(function (f) {
      document.getElementById(f).addEventListener("change", function (event) {
        state.filters[f] = event.target.value || null;
        load();
      });
    });
    document.getElementById("xlsx").addEventListener("click", download);
    document.getElementById("lang-toggle").addEventListener("click", function () {
      state.lang = state.lang === "zh" ? "en" : "zh";
      localStorage.setItem("careloop.lang", state.lang);
      writeUrl();
      applyTexts();
      renderFilters();
      renderTable();
    });
    load();
  }

  init();
})();
