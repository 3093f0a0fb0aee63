// Renders /api/v1/openapi.json (same origin) and sends "try it" requests to this server only.
(function () {
  "use strict";
  var METHODS = ["get", "post", "put", "patch", "delete"];
  var spec = null;

  function el(tag, attrs, kids) {
    var e = document.createElement(tag);
    Object.keys(attrs || {}).forEach(function (k) {
      if (k === "text") e.textContent = attrs[k];
      else if (k === "class") e.className = attrs[k];
      else e.setAttribute(k, attrs[k]);
    });
    (kids || []).forEach(function (c) {
      if (c != null) e.appendChild(typeof c === "string" ? document.createTextNode(c) : c);
    });
    return e;
  }

  function refName(ref) { return ref.split("/").pop(); }

  function resolve(schema) {
    var seen = 0;
    while (schema && schema.$ref && seen++ < 20) {
      var path = schema.$ref.replace(/^#\//, "").split("/");
      schema = path.reduce(function (o, k) { return o && o[k]; }, spec);
    }
    return schema || {};
  }

  // "string | null", "array of Project", "one of a, b" …
  function typeLabel(s) {
    if (s.$ref) return refName(s.$ref);
    if (s.anyOf || s.oneOf) return (s.anyOf || s.oneOf).map(typeLabel).join(" | ");
    if (s.allOf) return s.allOf.map(typeLabel).join(" & ");
    var t = Array.isArray(s.type) ? s.type.join(" | ") : (s.type || "any");
    if (s.type === "array" || (Array.isArray(s.type) && s.type.indexOf("array") >= 0)) {
      t = t.replace("array", "array of " + typeLabel(s.items || {}));
    }
    if (s.format) t += " (" + s.format + ")";
    return t;
  }

  function notes(s) {
    var n = [];
    if (typeof s.pattern === "string" && s.pattern.indexOf("\\u3000") >= 0) n.push("not blank");
    if (s.enum) n.push("one of: " + s.enum.map(function (v) { return JSON.stringify(v); }).join(", "));
    ["minimum", "maximum", "minLength", "maxLength", "minItems", "maxItems", "default", "pattern"].forEach(function (k) {
      if (s[k] === undefined || Math.abs(s[k]) === 9223372036854775807) return;
      if (k === "pattern" && s[k].indexOf("\\u3000") >= 0) return;
      n.push(k + " " + JSON.stringify(s[k]));
    });
    if (s.description) n.push(s.description);
    return n.join("; ");
  }

  // A schema as a nested list; references open on demand, so recursive schemas stay finite.
  function schemaTree(schema, depth) {
    var s = schema || {};
    if (s.$ref) {
      var d = el("details", {}, [el("summary", {}, [el("span", { class: "type", text: refName(s.$ref) })])]);
      d.addEventListener("toggle", function once() {
        if (d.open && d.children.length === 1) d.appendChild(schemaTree(resolve(s), depth + 1));
      });
      if (depth < 1) d.open = true;
      return d;
    }
    var ul = el("ul");
    var branches = s.anyOf || s.oneOf || s.allOf;
    if (branches) {
      ul.appendChild(el("li", { class: "note", text: s.allOf ? "all of:" : "any of:" }));
      branches.forEach(function (b) { ul.appendChild(el("li", {}, [schemaTree(b, depth + 1)])); });
    }
    if (s.not) ul.appendChild(el("li", { class: "note", text: "not: " + JSON.stringify(s.not) }));
    var props = s.properties || {};
    var req = s.required || [];
    Object.keys(props).forEach(function (name) {
      var p = props[name];
      var li = el("li", {}, [
        el("span", { class: "name", text: name }),
        req.indexOf(name) >= 0 ? el("span", { class: "req", text: " *" }) : null,
        " ", el("span", { class: "type", text: typeLabel(p) }),
        notes(p) ? el("span", { class: "note", text: " — " + notes(p) }) : null,
      ]);
      var inner = p.$ref ? p : (p.items && p.items.$ref ? p.items : null);
      if (inner && depth < 6) li.appendChild(schemaTree(inner, depth + 1));
      else if (p.properties || (p.items && p.items.properties)) li.appendChild(schemaTree(p.properties ? p : p.items, depth + 1));
      ul.appendChild(li);
    });
    if (!Object.keys(props).length && !branches) {
      ul.appendChild(el("li", {}, [el("span", { class: "type", text: typeLabel(s) }),
        notes(s) ? el("span", { class: "note", text: " — " + notes(s) }) : null]));
    }
    return ul;
  }

  function schemaBox(schema) {
    return el("div", { class: "schema" }, [schemaTree(schema, 0)]);
  }

  // A small valid-looking body: required fields only.
  function example(schema, depth) {
    var s = resolve(schema);
    if (depth > 4) return null;
    if (s.allOf) return s.allOf.reduce(function (acc, b) { return Object.assign(acc, example(b, depth + 1) || {}); }, {});
    if (s.anyOf || s.oneOf) return example((s.anyOf || s.oneOf)[0], depth + 1);
    if (s.enum) return s.enum[0];
    var t = Array.isArray(s.type) ? s.type[0] : s.type;
    if (t === "object") {
      var o = {};
      (s.required || []).forEach(function (k) { o[k] = example((s.properties || {})[k] || {}, depth + 1); });
      return o;
    }
    if (t === "array") return s.minItems ? [example(s.items || {}, depth + 1)] : [];
    if (t === "integer" || t === "number") return s.minimum !== undefined && s.minimum > -1e9 ? s.minimum : 1;
    if (t === "boolean") return false;
    if (t === "string") return s.format === "uuid" ? "00000000-0000-0000-0000-000000000000" : "text";
    return null;
  }

  function paramsTable(params) {
    var rows = params.map(function (p) {
      return el("tr", {}, [
        el("td", {}, [el("code", { text: p.name }), p.required ? el("span", { class: "req", text: " *" }) : null]),
        el("td", { text: p.in }),
        el("td", { class: "mono", text: typeLabel(p.schema || {}) }),
        el("td", { text: [p.description, notes(p.schema || {})].filter(Boolean).join(" — ") }),
      ]);
    });
    var head = el("tr", {}, ["name", "in", "type", "description"].map(function (h) { return el("th", { text: h }); }));
    return el("table", { class: "params" }, [head].concat(rows));
  }

  function responses(op) {
    var box = el("div");
    Object.keys(op.responses || {}).forEach(function (status) {
      var r = op.responses[status];
      var line = el("div", { class: "resp" }, [
        el("span", { class: "status s" + status[0], text: status }), " ", r.description || "",
      ]);
      box.appendChild(line);
      Object.keys(r.content || {}).forEach(function (ct) {
        var sch = r.content[ct].schema || {};
        if (status[0] === "2") {
          box.appendChild(el("div", { class: "muted mono", text: ct }));
          box.appendChild(schemaBox(sch));
        } else {
          line.appendChild(el("span", { class: "muted", text: " → " + typeLabel(sch) }));
        }
      });
    });
    return box;
  }

  function tryForm(method, path, op) {
    var body = op.requestBody && op.requestBody.content && op.requestBody.content["application/json"];
    var m = el("select", {}, METHODS.map(function (x) {
      var o = el("option", { value: x, text: x.toUpperCase() });
      if (x === method) o.selected = true;
      return o;
    }));
    var p = el("input", { type: "text", value: path, spellcheck: "false" });
    var b = el("textarea", { spellcheck: "false" });
    b.value = body ? JSON.stringify(example(body.schema || {}, 0), null, 2) : "";
    var out = el("pre", { class: "out hidden" });
    var form = el("form", { class: "try" }, [
      el("label", { text: "Method" }), m, el("label", { text: "Path" }), p,
      el("label", { text: "JSON body" }), b, el("button", { type: "submit", text: "Send" }),
    ]);
    form.addEventListener("submit", function (ev) {
      ev.preventDefault();
      send(m.value, p.value, b.value, out);
    });
    return el("div", {}, [form, out]);
  }

  function send(method, path, body, out) {
    out.classList.remove("hidden");
    if (path.charAt(0) !== "/") { out.textContent = "The path must start with / (this server only)."; return; }
    var headers = { Accept: "application/json" };
    var token = document.getElementById("token").value.trim();
    if (token) headers.Authorization = "Bearer " + token;
    var init = { method: method.toUpperCase(), headers: headers };
    if (body.trim() && method !== "get" && method !== "delete") {
      headers["Content-Type"] = "application/json";
      init.body = body;
    }
    var ctl = new AbortController();
    init.signal = ctl.signal;
    var timer = setTimeout(function () { ctl.abort(); }, 15000);
    var started = performance.now();
    out.textContent = "…";
    fetch(path, init).then(function (r) {
      return r.text().then(function (text) {
        var ms = Math.round(performance.now() - started);
        var shown = text;
        try { shown = JSON.stringify(JSON.parse(text), null, 2); } catch (e) { /* not JSON */ }
        out.textContent = r.status + " " + r.statusText + "  (" + ms + " ms, " +
          (r.headers.get("content-type") || "no content type") + ")\n\n" + shown.slice(0, 200000);
      });
    }).catch(function (e) {
      out.textContent = "Request failed: " + e;
    }).then(function () { clearTimeout(timer); });
  }

  function opCard(method, path, op) {
    var open = Array.isArray(op.security) && op.security.length === 0;
    var summary = el("summary", {}, [
      el("span", { class: "badge " + method, text: method }),
      el("span", { class: "path", text: path }),
      el("span", { class: "summary", text: op.summary || "" }),
      el("span", { class: "lock", text: open ? "open" : "token" }),
    ]);
    var d = el("details", { class: "op", id: op.operationId }, [summary]);
    d.dataset.search = [method, path, op.summary, op.operationId, (op.tags || []).join(" ")].join(" ").toLowerCase();
    d.addEventListener("toggle", function () {
      if (!d.open || d.children.length > 1) return;
      var kids = [
        op.description ? el("p", { text: op.description }) : null,
        el("p", { class: "muted mono", text: "operationId: " + op.operationId }),
      ];
      if ((op.parameters || []).length) kids.push(el("h4", { text: "Parameters" }), paramsTable(op.parameters));
      if (op.requestBody) {
        kids.push(el("h4", { text: "Request body" + (op.requestBody.required ? "" : " (optional)") }));
        Object.keys(op.requestBody.content || {}).forEach(function (ct) {
          kids.push(el("div", { class: "muted mono", text: ct }), schemaBox(op.requestBody.content[ct].schema));
        });
      }
      kids.push(el("h4", { text: "Responses" }), responses(op));
      kids.push(el("h4", { text: "Try it" }), tryForm(method, path, op));
      d.appendChild(el("div", { class: "opbody" }, kids));
    });
    return d;
  }

  function render() {
    document.getElementById("title").textContent = spec.info.title + " API";
    document.getElementById("version").textContent = "v" + spec.info.version + " · OpenAPI " + spec.openapi;
    var byTag = {};
    (spec.tags || []).forEach(function (t) { byTag[t.name] = []; });
    Object.keys(spec.paths).forEach(function (path) {
      METHODS.forEach(function (m) {
        var op = spec.paths[path][m];
        if (!op) return;
        var tag = (op.tags || ["other"])[0];
        (byTag[tag] = byTag[tag] || []).push(opCard(m, path, op));
      });
    });
    var main = document.getElementById("main");
    var toc = document.getElementById("toc");
    main.textContent = "";
    main.appendChild(el("p", { class: "intro", text: spec.info.description || "" }));
    var descs = {};
    (spec.tags || []).forEach(function (t) { descs[t.name] = t.description; });
    Object.keys(byTag).forEach(function (tag) {
      if (!byTag[tag].length) return;
      var sec = el("section", { class: "tag", id: "tag-" + tag }, [el("h2", { text: tag }),
        descs[tag] ? el("p", { text: descs[tag] }) : null].concat(byTag[tag]));
      main.appendChild(sec);
      toc.appendChild(el("a", { href: "#tag-" + tag }, [el("span", { text: tag }),
        el("span", { class: "muted", text: String(byTag[tag].length) })]));
    });
  }

  function filter(q) {
    q = q.trim().toLowerCase();
    document.querySelectorAll("details.op").forEach(function (d) {
      d.classList.toggle("hidden", q !== "" && d.dataset.search.indexOf(q) < 0);
    });
    document.querySelectorAll("section.tag").forEach(function (s) {
      s.classList.toggle("hidden", !s.querySelector("details.op:not(.hidden)"));
    });
  }

  var tokenInput = document.getElementById("token");
  try { tokenInput.value = sessionStorage.getItem("planbase.token") || ""; } catch (e) { /* storage off */ }
  tokenInput.addEventListener("change", function () {
    try { sessionStorage.setItem("planbase.token", tokenInput.value); } catch (e) { /* storage off */ }
  });
  document.getElementById("filter").addEventListener("input", function (e) { filter(e.target.value); });

  fetch("/api/v1/openapi.json").then(function (r) {
    if (!r.ok) throw new Error("HTTP " + r.status);
    return r.json();
  }).then(function (doc) {
    spec = doc;
    render();
    if (location.hash) {
      var target = document.getElementById(location.hash.slice(1));
      if (target && target.tagName === "DETAILS") { target.open = true; target.scrollIntoView(); }
    }
  }).catch(function (e) {
    document.getElementById("main").textContent = "Could not load /api/v1/openapi.json: " + e;
  });
})();
