// The peer `luaivr bench --peer` measures luaivr against: the forty lines of Node a user could
// write instead. A stateless `cluster` of HTTP workers (2 unless WORKERS says otherwise) that
// answers 8x8's webhooks with the restaurant app's replies (scripts/restaurant.lua), byte for
// byte as luaivr sends them, routed on the clientActionId 8x8 echoes and the caller's digits.
// It keeps nothing: no session, no transcript, no reply cache, no validation.
//
//   node examples/bench/peer.js            # listens on 127.0.0.1:8090 (PORT to change)
//   luaivr bench --peer http://127.0.0.1:8090/webhooks/restaurant
"use strict";
const cluster = require("node:cluster");
const http = require("node:http");

const port = Number(process.env.PORT || 8090);
const workers = Number(process.env.WORKERS || 2);

const voice = { voiceProfile: "en-US-BenjaminRUS", speed: 1 };
const capture = { minDigits: 1, maxDigits: 1, digitTimeout: 10000, overallTimeout: 10000, noOfTries: 2 };
const menu = (id, prompt) => JSON.stringify({
  clientActionId: id,
  callflow: [{ action: "sayAndCapture", params: { promptMessage: prompt, ...voice, ...capture } }],
});
const goodbye = (text) => JSON.stringify({ callflow: [{ action: "say", params: { text, ...voice } }, { action: "hangup" }] });

const main = menu("main_menu", "Welcome to ABC Restaurant, to book a table press 1, to speak to a representative press 2, to hear our restaurant hours press 3.");
const invalid = goodbye("Invalid input, please call again.");
// position → digits → reply
const tree = {
  main_menu: {
    1: menu("reservations", "Press 1 to make a new reservation, press 2 to reschedule an existing reservation, press 3 to return to main menu."),
    2: menu("connect_call", "Connecting you to the next available representative. Press 1 to connect now, press 2 to return to main menu"),
    3: goodbye("Our restaurant hours are between 9AM and 9PM every day of the week."),
  },
  reservations: {
    1: menu("book_table", "Reserving a Table, Press 1 to reserve a table for today, Press 2 to reserve a table for tomorrow."),
    2: menu("reschedule_table", "Rescheduling your reservation, Press 1 to keep your current reservation, press 2 to change your reservation to tomorrow."),
    3: main,
  },
  book_table: { 1: goodbye("We have booked your table for today, thank you."), 2: goodbye("We have booked your table for tomorrow, thank you.") },
  reschedule_table: { 1: goodbye("Keeping your current reservation, thank you."), 2: goodbye("Changing your reservation to tomorrow thank you.") },
  connect_call: {
    1: JSON.stringify({ clientActionId: "post_call", callflow: [{ action: "makeCall", params: { source: "+6568332048", destination: "+6531589338" } }] }),
    2: main,
  },
};
const afterCall = goodbye("Thank you for speaking to ABC Restaurant, have a great day.");

function answer(event) {
  const p = event.payload || {};
  if (event.eventType !== "CALL_ACTION") return "{}";
  if (p.callStatus === "CALL_RECEIVED") return main;
  if (p.clientActionId === "post_call") return afterCall;
  const ed = p.eventData;
  const digits = p.dtmf || (ed && typeof ed === "object" ? ed.dtmf : ed);
  const options = tree[p.clientActionId] || tree.main_menu;
  return (digits && options[digits]) || invalid;
}

if (cluster.isPrimary && workers > 1) {
  for (let i = 0; i < workers; i++) cluster.fork();
} else {
  http.createServer((req, res) => {
    const chunks = [];
    req.on("data", (c) => chunks.push(c));
    req.on("end", () => {
      let body;
      try {
        body = answer(JSON.parse(Buffer.concat(chunks)));
      } catch (e) {
        res.writeHead(400, { "Content-Type": "text/plain" });
        return res.end("bad webhook: " + e.message);
      }
      res.writeHead(200, { "Content-Type": "application/json", "Content-Length": Buffer.byteLength(body) });
      res.end(body);
    });
  }).listen(port, "127.0.0.1");
}
