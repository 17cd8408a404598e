"""``GET /docs``: a page that renders ``/openapi.json`` with no CDN and no third-party script.

Gateways run in closed networks; a docs page that loads Swagger UI from a CDN is blank there.
This one is a few lines of plain JavaScript: every operation with its parameters, its request
schema and its answers, schemas expanded from ``$ref`` on demand.
"""

DOCS_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>llm-gateway API</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>
body{font:15px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}
h2{border-bottom:1px solid #ddd;margin-top:2rem}
.op{border:1px solid #ddd;border-radius:6px;margin:.8rem 0;padding:.6rem .8rem}
.method{display:inline-block;min-width:4.5rem;font-weight:bold;text-transform:uppercase}
.get{color:#0a6}.post{color:#06c}.delete{color:#c30}
code,pre{font:13px ui-monospace,monospace;background:#f6f6f6}
pre{padding:.5rem;overflow:auto;max-height:30rem}
summary{cursor:pointer}
</style></head>
<body><h1 id="title">llm-gateway API</h1><p id="description"></p>
<p><a href="/openapi.json">openapi.json</a> (OpenAPI 3.1)</p><div id="operations">Loading…</div>
<script>
"use strict";
function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, value);
  for (const child of children) node.append(child);
  return node;
}
function resolve(schema, components, seen) {
  if (schema && typeof schema === "object") {
    if (Array.isArray(schema)) return schema.map((s) => resolve(s, components, seen));
    if (schema.$ref) {
      const name = schema.$ref.split("/").pop();
      if (seen.has(name)) return {"$ref": name};
      return resolve(components[name], components, new Set([...seen, name]));
    }
    const out = {};
    for (const [key, value] of Object.entries(schema)) out[key] = resolve(value, components, seen);
    return out;
  }
  return schema;
}
function schemaBlock(label, schema, components) {
  const text = JSON.stringify(resolve(schema, components, new Set()), null, 2);
  return el("details", {}, el("summary", {}, label), el("pre", {}, text));
}
function render(doc) {
  document.getElementById("title").textContent = doc.info.title + " " + doc.info.version;
  document.getElementById("description").textContent = doc.info.description || "";
  const components = (doc.components || {}).schemas || {};
  const byTag = {};
  for (const [path, methods] of Object.entries(doc.paths)) {
    for (const [method, op] of Object.entries(methods)) {
      (byTag[(op.tags || ["other"])[0]] ||= []).push([path, method, op]);
    }
  }
  const root = document.getElementById("operations");
  root.textContent = "";
  for (const [tag, ops] of Object.entries(byTag)) {
    root.append(el("h2", {}, tag));
    for (const [path, method, op] of ops) {
      const box = el("div", {class: "op"},
        el("span", {class: "method " + method}, method), el("code", {}, path),
        el("div", {}, op.summary || ""));
      for (const p of op.parameters || []) {
        box.append(el("div", {}, "parameter ", el("code", {}, p.name), " (" + p.in + ")"));
      }
      const body = op.requestBody && op.requestBody.content["application/json"];
      if (body) box.append(schemaBlock("request body", body.schema, components));
      for (const [status, answer] of Object.entries(op.responses)) {
        const content = answer.content || {};
        const first = Object.values(content)[0];
        const label = status + ": " + answer.description;
        box.append(first ? schemaBlock(label, first.schema, components) : el("div", {}, label));
      }
      root.append(box);
    }
  }
}
fetch("/openapi.json").then((r) => r.json()).then(render).catch((e) => {
  document.getElementById("operations").textContent = "Could not load /openapi.json: " + e;
});
</script></body></html>
"""
