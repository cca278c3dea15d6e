// The dev phone: buttons post what the caller does; every answer is the whole
// state of the app's page, drawn by show.
(function () {
  const app = document.body.dataset.app;
  const base = "/apps/" + encodeURIComponent(app);
  const $ = (id) => document.getElementById(id);
  let entered = "", state = null, drawn = "", spoken = 0, renders = 0;
  // Mermaid refuses diagrams past 50,000 characters or 500 edges by default;
  // an app explored to its 300 prompts can have more.
  mermaid.initialize({ startOnLoad: false, securityLevel: "strict", maxTextSize: 1000000, maxEdges: 5000 });

  // Answers can come back out of order (a state asked for before a key press,
  // slow to build, arriving after the press's answer): only the answer to the
  // newest request shown so far is drawn, never an older one over it.
  let asked = 0, shownFor = 0;
  async function fetchState(url, init) {
    const n = ++asked;
    const res = await fetch(url, init);
    const s = await res.json();
    if (n < shownFor) return;
    shownFor = n;
    await show(s);
  }
  function post(action, data) {
    return fetchState(base + "/" + action, { method: "POST", body: new URLSearchParams(data || {}) });
  }
  function refresh() {
    return fetchState(base + "/state");
  }

  async function show(s) {
    state = s;
    $("note").textContent = s.note || "";
    $("error").textContent = s.error || (s.served ? "" : app + " is not served: see its findings below");
    const findings = (s.findings || []).join("\n");
    $("findings").textContent = s.checking ? "check is running…" + (findings ? "\n(before this save:)\n" + findings : "")
      : findings || "check: no findings";
    if (document.activeElement !== $("clock")) $("clock").value = s.clock;
    const c = s.call;
    $("transcript").textContent = c ? (c.transcript || []).map((l) => l.line).join("\n") : "";
    $("vars").textContent = c && c.vars ? JSON.stringify(c.vars, null, 2) : "{}";
    const kv = $("kv").tBodies[0];
    kv.replaceChildren();
    for (const e of (c && c.kv) || []) {
      const tr = kv.insertRow();
      tr.insertCell().textContent = e.key;
      tr.insertCell().textContent = JSON.stringify(e.value);
    }
    const heard = c ? (c.transcript || []).filter((l) => l.spoken) : [];
    $("heard").textContent = heard.length ? heard[heard.length - 1].spoken : "";
    if (c && c.ended) $("heard").textContent += " (the call has ended)";
    $("parted").disabled = !(c && c.bridged);
    for (const id of ["timeout", "hangup", "send"]) $(id).disabled = !(c && !c.ended);
    speak(heard);
    if (s.tests) {
      $("tests-summary").textContent = `${s.tests.at}: ${s.tests.passed} passed, ${s.tests.failed} failed` +
        (s.untested && s.untested.length ? `; ${s.untested.length} options of ${app} no test pressed (dashed red on the graph)` : "");
      $("tests-summary").className = s.tests.failed ? "error" : "ok";
      $("tests-output").textContent = s.tests.output;
    }
    if (s.exploring) {
      $("graph").textContent = "exploring " + app + " for its graph…";
      drawn = "";
      return;
    }
    if (s.graph !== drawn) {
      drawn = s.graph;
      if (!s.graph) { $("graph").replaceChildren(); return; }
      try {
        const { svg } = await mermaid.render("graph-svg-" + (++renders), s.graph);
        $("graph").innerHTML = svg;
      } catch (e) {
        $("graph").textContent = "the graph could not be drawn: " + e;
      }
      $("graph").dataset.version = s.version;
    }
  }

  // speak says, when sound is on, what the caller heard since the last time.
  function speak(heard) {
    if (heard.length < spoken) spoken = 0; // a new call
    const fresh = heard.slice(spoken).map((l) => l.spoken);
    spoken = heard.length;
    if (!$("sound").checked || !window.speechSynthesis) return;
    for (const text of fresh) speechSynthesis.speak(new SpeechSynthesisUtterance(text));
  }

  function key(k) {
    if (!state || !state.call || state.call.ended) return;
    entered += k;
    $("entered").textContent = "keys: " + entered;
    const max = state.call.max_digits;
    if (k === "#" || (max > 0 && entered.length >= max)) send();
  }
  function send() {
    const keys = entered;
    entered = "";
    $("entered").textContent = "";
    if (keys) post("press", { keys });
  }

  document.querySelectorAll(".key").forEach((b) => b.addEventListener("click", () => key(b.dataset.key)));
  document.addEventListener("keydown", (e) => {
    if (e.target.closest && e.target.closest("input, form")) return;
    if (/^[0-9*#]$/.test(e.key)) { key(e.key); e.preventDefault(); }
  });
  $("send").addEventListener("click", send);
  $("call").addEventListener("click", () => { entered = ""; spoken = 0; if (window.speechSynthesis) speechSynthesis.cancel(); post("call"); });
  $("timeout").addEventListener("click", () => post("timeout"));
  $("hangup").addEventListener("click", () => post("hangup"));
  $("parted").addEventListener("click", () => post("parted"));
  $("tests").addEventListener("click", () => { $("tests-summary").textContent = "running…"; post("tests"); });
  $("clock-form").addEventListener("submit", (e) => { e.preventDefault(); post("clock", { at: $("clock").value }); });
  refresh().then(() => { live(state.version, refresh); document.body.dataset.ready = "1"; });
})();
