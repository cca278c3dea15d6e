// A stand-in CRM for examples/bench/apps/crm.lua: answers every GET with a
// caller's record, as JSON. PORT=18999 node examples/bench/crm.js
const http = require("http");
const body = JSON.stringify({ name: "Ada", tier: "gold" });
http.createServer((req, res) => {
  res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
  res.end(body);
}).listen(Number(process.env.PORT || 18999), "127.0.0.1");
