// The ops page's document. It is a TS string module (not a file read at run time) so that `tsc`
// carries it into dist/ and the Docker image, which hold no source tree. No inline script or style:
// the Content-Security-Policy allows only /ops/app.js and /ops/style.css.
export const OPS_HTML = String.raw`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>Realtime bridge · ops</title>
<link rel="stylesheet" href="/ops/style.css">
<link rel="icon" href="/ops/favicon.svg" type="image/svg+xml">
<script type="module" src="/ops/app.js"></script>
</head>
<body>
<header>
  <h1>Realtime bridge · ops</h1>
  <span id="status" class="status">signed out</span>
</header>

<section id="login" class="panel">
  <h2>Admin token</h2>
  <p>Paste an admin JWT. It stays in this tab's memory only and is sent as a Bearer header; reloading the page forgets it.</p>
  <div class="row">
    <input id="token" type="password" autocomplete="off" spellcheck="false" placeholder="eyJhbGciOi…" aria-label="admin token">
    <button id="login-button" type="button">Connect</button>
  </div>
  <p id="login-error" class="error" role="alert"></p>
</section>

<main id="dashboard" hidden>
  <div class="toolbar"><span id="whoami"></span><button id="logout" type="button">Forget token</button></div>

  <section class="panel">
    <h2>Instance</h2>
    <dl class="facts">
      <dt>Broker</dt><dd id="broker">—</dd>
      <dt>Redis</dt><dd id="redis">—</dd>
      <dt>Connections</dt><dd id="connections">—</dd>
      <dt>Users</dt><dd id="users">—</dd>
      <dt>Instance</dt><dd id="instance">—</dd>
      <dt>Uptime</dt><dd id="uptime">—</dd>
      <dt>Memory</dt><dd id="memory">—</dd>
      <dt>Event-loop delay</dt><dd id="loop">—</dd>
      <dt>Updated</dt><dd id="updated">—</dd>
    </dl>
  </section>

  <section class="panel">
    <h2>Events <small>(this instance, per second over the last interval)</small></h2>
    <table id="counters">
      <tbody>
        <tr id="consumed-row"><th>consumed</th><td class="rate">—</td><td class="total">—</td></tr>
        <tr id="duplicates-row"><th>duplicates</th><td class="rate">—</td><td class="total">—</td></tr>
      </tbody>
    </table>
    <h3>Delivered, by type</h3>
    <table id="delivered"><thead><tr><th>type</th><th>/s</th><th>total</th></tr></thead><tbody></tbody></table>
    <h3>Dead-lettered, by reason</h3>
    <table id="dead-lettered"><thead><tr><th>reason</th><th>/s</th><th>total</th></tr></thead><tbody></tbody></table>
    <h3>Delivery lag</h3>
    <dl class="facts">
      <dt>p50</dt><dd id="lag-p50">—</dd>
      <dt>p99</dt><dd id="lag-p99">—</dd>
      <dt>observations</dt><dd id="lag-count">—</dd>
    </dl>
  </section>

  <section class="panel">
    <h2>Rooms <small id="rooms-total"></small></h2>
    <table id="rooms"><thead><tr><th>room</th><th>sockets</th></tr></thead><tbody></tbody></table>
  </section>

  <section class="panel wide">
    <h2>Dead letters <small id="dlq-count"></small></h2>
    <div class="toolbar">
      <button id="dl-refresh" type="button">Refresh</button>
      <button id="replay" type="button">Replay…</button>
    </div>
    <div id="replay-confirm" class="confirm" hidden>
      <p id="replay-question"></p>
      <button id="replay-yes" type="button" class="danger">Replay now</button>
      <button id="replay-no" type="button">Cancel</button>
    </div>
    <p id="replay-outcome" role="status"></p>
    <p id="dl-error" class="error" role="alert"></p>
    <table id="dead-letters">
      <thead><tr><th>reason</th><th>detail</th><th>routing key</th><th>size</th><th>body</th></tr></thead>
      <tbody></tbody>
    </table>
  </section>
</main>
</body>
</html>
`;
