// live calls onChange whenever the server's version moves past since, from
// its server-sent events (/events; EventSource reconnects by itself).
function live(since, onChange, url) {
  const es = new EventSource((url || "/events") + "?since=" + since);
  es.addEventListener("change", (e) => {
    if (e.data !== String(since)) { since = e.data; onChange(e.data); }
  });
  return es;
}
