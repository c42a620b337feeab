// The inspector page's HTML shell (the script fills it from the event stream).

/** The page for a token (base64url, so it needs no escaping; checked by the caller). */
export function pageHtml(token: string): string {
  if (!/^[A-Za-z0-9_-]+$/.test(token)) throw new Error('Expected a base64url token');
  const q = `?token=${token}`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="referrer" content="no-referrer">
<title>vmactor inspector</title>
<link rel="icon" href="data:,">
<link rel="stylesheet" href="assets/inspector.css${q}">
</head>
<body>
<header><h1>vmactor inspector</h1><span id="conn" data-state="connecting">connecting</span><span id="counts"></span></header>
<main>
<nav><h2>Actors</h2><ul id="actors"></ul></nav>
<section id="detail">
<h1 id="title" class="empty">waiting for actors…</h1>
<div id="summary"><span id="machine"></span><span id="phase"></span><span id="stop-reason"></span></div>
<div id="chart"></div>
<div class="cols">
<section><h2>Timeline</h2><ol id="timeline"></ol></section>
<section>
<h2>Devices</h2><table id="devices"><thead><tr><th>id</th><th>kind</th><th>origin</th><th>placement</th></tr></thead><tbody></tbody></table>
<h2>Operation queue</h2><ol id="queue"></ol>
<h2>Context</h2><pre id="context"></pre>
</section>
</div>
</section>
</main>
<script src="assets/inspector.js${q}"></script>
</body>
</html>
`;
}
