/**
 * The live supervision page served at `/debug/`: a self-contained HTML document that polls
 * `/debug/supervision` every second and draws the tree. Crashed, restarting and stopping actors
 * stand out by colour, and each node shows its mailbox, message count, restarts and last failure.
 */
export const INSPECTION_PAGE = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>tern supervision</title>
<style>
  body { font: 14px/1.4 system-ui, sans-serif; margin: 1.5rem; color: #1d2430; background: #f6f7f9; }
  h1 { font-size: 1.2rem; margin: 0 0 .25rem; }
  #meta { color: #5b6575; margin-bottom: 1rem; }
  ul.tree, ul.tree ul { list-style: none; margin: 0; padding-left: 1.4rem; border-left: 1px dashed #c3c9d4; }
  ul.tree { border-left: none; padding-left: 0; }
  li { margin: .35rem 0; }
  .node { display: inline-block; padding: .35rem .6rem; border-radius: 6px; background: #fff;
          border: 1px solid #d5dae3; border-left: 5px solid #2e9b5b; }
  .node.supervisor { background: #eef3fb; }
  .node.state-restarting { border-left-color: #e0a400; background: #fff8e0; }
  .node.state-starting, .node.state-stopping { border-left-color: #3b7dd8; }
  .node.state-stopped { border-left-color: #8a93a3; opacity: .7; }
  .node.failed { border-color: #d23c3c; }
  .id { font-weight: 600; }
  .beh, .stat { color: #5b6575; font-size: 12px; margin-left: .5rem; }
  .badge { font-size: 11px; padding: 1px 6px; border-radius: 9px; margin-left: .4rem; color: #fff; }
  .badge.state { background: #2e9b5b; }
  .badge.state.restarting { background: #e0a400; }
  .badge.state.stopping, .badge.state.starting { background: #3b7dd8; }
  .badge.state.stopped { background: #8a93a3; }
  .badge.restarts { background: #d23c3c; }
  .failure { color: #b02a2a; font-size: 12px; margin-top: .2rem; }
  #error { color: #b02a2a; }
</style>
</head>
<body>
<h1>tern supervision tree</h1>
<div id="meta">loading…</div>
<div id="error"></div>
<ul class="tree" id="tree"></ul>
<script>
function el(tag, cls, text) {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
}
function render(a) {
  const li = el("li");
  li.dataset.path = a.path;
  const failed = a.lastFailure !== null;
  const node = el("div", "node " + a.kind + " state-" + a.state + (failed ? " failed" : ""));
  node.dataset.path = a.path;
  node.dataset.state = a.state;
  node.appendChild(el("span", "id", a.id));
  node.appendChild(el("span", "beh", a.behaviour + (a.strategy ? " · " + a.strategy : "")));
  node.appendChild(el("span", "badge state " + a.state, a.state));
  if (a.restarts > 0) node.appendChild(el("span", "badge restarts", "restarts " + a.restarts));
  const cap = a.mailbox.capacity === null ? "∞" : a.mailbox.capacity;
  node.appendChild(el("span", "stat", "mailbox " + a.mailbox.depth + "/" + cap + " · msgs " + a.processed));
  if (failed) node.appendChild(el("div", "failure", "last failure " + a.lastFailure.at + ": " + a.lastFailure.error));
  li.appendChild(node);
  if (a.children.length) {
    const ul = el("ul");
    a.children.forEach((c) => ul.appendChild(render(c)));
    li.appendChild(ul);
  }
  return li;
}
async function refresh() {
  try {
    const r = await fetch("/debug/supervision", { cache: "no-store" });
    const snap = await r.json();
    const tree = document.getElementById("tree");
    tree.replaceChildren(...(snap.root ? [render(snap.root)] : []));
    document.getElementById("meta").textContent =
      "system " + snap.system + " · " + snap.at + " · dead letters " + snap.deadLetters;
    document.getElementById("error").textContent = "";
  } catch (e) {
    document.getElementById("error").textContent = "cannot reach the role: " + e;
  }
}
refresh();
setInterval(refresh, 1000);
</script>
</body>
</html>
`;
